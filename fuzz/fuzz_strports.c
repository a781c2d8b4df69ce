/* libFuzzer target for endpoint strings: tokenizes arbitrary input and parses it as a server and as
 * a client description, and checks what must always hold (bounded, one-line messages; sane parsed
 * values; quoted values survive a round trip through the tokenizer). `make fuzz` builds and runs
 * it; by hand, from the top of the tree after `make`:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Iinclude -I. \
 *     fuzz/fuzz_strports.c endpoints/strports*.c build/epoll/libtwine.a -lpthread -lresolv -lm \
 *     -o build/fuzz_strports && build/fuzz_strports -max_total_time=60 -max_len=2048 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <twine/strports.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_message(const char *why)
{
    size_t len = strlen(why);
    CHECK(len > 0 && len < TW_ENDPOINT_ERROR_MAX);
    CHECK(!strchr(why, '\n'));
}

/* Every value, quoted and put back into a description, comes out of the tokenizer unchanged. */
static void check_quote_round_trip(const char *value)
{
    static char quoted[2 * TW_ENDPOINT_STRING_MAX + 1], description[2 * TW_ENDPOINT_STRING_MAX + 8];
    int n = tw_endpoint_quote(value, quoted, sizeof quoted);
    CHECK(n >= 0 && (size_t)n < sizeof quoted && strlen(quoted) == (size_t)n);
    strcpy(description, "t:k=");
    strcat(description, quoted);
    static tw_endpoint_args args;
    if (strlen(description) > TW_ENDPOINT_STRING_MAX)
        return;
    CHECK(tw_endpoint_tokenize(description, &args, NULL, 0) == 0);
    CHECK(args.count == 2 && strcmp(args.params[1].key, "k") == 0);
    CHECK(strcmp(args.params[1].value, value) == 0);
}

static void check_tokenizer(const char *text)
{
    static tw_endpoint_args args;
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    if (tw_endpoint_tokenize(text, &args, why, sizeof why) != 0) {
        check_message(why);
        return;
    }
    CHECK(args.count >= 1 && args.count <= TW_ENDPOINT_PARAMS_MAX);
    for (size_t i = 0; i < args.count; i++) {
        CHECK(args.params[i].value != NULL);
        check_quote_round_trip(args.params[i].value);
    }
}

static void check_server(const char *text)
{
    tw_server_description d;
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    if (tw_server_from_string(text, &d, why, sizeof why) != 0) {
        check_message(why);
        return;
    }
    switch (d.type) {
    case TW_ENDPOINT_TCP:
    case TW_ENDPOINT_TCP6:
        CHECK(strlen(d.interface) < sizeof d.interface);
        CHECK(d.backlog >= 0 && d.backlog <= TW_ENDPOINT_BACKLOG_MAX); /* 0: the kernel's somaxconn */
        break;
    case TW_ENDPOINT_UNIX:
        CHECK(d.path[0] && strlen(d.path) < sizeof d.path);
        CHECK(d.mode <= 0777);
        CHECK(d.backlog >= 0 && d.backlog <= TW_ENDPOINT_BACKLOG_MAX); /* 0: the kernel's somaxconn */
        break;
    case TW_ENDPOINT_STDIO:
        break;
    default:
        abort();
    }
}

/* A printable host without spaces or brackets, of at most TW_HOSTNAME_MAX bytes. */
static void check_host(const char *host)
{
    size_t n = strlen(host);
    CHECK(n > 0 && n <= TW_HOSTNAME_MAX);
    for (const char *c = host; *c; c++)
        CHECK(*c > ' ' && *c < 0x7f && *c != '[' && *c != ']');
}

static void check_client(const char *text)
{
    tw_client_description d;
    char why[TW_ENDPOINT_ERROR_MAX] = "";
    if (tw_client_from_string(text, &d, why, sizeof why) != 0) {
        check_message(why);
        return;
    }
    CHECK(d.timeout == 0 || (d.timeout > 0 && d.timeout <= TW_ENDPOINT_TIMEOUT_MAX));
    switch (d.type) {
    case TW_ENDPOINT_TCP:
    case TW_ENDPOINT_TCP6:
        check_host(d.host);
        CHECK(d.port >= 1);
        CHECK(strlen(d.bind_address) < sizeof d.bind_address);
        break;
    case TW_ENDPOINT_UNIX:
        CHECK(d.path[0] && strlen(d.path) < sizeof d.path);
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_tokenizer(text);
    check_server(text);
    check_client(text);
    free(text);
    return 0;
}
