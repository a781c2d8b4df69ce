/* Private to protocols/http: the incremental HTTP/1.1 request-head parser. It is shown the whole
 * unconsumed input each time (the transport's rule) and consumes nothing until a head is complete,
 * then says how many bytes the head took and what it asks for, or which status refuses it. */
#ifndef TWINE_PROTOCOLS_HTTP_PARSER_H
#define TWINE_PROTOCOLS_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <twine/http.h>

#include "chars.h"

/* What the request asks for. GET and HEAD are served; every other method gets 405 (the methods of
 * RFC 9110 and PATCH) or 501 (any other token). */
typedef enum {
    TW__HTTP_GET = 1,
    TW__HTTP_HEAD,
    TW__HTTP_KNOWN_OTHER,
    TW__HTTP_UNKNOWN,
} tw__http_method;

/* A parsed head. Every span points into the buffer the parser was shown and is valid as long as
 * those bytes are (for a transport's data_received: this call only). Absent headers have p NULL;
 * a conditional or range header sent twice counts as absent (ignoring it is always safe).
 *
 * status: 0 = serve the method on path; otherwise the status to answer instead (405, 501, 413), or
 *   for a refused head (parse returned TW_EPARSE) 400, 414, 431, 501 or 505.
 * keep_alive: false when the connection must close after the response: HTTP/1.0, Connection:
 *   close, a body that is not read, or any refused head.
 * body_len: bytes of Content-Length body that follow the head and must be read and discarded
 *   before the next request (at most TW_HTTP_BODY_DISCARD_MAX; 0 when keep_alive is false). */
typedef struct tw__http_request {
    int status;
    tw__http_method method;
    unsigned char minor;      /* HTTP/1.minor as answered: 0 or 1 (1.2 and up are treated as 1.1) */
    bool keep_alive;
    uint64_t body_len;
    tw__http_str request_line; /* without its line end, for the access log */
    tw__http_str method_name;
    tw__http_str target;       /* as sent */
    tw__http_str path;         /* still percent-encoded; "/" when an absolute-form had no path */
    tw__http_str query;        /* after '?', without it; p NULL when there is none */
    tw__http_str host;         /* Host header value (the target's authority for absolute-form) */
    tw__http_str if_modified_since, if_unmodified_since, if_none_match, if_match;
    tw__http_str range, if_range;
    tw__http_str user_agent, referer;
} tw__http_request;

/* Where the scan of an incomplete head stopped; plain data, zero it (or reset it) to start. */
typedef struct tw__http_parser {
    size_t scanned;    /* bytes shown so far that hold no line end still to be looked at */
    size_t line_start; /* where the current line starts */
    size_t head_start; /* where the request line starts (after skipped empty lines) */
    size_t fields_start; /* where the header field lines start; 0 before the request line ends */
    unsigned empty_lines;
    unsigned field_lines;
} tw__http_parser;

void tw__http_parser_reset(tw__http_parser *p);

/* Looks at buf[0..len), the unconsumed input, which must start with the same bytes as the last
 * call's (the parser remembers how far it has scanned; reset it when that is not so).
 * Returns the length of the complete head (> 0) and fills *req; 0 when the head is not complete
 * (nothing is consumed, show it again with more bytes); or TW_EPARSE when the head is refused:
 * req->status says how (400, 414, 431, 501, 505) and the connection must be closed after answering
 * it. The parser is reset after a complete or refused head. The result does not depend on how the
 * input was cut into calls. */
ssize_t tw__http_parse(tw__http_parser *p, const char *buf, size_t len, tw__http_request *req);

#endif
