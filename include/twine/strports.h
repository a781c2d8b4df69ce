/* twine endpoint strings: "tcp:8080:interface=127.0.0.1", "unix:/run/echo.sock" and friends, parsed
 * with Twisted's grammar (twisted.internet.endpoints serverFromString) into a plain description
 * that tw_server_listen() turns into a listening port. docs/endpoints.md explains the grammar. */
#ifndef TWINE_STRPORTS_H
#define TWINE_STRPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "protocol.h"
#include "reactor.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ---------------------------------------------------------------------------------- */

/* Longest endpoint description accepted, in bytes (without the terminating NUL). */
#define TW_ENDPOINT_STRING_MAX 1024
/* Parameters (positional and keyword together, the type included) in one description. */
#define TW_ENDPOINT_PARAMS_MAX 16
/* A buffer this big always holds a whole parse error message. */
#define TW_ENDPOINT_ERROR_MAX 256
/* Largest listen backlog a description may ask for. */
#define TW_ENDPOINT_BACKLOG_MAX 65535
/* Longest host name a client description (or a hostname endpoint) accepts, in bytes; DNS names
 * have at most 253. */
#define TW_HOSTNAME_MAX 255
/* File mode of a UNIX socket when the description gives none (Twisted's default). */
#define TW_ENDPOINT_UNIX_MODE_DEFAULT 0666

/* ---- the tokenizer (Twisted's _parse) -----------------------------------------------------------
 * ':' separates parameters and '=' separates a key from its value, except that after an '=' only
 * ':' is an operator, so "address=a=b" has the value "a=b". A backslash takes the next character
 * literally, whatever it is ("\:" is ':', "\\" is '\'); a backslash at the very end is an error. A
 * parameter without '=' is positional, one with '=' is a keyword; they may be mixed in any order.
 * Values are unescaped copies held inside the struct; key is NULL for a positional parameter. */
typedef struct tw_endpoint_param {
    const char *key;
    const char *value;
} tw_endpoint_param;

typedef struct tw_endpoint_args {
    size_t count;
    tw_endpoint_param params[TW_ENDPOINT_PARAMS_MAX];
    char text[TW_ENDPOINT_STRING_MAX + 1]; /* unescaped keys and values, each NUL-terminated */
} tw_endpoint_args;

/* Splits description into out. 0, or TW_EPARSE with a one-line reason in errbuf (too long, too many
 * parameters, trailing backslash), or -EINVAL for NULL arguments. errbuf may be NULL. The params
 * point into out itself: copying the struct copies pointers into the original. */
TW_API int tw_endpoint_tokenize(const char *description, tw_endpoint_args *out, char *errbuf,
                                size_t errsize);

/* Twisted's quoteStringArgument, a little safer: escapes '\', ':' and '=' (Twisted leaves '='
 * alone), so that s survives as one parameter, positional or keyword value alike. Writes into buf
 * (always NUL-terminated when size > 0) and returns the length needed, as snprintf; -EINVAL for a
 * NULL s. */
TW_API int tw_endpoint_quote(const char *s, char *buf, size_t size);

/* ---- server descriptions ------------------------------------------------------------------------
 *   tcp:PORT[:interface=ADDR][:backlog=N]     positional order: port, interface, backlog
 *   tcp6:PORT[:backlog=N][:interface=ADDR]    positional order: port, backlog, interface
 *   unix:PATH[:mode=OCTAL][:backlog=N]        positional order: address, mode, backlog, lockfile
 *   stdio:                                    no parameters
 * tcp and tcp6 also take reusePort=1 (a twine extension; 0 is the default): SO_REUSEPORT, so that
 * several ports, one per reactor thread, listen on the same address and the kernel spreads the
 * connections among them (docs/web.md).
 * The type is matched without regard to case. interface is a numeric address ("" for any: 0.0.0.0
 * or ::); a tcp6 address may carry a scope ("fe80\:\:1%eth0"). lockfile=0 is accepted; lock files
 * themselves are not supported. */
