/* Timers: tw_call_later and the delayed-call handle, on a 4-ary min-heap kept in one array.
 * Heap entries cache the deadline next to the handle pointer, so sifting never touches the handles
 * (the order key is (deadline, sequence); the sequence is read only on equal deadlines). Handles come
 * from a per-reactor free list, so scheduling a call costs no malloc in steady state. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "reactor/internal.h"

enum { DC_PENDING, DC_DUE, DC_RUNNING, DC_CALLED, DC_CANCELLED };

#define HEAP_ARITY 4
#define NOT_IN_HEAP UINT32_MAX
#define DC_CHUNK 256

struct tw_delayed_call {
    tw_reactor *reactor;
    tw_fn fn;
    void *arg;
    int64_t at;
    uint64_t seq;
    uint32_t index;  /* position in the heap, or NOT_IN_HEAP */
    uint32_t refs;   /* the reactor's (while scheduled or due) plus the users' */
    uint8_t state;
    bool in_due;     /* in this turn's due list, which then owns the reactor's reference */
    tw_delayed_call *next_free;
};

struct tw_dc_chunk {
    tw_dc_chunk *next;
    tw_delayed_call calls[DC_CHUNK];
};

void tw_timers_init(tw_timer_heap *h) { *h = (tw_timer_heap){0}; }

void tw_timers_free(tw_timer_heap *h)
{
    while (h->chunks) {
        tw_dc_chunk *next = h->chunks->next;
        free(h->chunks);
        h->chunks = next;
    }
    free(h->heap);
    free(h->due);
    *h = (tw_timer_heap){0};
}

static tw_delayed_call *dc_alloc(tw_timer_heap *h)
{
    if (!h->free_list) {
        tw_dc_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = h->chunks;
        h->chunks = c;
        for (int i = DC_CHUNK - 1; i >= 0; i--) {
            c->calls[i].next_free = h->free_list;
            h->free_list = &c->calls[i];
        }
    }
    tw_delayed_call *dc = h->free_list;
    h->free_list = dc->next_free;
    return dc;
}

static void dc_release(tw_delayed_call *dc)
{
    if (--dc->refs)
        return;
    tw_timer_heap *h = &dc->reactor->timers;
    dc->next_free = h->free_list;
    h->free_list = dc;
}

/* ---- the heap ---- */

static inline bool entry_before(const tw_heap_entry *a, const tw_heap_entry *b)
{
    return a->at < b->at || (a->at == b->at && a->dc->seq < b->dc->seq);
}

static inline void heap_place(tw_timer_heap *h, uint32_t i, tw_heap_entry e)
{
    h->heap[i] = e;
    e.dc->index = i;
}

static void sift_up(tw_timer_heap *h, uint32_t i, tw_heap_entry e)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / HEAP_ARITY;
        if (!entry_before(&e, &h->heap[parent]))
            break;
        heap_place(h, i, h->heap[parent]);
        i = parent;
    }
    heap_place(h, i, e);
}

static void sift_down(tw_timer_heap *h, uint32_t i, tw_heap_entry e)
{
    for (;;) {
        uint32_t first = i * HEAP_ARITY + 1;
        if (first >= h->count)
            break;
        uint32_t last = first + HEAP_ARITY < h->count ? first + HEAP_ARITY : h->count;
        uint32_t best = first;
        for (uint32_t c = first + 1; c < last; c++)
            if (entry_before(&h->heap[c], &h->heap[best]))
                best = c;
        if (!entry_before(&h->heap[best], &e))
            break;
        heap_place(h, i, h->heap[best]);
        i = best;
    }
    heap_place(h, i, e);
}

static int heap_push(tw_timer_heap *h, tw_delayed_call *dc)
{
    if (h->count == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 64;
        tw_heap_entry *heap = realloc(h->heap, cap * sizeof *heap);
        if (!heap)
            return -ENOMEM;
        h->heap = heap;
        h->cap = cap;
    }
    sift_up(h, h->count++, (tw_heap_entry){dc->at, dc});
    return 0;
}

static void heap_remove(tw_timer_heap *h, tw_delayed_call *dc)
{
    uint32_t i = dc->index;
    dc->index = NOT_IN_HEAP;
    tw_heap_entry last = h->heap[--h->count];
    if (i == h->count)
        return;
    if (i > 0 && entry_before(&last, &h->heap[(i - 1) / HEAP_ARITY]))
        sift_up(h, i, last);
    else
        sift_down(h, i, last);
}

/* ---- public API ---- */

/* Seconds to nanoseconds, clamped so that now + result cannot overflow. */
static int64_t seconds_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 1e9)  /* about 31 years */
        return (int64_t)1e18;
    return (int64_t)ceil(s * 1e9);
}

tw_delayed_call *tw_call_later(tw_reactor *r, double delay, tw_fn fn, void *arg)
{
    if (!r || !fn || isnan(delay))
        return NULL;
    tw_timer_heap *h = &r->timers;
    tw_delayed_call *dc = dc_alloc(h);
    if (!dc)
        return NULL;
    *dc = (tw_delayed_call){.reactor = r, .fn = fn, .arg = arg, .refs = 1, .state = DC_PENDING,
                            .at = r->now + seconds_to_ns(delay), .seq = h->next_seq++,
                            .index = NOT_IN_HEAP};
    if (heap_push(h, dc) < 0) {
        dc_release(dc);
        return NULL;
    }
    return dc;
}

