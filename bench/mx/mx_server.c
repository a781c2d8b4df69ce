/* The benchmark's DNS server: tests/support/dns_server.c on 127.0.0.1, every answer sent
 * MX_DELAY_MS (5) milliseconds after its query. Prints its address (ADDR:PORT) on stdout, then
 * serves until SIGTERM, and prints the most queries it held at once on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include <twine/twine.h>

#include "dns_server.h"

int main(void)
{
    int err = 0;
    tw_reactor *r = tw_reactor_new(&err);
    tw_test_dns_server s;
    if (!r || tw_test_dns_server_start(&s, r) < 0 || tw_reactor_install_signal_handlers(r) < 0) {
        fprintf(stderr, "mx_server: cannot start\n");
        return 1;
    }
    const char *delay = getenv("MX_DELAY_MS");
    s.delay = (delay ? atof(delay) : 5.0) / 1000.0;
    char text[80];
    printf("%s\n", tw_dns_server_format(&s.addr, text, sizeof text));
    fflush(stdout);
    tw_reactor_run(r);
    fprintf(stderr, "mx_server: %zu queries, at most %zu at once\n", s.udp_queries, s.max_pending);
    tw_test_dns_server_stop(&s);
    tw_reactor_free(r);
    return 0;
}
