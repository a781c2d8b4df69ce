/* The file cache of cache.h: a chained hash table with a recency list. An entry is one allocation
 * (struct, key, path and body), and its reference count lets a response keep a body that the cache
 * dropped meanwhile until the transport has taken it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"

void tw__http_cache_init(tw__http_cache *c, size_t file_max, size_t total_max)
{
    memset(c, 0, sizeof *c);
    c->file_max = file_max < total_max ? file_max : total_max;
    c->total_max = total_max;
}

/* FNV-1a: keys are short paths. */
static uint64_t key_hash(const char *key, size_t len)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 1099511628211u;
    return h;
}

void tw__http_entry_ref(tw__http_entry *e)
{
    e->refs++;
}

void tw__http_entry_unref(tw__http_entry *e)
{
    if (--e->refs == 0)
        free(e);
}

static void unlink_recency(tw__http_cache *c, tw__http_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    e->older = e->newer = NULL;
}

static void push_newest(tw__http_cache *c, tw__http_entry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    else
        c->oldest = e;
    c->newest = e;
}

static void drop(tw__http_cache *c, tw__http_entry *e)
{
    tw__http_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    unlink_recency(c, e);
    c->count--;
    c->total -= e->file.size;
    e->dead = true;
    tw__http_entry_unref(e);
}

void tw__http_cache_free(tw__http_cache *c)
{
    while (c->oldest)
        drop(c, c->oldest);
    free(c->buckets);
    memset(c, 0, sizeof *c);
}

static tw__http_entry *find(const tw__http_cache *c, const char *key, size_t len, uint64_t h)
{
    if (!c->nbuckets)
        return NULL;
    for (tw__http_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    return NULL;
}

static bool same_file(const tw__http_entry *e, const struct stat *st)
{
    return st->st_dev == e->dev && st->st_ino == e->ino && S_ISREG(st->st_mode) &&
           (uint64_t)st->st_size == e->file.size && st->st_mtim.tv_sec == e->mtim.tv_sec &&
           st->st_mtim.tv_nsec == e->mtim.tv_nsec;
}

tw__http_entry *tw__http_cache_get(tw__http_cache *c, int root_fd, const char *key, size_t key_len,
                                   double now)
{
    tw__http_entry *e = find(c, key, key_len, key_hash(key, key_len));
    if (!e)
        return NULL;
    if (now - e->checked >= 1.0 || now < e->checked) {
        struct stat st;
        if (fstatat(root_fd, e->path, &st, 0) < 0 || !same_file(e, &st)) {
            drop(c, e);
            return NULL;
        }
        e->checked = now;
    }
    unlink_recency(c, e);
    push_newest(c, e);
    return e;
}

/* Doubles the table when it holds as many entries as buckets. */
static bool grow(tw__http_cache *c)
{
    if (c->count < c->nbuckets)
        return true;
    size_t n = c->nbuckets ? c->nbuckets * 2 : 64;
    tw__http_entry **b = calloc(n, sizeof *b);
    if (!b)
        return false;
    for (size_t i = 0; i < c->nbuckets; i++) {
        for (tw__http_entry *e = c->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
    return true;
}

/* Reads exactly size bytes from offset 0; false when the file is shorter or unreadable. */
static bool read_all(int fd, char *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, buf + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static tw__http_entry *entry_new(const char *key, size_t key_len, const char *path, int fd,
                                 const struct stat *st, const tw__http_file *file, double now)
{
    size_t path_len = strlen(path), size = (size_t)st->st_size;
    tw__http_entry *e = malloc(sizeof *e + key_len + 1 + path_len + 1 + size);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->key = (char *)(e + 1);
    e->path = e->key + key_len + 1;
    e->body = e->path + path_len + 1;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    e->key_len = key_len;
    memcpy(e->path, path, path_len + 1);
    if (!read_all(fd, e->body, size)) {
        free(e);
        return NULL;
    }
    e->refs = 1;
    e->hash = key_hash(key, key_len);
    e->checked = now;
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->mtim = st->st_mtim;
    e->file = *file;
    return e;
}

tw__http_entry *tw__http_cache_put(tw__http_cache *c, const char *key, size_t key_len,
                                   const char *path, int fd, const struct stat *st,
                                   const tw__http_file *file, double now)
{
    if (st->st_size < 0 || (uint64_t)st->st_size > c->file_max || !grow(c))
        return NULL;
    tw__http_entry *old = find(c, key, key_len, key_hash(key, key_len));
    if (old)
        drop(c, old);
    tw__http_entry *e = entry_new(key, key_len, path, fd, st, file, now);
    if (!e)
        return NULL;
    while (c->oldest && c->total + e->file.size > c->total_max)
        drop(c, c->oldest);
    tw__http_entry **b = &c->buckets[e->hash & (c->nbuckets - 1)];
    e->hnext = *b;
    *b = e;
    push_newest(c, e);
    c->count++;
    c->total += e->file.size;
    return e;
}
