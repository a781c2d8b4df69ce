/* twine framing receivers: turn a byte stream into messages (Twisted's LineReceiver,
 * NetstringReceiver and Int32/Int16/Int8StringReceiver). They keep no buffer of their own: each one
 * consumes the complete frames it is shown and leaves the partial one to the transport (the
 * consumed-bytes rule of protocol.h). docs/protocols.md explains them with examples. */
#ifndef TWINE_FRAMING_H
#define TWINE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "failure.h"
#include "protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a receiver is used. Every receiver is a pure function of the bytes it is shown:
 * tw_X_data_received(receiver, data, len) delivers every complete frame in data and returns how
 * many bytes it consumed; whoever drives it (a transport, or a test) must present the unconsumed
 * tail again, unchanged, in front of the next bytes. A receiver may remember how far it has already
 * searched that tail, so the tail must not be altered between calls.
 *
 * On a connection, make the receiver the protocol's user (p->user = &receiver) and put
 * tw_X_protocol_data_received in the protocol's ops as data_received; it records p in
 * receiver->protocol on every call. Set receiver->protocol yourself in connection_made if you send
 * before the first bytes arrive. Without a protocol (receiver->protocol NULL) the send functions
 * return -ENOTCONN.
 *
 * Flow control, the same on every receiver (Twisted's pauseProducing / resumeProducing /
 * stopProducing, which its LineReceiver and IntNStringReceiver have and twine gives all three):
 * tw_X_pause_producing: no more frames are delivered (data_received consumes nothing until resumed)
 *   and the transport, if any, stops reading.
 * tw_X_resume_producing: the transport reads again and presents what it kept; when driven directly,
 *   feed the unconsumed tail again.
 * tw_X_stop_producing: pause for good and tw_transport_stop_producing (the connection is lost once
 *   what was written has been sent).
 *
 * Hooks return 0 to go on, or a negative error: data_received then stops and returns that error,
 * which makes the transport close the connection with it as the reason (Twisted's exception, or
 * a truthy return, from lineReceived / stringReceived). A hook runs only in the reactor thread and
 * may pause the receiver, change its mode, send, or close the connection. */

/* Failure type names of the limits below, used in the log messages of the default hooks (the
 * connection_lost reason is the transport's failure for the returned code: -EMSGSIZE for a length
 * limit, TW_EPARSE for a malformed frame). */
#define TW_LINE_LENGTH_EXCEEDED "LineLengthExceeded"
#define TW_NETSTRING_PARSE_ERROR "NetstringParseError"
#define TW_STRING_TOO_LONG_ERROR "StringTooLongError"

/* ---- line receiver (Twisted's LineReceiver) -------------------------------------------------- */

/* Default delimiter and maximum line length (without the delimiter), as Twisted. */
#define TW_LINE_DELIMITER_DEFAULT "\r\n"
#define TW_LINE_MAX_LENGTH_DEFAULT 16384
/* Longest delimiter accepted by tw_line_receiver_set_delimiter. */
#define TW_LINE_DELIMITER_MAX 16

typedef struct tw_line_receiver tw_line_receiver;

/* line_received: one line, delimiter stripped; line points into the caller's buffer and is valid
 *   for this call only. NULL ignores lines.
 * raw_data_received: bytes in raw mode. Return how many were consumed (0..len), or a negative
 * error.
 *   Bytes left unconsumed after a switch back to line mode are parsed as lines at once; bytes left
 *   in raw mode are shown again with the next ones. NULL consumes and ignores everything.
 * line_length_exceeded: a line longer than max_length (data: everything from the line's start to
 *   the end of what was shown, as Twisted). It is all discarded; return 0 to go on with the next
 *   bytes, or a negative error to close. NULL (the default) logs a LineLengthExceeded warning and
 *   returns -EMSGSIZE, which drops the connection. */
