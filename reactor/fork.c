/* What the reactor needs to know about fork(): is this process a child forked after a given reactor
 * was made (the reactor then belongs to the parent), and has this process forked since (its fds may
 * then be shared with a child)? pthread_atfork handlers count the forks seen from each side, so
 * that asking costs an atomic load instead of a getpid() syscall. A fork is a fact about the whole
 * process: this and signals.c hold twine's only process-wide state. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "reactor/internal.h"

static atomic_uint forks_as_parent, forks_as_child;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static int watch_error;

static void counted_in_parent(void) { atomic_fetch_add(&forks_as_parent, 1); }

static void counted_in_child(void) { atomic_fetch_add(&forks_as_child, 1); }

static void watch_forks(void)
{
    watch_error = -pthread_atfork(NULL, counted_in_parent, counted_in_child);
}

int tw__fork_stamp(tw_fork_stamp *now)
{
    pthread_once(&watch_once, watch_forks);
    if (watch_error)
        return watch_error;
    *now = (tw_fork_stamp){atomic_load(&forks_as_parent), atomic_load(&forks_as_child)};
    return 0;
}

bool tw__fork_in_child(const tw_fork_stamp *made)
{
    return atomic_load_explicit(&forks_as_child, memory_order_relaxed) != made->child;
}

bool tw__fork_since(const tw_fork_stamp *made)
{
    return atomic_load_explicit(&forks_as_parent, memory_order_relaxed) != made->parent;
}
