/* Client endpoint strings (Twisted's clientFromString): tcp: and tcp6: (a host name or numeric
 * address and a port, for the hostname endpoint) and unix: (a path), each with an optional timeout,
 * into a tw_client_description. As in Twisted, positional parameters fill the places keywords left
 * free: "tcp:host=example.com:80" is port 80. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "endpoints/strports_private.h"

/* A decimal number of seconds, > 0 and at most TW_ENDPOINT_TIMEOUT_MAX (Twisted takes whole seconds
 * only; "2.5" is accepted here). */
static int convert_timeout(const char *value, const char *type, double *out, char *errbuf,
                           size_t errsize)
{
    if (!value)
        return 0;
    char *end = NULL;
    double v = *value && !isspace((unsigned char)*value) ? strtod(value, &end) : NAN;
    if (!end || *end || !(v > 0) || v > TW_ENDPOINT_TIMEOUT_MAX)
        return tw__parse_fail(errbuf, errsize,
                              "bad timeout '%s' for '%s' (expected seconds, more than 0 and at "
                              "most %g)", tw__show(value).text, type, TW_ENDPOINT_TIMEOUT_MAX);
    *out = v;
    return 0;
}

/* A name or a numeric address: printable, no spaces, "[...]" taken off an IPv6 address. */
static int convert_host(const char *value, const char *type, char *out, char *errbuf,
                        size_t errsize)
{
    if (!value || !*value)
        return tw__parse_fail(errbuf, errsize, "missing host for '%s'", type);
    size_t n = strlen(value);
    const char *start = value;
    if (n >= 2 && value[0] == '[' && value[n - 1] == ']') {
        start++;
        n -= 2;
    }
    bool ok = n > 0 && n <= TW_HOSTNAME_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = isgraph((unsigned char)start[i]) && start[i] != '[' && start[i] != ']';
    if (!ok)
        return tw__parse_fail(errbuf, errsize, "bad host '%s' for '%s' (expected a name or a "
                              "numeric address)", tw__show(value).text, type);
    memcpy(out, start, n);
    out[n] = '\0';
    return 0;
}

static int convert_bind(const char *value, tw_endpoint_type type, char *out, char *errbuf,
                        size_t errsize)
{
    unsigned char bin[16];
    if (!value)
        return 0;
    bool v4 = type == TW_ENDPOINT_TCP && inet_pton(AF_INET, value, bin) == 1;
    if (strlen(value) >= TW_ADDRESS_HOST_MAX || (!v4 && !tw__valid_ipv6(value)))
        return tw__parse_fail(errbuf, errsize, "bad bindAddress '%s' for '%s' (expected %s)",
                              tw__show(value).text, tw_endpoint_type_name(type),
                              type == TW_ENDPOINT_TCP ? "a numeric address"
                                                      : "a numeric IPv6 address");
    strcpy(out, value);
    return 0;
}

static int convert_ip(const char *const *v, tw_endpoint_type type, tw_client_description *out,
                      char *errbuf, size_t errsize)
{
    const char *name = tw_endpoint_type_name(type);
    out->type = type;
    int rc = convert_host(v[0], name, out->host, errbuf, errsize);
    if (rc == 0)
        rc = tw__parse_port(v[1], name, 1, &out->port, errbuf, errsize);
    if (rc == 0)
        rc = convert_timeout(v[2], name, &out->timeout, errbuf, errsize);
    if (rc == 0)
        rc = convert_bind(v[3], type, out->bind_address, errbuf, errsize);
    return rc;
}

static int convert_tcp(const char *const *v, void *out, char *errbuf, size_t errsize)
{
    return convert_ip(v, TW_ENDPOINT_TCP, out, errbuf, errsize);
}

static int convert_tcp6(const char *const *v, void *out, char *errbuf, size_t errsize)
{
    return convert_ip(v, TW_ENDPOINT_TCP6, out, errbuf, errsize);
}

static int convert_unix(const char *const *v, void *result, char *errbuf, size_t errsize)
{
    tw_client_description *out = result;
    out->type = TW_ENDPOINT_UNIX;
    int rc = tw__parse_unix_path(v[0], v[2], "unix", out->path, errbuf, errsize);
    if (rc == 0)
        rc = convert_timeout(v[1], "unix", &out->timeout, errbuf, errsize);
    return rc;
}

static const tw__string_type client_types[] = {
    {"tcp", TW_ENDPOINT_TCP, {"host", "port", "timeout", "bindAddress"}, 2, true, convert_tcp},
    {"tcp6", TW_ENDPOINT_TCP6, {"host", "port", "timeout", "bindAddress"}, 2, true, convert_tcp6},
    {"unix", TW_ENDPOINT_UNIX, {"path", "timeout", "lockfile", NULL}, 1, true, convert_unix},
};

int tw_client_from_string(const char *description, tw_client_description *out, char *errbuf,
                          size_t errsize)
{
    return tw__parse_description(description, client_types,
                                 sizeof client_types / sizeof client_types[0], out, sizeof *out,
                                 errbuf, errsize);
}