typedef enum {
    TW_ENDPOINT_TCP = 1,
    TW_ENDPOINT_TCP6,
    TW_ENDPOINT_UNIX,
    TW_ENDPOINT_STDIO,
} tw_endpoint_type;

typedef struct tw_server_description {
    tw_endpoint_type type;
    uint16_t port;                            /* tcp, tcp6; 0 picks a free port */
    char interface[TW_ADDRESS_HOST_MAX];      /* tcp, tcp6; "" for any address */
    char path[TW_ADDRESS_PATH_MAX];           /* unix */
    unsigned mode;                            /* unix: socket file permissions */
    int backlog;                              /* tcp, tcp6, unix; 0: the port's default */
    bool reuse_port;                          /* tcp, tcp6: SO_REUSEPORT (reusePort=1) */
} tw_server_description;

/* Twisted's serverFromString, without the listening: parses description into out. 0, or TW_EPARSE
 * with one line naming the problem in errbuf ("Unknown endpoint type: 'ftl'", "bad port '99999'
 * for 'tcp' (expected 0 to 65535)", "unknown parameter 'x' for 'unix'", ...), or -EINVAL for NULL
 * arguments. errbuf may be NULL; TW_ENDPOINT_ERROR_MAX bytes hold any message. */
TW_API int tw_server_from_string(const char *description, tw_server_description *out, char *errbuf,
                                 size_t errsize);

/* Listens as described, building protocols with factory (borrowed; it must outlive the port):
 * tw_listen_tcp, tw_listen_tcp6 or tw_listen_unix_mode with d->mode. NULL with *err
 * (if err is not NULL) set to a negative errno on failure: those of tw_listen_*, -EOPNOTSUPP for
 * stdio (not supported yet), -EINVAL for a bad description. */
TW_API tw_port *tw_server_listen(tw_reactor *r, const tw_server_description *d, tw_factory *factory,
                                 int *err);

/* ---- client descriptions ------------------------------------------------------------------------
 *   tcp:HOST:PORT[:timeout=S][:bindAddress=ADDR]    also tcp:host=HOST:port=PORT, or one of each
 *   tcp6:HOST:PORT[:timeout=S][:bindAddress=ADDR]   the same over IPv6 only
 *   unix:PATH[:timeout=S]                           also unix:path=PATH; lockfile=0 accepted
 * HOST is a name or a numeric address (IPv6 colons escaped: "tcp:\:\:1:80", or "[\:\:1]");
 * tcp: connects with Happy Eyeballs over every address HOST resolves to (Twisted's tcp: client is
 * IPv4-only). timeout is in seconds, a decimal number > 0 (default
 * TW_CONNECT_ENDPOINT_TIMEOUT_DEFAULT in endpoints.h); bindAddress a numeric address to connect
 * from. */
typedef struct tw_client_description {
    tw_endpoint_type type;                    /* TW_ENDPOINT_TCP, _TCP6 or _UNIX */
    char host[TW_HOSTNAME_MAX + 1];           /* tcp, tcp6: name or numeric address, no brackets */
    uint16_t port;                            /* tcp, tcp6 */
    char bind_address[TW_ADDRESS_HOST_MAX];   /* tcp, tcp6; "" for none */
    char path[TW_ADDRESS_PATH_MAX];           /* unix */
    double timeout;                           /* seconds; 0 when not given (the default) */
} tw_client_description;

/* Largest timeout a description may ask for, in seconds. */
#define TW_ENDPOINT_TIMEOUT_MAX 86400.0

/* Twisted's clientFromString, without the connecting: parses description into out. 0, or TW_EPARSE
 * with one line naming the problem in errbuf, as tw_server_from_string; -EINVAL for NULL
 * arguments. tw_client_endpoint_from_description (endpoints.h) makes the endpoint. */
TW_API int tw_client_from_string(const char *description, tw_client_description *out, char *errbuf,
                                 size_t errsize);

/* "tcp", "tcp6", "unix", "stdio", or "?" for a value that is none of those. */
TW_API const char *tw_endpoint_type_name(tw_endpoint_type type);

#ifdef __cplusplus
}
#endif
#endif
