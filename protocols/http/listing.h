/* Private to protocols/http: the HTML page that lists a directory (`twined web --listing`). */
#ifndef TWINE_PROTOCOLS_HTTP_LISTING_H
#define TWINE_PROTOCOLS_HTTP_LISTING_H

#include <stddef.h>

#include "text.h"

/* Appends to body the listing of the directory open on dir_fd, which the request named rel
 * (decoded, relative to DIR, "" for DIR itself). Entries are sorted by name, directories end in
 * '/', names starting with '.' are left out, and at most TW_HTTP_LISTING_ENTRIES_MAX are shown.
 * Every name is percent-encoded in its href and HTML-escaped in its text. dir_fd stays open.
 * Returns 0, or a negative errno when the directory cannot be read (-ENOMEM included). */
int tw__http_listing(int dir_fd, const char *rel, size_t rel_len, tw__http_text *body);

#endif
