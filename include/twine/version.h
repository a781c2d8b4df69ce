/* twine's version, in the manner of libuv's uv-version.h: the release these headers belong to
 * (TW_VERSION_*, fixed when a program is compiled) and the release of the library it runs against
 * (tw_version(), tw_version_string(), which differ from the macros when a program built against one
 * release is linked with the shared library of another). Releases follow semantic versioning:
 * within one MAJOR (after 1.0), a newer MINOR or PATCH keeps the API and ABI. */
#ifndef TWINE_VERSION_H
#define TWINE_VERSION_H

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The Makefile's VERSION is the source of truth: building the library fails if these disagree. */
#define TW_VERSION_MAJOR 0
#define TW_VERSION_MINOR 1
#define TW_VERSION_PATCH 0

/* 0xMMmmpp: one number that compares in release order, as tw_version() returns. */
#define TW_VERSION_HEX ((TW_VERSION_MAJOR << 16) | (TW_VERSION_MINOR << 8) | TW_VERSION_PATCH)

#define TW_VERSION_STRINGIFY_(x) #x
#define TW_VERSION_STRINGIFY(x) TW_VERSION_STRINGIFY_(x)
/* "MAJOR.MINOR.PATCH", as tw_version_string() returns. */
#define TW_VERSION_STRING                                                                          \
    TW_VERSION_STRINGIFY(TW_VERSION_MAJOR)                                                         \
    "." TW_VERSION_STRINGIFY(TW_VERSION_MINOR) "." TW_VERSION_STRINGIFY(TW_VERSION_PATCH)

/* The library's TW_VERSION_HEX. */
TW_API unsigned tw_version(void);
/* The library's TW_VERSION_STRING (static; never NULL). */
TW_API const char *tw_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
