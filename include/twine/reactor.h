/* twine reactor: the event loop that owns every file descriptor, timer and thread of a twine
 * program.
 *
 * Threads: a reactor and everything reached through it belong to the thread that runs it. The one
 * exception is tw_call_from_thread(), which any thread may call at any time. Several reactors may
 * run in several threads of one process; they share nothing.
 *
 * Callbacks: every callback the reactor runs returns int: 0 when all went well, or a negative error
 * (a -errno or TW_E* code) to report a failure. The reactor reports it through its log hook and
 * goes on; it never stops or aborts because of a callback.
 *
 * Time: seconds as double at the API (Twisted's convention), monotonic nanoseconds inside. "now" is
 * read once per turn of the loop, so every callback of one turn sees the same tw_reactor_seconds().
 *
 * NULL: a NULL reactor or handle is answered by -EINVAL (or false, 0, nothing), never a crash; the
 * errors listed below leave it out. The rule for the whole API is at the top of twine.h. */
#ifndef TWINE_REACTOR_H
#define TWINE_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_reactor tw_reactor;
typedef struct tw_delayed_call tw_delayed_call;

/* The callback type for timers, thread calls, triggers and thread-pool work. */
typedef int (*tw_fn)(void *arg);

/* ---- lifetime and running -------------------------------------------------------------------- */

/* A new reactor, or NULL with *err (if err is not NULL) set to a negative errno. */
TW_API tw_reactor *tw_reactor_new(int *err);

/* Frees the reactor. Connections, ports and connection attempts still open are closed first, as at
 * shutdown (connection_lost runs with ConnectionLost). Then it stops and joins the thread pool,
 * forgets every watcher (fds the user added stay open: whoever opened them closes them), drops
 * pending timers and calls from threads without running them, and closes the reactor's own fds.
 * Delayed-call handles still referenced become invalid. Not from a callback. */
TW_API void tw_reactor_free(tw_reactor *r);

/* Fires "startup" triggers, then runs turns until tw_reactor_stop() and the shutdown sequence end.
 * TW_EALREADYRUNNING if called from inside run(); TW_ENOTRESTARTABLE once it has run and stopped;
 * -EPERM in a process forked after r was made (see FORK).
 * If the backend's wait itself fails (not EINTR), the shutdown runs at once, ignoring holds, and
 * run() returns that error. */
TW_API int tw_reactor_run(tw_reactor *r);

/* Asks run() to return: at the end of the current turn the "shutdown" event fires (before, during,
 * after). TW_ENOTRUNNING when not running or already stopping (Twisted's ReactorNotRunning). */
TW_API int tw_reactor_stop(tw_reactor *r);

/* Runs one turn: waits at most timeout seconds (0 polls, negative waits until something happens),
 * then dispatches ready fds, calls from threads and due timers. Returns the number of callbacks
 * run, or a negative error (TW_EALREADYRUNNING from inside a turn, -EPERM in a forked child). For
 * tests, tools and for embedding twine in another loop. */
TW_API int tw_reactor_iterate(tw_reactor *r, double timeout);

TW_API bool tw_reactor_running(const tw_reactor *r);

/* "epoll", "kqueue", "poll" or "select": the backend compiled into this library. */
TW_API const char *tw_reactor_backend(void);

/* Runs fn once the reactor is running: at once if it already is, else after the startup
 * triggers. */
TW_API int tw_call_when_running(tw_reactor *r, tw_fn fn, void *arg);

/* ---- time and timers ------------------------------------------------------------------------- */

/* The reactor's cached monotonic time: nanoseconds / seconds since an arbitrary origin. */
TW_API int64_t tw_reactor_now(const tw_reactor *r);
TW_API double tw_reactor_seconds(const tw_reactor *r);

/* Replaces the monotonic clock (tests use a controllable clock, as Twisted's task.Clock).
 * fn returns nanoseconds; NULL restores the system clock. The cached time is refreshed at once. */
typedef int64_t (*tw_clock_fn)(void *ctx);
TW_API void tw_reactor_set_clock(tw_reactor *r, tw_clock_fn fn, void *ctx);

/* Schedules fn(arg) after delay seconds (negative counts as 0). Calls with the same deadline run in
 * the order they were scheduled. A call scheduled from a timer callback never runs in the same
 * turn, even with delay 0, so timers cannot starve I/O. NULL with *err (if err is not NULL) set to
 * -EINVAL (no reactor, no fn, delay NaN) or -ENOMEM.
 *
 * The handle belongs to the reactor. It stays valid while the call is active, during its own
 * callback, and for as long as the caller holds a reference (tw_delayed_call_ref); after the
 * callback returns or the call is cancelled, the reactor drops its reference and the handle is
 * freed if nobody holds one. A freed handle is stale, and its memory serves later calls: using it
 * is a bug twine reports instead of reaching another call. cancel/reset/delay return -ESTALE,
 * active/called/cancelled are false, get_time is 0, ref returns NULL, unref does nothing. The
 * handle carries a 16-bit generation of its memory, so a stale one goes unnoticed only if that
 * memory served a multiple of 65,536 calls in between (and always on 32-bit platforms, whose
 * pointers have no room for it). */
