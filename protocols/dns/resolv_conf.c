/* /etc/resolv.conf (resolv.conf(5)): nameserver lines and the timeout/attempts options. The file is
 * input like any other (c-ares' CVE-2024-25629): it is read as bytes with a length, every token is
 * bounded, and nothing in it can make parsing fail. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns_private.h"

typedef struct span {
    const char *p;
    size_t len;
} span;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next blank-separated token of *line (empty at the end), consuming it. */
static span next_token(span *line)
{
    while (line->len && is_blank(*line->p))
        line->p++, line->len--;
    span tok = {line->p, 0};
    while (tok.len < line->len && !is_blank(tok.p[tok.len]))
        tok.len++;
    line->p += tok.len;
    line->len -= tok.len;
    return tok;
}

static bool token_is(span tok, const char *word)
{
    return tok.len == strlen(word) && memcmp(tok.p, word, tok.len) == 0;
}

/* "NAME:N" with NAME matching: N clamped to 1..max; values with more than 9 digits are ignored. */
static void option_number(span tok, const char *name, unsigned max, unsigned *value)
{
    size_t n = strlen(name);
    if (tok.len <= n || tok.len > n + 9 || memcmp(tok.p, name, n) != 0)
        return;
    unsigned v = 0;
    for (size_t i = n; i < tok.len; i++) {
        if (tok.p[i] < '0' || tok.p[i] > '9')
            return;
        v = v * 10 + (unsigned)(tok.p[i] - '0');
    }
    *value = v < 1 ? 1 : v > max ? max : v;
}

static void parse_line(span line, tw_dns_resolv_conf *conf)
{
    span keyword = next_token(&line);
    if (keyword.len == 0 || keyword.p[0] == '#' || keyword.p[0] == ';')
        return;
    if (token_is(keyword, "nameserver")) {
        span addr = next_token(&line);
        if (conf->count < TW_DNS_NAMESERVERS_MAX &&
            tw__dns_parse_host(addr.p, addr.len, TW_DNS_PORT, &conf->servers[conf->count]) == 0)
            conf->count++;
    } else if (token_is(keyword, "options")) {
        for (span opt = next_token(&line); opt.len; opt = next_token(&line)) {
            option_number(opt, "timeout:", TW_DNS_TIMEOUT_MAX, &conf->timeout);
            option_number(opt, "attempts:", TW_DNS_ATTEMPTS_MAX, &conf->attempts);
        }
    }
}

void tw_dns_resolv_conf_parse(const char *text, size_t len, tw_dns_resolv_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->timeout = TW_DNS_TIMEOUT_DEFAULT;
    conf->attempts = TW_DNS_ATTEMPTS_DEFAULT;
    while (text && len) {
        const char *eol = memchr(text, '\n', len);
        size_t line_len = eol ? (size_t)(eol - text) : len;
        parse_line((span){text, line_len}, conf);
        text += line_len + (eol ? 1 : 0);
        len -= line_len + (eol ? 1 : 0);
    }
    if (conf->count == 0 &&
        tw__dns_parse_host("127.0.0.1", 9, TW_DNS_PORT, &conf->servers[0]) == 0) {
        conf->count = 1;
        conf->defaulted = true;
    }
}

int tw_dns_resolv_conf_load(const char *path, tw_dns_resolv_conf *conf)
{
    char *buf = malloc(TW_DNS_RESOLV_CONF_SIZE_MAX);
    size_t used = 0;
    int rc = buf ? 0 : -ENOMEM;
    int fd = buf ? open(path ? path : TW_DNS_RESOLV_CONF_PATH, O_RDONLY | O_CLOEXEC) : -1;
    if (buf && fd < 0)
        rc = -errno;
    while (fd >= 0 && used < TW_DNS_RESOLV_CONF_SIZE_MAX) {
        ssize_t n = read(fd, buf + used, TW_DNS_RESOLV_CONF_SIZE_MAX - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        used += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    tw_dns_resolv_conf_parse(buf, rc == 0 ? used : 0, conf);
    free(buf);
    return rc;
}
