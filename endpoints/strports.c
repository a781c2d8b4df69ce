/* Endpoint strings: Twisted's tokenizer (':' separates, '=' splits a key from its value, '\' escapes),
 * a binder that matches positional and keyword parameters to a type's named parameters, and one small
 * converter per server type. Client strings will add a second table that reuses both. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "twine/strports.h"

/* How much of a user's text an error message quotes. */
#define SHOWN_MAX 40

/* Parameters one endpoint type takes, type excluded. */
#define TYPE_PARAMS_MAX 4

/* ---- error messages ------------------------------------------------------------------------------ */

static int fail(char *errbuf, size_t errsize, const char *fmt, ...) TW_PRINTF(3, 4);

static int fail(char *errbuf, size_t errsize, const char *fmt, ...)
{
    if (errbuf && errsize > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errsize, fmt, ap);
        va_end(ap);
    }
    return TW_EPARSE;
}

/* A printable, bounded copy of user text for a message: the message stays one short line. */
typedef struct {
    char text[SHOWN_MAX + 4];
} shown;

static shown show(const char *s)
{
    shown out;
    size_t n = 0;
    for (; s[n] && n < SHOWN_MAX; n++)
        out.text[n] = isprint((unsigned char)s[n]) ? s[n] : '?';
    if (s[n])
        memcpy(out.text + n, "...", 3), n += 3;
    out.text[n] = '\0';
    return out;
}

/* ---- tokenizer ----------------------------------------------------------------------------------- */

typedef struct {
    tw_endpoint_args *out;
    size_t used;       /* bytes of out->text taken */
    const char *key;   /* key of the parameter being read, NULL before its '=' */
    const char *token; /* start of the token being read */
} tokenizer;

static void token_begin(tokenizer *tk)
{
    tk->token = tk->out->text + tk->used;
}

static void token_end(tokenizer *tk)
{
    tk->out->text[tk->used++] = '\0';
}

static int param_end(tokenizer *tk, char *errbuf, size_t errsize)
{
    token_end(tk);
    tw_endpoint_args *out = tk->out;
    if (out->count == TW_ENDPOINT_PARAMS_MAX)
        return fail(errbuf, errsize, "too many parameters in endpoint description (at most %d)",
                    TW_ENDPOINT_PARAMS_MAX);
    out->params[out->count].key = tk->key;
    out->params[out->count].value = tk->token;
    out->count++;
    tk->key = NULL;
    token_begin(tk);
    return 0;
}

int tw_endpoint_tokenize(const char *description, tw_endpoint_args *out, char *errbuf,
                         size_t errsize)
{
    if (!description || !out)
        return -EINVAL;
    out->count = 0;
    if (strnlen(description, TW_ENDPOINT_STRING_MAX + 1) > TW_ENDPOINT_STRING_MAX)
        return fail(errbuf, errsize, "endpoint description too long (at most %d bytes)",
                    TW_ENDPOINT_STRING_MAX);
    tokenizer tk = {.out = out};
    token_begin(&tk);
    for (const char *p = description; *p; p++) {
        if (*p == ':') {
            int rc = param_end(&tk, errbuf, errsize);
            if (rc < 0)
                return rc;
        } else if (*p == '=' && !tk.key) {
            /* After the first '=' of a parameter only ':' is an operator. */
            token_end(&tk);
            tk.key = tk.token;
            token_begin(&tk);
        } else {
            if (*p == '\\' && !*++p)
                return fail(errbuf, errsize, "trailing backslash in endpoint description");
            out->text[tk.used++] = *p;
        }
    }
    return param_end(&tk, errbuf, errsize);
}

int tw_endpoint_quote(const char *s, char *buf, size_t size)
{
    if (!s)
        return -EINVAL;
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '\\' || *s == ':' || *s == '=') {
            if (n + 1 < size)
                buf[n] = '\\';
            n++;
        }
        if (n + 1 < size)
            buf[n] = *s;
        n++;
    }
    if (size > 0)
        buf[n < size ? n : size - 1] = '\0';
    return (int)n;
}

/* ---- binding parameters to names (Python's call binding, as Twisted relies on it) ------------ */

typedef struct {
    const char *name;                         /* type prefix, lower case */
    tw_endpoint_type type;
    const char *const names[TYPE_PARAMS_MAX]; /* positional order; NULL ends */
    int (*convert)(const char *const *values, tw_server_description *out, char *errbuf,
                   size_t errsize);
} server_parser;

static size_t count_names(const server_parser *sp)
{
    size_t n = 0;
    while (n < TYPE_PARAMS_MAX && sp->names[n])
        n++;
    return n;
}

static int bind_keyword(const server_parser *sp, const tw_endpoint_param *p, const char **values,
                        char *errbuf, size_t errsize)
{
    size_t n = count_names(sp);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->key, sp->names[i]) != 0)
            continue;
        if (values[i])
            return fail(errbuf, errsize, "parameter '%s' given twice for '%s'", sp->names[i],
                        sp->name);
        values[i] = p->value;
        return 0;
    }
    return fail(errbuf, errsize, "unknown parameter '%s' for '%s'", show(p->key).text, sp->name);
}

