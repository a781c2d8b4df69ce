/* twine error codes.
 * Every twine function that can fail returns 0 (or a non-negative value) on success and a negative
 * number on failure: either a negated errno (-EINVAL, -ENOMEM, -EMFILE, ...) or one of the TW_E*
 * codes below, which name Twisted's exceptions that have no errno. tw_strerror() names both. */
#ifndef TWINE_ERROR_H
#define TWINE_ERROR_H

#include <errno.h> /* the API speaks in -Exxx codes: whoever includes this header may name them */

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define TW_API __attribute__((visibility("default")))
#define TW_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
/* On a function whose error must not be ignored: a caller that drops its result does not compile
 * (-Werror). GCC does not accept a (void) cast as handling it: check the result. */
#define TW__MUST_CHECK __attribute__((warn_unused_result))
#else
#define TW_API
#define TW_PRINTF(fmt, args)
#define TW__MUST_CHECK
#endif

/* Far below any errno value, so that -errno and TW_E* never collide. */
enum {
    TW_EALREADYCALLED = -20001,    /* AlreadyCalledError: timer ran, or deferred already fired */
    TW_EALREADYCANCELLED = -20002, /* AlreadyCancelled: timer already cancelled */
    TW_ENOTRUNNING = -20003,       /* ReactorNotRunning: stop() when not running or stopping */
    TW_EALREADYRUNNING = -20004,   /* ReactorAlreadyRunning: run() from inside run() */
    TW_ENOTRESTARTABLE = -20005,   /* ReactorNotRestartable: run() after the reactor stopped */
    TW_ECALLBACK = -20006,         /* a callback reported a failure without an errno */
    TW_EOVERFLOW = -20007,         /* QueueOverflow: a bounded queue is full */
    TW_EUNDERFLOW = -20008,        /* QueueUnderflow: too many waiting getters */
    TW_EPARSE = -20009,            /* malformed input (endpoint string, frame, request) */
};

/* A short English description of a negative twine or errno code; never NULL. */
TW_API const char *tw_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
