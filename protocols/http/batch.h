/* Private to protocols/http: the bytes of the responses to one data_received call, gathered so that
 * a burst of pipelined requests is answered with one write: response heads and small bodies copied
 * into a text, cached bodies referenced in place, all handed to the transport in one sequence. */
#ifndef TWINE_PROTOCOLS_HTTP_BATCH_H
#define TWINE_PROTOCOLS_HTTP_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <twine/transport.h>

#include "cache.h"
#include "text.h"

/* Segments per write; a batch that fills them is flushed early. */
#define TW__HTTP_BATCH_SEGMENTS 32
/* A cached body this small is copied into the text rather than lent as a segment of its own, so
 * that a pipelined burst of small responses is one contiguous buffer: one write, however many. */
#define TW__HTTP_BATCH_COPY_MAX 2048
/* A batch holding more bytes than this is flushed early too (the transport's high mark). */
#define TW__HTTP_BATCH_BYTES TW_TRANSPORT_HIGH_WATER_DEFAULT

typedef struct tw__http_batch_seg {
    size_t off, len;         /* in text when entry is NULL */
    tw__http_entry *entry;   /* else a referenced cache body, from off */
} tw__http_batch_seg;

typedef struct tw__http_batch {
    tw__http_text text;
    tw__http_batch_seg seg[TW__HTTP_BATCH_SEGMENTS];
    int nseg;
    size_t bytes;
    size_t text_mark; /* text bytes already in a segment */
} tw__http_batch;

void tw__http_batch_init(tw__http_batch *b);
void tw__http_batch_free(tw__http_batch *b);

/* The text to write heads and copied bodies into; call tw__http_batch_text_done after. */
static inline tw__http_text *tw__http_batch_text(tw__http_batch *b)
{
    return &b->text;
}
/* Makes what was written into the text since the last call part of the batch, in order. */
void tw__http_batch_text_done(tw__http_batch *b, tw_transport *t);
/* Appends len bytes of e's body from off, holding a reference until the flush. */
void tw__http_batch_body(tw__http_batch *b, tw_transport *t, tw__http_entry *e, size_t off,
                         size_t len);
/* Writes everything gathered to t (when t is not NULL) as one sequence and empties the batch.
 * Returns what the write returned (0 when there was nothing). */
int tw__http_batch_flush(tw__http_batch *b, tw_transport *t);

#endif
