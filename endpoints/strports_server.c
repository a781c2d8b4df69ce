/* Server endpoint strings (Twisted's serverFromString): one converter per type into a
 * tw_server_description, and tw_server_listen, which makes the port a description says. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "endpoints/strports_private.h"

static int convert_backlog(const char *value, const char *type, tw_server_description *out,
                           char *errbuf, size_t errsize)
{
    unsigned long v;
    if (!value) {
        out->backlog = TW_PORT_BACKLOG_DEFAULT;
        return 0;
    }
    if (!tw__parse_unsigned(value, 10, TW_ENDPOINT_BACKLOG_MAX, &v) || v == 0)
        return tw__parse_fail(errbuf, errsize, "bad backlog '%s' for '%s' (expected 1 to %d)",
                              tw__show(value).text, type, TW_ENDPOINT_BACKLOG_MAX);
    out->backlog = (int)v;
    return 0;
}

static int convert_interface(const char *value, tw_endpoint_type type, tw_server_description *out,
                             char *errbuf, size_t errsize)
{
    unsigned char bin[16];
    if (!value || !*value) {
        out->interface[0] = '\0';
        return 0;
    }
    bool ok = strlen(value) < sizeof out->interface &&
              (type == TW_ENDPOINT_TCP ? inet_pton(AF_INET, value, bin) == 1
                                       : tw__valid_ipv6(value));
    if (!ok)
        return tw__parse_fail(errbuf, errsize, "bad interface address '%s' for '%s' (expected %s)",
                              tw__show(value).text, tw_endpoint_type_name(type),
                              type == TW_ENDPOINT_TCP
                                  ? "a numeric IPv4 address; use tcp6: for IPv6"
                                  : "a numeric IPv6 address, colons escaped as \\:");
    strcpy(out->interface, value);
    return 0;
}

/* reusePort=0 or 1 only: a typo such as "yes" must not listen without it silently. */
static int convert_reuse_port(const char *value, const char *type, tw_server_description *out,
                              char *errbuf, size_t errsize)
{
    if (!value || strcmp(value, "0") == 0 || strcmp(value, "1") == 0) {
        out->reuse_port = value && value[0] == '1';
        return 0;
    }
    return tw__parse_fail(errbuf, errsize, "bad reusePort '%s' for '%s' (expected 0 or 1)",
                          tw__show(value).text, type);
}

/* ---- one converter per type ------------------------------------------------------------------ */

static int convert_tcp(const char *const *v, void *result, char *errbuf, size_t errsize)
{
    tw_server_description *out = result;
    out->type = TW_ENDPOINT_TCP;
    int rc = tw__parse_port(v[0], "tcp", 0, &out->port, errbuf, errsize);
    if (rc == 0)
        rc = convert_interface(v[1], TW_ENDPOINT_TCP, out, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[2], "tcp", out, errbuf, errsize);
    if (rc == 0)
        rc = convert_reuse_port(v[3], "tcp", out, errbuf, errsize);
    return rc;
}

static int convert_tcp6(const char *const *v, void *result, char *errbuf, size_t errsize)
{
    tw_server_description *out = result;
    out->type = TW_ENDPOINT_TCP6;
    int rc = tw__parse_port(v[0], "tcp6", 0, &out->port, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[1], "tcp6", out, errbuf, errsize);
    if (rc == 0)
        rc = convert_interface(v[2], TW_ENDPOINT_TCP6, out, errbuf, errsize);
    if (rc == 0)
        rc = convert_reuse_port(v[3], "tcp6", out, errbuf, errsize);
    return rc;
}

static int convert_mode(const char *value, tw_server_description *out, char *errbuf,
                        size_t errsize)
{
    unsigned long v;
    if (!value) {
        out->mode = TW_ENDPOINT_UNIX_MODE_DEFAULT;
        return 0;
    }
    if (!tw__parse_unsigned(value, 8, 0777, &v))
        return tw__parse_fail(errbuf, errsize, "bad mode '%s' for 'unix' (expected octal "
                              "permissions such as 660)", tw__show(value).text);
    out->mode = (unsigned)v;
    return 0;
}

static int convert_unix(const char *const *v, void *result, char *errbuf, size_t errsize)
{
    tw_server_description *out = result;
    out->type = TW_ENDPOINT_UNIX;
    int rc = tw__parse_unix_path(v[0], v[3], "unix", out->path, errbuf, errsize);
    if (rc == 0)
        rc = convert_mode(v[1], out, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[2], "unix", out, errbuf, errsize);
    return rc;
}

/* Twisted's stdio parser ignores whatever follows; twine refuses anything but "stdio" / "stdio:"
 * (an empty positional), so a typo is not silently dropped. */
static int convert_stdio(const char *const *v, void *result, char *errbuf, size_t errsize)
{
    ((tw_server_description *)result)->type = TW_ENDPOINT_STDIO;
    if (v[0] && *v[0])
        return tw__parse_fail(errbuf, errsize, "'stdio' takes no parameters (got '%s')",
                              tw__show(v[0]).text);
    return 0;
}

static const tw__string_type server_types[] = {
    /* reusePort is a keyword only: Twisted's positional order stays as it is */
    {"tcp", TW_ENDPOINT_TCP, {"port", "interface", "backlog", "reusePort"}, 3, false, convert_tcp},
    {"tcp6", TW_ENDPOINT_TCP6, {"port", "backlog", "interface", "reusePort"}, 3, false,
     convert_tcp6},
    {"unix", TW_ENDPOINT_UNIX, {"address", "mode", "backlog", "lockfile"}, 0, false, convert_unix},
    {"stdio", TW_ENDPOINT_STDIO, {"", NULL}, 0, false, convert_stdio},
};

int tw_server_from_string(const char *description, tw_server_description *out, char *errbuf,
                          size_t errsize)
{
    return tw__parse_description(description, server_types,
                                 sizeof server_types / sizeof server_types[0], out, sizeof *out,
                                 errbuf, errsize);
}

/* ---- listening ------------------------------------------------------------------------------- */

tw_port *tw_server_listen(tw_reactor *r, const tw_server_description *d, tw_factory *factory,
                          int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    if (!r || !d || !factory) {
        *err = -EINVAL;
        return NULL;
    }
    if (d->type == TW_ENDPOINT_STDIO) {
        *err = -EOPNOTSUPP; /* not a port: tw_stdio_endpoint_new */
        return NULL;
    }
    return tw__server_listen(r, d, factory, err);
}

