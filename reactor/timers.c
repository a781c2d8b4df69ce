/* Timers: tw_call_later and the delayed-call handle, on a 4-ary min-heap kept in one array.
 * A heap entry holds the whole order key, (deadline, sequence), and the handle's slot number, so
 * comparisons never touch handles; the heap is aligned so that a node's four children share one
 * cache line. Calls live in fixed chunks from a per-reactor free list: no malloc in steady
 * state. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reactor/internal.h"

enum { DC_PENDING, DC_DUE, DC_RUNNING, DC_CALLED, DC_CANCELLED };

#define HEAP_ARITY 4
#define NOT_IN_HEAP UINT32_MAX
#define DC_CHUNK 256

/* One delayed call, in its chunk's memory. The handle users get is not a plain pointer to it: see
 * handle_of(). */
struct tw_dc {
    tw_reactor *reactor;
    union {
        tw_fn fn;          /* while in use */
        tw_dc *next_free;  /* while on the free list */
    };
    void *arg;
    int64_t at;
    uint32_t slot;   /* chunk number << 8 | position in chunk: fixed by the memory it lives in */
    uint32_t index;  /* position in the heap, or NOT_IN_HEAP */
    uint32_t refs;   /* the reactor's (while scheduled or due) plus the users' */
    uint8_t state;
    bool in_due;     /* in this turn's due list, which then owns the reactor's reference */
    uint16_t gen;    /* bumped each time the memory goes back to the pool */
};

struct tw_dc_chunk {
    tw_dc_chunk *next;
    tw_dc calls[DC_CHUNK];
};

void tw__timers_init(tw_timer_heap *h) { *h = (tw_timer_heap){0}; }

void tw__timers_free(tw_timer_heap *h)
{
    while (h->chunks) {
        tw_dc_chunk *next = h->chunks->next;
        free(h->chunks);
        h->chunks = next;
    }
    free(h->heap_mem);
    free(h->chunk_tab);
    free(h->due);
    *h = (tw_timer_heap){0};
}

static_assert(sizeof(tw_dc) <= 48, "a handle should stay within 48 bytes");

/* ---- handles ----
 * The memory of a call serves the next one as soon as the reactor has dropped it, so a raw pointer
 * kept too long (used after the call ran or was cancelled, without a reference) would reach
 * whichever call lives there now. A handle therefore carries its call's generation in the bits of
 * the address that user-space pointers leave unused (the top 16 on 64-bit platforms, whose user
 * addresses fit in 48 bits), and a stale one is told from the live one at the cost of a mask and a
 * compare. 32-bit platforms have no such bits: their handles are plain pointers, stale ones go
 * unnoticed. A stale handle is missed only after 65,536 reuses of its memory. */
#if UINTPTR_MAX > 0xFFFFFFFFu
#define GEN_SHIFT 48
#define ADDRESS_MASK (((uintptr_t)1 << GEN_SHIFT) - 1)

static inline bool chunk_addressable(const tw_dc_chunk *c)
{
    return ((uintptr_t)c >> GEN_SHIFT) == 0;
}

static inline tw_delayed_call *handle_of(const tw_dc *dc)
{
    return (tw_delayed_call *)((uintptr_t)dc | (uintptr_t)dc->gen << GEN_SHIFT);
}

/* The call h names: 0, -EINVAL for NULL, -ESTALE when its memory now serves another call. */
static inline int call_of(const tw_delayed_call *h, tw_dc **out)
{
    tw_dc *dc = (tw_dc *)((uintptr_t)h & ADDRESS_MASK);
    *out = dc;
    if (!dc)
        return -EINVAL;
    return dc->gen == (uint16_t)((uintptr_t)h >> GEN_SHIFT) ? 0 : -ESTALE;
}
#else
static inline bool chunk_addressable(const tw_dc_chunk *c)
{
    (void)c;
    return true;
}

static inline tw_delayed_call *handle_of(const tw_dc *dc) { return (tw_delayed_call *)dc; }

static inline int call_of(const tw_delayed_call *h, tw_dc **out)
{
    *out = (tw_dc *)h;
    return h ? 0 : -EINVAL;
}
#endif

/* The call h names, or NULL for a NULL or stale handle. */
static inline tw_dc *live_call(const tw_delayed_call *h)
{
    tw_dc *dc;
    return call_of(h, &dc) == 0 ? dc : NULL;
}

