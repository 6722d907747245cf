/* filecache.h: a child's cache of small static files (content, validators
 * and type), shared by its listener and handler threads.
 *
 * What it is for: a cache hit lets the listener thread answer a request
 * for a small file with one writev, without open/fstat/close and without
 * handing the connection to a handler thread (a cross-thread hand-over is
 * the most expensive thing on the request path).  Misses go to a handler,
 * which serves the file and inserts it.
 *
 * Freshness: an entry is re-checked with stat(2) at most once every
 * VALID_SECONDS (like nginx's open_file_cache_valid); a changed file
 * (mtime to the nanosecond, size, inode or device) is dropped and the
 * lookup misses.  A key ending in '/' names a DirectoryIndex answer: its
 * directory's mtime is checked too, so a file added to the directory (a
 * higher-priority index, say) makes the entry miss.
 *
 * Concurrency: one rwlock; lookups take it shared, inserts and removals
 * exclusive.  Entries are immutable after insertion except the atomic
 * reference count and last-check time; an entry removed while referenced
 * is freed by its last filecache_release. */
#ifndef MPMD_FILECACHE_H
#define MPMD_FILECACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#define FILECACHE_VARIANTS 2     /* gzip and Brotli (compress.h) */

/* A coded form of an entry's content, made once by a handler thread and
 * kept with the entry, so that a compressed answer costs what an identity
 * one does (compress.h). */
struct filecache_variant {
    size_t len;
    int useless;                 /* coding made it no smaller: send the identity */
    char etag[64];               /* the variant's ETag ("" for none) */
    char data[];
};

struct filecache_entry {
    /* Immutable after insertion. */
    char *key;                   /* normalised request path, e.g. "/" or "/a.txt" */
    size_t keylen;
    uint32_t hash;
    char *file;                  /* absolute path of the file served (re-stat target) */
    off_t size;
    time_t mtime;
    long mtime_nsec;
    struct timespec dir_mtime;   /* for DirectoryIndex keys ('/' last); else zero */
    dev_t dev;
    ino_t ino;
    const char *type;            /* Content-Type (lives as long as the mime table) */
    char last_modified[32];      /* the caller's validators, formatted once ("" if none) */
    char etag[64];               /* FileETag All: up to 53 bytes (fileetag.h) */
    char *data;                  /* SIZE bytes of content */
    unsigned codings;            /* the codings it may be sent in (compress.h) */
    /* Mutable. */
    _Atomic(struct filecache_variant *) variant[FILECACHE_VARIANTS]; /* set once each */
    _Atomic int refs;            /* the cache's own reference + one per user */
    _Atomic long checked;        /* monotonic second of the last stat */
    int removed;                 /* guarded by the cache lock: no longer in the table */
    struct filecache_entry *next;    /* guarded by the cache lock: hash chain */
    struct filecache_entry *older;   /* guarded by the cache lock: eviction order */
    struct filecache_entry *newer;
};

struct filecache;

/* A cache holding at most MAX_BYTES of content, files of at most
 * MAX_FILE bytes, re-checked every VALID_SECONDS (>= 0; 0: every lookup).
 * Returns NULL when out of memory.  MAX_BYTES 0 gives a cache that never
 * stores anything (lookups miss, inserts do nothing). */
struct filecache *filecache_new(size_t max_bytes, size_t max_file, int valid_seconds);

/* Free the cache and every entry.  No other thread may use it; entries
 * still referenced must have been released. */
void filecache_free(struct filecache *fc);

/* The fresh entry for KEY, referenced (release it with
 * filecache_release), or NULL.  NOW is the caller's monotonic second.
 * May call stat(2).  Any thread. */
struct filecache_entry *filecache_get(struct filecache *fc, const char *key, size_t keylen,
                                      long now);

/* Drop a reference taken by filecache_get.  Any thread. */
void filecache_release(struct filecache *fc, struct filecache_entry *e);

/* Cache the regular file open on FD (ST from fstat of FD, FILE its
 * absolute path) under KEY with Content-Type TYPE, reading its content
 * with pread.  Does nothing (returns 0) when the file is larger than
 * MAX_FILE, the key is present already, or the content cannot be read
 * completely; evicts the oldest entries (by insertion) to stay within
 * MAX_BYTES -- an evicted entry still referenced stays readable until its
 * last filecache_release.  Returns 1 when inserted, 0 when not, -1 when out of memory.
 * NOW as for filecache_get.  Any thread. */
int filecache_put(struct filecache *fc, const char *key, size_t keylen, const char *file, int fd,
                  const struct stat *st, const char *type, long now);

/* The same, keeping LAST_MODIFIED and ETAG (the HTTP validators as the
 * caller formats them, or NULL) in the entry, so that a hit does not
 * format them again. */
int filecache_put_validated(struct filecache *fc, const char *key, size_t keylen,
                            const char *file, int fd, const struct stat *st, const char *type,
                            const char *last_modified, const char *etag, long now);

/* The same, saying in CODINGS (compress.h's set) which coded variants
 * of the content may be made and kept with it. */
int filecache_put_coded(struct filecache *fc, const char *key, size_t keylen, const char *file,
                        int fd, const struct stat *st, const char *type,
                        const char *last_modified, const char *etag, unsigned codings, long now);

/* E's variant in SLOT, or NULL when none was made yet.  Any thread. */
static inline struct filecache_variant *filecache_variant(struct filecache_entry *e, int slot)
{
    return atomic_load_explicit(&e->variant[slot], memory_order_acquire);
}

/* Keep V (malloc'd; the cache owns it from now on) as E's variant in
 * SLOT, counted in the cache's bytes.  Returns V, or the variant another
 * thread attached first (V is freed then).  Any thread. */
struct filecache_variant *filecache_attach_variant(struct filecache *fc,
                                                   struct filecache_entry *e, int slot,
                                                   struct filecache_variant *v);

/* Bytes of content held and entries in the table (for tests and status). */
size_t filecache_bytes(struct filecache *fc);
size_t filecache_count(struct filecache *fc);

#endif
