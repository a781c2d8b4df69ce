/* Netstring receiver (Twisted's NetstringReceiver): frames "LEN:DATA," with LEN in decimal, no
 * buffer of its own. A partial frame is left unconsumed; a malformed one drops the connection. */
#include <twine/framing.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "framing_private.h"

/* Room for the decimal digits of any size_t and the ':'. */
#define NETSTRING_HEADER_MAX 24

void tw_netstring_receiver_init(tw_netstring_receiver *ns, const tw_netstring_receiver_ops *ops,
                                void *user)
{
    memset(ns, 0, sizeof *ns);
    ns->ops = ops;
    ns->user = user;
    ns->max_length = TW_NETSTRING_MAX_LENGTH_DEFAULT;
}

int tw_netstring_receiver_set_max_length(tw_netstring_receiver *ns, size_t max_length)
{
    if (!tw__framing_limit_ok(max_length, NETSTRING_HEADER_MAX + 1))
        return -EINVAL;
    ns->max_length = max_length;
    return 0;
}

/* The peer sent something that is not a netstring: ignore it from now on and drop it. */
static ssize_t broken_peer(tw_netstring_receiver *ns, int code, const char *why)
{
    ns->broken_peer = true;
    tw__framing_warn(ns->protocol, TW_NETSTRING_PARSE_ERROR ": %s; dropping the connection", why);
    return code;
}

/* Parses "LEN:" at the front of data. Returns the header's size with *length set, 0 when more
 * bytes are needed, or a negative error for a malformed header. */
static ssize_t parse_header(tw_netstring_receiver *ns, const char *data, size_t len,
                            size_t *length)
{
    size_t value = 0;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == ':') {
            if (i == 0)
                return broken_peer(ns, TW_EPARSE, "empty length");
            *length = value;
            return (ssize_t)(i + 1);
        }
        if (c < '0' || c > '9')
            return broken_peer(ns, TW_EPARSE, "length is not a decimal number");
        if (i == 1 && data[0] == '0')
            return broken_peer(ns, TW_EPARSE, "length with a leading zero");
        value = value * 10 + (size_t)(c - '0');
        if (value > ns->max_length)
            return broken_peer(ns, -EMSGSIZE, "length over the maximum");
    }
    return 0;
}

/* One netstring from the front of data: bytes consumed, 0 if incomplete, or a negative error. */
static ssize_t netstring_step(tw_netstring_receiver *ns, const char *data, size_t len)
{
    size_t length = 0;
    ssize_t header = parse_header(ns, data, len, &length);
    if (header <= 0)
        return header;
    size_t payload = (size_t)header;
    if (len - payload < length + 1)
        return 0;
    if (data[payload + length] != ',')
        return broken_peer(ns, TW_EPARSE, "missing ',' after the data");
    if (ns->ops && ns->ops->string_received) {
        int rc = ns->ops->string_received(ns, data + payload, length);
        if (rc < 0)
            return rc;
    }
    return (ssize_t)(payload + length + 1);
}

ssize_t tw_netstring_receiver_data_received(tw_netstring_receiver *ns, const char *data, size_t len)
{
    size_t pos = 0;
    if (ns->broken_peer)
        return (ssize_t)len;
    while (pos < len && !ns->paused) {
        ssize_t n = netstring_step(ns, data + pos, len - pos);
        if (n <= 0)
            return n < 0 ? n : (ssize_t)pos;
        pos += (size_t)n;
        if (tw__framing_transport_closing(ns->protocol))
            break;
    }
    return (ssize_t)pos;
}

/* tw_netstring_receiver_protocol_data_received, _pause_producing, _resume_producing,
 * _stop_producing */
TW__FRAMING_ADAPTERS(tw_netstring_receiver)

int tw_netstring_receiver_send_string(tw_netstring_receiver *ns, const char *data, size_t len)
{
    char header[NETSTRING_HEADER_MAX];
    int hlen = snprintf(header, sizeof header, "%zu:", len);
    struct iovec iov[3] = {
        {.iov_base = header, .iov_len = (size_t)hlen},
        {.iov_base = (void *)data, .iov_len = len},
        {.iov_base = ",", .iov_len = 1},
    };
    return tw__framing_send(ns->protocol, iov, 3);
}
