/* Private to protocols/http: small files kept in memory, keyed by the request path as normalised,
 * checked against the disk at most once a second and evicted least recently used first, so a
 * server answers its hot files without opening them. */
#ifndef TWINE_PROTOCOLS_HTTP_CACHE_H
#define TWINE_PROTOCOLS_HTTP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "conditional.h"
#include "date.h"

/* A file as the server answers it: validators already formatted, and its body when cached. */
typedef struct tw__http_file {
    const char *type;
    uint64_t size;
    int64_t mtime;
    char last_modified[TW__HTTP_DATE_LEN + 1];
    char etag[TW__HTTP_ETAG_MAX + 1];
    size_t etag_len;
} tw__http_file;

typedef struct tw__http_entry tw__http_entry;
struct tw__http_entry {
    tw__http_entry *hnext;        /* hash chain */
    tw__http_entry *older, *newer; /* recency list */
    unsigned refs;                /* the cache's own, and each response that still uses body */
    bool dead;                    /* removed from the cache, freed at its last reference */
    uint64_t hash;
    double checked;               /* reactor time of the last stat */
    dev_t dev;
    ino_t ino;
    struct timespec mtim;
    tw__http_file file;
    char *key;                    /* normalised path ("dir/" for a directory's index) */
    size_t key_len;
    char *path;                   /* the file's path relative to DIR, for the stat */
    char *body;                   /* file.size bytes */
};

typedef struct tw__http_cache {
    tw__http_entry **buckets;
    size_t nbuckets, count;
    size_t file_max, total_max, total;
    tw__http_entry *oldest, *newest;
} tw__http_cache;

void tw__http_cache_init(tw__http_cache *c, size_t file_max, size_t total_max);
/* Drops every entry (those still referenced live on until their last unref). */
void tw__http_cache_free(tw__http_cache *c);

/* The entry for key, revalidated with a stat beneath root_fd when it was last checked a second or
 * more before now; NULL when absent or when the file changed (the entry is then dropped). */
tw__http_entry *tw__http_cache_get(tw__http_cache *c, int root_fd, const char *key, size_t key_len,
                                   double now);
/* Reads the file open on fd (st: its fstat; path: relative to DIR) into a new entry under key,
 * evicting older ones to stay within the total. NULL (nothing cached, fd untouched but its offset)
 * when the file is too large, changes while read, or memory is short. */
tw__http_entry *tw__http_cache_put(tw__http_cache *c, const char *key, size_t key_len,
                                   const char *path, int fd, const struct stat *st,
                                   const tw__http_file *file, double now);

void tw__http_entry_ref(tw__http_entry *e);
void tw__http_entry_unref(tw__http_entry *e);

#endif