static tw_dc *dc_alloc(tw_timer_heap *h)
{
    if (!h->free_list) {
        if (h->nchunks == h->chunk_cap) {
            uint32_t cap = h->chunk_cap ? h->chunk_cap * 2 : 16;
            tw_dc_chunk **tab = realloc(h->chunk_tab, cap * sizeof *tab);
            if (!tab)
                return NULL;
            h->chunk_tab = tab;
            h->chunk_cap = cap;
        }
        tw_dc_chunk *c = malloc(sizeof *c);
        if (c && !chunk_addressable(c)) { /* no room for the generation: never seen, but refuse */
            free(c);
            c = NULL;
        }
        if (!c)
            return NULL;
        c->next = h->chunks;
        h->chunks = c;
        uint32_t chunk_no = h->nchunks++;
        h->chunk_tab[chunk_no] = c;
        for (int i = DC_CHUNK - 1; i >= 0; i--) {
            c->calls[i].slot = chunk_no << 8 | (uint32_t)i;
            c->calls[i].next_free = h->free_list;
            h->free_list = &c->calls[i];
        }
    }
    tw_dc *dc = h->free_list;
    h->free_list = dc->next_free;
    return dc;
}

static void dc_release(tw_dc *dc)
{
    if (--dc->refs)
        return;
    dc->gen++; /* every handle of this call is stale from now on */
    tw_timer_heap *h = &dc->reactor->timers;
    dc->next_free = h->free_list;
    h->free_list = dc;
}

/* ---- the heap ---- */

