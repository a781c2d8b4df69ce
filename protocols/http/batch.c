/* The response batch of batch.h. Text segments are kept as offsets, since the text may move when it
 * grows; they become pointers only at the flush. The text keeps its memory between calls (one per
 * server) unless a large listing made it big. */
#include <errno.h>
#include <string.h>

#include "batch.h"

/* A text grown past this by one large response is given back after its flush. */
#define BATCH_TEXT_KEEP (256 * 1024)

void tw__http_batch_init(tw__http_batch *b)
{
    memset(b, 0, sizeof *b);
    tw__http_text_init(&b->text);
}

void tw__http_batch_free(tw__http_batch *b)
{
    (void)tw__http_batch_flush(b, NULL);
    tw__http_text_free(&b->text);
}

/* Room for one more segment: flushes a full batch first. */
static void make_room(tw__http_batch *b, tw_transport *t)
{
    if (b->nseg == TW__HTTP_BATCH_SEGMENTS || b->bytes >= TW__HTTP_BATCH_BYTES)
        (void)tw__http_batch_flush(b, t);
}

void tw__http_batch_text_done(tw__http_batch *b, tw_transport *t)
{
    size_t n = b->text.len - b->text_mark;
    if (!n || b->text.failed)
        return;
    tw__http_batch_seg *last = b->nseg ? &b->seg[b->nseg - 1] : NULL;
    if (last && !last->entry && last->off + last->len == b->text_mark) {
        last->len += n;
    } else {
        b->seg[b->nseg++] = (tw__http_batch_seg){.off = b->text_mark, .len = n};
    }
    b->text_mark = b->text.len;
    b->bytes += n;
    make_room(b, t);
}

void tw__http_batch_body(tw__http_batch *b, tw_transport *t, tw__http_entry *e, size_t off,
                         size_t len)
{
    if (!len)
        return;
    if (len <= TW__HTTP_BATCH_COPY_MAX) {
        tw__http_text_add(&b->text, (const char *)e->body + off, len);
        tw__http_batch_text_done(b, t);
        return;
    }
    tw__http_entry_ref(e);
    b->seg[b->nseg++] = (tw__http_batch_seg){.off = off, .len = len, .entry = e};
    b->bytes += len;
    make_room(b, t);
}

int tw__http_batch_flush(tw__http_batch *b, tw_transport *t)
{
    int rc = b->text.failed ? -ENOMEM : 0;
    struct iovec iov[TW__HTTP_BATCH_SEGMENTS];
    for (int i = 0; i < b->nseg; i++) {
        const tw__http_batch_seg *s = &b->seg[i];
        iov[i].iov_base = (char *)(s->entry ? s->entry->body : b->text.p) + s->off;
        iov[i].iov_len = s->len;
    }
    if (t && b->nseg && rc == 0)
        rc = tw_transport_write_sequence(t, iov, b->nseg);
    /* The transport copied whatever it did not send at once: the bodies can go. */
    for (int i = 0; i < b->nseg; i++)
        if (b->seg[i].entry)
            tw__http_entry_unref(b->seg[i].entry);
    b->nseg = 0;
    b->bytes = 0;
    b->text_mark = 0;
    if (b->text.cap > BATCH_TEXT_KEEP || b->text.failed)
        tw__http_text_free(&b->text);
    b->text.len = 0;
    return rc;
}