typedef struct tw_line_receiver_ops {
    int (*line_received)(tw_line_receiver *lr, const char *line, size_t len);
    ssize_t (*raw_data_received)(tw_line_receiver *lr, const char *data, size_t len);
    int (*line_length_exceeded)(tw_line_receiver *lr, const char *data, size_t len);
} tw_line_receiver_ops;

/* Plain data, usually embedded in a connection's state; set up with tw_line_receiver_init. Change
 * the settings only through the functions below. */
struct tw_line_receiver {
    const tw_line_receiver_ops *ops;
    void *user;
    tw_protocol *protocol; /* the connection it serves, or NULL when driven directly */
    size_t max_length;
    size_t scanned; /* bytes at the front of the unconsumed tail known to hold no delimiter */
    unsigned char delimiter_len;
    bool raw_mode;
    bool paused;
    char delimiter[TW_LINE_DELIMITER_MAX];
};

/* Line mode, "\r\n", TW_LINE_MAX_LENGTH_DEFAULT, not paused, no protocol. */
TW_API void tw_line_receiver_init(tw_line_receiver *lr, const tw_line_receiver_ops *ops,
                                  void *user);
/* 1..TW_LINE_DELIMITER_MAX bytes (copied), else -EINVAL. */
TW_API int tw_line_receiver_set_delimiter(tw_line_receiver *lr, const char *delimiter, size_t len);
/* 1 or more, and small enough that a maximal line plus its delimiter fits what a transport keeps
 * unconsumed (TW_TRANSPORT_UNCONSUMED_MAX); else -EINVAL. */
TW_API int tw_line_receiver_set_max_length(tw_line_receiver *lr, size_t max_length);

/* Delivers the complete lines of data (or raw bytes in raw mode), stopping early when paused or
 * when a hook fails. Returns the bytes consumed or a hook's negative error. */
TW_API ssize_t tw_line_receiver_data_received(tw_line_receiver *lr, const char *data, size_t len);
/* data_received for a tw_protocol_ops whose protocol's user is a tw_line_receiver. */
TW_API ssize_t tw_line_receiver_protocol_data_received(tw_protocol *p, const char *data,
                                                       size_t len);

/* Raw mode: the rest of the current buffer and everything after it goes to raw_data_received.
 * Line mode: back to lines, from the first byte raw_data_received leaves unconsumed. (Twisted's
 * setLineMode(extra) has no counterpart: return fewer bytes instead of passing them back.) */
TW_API void tw_line_receiver_set_raw_mode(tw_line_receiver *lr);
TW_API void tw_line_receiver_set_line_mode(tw_line_receiver *lr);

/* Flow control, as for every receiver (top of this header). */
TW_API void tw_line_receiver_pause_producing(tw_line_receiver *lr);
TW_API void tw_line_receiver_resume_producing(tw_line_receiver *lr);
TW_API void tw_line_receiver_stop_producing(tw_line_receiver *lr);

/* Writes line and the delimiter (one write_sequence). -ENOTCONN without a connected transport. */
TW_API int tw_line_receiver_send_line(tw_line_receiver *lr, const char *line, size_t len);

/* ---- netstring receiver (Twisted's NetstringReceiver): "LEN:DATA," --------------------------- */

#define TW_NETSTRING_MAX_LENGTH_DEFAULT 99999

typedef struct tw_netstring_receiver tw_netstring_receiver;

/* string_received: one payload (valid for this call only); NULL ignores them. */
typedef struct tw_netstring_receiver_ops {
    int (*string_received)(tw_netstring_receiver *ns, const char *data, size_t len);
} tw_netstring_receiver_ops;

/* A malformed netstring (a length that is not a decimal number, has a leading zero, or exceeds
 * max_length; a missing ':' or ','): the default is to log a NetstringParseError warning, mark the
 * peer broken and return TW_EPARSE (or -EMSGSIZE for a length over max_length), which drops the
 * connection. Once broken, the receiver consumes and ignores everything. */
struct tw_netstring_receiver {
    const tw_netstring_receiver_ops *ops;
    void *user;
    tw_protocol *protocol;
    size_t max_length;
    bool paused;
    bool broken_peer;
};