/* Fills values[i] with the value of sp->names[i], or NULL when it was not given. The first
 * positional parameter is the type itself and is skipped. */
static int bind_params(const server_parser *sp, const tw_endpoint_args *args, const char **values,
                       char *errbuf, size_t errsize)
{
    size_t n = count_names(sp), next = 0;
    bool type_seen = false;
    for (size_t i = 0; i < args->count; i++) {
        const tw_endpoint_param *p = &args->params[i];
        int rc = 0;
        if (p->key)
            rc = bind_keyword(sp, p, values, errbuf, errsize);
        else if (!type_seen)
            type_seen = true;
        else if (next == n)
            rc = fail(errbuf, errsize, "too many parameters for '%s' (extra '%s')", sp->name,
                      show(p->value).text);
        else if (values[next])
            rc = fail(errbuf, errsize, "parameter '%s' given twice for '%s'", sp->names[next],
                      sp->name);
        else
            values[next++] = p->value;
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- values -------------------------------------------------------------------------------------- */

/* A whole string of digits in the given base, at most max; false for anything else. */
static bool parse_unsigned(const char *s, unsigned base, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned digit = (unsigned)(*s - '0');
        if (*s < '0' || digit >= base)
            return false;
        v = v * base + digit;
        if (v > max)
            return false;
    }
    *out = v;
    return true;
}

static int convert_port(const char *value, const char *type, tw_server_description *out,
                        char *errbuf, size_t errsize)
{
    unsigned long v;
    if (!value || !*value)
        return fail(errbuf, errsize, "missing port for '%s'", type);
    if (!parse_unsigned(value, 10, UINT16_MAX, &v))
        return fail(errbuf, errsize, "bad port '%s' for '%s' (expected 0 to 65535)",
                    show(value).text, type);
    out->port = (uint16_t)v;
    return 0;
}

static int convert_backlog(const char *value, const char *type, tw_server_description *out,
                           char *errbuf, size_t errsize)
{
    unsigned long v;
    if (!value) {
        out->backlog = TW_PORT_BACKLOG_DEFAULT;
        return 0;
    }
    if (!parse_unsigned(value, 10, TW_ENDPOINT_BACKLOG_MAX, &v) || v == 0)
        return fail(errbuf, errsize, "bad backlog '%s' for '%s' (expected 1 to %d)",
                    show(value).text, type, TW_ENDPOINT_BACKLOG_MAX);
    out->backlog = (int)v;
    return 0;
}

/* An IPv6 scope: an interface name or index, as the kernel names them. */
static bool valid_scope(const char *scope)
{
    size_t n = strlen(scope);
    if (n == 0 || n >= 16)
        return false;
    for (; *scope; scope++)
        if (!isalnum((unsigned char)*scope) && !strchr("._-", *scope))
            return false;
    return true;
}

static bool valid_ipv6(const char *value)
{
    char addr[TW_ADDRESS_HOST_MAX];
    unsigned char bin[16];
    const char *pct = strchr(value, '%');
    size_t n = pct ? (size_t)(pct - value) : strlen(value);
    if (n >= sizeof addr)
        return false;
    memcpy(addr, value, n);
    addr[n] = '\0';
    return inet_pton(AF_INET6, addr, bin) == 1 && (!pct || valid_scope(pct + 1));
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
              (type == TW_ENDPOINT_TCP ? inet_pton(AF_INET, value, bin) == 1 : valid_ipv6(value));
    if (!ok)
        return fail(errbuf, errsize, "bad interface address '%s' for '%s' (expected %s)",
                    show(value).text, tw_endpoint_type_name(type),
                    type == TW_ENDPOINT_TCP ? "a numeric IPv4 address; use tcp6: for IPv6"
                                            : "a numeric IPv6 address, colons escaped as \\:");
    strcpy(out->interface, value);
    return 0;
}

/* ---- one converter per type ---------------------------------------------------------------------- */

static int convert_tcp(const char *const *v, tw_server_description *out, char *errbuf,
                       size_t errsize)
{
    int rc = convert_port(v[0], "tcp", out, errbuf, errsize);
    if (rc == 0)
        rc = convert_interface(v[1], TW_ENDPOINT_TCP, out, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[2], "tcp", out, errbuf, errsize);
    return rc;
}

static int convert_tcp6(const char *const *v, tw_server_description *out, char *errbuf,
                        size_t errsize)
{
    int rc = convert_port(v[0], "tcp6", out, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[1], "tcp6", out, errbuf, errsize);
    if (rc == 0)
        rc = convert_interface(v[2], TW_ENDPOINT_TCP6, out, errbuf, errsize);
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
    if (!parse_unsigned(value, 8, 0777, &v))
        return fail(errbuf, errsize, "bad mode '%s' for 'unix' (expected octal permissions "
                    "such as 660)", show(value).text);
    out->mode = (unsigned)v;
    return 0;
}

static int convert_unix(const char *const *v, tw_server_description *out, char *errbuf,
                        size_t errsize)
{
    const char *path = v[0], *lockfile = v[3];
    if (!path || !*path)
        return fail(errbuf, errsize, "missing socket path for 'unix'");
    if (strlen(path) >= sizeof out->path)
        return fail(errbuf, errsize, "socket path for 'unix' too long (at most %zu bytes)",
                    sizeof out->path - 1);
    if (lockfile && strcmp(lockfile, "0") != 0)
        return fail(errbuf, errsize, "lockfile=%s for 'unix' is not supported (only lockfile=0)",
                    show(lockfile).text);
    strcpy(out->path, path);
    int rc = convert_mode(v[1], out, errbuf, errsize);
    if (rc == 0)
        rc = convert_backlog(v[2], "unix", out, errbuf, errsize);
    return rc;
}

/* Twisted's stdio parser ignores whatever follows; twine refuses anything but "stdio" / "stdio:"
 * (an empty positional), so a typo is not silently dropped. */
static int convert_stdio(const char *const *v, tw_server_description *out, char *errbuf,
                         size_t errsize)
{
    (void)out;
    if (v[0] && *v[0])
        return fail(errbuf, errsize, "'stdio' takes no parameters (got '%s')", show(v[0]).text);
    return 0;
}

static const server_parser server_parsers[] = {
    {"tcp", TW_ENDPOINT_TCP, {"port", "interface", "backlog", NULL}, convert_tcp},
    {"tcp6", TW_ENDPOINT_TCP6, {"port", "backlog", "interface", NULL}, convert_tcp6},
    {"unix", TW_ENDPOINT_UNIX, {"address", "mode", "backlog", "lockfile"}, convert_unix},
    {"stdio", TW_ENDPOINT_STDIO, {"", NULL}, convert_stdio},
};

#define N_SERVER_PARSERS (sizeof server_parsers / sizeof server_parsers[0])

static const tw_endpoint_param *first_positional(const tw_endpoint_args *args)
{
    for (size_t i = 0; i < args->count; i++)
        if (!args->params[i].key)
            return &args->params[i];
    return NULL;
}

static const server_parser *find_server_parser(const char *type)
{
    for (size_t i = 0; i < N_SERVER_PARSERS; i++)
        if (strcasecmp(type, server_parsers[i].name) == 0)
            return &server_parsers[i];
    return NULL;
}

int tw_server_from_string(const char *description, tw_server_description *out, char *errbuf,
                          size_t errsize)
{
    if (!description || !out)
        return -EINVAL;
    if (!*description)
        return fail(errbuf, errsize, "empty endpoint description");
    tw_endpoint_args args;
    int rc = tw_endpoint_tokenize(description, &args, errbuf, errsize);
    if (rc < 0)
        return rc;
    const tw_endpoint_param *type = first_positional(&args);
    if (!type)
        return fail(errbuf, errsize, "missing endpoint type in '%s'", show(description).text);
    const server_parser *sp = find_server_parser(type->value);
    if (!sp) {
        shown name = show(type->value);
        for (char *c = name.text; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return fail(errbuf, errsize, "Unknown endpoint type: '%s'", name.text);
    }
    const char *values[TYPE_PARAMS_MAX] = {NULL};
    rc = bind_params(sp, &args, values, errbuf, errsize);
    if (rc < 0)
        return rc;
    tw_server_description d = {.type = sp->type};
    rc = sp->convert(values, &d, errbuf, errsize);
    if (rc < 0)
        return rc;
    *out = d;
    return 0;
}

/* ---- listening ----------------------------------------------------------------------------------- */

static tw_port *listen_unix(tw_reactor *r, const tw_server_description *d, tw_factory *factory,
                            int *err)
{
    /* The mode is applied between bind and listen, as Twisted does. */
    return tw_listen_unix_mode(r, d->path, d->mode, d->backlog, factory, err);
}

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
    const char *interface = d->interface[0] ? d->interface : NULL;
    switch (d->type) {
    case TW_ENDPOINT_TCP:
        return tw_listen_tcp(r, d->port, interface, d->backlog, factory, err);
    case TW_ENDPOINT_TCP6:
        return tw_listen_tcp6(r, d->port, interface, d->backlog, factory, err);
    case TW_ENDPOINT_UNIX:
        return listen_unix(r, d, factory, err);
    case TW_ENDPOINT_STDIO:
        *err = -EOPNOTSUPP;
        return NULL;
    }
    *err = -EINVAL;
    return NULL;
}

const char *tw_endpoint_type_name(tw_endpoint_type type)
{
    switch (type) {
    case TW_ENDPOINT_TCP: return "tcp";
    case TW_ENDPOINT_TCP6: return "tcp6";
    case TW_ENDPOINT_UNIX: return "unix";
    case TW_ENDPOINT_STDIO: return "stdio";
    }
    return "?";
}
