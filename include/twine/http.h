/* twine HTTP/1.1: the limits of twine's request-head parsing and of its static file server
 * (`twined web`). Each is a named constant so that the code, the tests and the documentation agree
 * on the numbers the twined contract states. */
#ifndef TWINE_HTTP_H
#define TWINE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "reactor.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- request heads -----------------------------------------------------------------------------
 * A request head is read whole before anything is answered; these bound what a client can make the
 * server hold. Lines end in CRLF or a bare LF. */

/* Longest request line (method, target and version, without its line end); longer -> 414. */
#define TW_HTTP_REQUEST_LINE_MAX 8192
/* Most bytes of header field lines, line ends included and the final empty line excluded, and
 * most header field lines; more of either -> 431. */
#define TW_HTTP_HEADERS_MAX 32768
#define TW_HTTP_HEADER_LINES_MAX 100
/* Empty lines skipped before a request line (RFC 9112 2.2); more -> 400. */
#define TW_HTTP_EMPTY_LINES_MAX 8
/* The largest head the parser can be shown before it decides: everything above plus line ends. */
#define TW_HTTP_HEAD_MAX \
    (2 * TW_HTTP_EMPTY_LINES_MAX + TW_HTTP_REQUEST_LINE_MAX + 2 + TW_HTTP_HEADERS_MAX + 2)
/* A Content-Length body of at most this many bytes on a request is read and discarded, and the
 * connection goes on; a larger body, or a chunked one, is not read: 413 (405/501 for other methods)
 * and the connection is closed. */
#define TW_HTTP_BODY_DISCARD_MAX 65536

/* ---- directory listings --------------------------------------------------------------------- */

/* Entries shown in one listing at most; the rest are left out and the page says so. */
#define TW_HTTP_LISTING_ENTRIES_MAX 10000

/* ---- timeouts and connections -------------------------------------------------------------------
 * Defaults of tw_http_options (seconds and counts). */

/* A connection must send a whole request head within this long of connecting or of the first byte
 * of the head after a response: one deadline, which trickled bytes do not move. */
#define TW_HTTP_HEAD_TIMEOUT 10.0
/* A keep-alive connection with no request in progress is closed after this long. */
#define TW_HTTP_IDLE_TIMEOUT 60.0
/* Connections open at once; one more is answered 503 and closed. */
#define TW_HTTP_CONNECTIONS_MAX 100000
/* Files up to this size are kept in memory after their first request (0: never), at most
 * TW_HTTP_CACHE_TOTAL bytes of them; a cached file is checked against the disk (stat) at most once
 * a second, and reloaded when its size, mtime or inode changed. Larger files go out with
 * sendfile(2) from the disk. */
#define TW_HTTP_CACHE_FILE_MAX (64 * 1024)
#define TW_HTTP_CACHE_TOTAL (64 * 1024 * 1024)

/* ---- the static file server ----------------------------------------------------------------------
 * tw_http_server serves the files beneath one directory over HTTP/1.1 (GET and HEAD), as
 * `twined web` does and docs/web.md describes: keep-alive and pipelining, ranges, conditional
 * requests, listings, the limits above. Listen with its factory on any server endpoint. The
 * server, its root directory descriptor and its cache belong to one reactor's thread; for several
 * cores run one server per reactor (docs/web.md). */
typedef struct tw_http_server tw_http_server;

typedef struct tw_http_options {
    const char *root;    /* the directory served (DIR); required */
    bool listing;        /* a directory without index.html is listed (else 403) */
    int access_log_fd;   /* one line per request, combined log format; -1 (default): none */
    double head_timeout; /* seconds; TW_HTTP_HEAD_TIMEOUT */
    double idle_timeout; /* seconds; TW_HTTP_IDLE_TIMEOUT */
    size_t max_connections;       /* TW_HTTP_CONNECTIONS_MAX */
    size_t cache_file_max;        /* TW_HTTP_CACHE_FILE_MAX; 0 turns the cache off */
    size_t cache_total;           /* TW_HTTP_CACHE_TOTAL */
} tw_http_options;

/* Fills o with the defaults (root NULL). */
TW_API void tw_http_options_init(tw_http_options *o);

/* A server on reactor r. NULL with *err (if err is not NULL) set to: -EINVAL (r, o or o->root NULL,
 * a timeout <= 0, max_connections 0), -ENOTDIR / -ENOENT / -EACCES (root is not a directory it
 * can open), -ENOMEM. The options are copied (root too); access_log_fd is borrowed and must stay
 * open until tw_http_server_free. */
TW_API tw_http_server *tw_http_server_new(tw_reactor *r, const tw_http_options *o, int *err)
    TW__MUST_CHECK;
/* The factory to listen with. It stays valid until tw_http_server_free. */
TW_API tw_factory *tw_http_server_factory(tw_http_server *s);
/* Connections open now. */
TW_API size_t tw_http_server_connections(const tw_http_server *s);
/* Requests answered so far (every response, errors too). */
TW_API uint64_t tw_http_server_requests(const tw_http_server *s);
/* Frees the server. Stop listening first (tw_port_free); connections still open are aborted.
 * NULL is ignored. */
TW_API void tw_http_server_free(tw_http_server *s);

#ifdef __cplusplus
}
#endif
#endif