TW_API void tw_netstring_receiver_init(tw_netstring_receiver *ns,
                                       const tw_netstring_receiver_ops *ops, void *user);
/* Any value whose frame fits TW_TRANSPORT_UNCONSUMED_MAX; else -EINVAL. */
TW_API int tw_netstring_receiver_set_max_length(tw_netstring_receiver *ns, size_t max_length);
TW_API ssize_t tw_netstring_receiver_data_received(tw_netstring_receiver *ns, const char *data,
                                                   size_t len);
TW_API ssize_t tw_netstring_receiver_protocol_data_received(tw_protocol *p, const char *data,
                                                            size_t len);
TW_API void tw_netstring_receiver_pause_producing(tw_netstring_receiver *ns);
TW_API void tw_netstring_receiver_resume_producing(tw_netstring_receiver *ns);
TW_API void tw_netstring_receiver_stop_producing(tw_netstring_receiver *ns);
/* Writes "LEN:" data "," in one write_sequence. -ENOTCONN without a connected transport. */
TW_API int tw_netstring_receiver_send_string(tw_netstring_receiver *ns, const char *data,
                                             size_t len);

/* ---- length-prefixed receivers (Twisted's IntNStringReceiver) -------------------------------- */

/* Twisted's MAX_LENGTH for every prefix size. */
#define TW_INTN_MAX_LENGTH_DEFAULT 99999

typedef struct tw_intn_string_receiver tw_intn_string_receiver;

/* string_received: one payload (valid for this call only); NULL ignores them.
 * length_limit_exceeded: a prefix announced length > max_length. Return 0 to stop for now (nothing
 *   of that frame is consumed, as Twisted; close the connection yourself) or a negative error.
 *   NULL (the default) logs a StringTooLongError warning and returns -EMSGSIZE: the connection
 *   is dropped. */
typedef struct tw_intn_string_receiver_ops {
    int (*string_received)(tw_intn_string_receiver *ir, const char *data, size_t len);
    int (*length_limit_exceeded)(tw_intn_string_receiver *ir, size_t length);
} tw_intn_string_receiver_ops;

struct tw_intn_string_receiver {
    const tw_intn_string_receiver_ops *ops;
    void *user;
    tw_protocol *protocol;
    size_t max_length;
    unsigned char prefix_length; /* 1, 2 or 4 bytes, big-endian */
    bool paused;
};

/* prefix_length 1, 2 or 4 (Int8/Int16/Int32StringReceiver), else -EINVAL. */
TW_API int tw_intn_string_receiver_init(tw_intn_string_receiver *ir, unsigned prefix_length,
                                        const tw_intn_string_receiver_ops *ops, void *user);
/* Any value whose frame fits TW_TRANSPORT_UNCONSUMED_MAX; else -EINVAL. */
TW_API int tw_intn_string_receiver_set_max_length(tw_intn_string_receiver *ir, size_t max_length);
TW_API ssize_t tw_intn_string_receiver_data_received(tw_intn_string_receiver *ir, const char *data,
                                                     size_t len);
TW_API ssize_t tw_intn_string_receiver_protocol_data_received(tw_protocol *p, const char *data,
                                                              size_t len);
TW_API void tw_intn_string_receiver_pause_producing(tw_intn_string_receiver *ir);
TW_API void tw_intn_string_receiver_resume_producing(tw_intn_string_receiver *ir);
TW_API void tw_intn_string_receiver_stop_producing(tw_intn_string_receiver *ir);
/* Writes the prefix and data in one write_sequence. -EMSGSIZE (StringTooLongError) when len does
 * not fit the prefix (as Twisted, max_length is not checked when sending); -ENOTCONN without a
 * connected transport. */
TW_API int tw_intn_string_receiver_send_string(tw_intn_string_receiver *ir, const char *data,
                                               size_t len);

#ifdef __cplusplus
}
#endif
#endif