TW_API tw_delayed_call *tw_call_later(tw_reactor *r, double delay, tw_fn fn, void *arg, int *err);

/* Twisted's IDelayedCall. cancel/reset/delay return TW_EALREADYCALLED once the call has started to
 * run (also from inside its own callback), TW_EALREADYCANCELLED after a cancel, -ESTALE for a stale
 * handle (above), -EINVAL for a NaN delay, -ENOMEM (the call is left as it was). */
TW_API int tw_delayed_call_cancel(tw_delayed_call *dc);
TW_API int tw_delayed_call_reset(tw_delayed_call *dc, double seconds_from_now);
TW_API int tw_delayed_call_delay(tw_delayed_call *dc, double seconds_later);
TW_API bool tw_delayed_call_active(const tw_delayed_call *dc);
TW_API bool tw_delayed_call_called(const tw_delayed_call *dc);
TW_API bool tw_delayed_call_cancelled(const tw_delayed_call *dc);
/* The time it is (or was) due, in the units of tw_reactor_seconds(). */
TW_API double tw_delayed_call_get_time(const tw_delayed_call *dc);
TW_API tw_delayed_call *tw_delayed_call_ref(tw_delayed_call *dc);
TW_API void tw_delayed_call_unref(tw_delayed_call *dc);

/* Number of active (pending, not cancelled) delayed calls. */
TW_API size_t tw_reactor_pending_calls(const tw_reactor *r);

/* ---- file descriptors -------------------------------------------------------------------------
 * Level-triggered on every backend: a reader runs on every turn in which its fd is readable (or
 * hung up, or in error: read() then tells which), a writer on every turn in which it is writable.
 * On one fd the reader runs before the writer. Adding is idempotent (a second add replaces fn and
 * arg); removing what is not there is not an error. No watcher ever runs for an fd removed, closed
 * or reused earlier in the same turn. A watcher that returns a negative error is reported and
 * removed, so a broken handler cannot spin.
 *
 * Refused watches: the kernel may refuse to watch an fd after tw_reactor_add_reader/writer
 * returned, when the change reaches it at the start of the next turn (epoll_ctl's ENOSPC at the
 * max_user_watches limit, or ENOMEM; a failed kevent change; an fd closed behind the reactor's
 * back: EBADF). The reactor then logs it, removes every watcher of that fd, and calls each of them
 * one last time in that turn (reader first, as usual); inside that call tw_reactor_watch_error(r,
 * fd) returns the reason. Nothing else will come for that fd, so its owner should close it (twine's
 * transports close with that error: connection_lost runs). */
typedef int (*tw_io_fn)(tw_reactor *r, int fd, void *arg);

/* 0, -EBADF (fd < 0), -EMFILE (fd beyond what the backend can watch, e.g. FD_SETSIZE for select),
 * -ENOMEM. A refusal that comes later reaches the watcher instead (see above). */
TW_API int tw_reactor_add_reader(tw_reactor *r, int fd, tw_io_fn fn, void *arg) TW__MUST_CHECK;
TW_API int tw_reactor_add_writer(tw_reactor *r, int fd, tw_io_fn fn, void *arg) TW__MUST_CHECK;
TW_API int tw_reactor_remove_reader(tw_reactor *r, int fd);
TW_API int tw_reactor_remove_writer(tw_reactor *r, int fd);
TW_API bool tw_reactor_is_reading(const tw_reactor *r, int fd);
TW_API bool tw_reactor_is_writing(const tw_reactor *r, int fd);

/* Inside the last call of a watcher of fd whose watch was refused (above): why, as a negative errno
 * (-ENOSPC, -ENOMEM, -EBADF, ...). 0 in every other call, and outside watchers. */
TW_API int tw_reactor_watch_error(const tw_reactor *r, int fd);

/* Removes every reader and writer the user added (not the reactor's own internal ones). Returns how
 * many fds lost watchers. */
TW_API size_t tw_reactor_remove_all(tw_reactor *r);

/* The one way to close an fd the reactor may know: removes its watchers, forgets its kernel
 * registration (first, while the fd is open: a dup of it may keep the open file, and with it the
 * registration, alive), drops any event still pending for it in this turn, then close()s it (EINTR
 * counts as closed, never retried). Returns 0 or a negative errno from close(). twine's own sockets
 * skip the kernel step when nothing else can hold them (see docs/reactor.md). */
