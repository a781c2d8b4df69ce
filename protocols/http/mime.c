/* The Content-Type table: the extensions a static site is made of. A lookup is a linear scan (a
 * few dozen short compares, and the server keeps the answer with each file it caches), so entries
 * need no order. Text types carry no charset, as nginx's: the server cannot know the encoding. */
#include <string.h>

#include "mime.h"

typedef struct {
    const char *ext;
    const char *type;
} mime_entry;

/* Extensions in lower case. */
static const mime_entry table[] = {
    {"7z", "application/x-7z-compressed"},
    {"aac", "audio/aac"},
    {"atom", "application/atom+xml"},
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"bz2", "application/x-bzip2"},
    {"css", "text/css"},
    {"csv", "text/csv"},
    {"doc", "application/msword"},
    {"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
    {"eot", "application/vnd.ms-fontobject"},
    {"epub", "application/epub+zip"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html"},
    {"html", "text/html"},
    {"ico", "image/x-icon"},
    {"ics", "text/calendar"},
    {"jar", "application/java-archive"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"jsonld", "application/ld+json"},
    {"m4a", "audio/mp4"},
    {"md", "text/markdown"},
    {"mjs", "text/javascript"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpeg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"ppt", "application/vnd.ms-powerpoint"},
    {"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
    {"rss", "application/rss+xml"},
    {"rtf", "application/rtf"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"tif", "image/tiff"},
    {"tiff", "image/tiff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xhtml", "application/xhtml+xml"},
    {"xls", "application/vnd.ms-excel"},
    {"xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    {"xml", "application/xml"},
    {"xz", "application/x-xz"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
};

#define EXT_MAX 16 /* longer than any extension in the table */

const char *tw__http_mime_type(const char *name, size_t len)
{
    static const char unknown[] = "application/octet-stream";
    const char *dot = memrchr(name, '.', len);
    size_t n = dot ? len - (size_t)(dot - name) - 1 : 0;
    if (!dot || n == 0 || n >= EXT_MAX || memchr(dot, '/', n + 1))
        return unknown;
    char ext[EXT_MAX];
    for (size_t i = 0; i < n; i++)
        ext[i] = (char)((dot[i + 1] >= 'A' && dot[i + 1] <= 'Z') ? dot[i + 1] + 32 : dot[i + 1]);
    ext[n] = '\0';
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].ext[0] == ext[0] && strcmp(table[i].ext, ext) == 0)
            return table[i].type;
    return unknown;
}
