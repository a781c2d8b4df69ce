/* Private to protocols/http: validators and conditional requests (RFC 9110 8.8, 13): the ETag a
 * file gets, and what If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since and If-Range
 * make of a GET or HEAD. */
#ifndef TWINE_PROTOCOLS_HTTP_CONDITIONAL_H
#define TWINE_PROTOCOLS_HTTP_CONDITIONAL_H

#include <stdbool.h>
#include <stdint.h>

#include "chars.h"
#include "parser.h"

/* An entity tag: the modification time and size in hex, quoted ("66f1a3b2-400"), as nginx forms
 * them; at most this long with its quotes. */
#define TW__HTTP_ETAG_MAX 36

/* Writes the ETag of a file (mtime in seconds, size in bytes) and a NUL into out
 * (TW__HTTP_ETAG_MAX + 1 bytes); returns its length. */
size_t tw__http_etag_format(int64_t mtime, uint64_t size, char *out);

/* The preconditions of RFC 9110 13.2.2 for a GET or HEAD of a file with these validators, in the
 * RFC's order: If-Match (strong comparison), else If-Unmodified-Since -> 412 when false;
 * If-None-Match (weak comparison) -> 304 when it matches, else If-Modified-Since -> 304 when the
 * file is not newer. An unparsable date is ignored. Returns 0 (answer normally), 304 or 412. */
int tw__http_preconditions(const tw__http_request *req, int64_t mtime, tw__http_str etag);

/* If-Range (RFC 9110 13.1.5): should the Range header be honoured? True when there is no
 * If-Range, or it is the ETag (strong comparison) or exactly the Last-Modified date. */
bool tw__http_if_range_holds(tw__http_str if_range, int64_t mtime, tw__http_str etag);

#endif