TW_API int tw_reactor_close_fd(tw_reactor *r, int fd);

/* ---- threads --------------------------------------------------------------------------------- */

/* The only thread-safe twine call. Queues fn(arg) to run in the reactor thread on its next turn;
 * calls from one thread run in the order made; many calls wake the loop once. -ENOMEM, or
 * -ESHUTDOWN once the reactor is being freed (fn will not run). */
TW_API int tw_call_from_thread(tw_reactor *r, tw_fn fn, void *arg);

/* Runs fn(arg) on one of the reactor's pool threads (created on demand, at most the pool size, FIFO
 * queue). fn must not touch the reactor except through tw_call_from_thread; a negative return is
 * reported through the log hook. The pool stops during the "during shutdown" phase: work already
 * queued still runs, then every thread is joined. -ENOMEM, -EAGAIN (no thread could be started),
 * -ESHUTDOWN. */
TW_API int tw_call_in_thread(tw_reactor *r, tw_fn fn, void *arg);

/* Twisted's suggestThreadPoolSize: at most n threads (n >= 1, default TW_THREAD_POOL_DEFAULT). */
#define TW_THREAD_POOL_DEFAULT 10
TW_API int tw_reactor_set_thread_pool_size(tw_reactor *r, unsigned n);

/* ---- system events: startup and shutdown --------------------------------------------------------
 * Twisted's addSystemEventTrigger. Triggers of one phase run in the order added. The "before
 * shutdown" phase may hold the shutdown (e.g. until connections have closed):
 * tw_reactor_hold_shutdown() from a before-shutdown trigger, tw_reactor_release_shutdown() later;
 * the "during" phase starts once every hold is released, and the reactor keeps serving I/O and
 * timers meanwhile. */
typedef enum { TW_EVENT_STARTUP, TW_EVENT_SHUTDOWN } tw_system_event;
typedef enum { TW_PHASE_BEFORE, TW_PHASE_DURING, TW_PHASE_AFTER } tw_phase;

/* A positive trigger id, or a negative error (-EINVAL for a bad phase or event). */
TW_API long tw_reactor_add_trigger(tw_reactor *r, tw_phase phase, tw_system_event event, tw_fn fn,
                                   void *arg);
/* -ENOENT for an unknown or already-run trigger. A removed trigger that has not run never runs. */
TW_API int tw_reactor_remove_trigger(tw_reactor *r, long id);
TW_API void tw_reactor_hold_shutdown(tw_reactor *r);
TW_API void tw_reactor_release_shutdown(tw_reactor *r);

/* ---- signals ------------------------------------------------------------------------------------
 * Opt-in: SIGINT and SIGTERM become an orderly tw_reactor_stop() (through a self-pipe, so any
 * thread may receive them), and SIGPIPE is ignored so a write to a closed pipe returns EPIPE
 * instead of killing the process. Sockets never raise SIGPIPE whether or not this is called. One
 * reactor per process may own the signal handlers; -EBUSY if another does. */
TW_API int tw_reactor_install_signal_handlers(tw_reactor *r);
/* Restores the dispositions that were in place before install. */
TW_API void tw_reactor_uninstall_signal_handlers(tw_reactor *r);
/* The signal that stopped the reactor, or 0. */
TW_API int tw_reactor_exit_signal(const tw_reactor *r);

/* ---- FORK ---------------------------------------------------------------------------------------
 * A reactor belongs to the process that made it and does not survive fork(), as in Twisted (twine
 * has no counterpart of libuv's uv_loop_fork). In a child forked after r was made:
 *   - tw_reactor_free(r) frees the child's copy and touches nothing the child shares with the
 *     parent: no epoll_ctl on the epoll set both use, no callback (no connection_lost, no factory
 *     stop, no UNIX socket file removed), no join of the parent's pool threads. Only memory and the
 *     child's copies of the reactor's own fds (epoll set, waker, signal pipe) go. The copy's
 *     transports and ports are not closed: their fds, all close-on-exec, stay open in the child
 *     until it execs or exits (and keep the parent's sockets alive as long as it holds them).
 *   - tw_reactor_run() and tw_reactor_iterate() return -EPERM: they would take the parent's
 *     events. tw_reactor_close_fd() closes the child's copy only. Any other call is undefined.
 *   - SIGINT and SIGTERM sent to the child are the child's. Twine's handler, inherited from a
 * parent
 *     that installed it, gives them back the disposition they had before (the default ends the
 *     child) instead of stopping the parent's reactor through the pipe both share. A child that has
 *     freed the parent's reactor may make its own and install the handlers with it.
 * The fork must run pthread_atfork handlers (fork() does; a raw clone() is not seen). */

