/* Private to protocols/http: HTTP-date (RFC 9110 5.6.7), for Date, Last-Modified and the
 * conditional headers. Times are seconds since the Unix epoch, 64-bit, so 2038 is no boundary. */
#ifndef TWINE_PROTOCOLS_HTTP_DATE_H
#define TWINE_PROTOCOLS_HTTP_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", is always this long. */
#define TW__HTTP_DATE_LEN 29

/* Writes t as an IMF-fixdate and a NUL into out (TW__HTTP_DATE_LEN + 1 bytes). Times before year
 * 0 or after 9999 are clamped to those years' bounds. */
void tw__http_date_format(int64_t t, char *out);

/* Parses the three forms a recipient must accept: IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94
 * 08:49:37 GMT"; a two-digit year below 70 is 20xx, else 19xx) and asctime ("Sun Nov  6 08:49:37
 * 1994"). The day name must be a real one but is not checked against the date. false when s is
 * none of them. */
bool tw__http_date_parse(const char *s, size_t len, int64_t *t);

#endif
