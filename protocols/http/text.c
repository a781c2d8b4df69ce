/* The text buffer of text.h: appends with a sticky failure, and the URI and HTML escapes that keep
 * names taken from the file system or the request from ever being read as markup or syntax. */
#include <stdlib.h>
#include <string.h>

#include "chars.h"
#include "text.h"

void tw__http_text_init(tw__http_text *t)
{
    memset(t, 0, sizeof *t);
}

void tw__http_text_init_fixed(tw__http_text *t, char *array, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->p = array;
    t->cap = cap;
    t->fixed = true;
}

void tw__http_text_free(tw__http_text *t)
{
    if (!t->fixed)
        free(t->p);
    memset(t, 0, sizeof *t);
}

/* Room for n more bytes; false (and failed) when there is none to be had. */
static bool reserve(tw__http_text *t, size_t n)
{
    if (t->failed)
        return false;
    if (n <= t->cap - t->len)
        return true;
    size_t cap = t->cap ? t->cap : 256;
    while (cap - t->len < n && cap <= SIZE_MAX / 2)
        cap *= 2;
    char *p = t->fixed || cap - t->len < n ? NULL : realloc(t->p, cap);
    if (!p) {
        t->failed = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

void tw__http_text_add(tw__http_text *t, const char *s, size_t len)
{
    if (len && reserve(t, len)) {
        memcpy(t->p + t->len, s, len);
        t->len += len;
    }
}

void tw__http_text_cstr(tw__http_text *t, const char *s)
{
    tw__http_text_add(t, s, strlen(s));
}

void tw__http_text_u64(tw__http_text *t, uint64_t v)
{
    char digits[20];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    tw__http_text_add(t, digits + n, sizeof digits - n);
}

void tw__http_text_uri(tw__http_text *t, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (tw__http_in(TW__HTTP_UNRESERVED, c) || (keep_slash && c == '/')) {
            tw__http_text_add(t, (const char *)&s[i], 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            tw__http_text_add(t, esc, 3);
        }
    }
}

void tw__http_text_html(tw__http_text *t, const char *s, size_t len)
{
    size_t plain = 0; /* start of the run of bytes that need no escape */
    for (size_t i = 0; i < len; i++) {
        const char *entity = NULL;
        switch (s[i]) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '"': entity = "&quot;"; break;
        case '\'': entity = "&#39;"; break;
        default: continue;
        }
        tw__http_text_add(t, s + plain, i - plain);
        tw__http_text_cstr(t, entity);
        plain = i + 1;
    }
    tw__http_text_add(t, s + plain, len - plain);
}
