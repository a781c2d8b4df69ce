/* Drives a framing receiver the way a transport does, for tests and the fuzz target: keeps what the
 * receiver left unconsumed and presents it again, unchanged, in front of the next chunk. Each call
 * hands over a freshly allocated buffer of exactly the presented size, so a receiver that reads
 * past what it was shown, or keeps a pointer into it, trips AddressSanitizer. Also a client socket
 * that reads without blocking, for end-to-end tests over TCP. */
#ifndef TWINE_TESTS_FRAMING_FEED_H
#define TWINE_TESTS_FRAMING_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A receiver's data_received, behind a void pointer. */
typedef ssize_t (*tw_test_feed_fn)(void *receiver, const char *data, size_t len);

typedef struct {
    tw_test_feed_fn fn;
    void *receiver;
    char *tail;      /* unconsumed bytes, presented again next time */
    size_t tail_len;
    size_t presented; /* total bytes presented over all calls (tails counted again) */
    int calls;
} tw_test_feed;

void tw_test_feed_init(tw_test_feed *f, tw_test_feed_fn fn, void *receiver);
/* Presents tail + chunk; returns the receiver's result (consumed count or negative error). A result
 * larger than what was presented returns -ERANGE. After an error the tail is left as it was. */
ssize_t tw_test_feed_push(tw_test_feed *f, const char *chunk, size_t len);
/* Presents the tail alone again (what a transport does on resume). */
ssize_t tw_test_feed_again(tw_test_feed *f);
void tw_test_feed_free(tw_test_feed *f);

/* ---- the client side of end-to-end tests over TCP -------------------------------------------- */

#define TW_TEST_READER_MAX 256

/* What a client socket has received so far, read without blocking. */
typedef struct {
    int fd;
    char buf[TW_TEST_READER_MAX];
    size_t len;
    size_t want; /* ready once this many bytes arrived; 0: only at EOF */
    bool eof;    /* EOF or an error such as a reset */
} tw_test_reader;

/* For tw_test_run_until: reads what is there; true at EOF or once want bytes arrived. */
bool tw_test_reader_ready(void *reader);

#endif