/* ---- logging ------------------------------------------------------------------------------------
 * Failures the reactor cannot return to anyone (a callback's error, an unhandled deferred failure,
 * an accept that hit EMFILE) and notes (a signal received) are logged. A message goes to the
 * reactor's own hook if it has one, else to the process-wide default logger, which also takes what
 * has no reactor (an unhandled failure of a deferred made without one). The default logger writes
 * "twine: LEVEL: message" to stderr.
 *
 * Messages below the level are dropped before any hook sees them: the reactor's level if it set
 * one, else the process-wide level, TW_LOG_DEFAULT_LEVEL until changed. A library's default is
 * warnings and above, so notes such as "received SIGINT" stay out of a program's stderr unless it
 * asks for them (tw_reactor_set_log_level(r, TW_LOG_INFO)). */
typedef enum { TW_LOG_DEBUG, TW_LOG_INFO, TW_LOG_WARN, TW_LOG_ERROR, TW_LOG_CRITICAL } tw_log_level;
typedef void (*tw_log_fn)(void *ctx, tw_log_level level, const char *message);

/* The process-wide level until tw_set_default_log_level changes it. */
#define TW_LOG_DEFAULT_LEVEL TW_LOG_WARN

/* The reactor's own hook; fn NULL goes back to the process-wide default logger. */
TW_API void tw_reactor_set_logger(tw_reactor *r, tw_log_fn fn, void *ctx);
/* The lowest level r hands to a hook from now on. -EINVAL for a NULL r or an unknown level. */
TW_API int tw_reactor_set_log_level(tw_reactor *r, tw_log_level level);
/* The level in force for r: its own, or the process-wide one (also for a NULL r). */
TW_API tw_log_level tw_reactor_log_level(const tw_reactor *r);
/* Writes through r's hook, or (r NULL, or r without a hook) the process-wide default logger, when
 * level reaches tw_reactor_log_level(r). Lines longer than 1023 bytes are cut. */
TW_API void tw_reactor_log(tw_reactor *r, tw_log_level level, const char *fmt, ...) TW_PRINTF(3, 4);
TW_API const char *tw_log_level_name(tw_log_level level);

/* The process-wide default logger (fn NULL: back to stderr) and level (-EINVAL for an unknown
 * level). Process-wide state, unlike the rest of twine: set them once at the start of a program.
 * Both are safe to call from any thread; a hook may be called from any thread that logs without a
 * reactor, so it must be thread-safe itself if the program logs from several. */
TW_API void tw_set_default_logger(tw_log_fn fn, void *ctx);
TW_API int tw_set_default_log_level(tw_log_level level);

/* Warnings that repeat under overload (a port out of file descriptors, shedding connections and
 * pausing every TW_PORT_EMFILE_PAUSE) are written at most once per TW_LOG_REPEAT_INTERVAL seconds
 * of the reactor's clock; the next line written says how many were held back in between. */
#define TW_LOG_REPEAT_INTERVAL 1.0

/* ---- debug mode and metrics ---------------------------------------------------------------------
 * asyncio's debug mode and libuv's loop metrics. Turns and callbacks are always counted (two
 * additions per turn). Debug mode also times every callback the reactor runs (timed calls, fd
 * watchers, calls from threads) and every wait: a callback that runs longer than the threshold is
 * logged at TW_LOG_WARN, named by its function's symbol where dladdr() knows it, else as
 * "module+0xOFFSET" (addr2line -e module 0xOFFSET names a static function). Off, it costs one test
 * of a flag per callback. Times are read on the reactor's clock, so a controllable clock drives
 * them too. */

/* asyncio's default slow-callback threshold: 100 ms. */
#define TW_DEBUG_SLOW_DEFAULT 0.1

/* Debug mode on with this threshold (> 0), or off (0). -EINVAL for a negative or NaN threshold. */
TW_API int tw_reactor_set_debug(tw_reactor *r, double slow_callback_seconds);

typedef struct tw_reactor_metrics {
    uint64_t turns;          /* turns of the loop run (run or iterate) */
    uint64_t callbacks;      /* callbacks run: timed calls, fd watchers, calls from threads */
    uint64_t slow_callbacks; /* debug mode: callbacks over the threshold (each logged) */
    double wait_seconds;     /* debug mode: time spent waiting for events in the backend */
    double run_seconds; /* debug mode: the rest of the turns (callbacks and the loop's own work) */
    double slowest_seconds;  /* debug mode: the longest callback seen */
    size_t pending_timers;   /* active delayed calls now (tw_reactor_pending_calls) */
} tw_reactor_metrics;

/* Fills *out with the counts since the reactor was made. */
TW_API void tw_reactor_get_metrics(const tw_reactor *r, tw_reactor_metrics *out);

#ifdef __cplusplus
}
#endif
#endif
