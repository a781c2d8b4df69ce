/* Line receiver (Twisted's LineReceiver) without a buffer of its own: it delivers every complete
 * line of the bytes it is shown and leaves a partial line to whoever feeds it. It remembers how far
 * it has searched that partial line, so a line trickling in byte by byte costs linear time. */
#include <twine/framing.h>

#include <errno.h>
#include <string.h>

#include "framing_private.h"

void tw_line_receiver_init(tw_line_receiver *lr, const tw_line_receiver_ops *ops, void *user)
{
    memset(lr, 0, sizeof *lr);
    lr->ops = ops;
    lr->user = user;
    lr->max_length = TW_LINE_MAX_LENGTH_DEFAULT;
    lr->delimiter_len = sizeof TW_LINE_DELIMITER_DEFAULT - 1;
    memcpy(lr->delimiter, TW_LINE_DELIMITER_DEFAULT, lr->delimiter_len);
}

int tw_line_receiver_set_delimiter(tw_line_receiver *lr, const char *delimiter, size_t len)
{
    if (!delimiter || len == 0 || len > TW_LINE_DELIMITER_MAX ||
        !tw__framing_limit_ok(lr->max_length, len))
        return -EINVAL;
    memcpy(lr->delimiter, delimiter, len);
    lr->delimiter_len = (unsigned char)len;
    lr->scanned = 0;
    return 0;
}

int tw_line_receiver_set_max_length(tw_line_receiver *lr, size_t max_length)
{
    if (!tw__framing_limit_ok(max_length, lr->delimiter_len))
        return -EINVAL;
    lr->max_length = max_length;
    return 0;
}

/* Everything shown from the start of an over-long line is discarded, as Twisted clears its
 * buffer. */
static ssize_t line_too_long(tw_line_receiver *lr, const char *data, size_t len)
{
    int rc;
    if (lr->ops && lr->ops->line_length_exceeded) {
        rc = lr->ops->line_length_exceeded(lr, data, len);
    } else {
        tw__framing_warn(lr->protocol,
                         TW_LINE_LENGTH_EXCEEDED
                         ": a line of more than %zu bytes; dropping the connection",
                         lr->max_length);
        rc = -EMSGSIZE;
    }
    return rc < 0 ? rc : (ssize_t)len;
}

/* One line from the front of data, searching from skip (bytes already known to hold no delimiter).
 * Returns the bytes consumed (0: the line is not complete yet) or a negative error. */
static ssize_t line_step(tw_line_receiver *lr, const char *data, size_t len, size_t skip)
{
    size_t dlen = lr->delimiter_len;
    const char *found = memmem(data + skip, len - skip, lr->delimiter, dlen);
    if (!found) {
        if (len >= lr->max_length + dlen)
            return line_too_long(lr, data, len);
        /* The last dlen-1 bytes may begin a delimiter that the next bytes complete. */
        lr->scanned = len >= dlen - 1 ? len - (dlen - 1) : 0;
        return 0;
    }
    size_t line_len = (size_t)(found - data);
    if (line_len > lr->max_length)
        return line_too_long(lr, data, len);
    if (lr->ops && lr->ops->line_received) {
        int rc = lr->ops->line_received(lr, data, line_len);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)(line_len + dlen);
}

static ssize_t raw_step(tw_line_receiver *lr, const char *data, size_t len)
{
    if (!lr->ops || !lr->ops->raw_data_received)
        return (ssize_t)len;
    ssize_t used = lr->ops->raw_data_received(lr, data, len);
    if (used >= 0 && (size_t)used > len)
        return -EINVAL; /* a hook claiming more than it was given would corrupt the stream */
    return used;
}

ssize_t tw_line_receiver_data_received(tw_line_receiver *lr, const char *data, size_t len)
{
    size_t skip = lr->scanned <= len ? lr->scanned : 0;
    size_t pos = 0;
    lr->scanned = 0;
    while (pos < len && !lr->paused) {
        bool was_raw = lr->raw_mode;
        ssize_t n = was_raw ? raw_step(lr, data + pos, len - pos)
                            : line_step(lr, data + pos, len - pos, pos == 0 ? skip : 0);
        if (n < 0)
            return n;
        pos += (size_t)n;
        if (n == 0 && lr->raw_mode == was_raw)
            break;
        if (tw__framing_transport_closing(lr->protocol))
            break;
    }
    return (ssize_t)pos;
}

void tw_line_receiver_set_raw_mode(tw_line_receiver *lr)
{
    lr->raw_mode = true;
    lr->scanned = 0;
}

void tw_line_receiver_set_line_mode(tw_line_receiver *lr)
{
    lr->raw_mode = false;
    lr->scanned = 0;
}

/* tw_line_receiver_protocol_data_received, _pause_producing, _resume_producing, _stop_producing */
TW__FRAMING_ADAPTERS(tw_line_receiver)

int tw_line_receiver_send_line(tw_line_receiver *lr, const char *line, size_t len)
{
    struct iovec iov[2] = {
        {.iov_base = (void *)line, .iov_len = len},
        {.iov_base = lr->delimiter, .iov_len = lr->delimiter_len},
    };
    return tw__framing_send(lr->protocol, iov, 2);
}
