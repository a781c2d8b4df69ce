/* Private to protocols/http: a text buffer that response heads, redirects and directory listings
 * are written into, with the escapes HTTP output needs (percent-encoding for URIs, entities for
 * HTML). It grows on the heap, or fills a caller's fixed array; a failure is sticky and checked
 * once at the end, so writers need no error path per append. */
#ifndef TWINE_PROTOCOLS_HTTP_TEXT_H
#define TWINE_PROTOCOLS_HTTP_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tw__http_text {
    char *p;
    size_t len, cap;
    bool fixed;  /* p is the caller's array: never grown nor freed */
    bool failed; /* an append did not fit (fixed) or malloc failed: the text is incomplete */
} tw__http_text;

/* An empty text on the heap (nothing allocated until the first append). */
void tw__http_text_init(tw__http_text *t);
/* An empty text in the caller's array of cap bytes. */
void tw__http_text_init_fixed(tw__http_text *t, char *array, size_t cap);
/* Frees a heap text (nothing for a fixed one) and leaves it empty. */
void tw__http_text_free(tw__http_text *t);

void tw__http_text_add(tw__http_text *t, const char *s, size_t len);
void tw__http_text_cstr(tw__http_text *t, const char *s);
void tw__http_text_u64(tw__http_text *t, uint64_t v);
/* Percent-encodes every byte that is not unreserved (RFC 3986 2.3), and '/' too unless keep_slash:
 * the result is safe in an href attribute and a Location header without further escaping. */
void tw__http_text_uri(tw__http_text *t, const char *s, size_t len, bool keep_slash);
/* HTML-escapes & < > " and ' (safe in element content and quoted attributes). */
void tw__http_text_html(tw__http_text *t, const char *s, size_t len);

#endif