static inline bool entry_before(const tw_heap_entry *a, const tw_heap_entry *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static inline tw_dc *entry_dc(const tw_timer_heap *h, tw_heap_entry e)
{
    return &h->chunk_tab[e.slot >> 8]->calls[e.slot & (DC_CHUNK - 1)];
}

/* heap and tab are h->heap and h->chunk_tab, passed in so that the compiler keeps them in registers
 * (the index store could otherwise alias h's fields). */
static inline void heap_place(tw_heap_entry *heap, tw_dc_chunk *const *tab, uint32_t i,
                              tw_heap_entry e)
{
    heap[i] = e;
    tab[e.slot >> 8]->calls[e.slot & (DC_CHUNK - 1)].index = i;
}

static inline void sift_up(tw_timer_heap *h, uint32_t i, tw_heap_entry e)
{
    tw_heap_entry *heap = h->heap;
    tw_dc_chunk *const *tab = h->chunk_tab;
    while (i > 0) {
        uint32_t parent = (i - 1) / HEAP_ARITY;
        if (!entry_before(&e, &heap[parent]))
            break;
        heap_place(heap, tab, i, heap[parent]);
        i = parent;
    }
    heap_place(heap, tab, i, e);
}

/* The earliest of the children first..first+3 when all four exist: no bounds checks, and the
 * comparisons are independent enough for the compiler to use conditional moves. */
static inline uint32_t best_of_four(const tw_heap_entry *heap, uint32_t first)
{
    uint32_t a = entry_before(&heap[first + 1], &heap[first]) ? first + 1 : first;
    uint32_t b = entry_before(&heap[first + 3], &heap[first + 2]) ? first + 3 : first + 2;
    return entry_before(&heap[b], &heap[a]) ? b : a;
}

static void sift_down(tw_timer_heap *h, uint32_t i, tw_heap_entry e)
{
    tw_heap_entry *heap = h->heap;
    tw_dc_chunk *const *tab = h->chunk_tab;
    uint32_t count = h->count;
    for (;;) {
        uint32_t first = i * HEAP_ARITY + 1;
        uint32_t best;
        if (first + HEAP_ARITY <= count) {
            best = best_of_four(heap, first);
        } else {
            if (first >= count)
                break;
            best = first;
            for (uint32_t c = first + 1; c < count; c++)
                if (entry_before(&heap[c], &heap[best]))
                    best = c;
        }
        if (!entry_before(&heap[best], &e))
            break;
        heap_place(heap, tab, i, heap[best]);
        i = best;
    }
    heap_place(heap, tab, i, e);
}

/* The heap starts 0..3 entries into its block so that &heap[1] is 64-byte aligned: then the four
 * children of any node (4i+1..4i+4) share one cache line. realloc keeps the block's offset within a
 * page when it moves it (mremap), so the entries rarely need shifting. */
#define HEAP_SLACK 3
static int heap_grow(tw_timer_heap *h)
{
    uint32_t cap = h->cap ? h->cap * 2 : 64;
    size_t old_skew = h->heap ? (size_t)(h->heap - h->heap_mem) : 0;
    tw_heap_entry *mem = realloc(h->heap_mem, ((size_t)cap + HEAP_SLACK) * sizeof *mem);
    if (!mem)
        return -ENOMEM;
    size_t skew = ((48 - ((uintptr_t)mem & 63)) & 63) / sizeof *mem;
    if (skew != old_skew && h->count)
        memmove(mem + skew, mem + old_skew, h->count * sizeof *mem);
    h->heap_mem = mem;
    h->heap = mem + skew;
    h->cap = cap;
    return 0;
}

static int compare_seq(const void *a, const void *b)
{
    uint32_t x = ((const tw_heap_entry *)a)->seq, y = ((const tw_heap_entry *)b)->seq;
    return (x > y) - (x < y);
}

/* Sequence numbers are 32 bits so that an entry fits 16 bytes. Before they wrap, renumber the live
 * entries 0..n-1 keeping their order: the (deadline, sequence) order, hence the heap, is unchanged.
 * This costs O(n log n) once per four billion schedules. */
static int renumber(tw_timer_heap *h)
{
    tw_heap_entry *sorted = malloc((h->count ? h->count : 1) * sizeof *sorted);
    if (!sorted)
        return -ENOMEM;
    for (uint32_t i = 0; i < h->count; i++)
        sorted[i] = (tw_heap_entry){.seq = h->heap[i].seq, .slot = i};  /* slot: heap position */
    qsort(sorted, h->count, sizeof *sorted, compare_seq);
    for (uint32_t rank = 0; rank < h->count; rank++)
        h->heap[sorted[rank].slot].seq = rank;
    h->next_seq = h->count;
    free(sorted);
    return 0;
}

/* Room for one more entry with a fresh sequence number: everything heap_push can fail on, checked
 * before a caller changes anything, so that a failure leaves its call as it was. */
static inline int heap_reserve(tw_timer_heap *h)
{
    if (h->count == h->cap && heap_grow(h) < 0)
        return -ENOMEM;
    if (h->next_seq > UINT32_MAX && renumber(h) < 0)
        return -ENOMEM;
    return 0;
}

/* After heap_reserve(): cannot fail. */
static inline void heap_push(tw_timer_heap *h, tw_dc *dc)
{
    sift_up(h, h->count++, (tw_heap_entry){dc->at, (uint32_t)h->next_seq++, dc->slot});
}

/* For tests: makes the next sequence number seq, to exercise the renumbering. */
void tw__timers_set_next_seq(tw_reactor *r, uint64_t seq) { r->timers.next_seq = seq; }

static void heap_remove(tw_timer_heap *h, tw_dc *dc)
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

/* Seconds to nanoseconds, clamped to about 31 years. */
static inline int64_t seconds_to_ns(double s)
{
    if (!(s > 0))
        return 0;
    if (s > 1e9)  /* about 31 years */
        return (int64_t)1e18;
    double ns = s * 1e9;
    int64_t whole = (int64_t)ns;  /* truncates; round up by hand rather than call ceil() */
    return whole + ((double)whole < ns);
}

/* base + ns, saturating at the ends of int64: a far deadline stays far instead of wrapping into the
 * past (a clock may start anywhere, and delay() may push a deadline again and again). */
static inline int64_t add_ns(int64_t base, int64_t ns)
{
    int64_t sum;
    if (__builtin_add_overflow(base, ns, &sum))
        return ns > 0 ? INT64_MAX : INT64_MIN;
    return sum;
}

static tw_delayed_call *fail_with(int *err, int code)
{
    if (err)
        *err = code;
    return NULL;
}

tw_delayed_call *tw_call_later(tw_reactor *r, double delay, tw_fn fn, void *arg, int *err)
{
    if (!r || !fn || isnan(delay))
        return fail_with(err, -EINVAL);
    tw_timer_heap *h = &r->timers;
    tw_dc *dc = heap_reserve(h) < 0 ? NULL : dc_alloc(h);
    if (!dc)
        return fail_with(err, -ENOMEM);
    /* slot and gen belong to the memory, not to the call: they stay. */
    dc->reactor = r;
    dc->fn = fn;
    dc->arg = arg;
    dc->at = add_ns(r->now, seconds_to_ns(delay));
    dc->index = NOT_IN_HEAP;
    dc->refs = 1;
    dc->state = DC_PENDING;
    dc->in_due = false;
    heap_push(h, dc);
    return handle_of(dc);
}

/* The call h names, if it may still be cancelled, reset or delayed. */
static int changeable(const tw_delayed_call *h, tw_dc **out)
{
    int err = call_of(h, out);
    if (err)
        return err;
    if ((*out)->state == DC_CANCELLED)
        return TW_EALREADYCANCELLED;
    if ((*out)->state == DC_RUNNING || (*out)->state == DC_CALLED)
        return TW_EALREADYCALLED;
    return 0;
}

int tw_delayed_call_cancel(tw_delayed_call *h)
{
    tw_dc *dc;
    int err = changeable(h, &dc);
    if (err)
        return err;
    if (dc->index != NOT_IN_HEAP)
        heap_remove(&dc->reactor->timers, dc);
    dc->state = DC_CANCELLED;
    if (!dc->in_due)
        dc_release(dc);
    return 0;
}

/* Moves a pending or due call to a new deadline, as if scheduled now (a fresh sequence number).
 * Out of memory, the call stays as it was. */
static int reschedule(tw_dc *dc, int64_t at)
{
    tw_timer_heap *h = &dc->reactor->timers;
    if (heap_reserve(h) < 0)
        return -ENOMEM;
    dc->at = at;
    dc->state = DC_PENDING;
    if (dc->index != NOT_IN_HEAP)
        heap_remove(h, dc);
    heap_push(h, dc);
    return 0;
}

int tw_delayed_call_reset(tw_delayed_call *h, double seconds_from_now)
{
    tw_dc *dc;
    int err = changeable(h, &dc);
    if (err)
        return err;
    if (isnan(seconds_from_now))
        return -EINVAL;
    return reschedule(dc, add_ns(dc->reactor->now, seconds_to_ns(seconds_from_now)));
}

int tw_delayed_call_delay(tw_delayed_call *h, double seconds_later)
{
    tw_dc *dc;
    int err = changeable(h, &dc);
    if (err)
        return err;
    if (isnan(seconds_later))
        return -EINVAL;
    int64_t shift =
        seconds_later < 0 ? -seconds_to_ns(-seconds_later) : seconds_to_ns(seconds_later);
    return reschedule(dc, add_ns(dc->at, shift));
}

bool tw_delayed_call_active(const tw_delayed_call *h)
{
    const tw_dc *dc = live_call(h);
    return dc && (dc->state == DC_PENDING || dc->state == DC_DUE);
}

bool tw_delayed_call_called(const tw_delayed_call *h)
{
    const tw_dc *dc = live_call(h);
    return dc && (dc->state == DC_RUNNING || dc->state == DC_CALLED);
}

bool tw_delayed_call_cancelled(const tw_delayed_call *h)
{
    const tw_dc *dc = live_call(h);
    return dc && dc->state == DC_CANCELLED;
}

double tw_delayed_call_get_time(const tw_delayed_call *h)
{
    const tw_dc *dc = live_call(h);
    return dc ? (double)dc->at / 1e9 : 0;
}

tw_delayed_call *tw_delayed_call_ref(tw_delayed_call *h)
{
    tw_dc *dc = live_call(h);
    if (!dc)
        return NULL;
    dc->refs++;
    return h;
}

void tw_delayed_call_unref(tw_delayed_call *h)
{
    tw_dc *dc = live_call(h);
    if (dc)
        dc_release(dc);
}

size_t tw_reactor_pending_calls(const tw_reactor *r)
{
    if (!r)
        return 0;
    size_t n = r->timers.count;
    for (uint32_t i = 0; i < r->timers.ndue; i++)  /* only non-zero inside a timer callback */
        n += r->timers.due[i]->state == DC_DUE;
    return n;
}

/* ---- running due calls ---- */

int64_t tw__timers_next_wait(const tw_reactor *r)
{
    if (r->timers.count == 0)
        return -1;
    int64_t at = r->timers.heap[0].at, wait;
    if (at <= r->now)
        return 0;
    return __builtin_sub_overflow(at, r->now, &wait) ? INT64_MAX : wait;
}

static int collect_due(tw_timer_heap *h, int64_t now)
{
    while (h->count > 0 && h->heap[0].at <= now) {
        if (h->ndue == h->due_cap) {
            uint32_t cap = h->due_cap ? h->due_cap * 2 : 64;
            tw_dc **due = realloc(h->due, cap * sizeof *due);
            if (!due)
                return -ENOMEM;  /* the rest stays in the heap for the next turn */
            h->due = due;
            h->due_cap = cap;
        }
        tw_dc *dc = entry_dc(h, h->heap[0]);
        heap_remove(h, dc);
        dc->state = DC_DUE;
        dc->in_due = true;
        h->due[h->ndue++] = dc;
    }
    return 0;
}

int tw__timers_run_due(tw_reactor *r)
{
    tw_timer_heap *h = &r->timers;
    if (h->count == 0 || h->heap[0].at > r->now)
        return 0;
    if (collect_due(h, r->now) < 0)
        tw_reactor_log(r, TW_LOG_ERROR, "out of memory collecting due timers");
    int ran = 0;
    /* Callbacks may cancel or reset calls later in this list: they only change its state. */
    for (uint32_t i = 0; i < h->ndue; i++) {
        tw_dc *dc = h->due[i];
        dc->in_due = false;
        if (dc->state == DC_PENDING)  /* reset to a new deadline: the heap owns it again */
            continue;
        if (dc->state == DC_DUE) {
            dc->state = DC_RUNNING;
            int err = tw__run_fn(r, "timed call", dc->fn, dc->arg);
            dc->state = DC_CALLED;
            ran++;
            if (err < 0)
                tw__report_callback_error(r, "timed call", err);
        }
        dc_release(dc);
    }
    h->ndue = 0;
    return ran;
}
