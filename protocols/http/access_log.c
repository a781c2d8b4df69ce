/* The access log of access_log.h. Times are UTC (the log says +0000), from the wall clock, with the
 * stamp formatted once per second; what came from the client is escaped so a line can neither be
 * split nor forged. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "date.h"

void tw__http_access_log_init(tw__http_access_log *l, int fd)
{
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->second = -1;
    tw__http_text_init(&l->lines);
}

void tw__http_access_log_free(tw__http_access_log *l)
{
    tw__http_access_log_flush(l);
    tw__http_text_free(&l->lines);
}

void tw__http_access_log_escape(tw__http_text *t, tw__http_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
            tw__http_text_add(t, e, 4);
        } else {
            tw__http_text_add(t, s.p + i, 1);
        }
    }
}

/* "[06/Dec/2026:16:00:00 +0000]" from the IMF-fixdate "Sun, 06 Dec 2026 16:00:00 GMT". */
static const char *stamp(tw__http_access_log *l)
{
    time_t now = time(NULL);
    if ((int64_t)now != l->second) {
        char d[TW__HTTP_DATE_LEN + 1];
        tw__http_date_format((int64_t)now, d);
        memcpy(l->stamp, "[", 1);
        memcpy(l->stamp + 1, d + 5, 2);       /* day */
        l->stamp[3] = '/';
        memcpy(l->stamp + 4, d + 8, 3);       /* month */
        l->stamp[7] = '/';
        memcpy(l->stamp + 8, d + 12, 4);      /* year */
        l->stamp[12] = ':';
        memcpy(l->stamp + 13, d + 17, 8);     /* time */
        memcpy(l->stamp + 21, " +0000]", 8);  /* with the NUL */
        l->second = (int64_t)now;
    }
    return l->stamp;
}

static void quoted(tw__http_text *t, tw__http_str s, const char *absent)
{
    tw__http_text_add(t, "\"", 1);
    if (s.p)
        tw__http_access_log_escape(t, s);
    else
        tw__http_text_cstr(t, absent);
    tw__http_text_add(t, "\"", 1);
}

void tw__http_access_log_add(tw__http_access_log *l, tw_transport *t, tw__http_str request_line,
                             int status, uint64_t bytes, tw__http_str referer,
                             tw__http_str user_agent)
{
    if (l->fd < 0)
        return;
    tw_address peer;
    const char *addr = "-";
    if (tw_transport_get_peer(t, &peer) == 0 &&
        (peer.type == TW_ADDRESS_TCP4 || peer.type == TW_ADDRESS_TCP6))
        addr = peer.host;
    tw__http_text *x = &l->lines;
    tw__http_text_cstr(x, addr);
    tw__http_text_cstr(x, " - - ");
    tw__http_text_cstr(x, stamp(l));
    tw__http_text_add(x, " ", 1);
    quoted(x, request_line, "");
    tw__http_text_add(x, " ", 1);
    tw__http_text_u64(x, (uint64_t)status);
    tw__http_text_add(x, " ", 1);
    tw__http_text_u64(x, bytes);
    tw__http_text_add(x, " ", 1);
    quoted(x, referer, "-");
    tw__http_text_add(x, " ", 1);
    quoted(x, user_agent, "-");
    tw__http_text_add(x, "\n", 1);
}

void tw__http_access_log_flush(tw__http_access_log *l)
{
    size_t off = 0;
    while (l->fd >= 0 && off < l->lines.len && !l->lines.failed) {
        ssize_t n = write(l->fd, l->lines.p + off, l->lines.len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a log that cannot be written does not stop the serving */
        off += (size_t)n;
    }
    if (l->lines.cap > 65536 || l->lines.failed)
        tw__http_text_free(&l->lines);
    l->lines.len = 0;
}
