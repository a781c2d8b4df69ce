/* Private to protocols/http: the state of a tw_http_server and of its connections, shared by
 * server.c (the factory and the server's life), connection.c (the protocol: requests, timers) and
 * respond.c (one request -> its response, gathered into the server's batch). */
#ifndef TWINE_PROTOCOLS_HTTP_SERVER_H
#define TWINE_PROTOCOLS_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <twine/http.h>

#include "access_log.h"
#include "batch.h"
#include "cache.h"
#include "date.h"
#include "parser.h"
#include "path.h"

typedef struct tw__http_conn tw__http_conn;

struct tw_http_server {
    tw_reactor *r;
    tw_factory factory;
    tw_http_options opt; /* root points at root_copy */
    tw__http_root root;
    size_t connections;
    uint64_t requests;
    tw__http_conn *conns; /* every connection made and not yet lost, to abort at free */
    tw__http_cache cache;
    tw__http_batch batch;   /* the responses of the data_received running now */
    tw__http_access_log log;
    int64_t date_second;    /* the second date was formatted for */
    char date[TW__HTTP_DATE_LEN + 1];
};

/* One connection. Nothing in it grows: an idle keep-alive connection costs this and its timer. */
struct tw__http_conn {
    tw_http_server *s;       /* NULL once the server is freed */
    tw_transport *t;
    tw__http_conn *prev, *next;
    tw_delayed_call *timer;  /* the head deadline or the idle timeout; NULL when none runs */
    tw__http_parser parser;
    uint64_t discard;        /* body bytes still to read and drop */
    size_t stalled_size;     /* write buffer at the last idle expiry (a client not reading) */
    bool idle;               /* the timer is the idle one, not a head deadline */
    bool closing;            /* answered its last response: nothing more is read */
    bool counted;            /* counts in s->connections (not an over-limit one) */
};

/* The Date header's value for now, formatted once per second. */
const char *tw__http_server_date(tw_http_server *s);

/* The protocol of a connection: connection.c. */
extern const tw_protocol_ops tw__http_conn_ops;

/* Answers req (a complete head parsed from this connection's input; its spans are valid for this
 * call) into s->batch, flushing to t first when a file must follow by sendfile. Returns whether the
 * connection stays open for another request. */
bool tw__http_respond(tw_http_server *s, tw_transport *t, const tw__http_request *req);
/* A whole status response (and its log line) for a head that is refused or a connection that is
 * not served. */
void tw__http_respond_status(tw_http_server *s, tw_transport *t, const tw__http_request *req,
                             int status, bool keep_alive);

#endif