static int check_changeable(const tw_delayed_call *dc)
{
    if (!dc)
        return -EINVAL;
    if (dc->state == DC_CANCELLED)
        return TW_EALREADYCANCELLED;
    if (dc->state == DC_RUNNING || dc->state == DC_CALLED)
        return TW_EALREADYCALLED;
    return 0;
}

int tw_delayed_call_cancel(tw_delayed_call *dc)
{
    int err = check_changeable(dc);
    if (err)
        return err;
    if (dc->index != NOT_IN_HEAP)
        heap_remove(&dc->reactor->timers, dc);
    dc->state = DC_CANCELLED;
    if (!dc->in_due)
        dc_release(dc);
    return 0;
}

/* Moves a pending or due call to a new deadline, as if scheduled now (a fresh sequence number). */
static int reschedule(tw_delayed_call *dc, int64_t at)
{
    tw_timer_heap *h = &dc->reactor->timers;
    dc->at = at;
    dc->seq = h->next_seq++;
    dc->state = DC_PENDING;
    if (dc->index != NOT_IN_HEAP)
        heap_remove(h, dc);
    return heap_push(h, dc);
}

int tw_delayed_call_reset(tw_delayed_call *dc, double seconds_from_now)
{
    int err = check_changeable(dc);
    if (err)
        return err;
    if (isnan(seconds_from_now))
        return -EINVAL;
    return reschedule(dc, dc->reactor->now + seconds_to_ns(seconds_from_now));
}

int tw_delayed_call_delay(tw_delayed_call *dc, double seconds_later)
{
    int err = check_changeable(dc);
    if (err)
        return err;
    if (isnan(seconds_later))
        return -EINVAL;
    int64_t shift = seconds_later < 0 ? -seconds_to_ns(-seconds_later) : seconds_to_ns(seconds_later);
    return reschedule(dc, dc->at + shift);
}

bool tw_delayed_call_active(const tw_delayed_call *dc)
{
    return dc && (dc->state == DC_PENDING || dc->state == DC_DUE);
}

bool tw_delayed_call_called(const tw_delayed_call *dc)
{
    return dc && (dc->state == DC_RUNNING || dc->state == DC_CALLED);
}

bool tw_delayed_call_cancelled(const tw_delayed_call *dc) { return dc && dc->state == DC_CANCELLED; }

double tw_delayed_call_get_time(const tw_delayed_call *dc) { return dc ? (double)dc->at / 1e9 : 0; }

tw_delayed_call *tw_delayed_call_ref(tw_delayed_call *dc)
{
    if (dc)
        dc->refs++;
    return dc;
}

void tw_delayed_call_unref(tw_delayed_call *dc)
{
    if (dc)
        dc_release(dc);
}

size_t tw_reactor_pending_calls(const tw_reactor *r)
{
    size_t n = r->timers.count;
    for (uint32_t i = 0; i < r->timers.ndue; i++)  /* only non-zero inside a timer callback */
        n += r->timers.due[i]->state == DC_DUE;
    return n;
}

/* ---- running due calls ---- */

int64_t tw_timers_next_wait(const tw_reactor *r)
{
    if (r->timers.count == 0)
        return -1;
    int64_t wait = r->timers.heap[0].at - r->now;
    return wait > 0 ? wait : 0;
}

static int collect_due(tw_timer_heap *h, int64_t now)
{
    while (h->count > 0 && h->heap[0].at <= now) {
        if (h->ndue == h->due_cap) {
            uint32_t cap = h->due_cap ? h->due_cap * 2 : 64;
            tw_delayed_call **due = realloc(h->due, cap * sizeof *due);
            if (!due)
                return -ENOMEM;  /* the rest stays in the heap for the next turn */
            h->due = due;
            h->due_cap = cap;
        }
        tw_delayed_call *dc = h->heap[0].dc;
        heap_remove(h, dc);
        dc->state = DC_DUE;
        dc->in_due = true;
        h->due[h->ndue++] = dc;
    }
    return 0;
}

int tw_timers_run_due(tw_reactor *r)
{
    tw_timer_heap *h = &r->timers;
    if (h->count == 0 || h->heap[0].at > r->now)
        return 0;
    if (collect_due(h, r->now) < 0)
        tw_reactor_log(r, TW_LOG_ERROR, "out of memory collecting due timers");
    int ran = 0;
    /* Callbacks may cancel or reset calls later in this list: they only change its state. */
    for (uint32_t i = 0; i < h->ndue; i++) {
        tw_delayed_call *dc = h->due[i];
        dc->in_due = false;
        if (dc->state == DC_PENDING)  /* reset to a new deadline: the heap owns it again */
            continue;
        if (dc->state == DC_DUE) {
            dc->state = DC_RUNNING;
            int err = dc->fn(dc->arg);
            dc->state = DC_CALLED;
            ran++;
            if (err < 0)
                tw_report_callback_error(r, "timed call", err);
        }
        dc_release(dc);
    }
    h->ndue = 0;
    return ran;
}
