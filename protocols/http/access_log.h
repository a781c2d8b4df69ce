/* Private to protocols/http: the access log, one line per response in the combined log format
 * (`ADDR - - [06/Dec/2026:16:00:00 +0000] "GET / HTTP/1.1" 200 1024 "REFERER" "USER-AGENT"`), the
 * lines of one data_received call written with one write(2). */
#ifndef TWINE_PROTOCOLS_HTTP_ACCESS_LOG_H
#define TWINE_PROTOCOLS_HTTP_ACCESS_LOG_H

#include <stdint.h>

#include <twine/transport.h>

#include "chars.h"
#include "text.h"

typedef struct tw__http_access_log {
    int fd; /* -1: no log */
    tw__http_text lines;
    int64_t second;  /* the second stamp was formatted for */
    char stamp[32];  /* "[06/Dec/2026:16:00:00 +0000]" */
} tw__http_access_log;

void tw__http_access_log_init(tw__http_access_log *l, int fd);
/* Writes what is pending, then frees. */
void tw__http_access_log_free(tw__http_access_log *l);

/* Appends one line (request_line, referer, user_agent: p NULL when absent; they are escaped). */
void tw__http_access_log_add(tw__http_access_log *l, tw_transport *t, tw__http_str request_line,
                             int status, uint64_t bytes, tw__http_str referer,
                             tw__http_str user_agent);
/* Writes the pending lines. */
void tw__http_access_log_flush(tw__http_access_log *l);

/* Appends s with control characters, '"', '\\' and bytes 0x7f and up as \xHH. */
void tw__http_access_log_escape(tw__http_text *t, tw__http_str s);

#endif
