/* Length-prefixed receiver (Twisted's Int8/Int16/Int32StringReceiver): a big-endian unsigned
 * length of 1, 2 or 4 bytes, then that many bytes of payload. No buffer of its own: a partial frame
 * is left unconsumed, and a length over the limit is refused before any payload is awaited. */
#include <twine/framing.h>

#include <errno.h>
#include <string.h>

#include "framing_private.h"

#define INTN_PREFIX_MAX 4

static bool prefix_length_valid(unsigned prefix_length)
{
    return prefix_length == 1 || prefix_length == 2 || prefix_length == 4;
}

int tw_intn_string_receiver_init(tw_intn_string_receiver *ir, unsigned prefix_length,
                                 const tw_intn_string_receiver_ops *ops, void *user)
{
    if (!prefix_length_valid(prefix_length))
        return -EINVAL;
    memset(ir, 0, sizeof *ir);
    ir->ops = ops;
    ir->user = user;
    ir->prefix_length = (unsigned char)prefix_length;
    ir->max_length = TW_INTN_MAX_LENGTH_DEFAULT;
    return 0;
}

int tw_intn_string_receiver_set_max_length(tw_intn_string_receiver *ir, size_t max_length)
{
    if (!tw__framing_limit_ok(max_length, INTN_PREFIX_MAX))
        return -EINVAL;
    ir->max_length = max_length;
    return 0;
}

static size_t read_prefix(const unsigned char *p, unsigned prefix_length)
{
    size_t value = 0;
    for (unsigned i = 0; i < prefix_length; i++)
        value = (value << 8) | p[i];
    return value;
}

static int length_limit_exceeded(tw_intn_string_receiver *ir, size_t length)
{
    if (ir->ops && ir->ops->length_limit_exceeded)
        return ir->ops->length_limit_exceeded(ir, length);
    tw__framing_warn(ir->protocol,
                    TW_STRING_TOO_LONG_ERROR ": a frame of %zu bytes is over the maximum %zu; "
                    "dropping the connection", length, ir->max_length);
    return -EMSGSIZE;
}

ssize_t tw_intn_string_receiver_data_received(tw_intn_string_receiver *ir, const char *data,
                                              size_t len)
{
    size_t pos = 0;
    size_t plen = ir->prefix_length;
    while (len - pos >= plen && !ir->paused) {
        size_t length = read_prefix((const unsigned char *)data + pos, ir->prefix_length);
        if (length > ir->max_length) {
            int rc = length_limit_exceeded(ir, length);
            return rc < 0 ? rc : (ssize_t)pos;
        }
        if (len - pos - plen < length)
            break;
        if (ir->ops && ir->ops->string_received) {
            int rc = ir->ops->string_received(ir, data + pos + plen, length);
            if (rc < 0)
                return rc;
        }
        pos += plen + length;
        if (tw__framing_transport_closing(ir->protocol))
            break;
    }
    return (ssize_t)pos;
}

/* tw_intn_string_receiver_protocol_data_received, _pause_producing, _resume_producing,
 * _stop_producing */
TW__FRAMING_ADAPTERS(tw_intn_string_receiver)

int tw_intn_string_receiver_send_string(tw_intn_string_receiver *ir, const char *data, size_t len)
{
    unsigned char prefix[INTN_PREFIX_MAX];
    unsigned plen = ir->prefix_length;
    if (plen < sizeof(size_t) && len >> (8 * plen) != 0)
        return -EMSGSIZE;
    for (unsigned i = 0; i < plen; i++)
        prefix[i] = (unsigned char)(len >> (8 * (plen - 1 - i)));
    struct iovec iov[2] = {
        {.iov_base = prefix, .iov_len = plen},
        {.iov_base = (void *)data, .iov_len = len},
    };
    return tw__framing_send(ir->protocol, iov, 2);
}
