/* Private to protocols/http: response heads, written into a tw__http_text: the status line and the
 * fields every response carries, the head of a file (200, 206, 304) and whole small responses for
 * errors and redirects, whose bodies never repeat anything the client sent. */
#ifndef TWINE_PROTOCOLS_HTTP_HEAD_H
#define TWINE_PROTOCOLS_HTTP_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* The reason phrase of a status the server sends ("Not Found"); "Unknown" for others. */
const char *tw__http_reason(int status);

/* "HTTP/1.1 STATUS REASON", then Server and Date (date: an IMF-fixdate, TW__HTTP_DATE_LEN). */
void tw__http_head_status(tw__http_text *t, int status, const char *date);
/* "name: value" (value as given: it must hold no CR or LF). */
void tw__http_head_field(tw__http_text *t, const char *name, const char *value, size_t len);
void tw__http_head_field_u64(tw__http_text *t, const char *name, uint64_t value);
/* "Connection: close" when the connection will not be kept, then the empty line. */
void tw__http_head_end(tw__http_text *t, bool keep_alive);

/* What the head of a file response says. status 200 and 206 describe the body that follows (206:
 * bytes first..last of size); 304 carries only the validators. */
typedef struct tw__http_file_head {
    int status;
    const char *content_type;
    uint64_t first, last, size;
    const char *last_modified; /* IMF-fixdate */
    const char *etag;
    size_t etag_len;
} tw__http_file_head;

void tw__http_file_head_write(tw__http_text *t, const tw__http_file_head *f, const char *date,
                              bool keep_alive);

/* A whole response with a small HTML body naming the status ("404 Not Found"; without the body
 * when head_only, as for HEAD, but with its Content-Length). extra, when not NULL, is one more
 * field line without its line end (Location, Allow, Content-Range ...). Returns the body's
 * length. */
size_t tw__http_status_response(tw__http_text *t, int status, const char *date, bool keep_alive,
                                bool head_only, const char *extra, size_t extra_len);

#endif
