/* Private to endpoints/: what the endpoint-string parsers share (strports.c has the tokenizer and
 * the binder; strports_server.c and strports_client.c one small converter per type). */
#ifndef TWINE_ENDPOINTS_STRPORTS_PRIVATE_H
#define TWINE_ENDPOINTS_STRPORTS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "endpoints/internal.h"

/* How much of a user's text an error message quotes. */
#define TW__SHOWN_MAX 40
/* Parameters one endpoint type takes, type excluded. */
#define TW__TYPE_PARAMS_MAX 4

/* Writes the message into errbuf (if any) and returns TW_EPARSE. */
int tw__parse_fail(char *errbuf, size_t errsize, const char *fmt, ...) TW_PRINTF(3, 4);

/* A printable, bounded copy of user text for a message: the message stays one short line. */
typedef struct {
    char text[TW__SHOWN_MAX + 4];
} tw__shown;
tw__shown tw__show(const char *s);

/* One endpoint type of a string table. values[i] is the value given for names[i], or NULL. */
typedef struct tw__string_type {
    const char *name;                             /* the type prefix, lower case */
    tw_endpoint_type type;
    const char *const names[TW__TYPE_PARAMS_MAX]; /* positional order; NULL ends */
    size_t positional;                            /* how many may be given by position; 0: all */
    bool fill_free;     /* positionals fill the slots keywords left free (Twisted's client parsers),
                           instead of binding in order as a Python call does */
    int (*convert)(const char *const *values, void *out, char *errbuf, size_t errsize);
} tw__string_type;

/* Tokenizes description into *args, finds its type in table (without regard to case), binds the
 * parameters into values (TW__TYPE_PARAMS_MAX of them) and converts them into out. 0, TW_EPARSE
 * with a message, or -EINVAL for NULL arguments. out is written only on success (into a copy of
 * out_size bytes first). */
int tw__parse_description(const char *description, const tw__string_type *table, size_t n,
                          void *out, size_t out_size, char *errbuf, size_t errsize);

/* Values: a whole string of digits in base, at most max. */
bool tw__parse_unsigned(const char *s, unsigned base, unsigned long max, unsigned long *out);
/* A port, from min to 65535 ("missing port", "bad port" messages name type). */
int tw__parse_port(const char *value, const char *type, unsigned long min, uint16_t *out,
                   char *errbuf, size_t errsize);
/* A UNIX socket path (required, short enough for sockaddr_un) and lockfile (only "0" or absent),
 * copied into path (TW_ADDRESS_PATH_MAX bytes). */
int tw__parse_unix_path(const char *value, const char *lockfile, const char *type, char *path,
                        char *errbuf, size_t errsize);
/* A numeric IPv6 address, with an optional %scope. */
bool tw__valid_ipv6(const char *value);

#endif
