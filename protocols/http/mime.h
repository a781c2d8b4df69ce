/* Private to protocols/http: the Content-Type of a file, by its extension. */
#ifndef TWINE_PROTOCOLS_HTTP_MIME_H
#define TWINE_PROTOCOLS_HTTP_MIME_H

#include <stddef.h>

/* The media type for a file name (the text after its last '.', compared without regard to ASCII
 * case); "application/octet-stream" when unknown or absent. Never NULL. */
const char *tw__http_mime_type(const char *name, size_t len);

#endif
