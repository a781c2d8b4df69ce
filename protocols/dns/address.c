/* Nameserver addresses: numeric IPv4/IPv6 text (with an optional port, brackets and IPv6 scope) to
 * a socket address and back, for `--server ADDR[:PORT]` and resolv.conf's nameserver lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_private.h"

/* Longest address text accepted: an IPv6 address, '%' and an interface name or number. */
#define HOST_TEXT_MAX (INET6_ADDRSTRLEN + IF_NAMESIZE + 2)

/* "%eth0" or "%2" after an IPv6 address: the interface index, or 0 when there is none. */
static unsigned parse_scope(const char *scope)
{
    char *end;
    if (*scope >= '0' && *scope <= '9') {
        unsigned long index = strtoul(scope, &end, 10);
        return *end == '\0' && index > 0 && index <= 0xFFFFFFFFu ? (unsigned)index : 0;
    }
    return if_nametoindex(scope);
}

int tw__dns_parse_host(const char *text, size_t len, uint16_t port, tw_dns_server *out)
{
    char host[HOST_TEXT_MAX];
    if (len == 0 || len >= sizeof host || memchr(text, '\0', len))
        return -EINVAL;
    memcpy(host, text, len);
    host[len] = '\0';
    memset(out, 0, sizeof *out);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&out->addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
    char *percent = strchr(host, '%');
    if (!percent && inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        out->len = sizeof *in4;
        return 0;
    }
    if (percent) {
        *percent = '\0';
        if ((in6->sin6_scope_id = parse_scope(percent + 1)) == 0)
            return -EINVAL;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
        return -EINVAL;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    out->len = sizeof *in6;
    return 0;
}

/* A decimal port 1..65535, nothing else. */
static int parse_port(const char *s, uint16_t *port)
{
    unsigned long value = 0;
    if (*s == '\0')
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || (value = value * 10 + (unsigned long)(*s - '0')) > 65535)
            return -EINVAL;
    }
    if (value == 0)
        return -EINVAL;
    *port = (uint16_t)value;
    return 0;
}

int tw_dns_server_parse(const char *text, uint16_t port, tw_dns_server *out)
{
    if (!text)
        return -EINVAL;
    const char *host = text, *colon = strchr(text, ':');
    size_t len = strlen(text);
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || (close[1] != '\0' && close[1] != ':'))
            return -EINVAL;
        if (close[1] == ':' && parse_port(close + 2, &port) < 0)
            return -EINVAL;
        host = text + 1;
        len = (size_t)(close - host);
        if (!memchr(host, ':', len))
            return -EINVAL; /* brackets are for IPv6 */
    } else if (colon && !strchr(colon + 1, ':')) {
        /* One colon: IPv4 and a port. Two or more: a bare IPv6 address. */
        if (parse_port(colon + 1, &port) < 0)
            return -EINVAL;
        len = (size_t)(colon - text);
    }
    return tw__dns_parse_host(host, len, port, out);
}

char *tw_dns_server_format(const tw_dns_server *s, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (s->addr.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&s->addr;
        inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
        snprintf(buf, size, "%s:%u", host, ntohs(in4->sin_port));
    } else if (s->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&s->addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        if (in6->sin6_scope_id)
            snprintf(buf, size, "[%s%%%u]:%u", host, in6->sin6_scope_id, ntohs(in6->sin6_port));
        else
            snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(buf, size, "?");
    }
    return buf;
}
