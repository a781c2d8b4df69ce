/* Endpoint strings: Twisted's tokenizer (':' separates, '=' splits a key from its value, a
 * backslash escapes), the binder that matches positional and keyword parameters to a type's named
 * parameters, and the value parsers the server and client types share (strports_server.c,
 * strports_client.c). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "endpoints/strports_private.h"

/* ---- error messages -------------------------------------------------------------------------- */

int tw__parse_fail(char *errbuf, size_t errsize, const char *fmt, ...)
{
    if (errbuf && errsize > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errsize, fmt, ap);
        va_end(ap);
    }
    return TW_EPARSE;
}

tw__shown tw__show(const char *s)
{
    tw__shown out;
    size_t n = 0;
    for (; s[n] && n < TW__SHOWN_MAX; n++)
        out.text[n] = isprint((unsigned char)s[n]) ? s[n] : '?';
    if (s[n])
        memcpy(out.text + n, "...", 3), n += 3;
    out.text[n] = '\0';
    return out;
}

/* ---- tokenizer ------------------------------------------------------------------------------- */

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
        return tw__parse_fail(errbuf, errsize,
                              "too many parameters in endpoint description (at most %d)",
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
        return tw__parse_fail(errbuf, errsize, "endpoint description too long (at most %d bytes)",
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
                return tw__parse_fail(errbuf, errsize,
                                      "trailing backslash in endpoint description");
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

/* ---- binding parameters to names ------------------------------------------------------------- */

static size_t count_names(const tw__string_type *t)
{
    size_t n = 0;
    while (n < TW__TYPE_PARAMS_MAX && t->names[n])
        n++;
    return n;
}

static int given_twice(const tw__string_type *t, size_t i, char *errbuf, size_t errsize)
{
    return tw__parse_fail(errbuf, errsize, "parameter '%s' given twice for '%s'", t->names[i],
                          t->name);
}

static int bind_keyword(const tw__string_type *t, const tw_endpoint_param *p, const char **values,
                        char *errbuf, size_t errsize)
{
    size_t n = count_names(t);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->key, t->names[i]) != 0)
            continue;
        if (values[i])
            return given_twice(t, i, errbuf, errsize);
        values[i] = p->value;
        return 0;
    }
    return tw__parse_fail(errbuf, errsize, "unknown parameter '%s' for '%s'",
                          tw__show(p->key).text, t->name);
}

/* The slot of the k-th positional parameter: the k-th name (a keyword already there is an error, as
 * in a Python call), or with fill_free the next one no keyword took. */
static int bind_positional(const tw__string_type *t, const char *value, size_t k, size_t *next,
                           const char **values, char *errbuf, size_t errsize)
{
    size_t n = t->positional ? t->positional : count_names(t);
    while (t->fill_free && *next < n && values[*next])
        (*next)++;
    if (!t->fill_free)
        *next = k;
    if (*next < n && !values[*next]) {
        values[(*next)++] = value;
        return 0;
    }
    if (k < n) /* its place by position was taken by a keyword */
        return given_twice(t, k, errbuf, errsize);
    return tw__parse_fail(errbuf, errsize, "too many parameters for '%s' (extra '%s')", t->name,
                          tw__show(value).text);
}

/* Keywords first, then positionals; the first positional parameter is the type itself. */
static int bind_params(const tw__string_type *t, const tw_endpoint_args *args, const char **values,
                       char *errbuf, size_t errsize)
{
    for (size_t i = 0; i < args->count; i++)
        if (args->params[i].key) {
            int rc = bind_keyword(t, &args->params[i], values, errbuf, errsize);
            if (rc < 0)
                return rc;
        }
    size_t next = 0, k = 0;
    bool type_seen = false;
    for (size_t i = 0; i < args->count; i++) {
        if (args->params[i].key)
            continue;
        if (!type_seen) {
            type_seen = true;
            continue;
        }
        int rc = bind_positional(t, args->params[i].value, k++, &next, values, errbuf, errsize);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const tw_endpoint_param *first_positional(const tw_endpoint_args *args)
{
    for (size_t i = 0; i < args->count; i++)
        if (!args->params[i].key)
            return &args->params[i];
    return NULL;
}

static const tw__string_type *find_type(const tw__string_type *table, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(name, table[i].name) == 0)
            return &table[i];
    return NULL;
}

int tw__parse_description(const char *description, const tw__string_type *table, size_t n,
                          void *out, size_t out_size, char *errbuf, size_t errsize)
{
    if (!description || !out)
        return -EINVAL;
    if (!*description)
        return tw__parse_fail(errbuf, errsize, "empty endpoint description");
    tw_endpoint_args args;
    int rc = tw_endpoint_tokenize(description, &args, errbuf, errsize);
    if (rc < 0)
        return rc;
    const tw_endpoint_param *type = first_positional(&args);
    if (!type)
        return tw__parse_fail(errbuf, errsize, "missing endpoint type in '%s'",
                              tw__show(description).text);
    const tw__string_type *t = find_type(table, n, type->value);
    if (!t) {
        tw__shown name = tw__show(type->value);
        for (char *c = name.text; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return tw__parse_fail(errbuf, errsize, "Unknown endpoint type: '%s'", name.text);
    }
    const char *values[TW__TYPE_PARAMS_MAX] = {NULL};
    rc = bind_params(t, &args, values, errbuf, errsize);
    unsigned char copy[sizeof(tw_client_description) > sizeof(tw_server_description)
                           ? sizeof(tw_client_description) : sizeof(tw_server_description)];
    if (rc < 0 || out_size > sizeof copy)
        return rc < 0 ? rc : -EINVAL;
    memset(copy, 0, out_size);
    rc = t->convert(values, copy, errbuf, errsize);
    if (rc == 0)
        memcpy(out, copy, out_size);
    return rc;
}

/* ---- values ---------------------------------------------------------------------------------- */

/* A whole string of digits in the given base, at most max; false for anything else. */
bool tw__parse_unsigned(const char *s, unsigned base, unsigned long max, unsigned long *out)
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

int tw__parse_port(const char *value, const char *type, unsigned long min, uint16_t *out,
                   char *errbuf, size_t errsize)
{
    unsigned long v;
    if (!value || !*value)
        return tw__parse_fail(errbuf, errsize, "missing port for '%s'", type);
    if (!tw__parse_unsigned(value, 10, UINT16_MAX, &v) || v < min)
        return tw__parse_fail(errbuf, errsize, "bad port '%s' for '%s' (expected %lu to 65535)",
                              tw__show(value).text, type, min);
    *out = (uint16_t)v;
    return 0;
}

int tw__parse_unix_path(const char *value, const char *lockfile, const char *type, char *path,
                        char *errbuf, size_t errsize)
{
    if (!value || !*value)
        return tw__parse_fail(errbuf, errsize, "missing socket path for '%s'", type);
    if (strlen(value) >= TW_ADDRESS_PATH_MAX)
        return tw__parse_fail(errbuf, errsize, "socket path for '%s' too long (at most %d bytes)",
                              type, TW_ADDRESS_PATH_MAX - 1);
    if (lockfile && strcmp(lockfile, "0") != 0)
        return tw__parse_fail(errbuf, errsize,
                              "lockfile=%s for '%s' is not supported (only lockfile=0)",
                              tw__show(lockfile).text, type);
    strcpy(path, value);
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

bool tw__valid_ipv6(const char *value)
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
