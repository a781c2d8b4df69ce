/* The release of the library a program runs against. The build passes the Makefile's VERSION in
 * three parts, so a header that disagrees with it stops the build here instead of shipping. */
#include <twine/version.h>

#if defined(TW_BUILD_VERSION_MAJOR) &&                                                             \
    (TW_BUILD_VERSION_MAJOR != TW_VERSION_MAJOR || TW_BUILD_VERSION_MINOR != TW_VERSION_MINOR ||   \
     TW_BUILD_VERSION_PATCH != TW_VERSION_PATCH)
#error "include/twine/version.h disagrees with the Makefile's VERSION: update one or the other"
#endif

unsigned tw_version(void)
{
    return TW_VERSION_HEX;
}

const char *tw_version_string(void)
{
    return TW_VERSION_STRING;
}
