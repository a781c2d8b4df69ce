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

int tw_intn_string_receiver_init(tw_intn_string_receiver *r, unsigned prefix_length,
                                 const tw_intn_string_receiver_ops *ops, void *user)
{
    if (!prefix_length_valid(prefix_length))
        return -EINVAL;
    memset(r, 0, sizeof *r);
    r->ops = ops;
    r->user = user;
    r->prefix_length = (unsigned char)prefix_length;
    r->max_length = TW_INTN_MAX_LENGTH_DEFAULT;
    return 0;
}

int tw_intn_string_receiver_set_max_length(tw_intn_string_receiver *r, size_t max_length)
{
    if (!tw__framing_limit_ok(max_length, INTN_PREFIX_MAX))
        return -EINVAL;
    r->max_length = max_length;
    return 0;
}

static size_t read_prefix(const unsigned char *p, unsigned prefix_length)
{
    size_t value = 0;
    for (unsigned i = 0; i < prefix_length; i++)
        value = (value << 8) | p[i];
    return value;
}

static int length_limit_exceeded(tw_intn_string_receiver *r, size_t length)
{
    if (r->ops && r->ops->length_limit_exceeded)
        return r->ops->length_limit_exceeded(r, length);
    tw__framing_warn(r->protocol,
                    TW_STRING_TOO_LONG_ERROR ": a frame of %zu bytes is over the maximum %zu; "
                    "dropping the connection", length, r->max_length);
    return -EMSGSIZE;
}

ssize_t tw_intn_string_receiver_data_received(tw_intn_string_receiver *r, const char *data,
                                              size_t len)
{
    size_t pos = 0;
    size_t plen = r->prefix_length;
    while (len - pos >= plen && !r->paused) {
        size_t length = read_prefix((const unsigned char *)data + pos, r->prefix_length);
        if (length > r->max_length) {
            int rc = length_limit_exceeded(r, length);
            return rc < 0 ? rc : (ssize_t)pos;
        }
        if (len - pos - plen < length)
            break;
        if (r->ops && r->ops->string_received) {
            int rc = r->ops->string_received(r, data + pos + plen, length);
            if (rc < 0)
                return rc;
        }
        pos += plen + length;
        if (tw__framing_transport_closing(r->protocol))
            break;
    }
    return (ssize_t)pos;
}

ssize_t tw_intn_string_receiver_protocol_data_received(tw_protocol *p, const char *data, size_t len)
{
    tw_intn_string_receiver *r = p->user;
    r->protocol = p;
    return tw_intn_string_receiver_data_received(r, data, len);
}

void tw_intn_string_receiver_pause_producing(tw_intn_string_receiver *r)
{
    r->paused = true;
    tw__framing_pause_transport(r->protocol);
}

void tw_intn_string_receiver_resume_producing(tw_intn_string_receiver *r)
{
    r->paused = false;
    tw__framing_resume_transport(r->protocol);
}

int tw_intn_string_receiver_send_string(tw_intn_string_receiver *r, const char *data, size_t len)
{
    unsigned char prefix[INTN_PREFIX_MAX];
    unsigned plen = r->prefix_length;
    if (plen < sizeof(size_t) && len >> (8 * plen) != 0)
        return -EMSGSIZE;
    for (unsigned i = 0; i < plen; i++)
        prefix[i] = (unsigned char)(len >> (8 * (plen - 1 - i)));
    struct iovec iov[2] = {
        {.iov_base = prefix, .iov_len = plen},
        {.iov_base = (void *)data, .iov_len = len},
    };
    return tw__framing_send(r->protocol, iov, 2);
}
