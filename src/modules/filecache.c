/* filecache.c: a child's cache of small static files (see filecache.h).
 *
 * Runs in any thread of a child: the listener thread looks entries up,
 * handler threads look up and insert.  One rwlock guards the hash table
 * (chained, power-of-two buckets, FNV-1a of the key), the eviction list
 * (oldest insert first) and the byte and entry counts.  A lookup is a
 * hash, a short chain walk under the shared lock and one atomic increment
 * of the entry's reference count; it calls stat(2) only when the entry is
 * due for a freshness re-check, and does that outside the lock.
 *
 * Lifetime: the table holds one reference to each entry it contains and
 * every filecache_get adds one.  Removing an entry (eviction, a failed
 * re-check) unlinks it under the exclusive lock, marks it removed and drops
 * the table's reference after unlocking; whoever drops the last reference
 * frees it, so an entry stays readable while a user holds it.  Entry
 * memory (struct, key, file path, content) is one allocation. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpmd/modules/filecache.h"

/* Bucket array bounds at creation: about one bucket per MIN_AVG_FILE bytes
 * of capacity; the table doubles when it holds more entries than buckets. */
#define MIN_BUCKETS 16
#define MAX_INITIAL_BUCKETS 4096
#define MIN_AVG_FILE 8192

struct filecache {
    pthread_rwlock_t lock;
    struct filecache_entry **buckets;    /* guarded by lock: NBUCKETS chains */
    size_t nbuckets;                     /* guarded by lock: a power of two */
    size_t count;                        /* guarded by lock: entries in the table */
    size_t bytes;                        /* guarded by lock: their content bytes */
    struct filecache_entry *oldest;      /* guarded by lock: eviction list ends */
    struct filecache_entry *newest;
    /* Immutable after filecache_new. */
    size_t max_bytes;
    size_t max_file;
    long valid_seconds;
};

/* 32-bit FNV-1a of KEY. */
static uint32_t hash_key(const char *key, size_t keylen)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < keylen; i++) {
        h ^= (unsigned char)key[i];
        h *= 16777619u;
    }
    return h;
}

/* The bucket count for a cache of MAX_BYTES: a power of two. */
static size_t initial_buckets(size_t max_bytes)
{
    size_t want = max_bytes / MIN_AVG_FILE;
    size_t n = MIN_BUCKETS;
    while (n < want && n < MAX_INITIAL_BUCKETS)
        n *= 2;
    return n;
}

/* A reader-or-writer lock that does not let a stream of lookups starve
 * inserts (glibc prefers readers by default). */
static int init_lock(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0)
        return -1;
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    int rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

struct filecache *filecache_new(size_t max_bytes, size_t max_file, int valid_seconds)
{
    struct filecache *fc = calloc(1, sizeof *fc);
    if (fc == NULL)
        return NULL;
    fc->nbuckets = initial_buckets(max_bytes);
    fc->buckets = calloc(fc->nbuckets, sizeof *fc->buckets);
    if (fc->buckets == NULL)
        goto fail;
    if (init_lock(&fc->lock) == -1)
        goto fail;
    fc->max_bytes = max_bytes;
    fc->max_file = max_file;
    fc->valid_seconds = valid_seconds > 0 ? valid_seconds : 0;
    return fc;
fail:
    free(fc->buckets);
    free(fc);
    return NULL;
}

/* Bytes of E's content and coded variants. */
static size_t entry_bytes(struct filecache_entry *e)
{
    size_t n = (size_t)e->size;
    for (int i = 0; i < FILECACHE_VARIANTS; i++) {
        struct filecache_variant *v = filecache_variant(e, i);
        n += v ? v->len : 0;
    }
    return n;
}

static void entry_free(struct filecache_entry *e)
{
    for (int i = 0; i < FILECACHE_VARIANTS; i++)
        free(filecache_variant(e, i));
    free(e);
}

void filecache_free(struct filecache *fc)
{
    if (fc == NULL)
        return;
    struct filecache_entry *e = fc->oldest;
    while (e != NULL) {
        struct filecache_entry *newer = e->newer;
        entry_free(e);
        e = newer;
    }
    pthread_rwlock_destroy(&fc->lock);
    free(fc->buckets);
    free(fc);
}

/* The entry for KEY in the table, or NULL.  Caller holds the lock. */
static struct filecache_entry *find(const struct filecache *fc, const char *key, size_t keylen,
                                    uint32_t hash)
{
    struct filecache_entry *e = fc->buckets[hash & (fc->nbuckets - 1)];
    for (; e != NULL; e = e->next) {
        if (e->hash == hash && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            return e;
    }
    return NULL;
}

/* Take E out of the hash table and the eviction list and mark it removed;
 * the caller then owes the table's reference (drop it after unlocking).
 * Caller holds the lock exclusively; E is in the table. */
static void unlink_entry(struct filecache *fc, struct filecache_entry *e)
{
    struct filecache_entry **pp = &fc->buckets[e->hash & (fc->nbuckets - 1)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        fc->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        fc->newest = e->older;
    e->next = e->older = e->newer = NULL;
    e->removed = 1;
    fc->count--;
    fc->bytes -= entry_bytes(e);
}

/* Remove E from the table unless something already has, dropping the
 * table's reference.  Safe to call for the same entry from several
 * threads at once. */
static void remove_entry(struct filecache *fc, struct filecache_entry *e)
{
    int owe = 0;
    pthread_rwlock_wrlock(&fc->lock);
    if (!e->removed) {
        unlink_entry(fc, e);
        owe = 1;
    }
    pthread_rwlock_unlock(&fc->lock);
    if (owe)
        filecache_release(fc, e);
}

/* The modification time of the directory holding FILE into *MT.
 * Returns 0, or -1 when it cannot be read. */
static int dir_mtime(const char *file, struct timespec *mt)
{
    char dir[4096];
    const char *slash = strrchr(file, '/');
    size_t len = slash ? (size_t)(slash - file) : 0;
    if (len == 0 || len >= sizeof dir)
        return -1;
    memcpy(dir, file, len);
    dir[len] = '\0';
    struct stat st;
    if (stat(dir, &st) == -1)
        return -1;
    *mt = st.st_mtim;
    return 0;
}

static int is_index_key(const struct filecache_entry *e)
{
    return e->keylen > 0 && e->key[e->keylen - 1] == '/';
}

/* Whether the file behind E is still the one cached: same device, inode,
 * size and modification time (and, for a DirectoryIndex answer, the same
 * directory modification time). */
static int still_fresh(const struct filecache_entry *e)
{
    struct stat st;
    struct timespec dmt;
    if (stat(e->file, &st) == -1)
        return 0;
    if (!(S_ISREG(st.st_mode) && st.st_dev == e->dev && st.st_ino == e->ino &&
          st.st_size == e->size && st.st_mtim.tv_sec == e->mtime &&
          st.st_mtim.tv_nsec == e->mtime_nsec))
        return 0;
    if (!is_index_key(e))
        return 1;
    return dir_mtime(e->file, &dmt) == 0 && dmt.tv_sec == e->dir_mtime.tv_sec &&
           dmt.tv_nsec == e->dir_mtime.tv_nsec;
}

struct filecache_entry *filecache_get(struct filecache *fc, const char *key, size_t keylen,
                                      long now)
{
    if (fc->max_bytes == 0)
        return NULL;
    uint32_t hash = hash_key(key, keylen);
    pthread_rwlock_rdlock(&fc->lock);
    struct filecache_entry *e = find(fc, key, keylen, hash);
    if (e != NULL)
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    pthread_rwlock_unlock(&fc->lock);
    if (e == NULL)
        return NULL;
    if (fc->valid_seconds > 0
        && now - atomic_load_explicit(&e->checked, memory_order_relaxed) < fc->valid_seconds)
        return e;
    if (!still_fresh(e)) {
        remove_entry(fc, e);
        filecache_release(fc, e);
        return NULL;
    }
    atomic_store_explicit(&e->checked, now, memory_order_relaxed);
    return e;
}

void filecache_release(struct filecache *fc, struct filecache_entry *e)
{
    (void)fc;
    if (e == NULL)
        return;
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        entry_free(e);
}

/* Read exactly LEN bytes at offset 0 of FD into BUF.  Returns 0, or -1
 * when the file is shorter now or cannot be read. */
static int read_fully(int fd, char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* A new unlinked entry for KEY holding the content of FD, with one
 * reference (the table's).  Sets *OOM and returns NULL when out of memory;
 * returns NULL without setting it when the content cannot be read. */
static struct filecache_entry *make_entry(const char *key, size_t keylen, uint32_t hash,
                                          const char *file, int fd, const struct stat *st,
                                          const char *type, int *oom)
{
    size_t filelen = strlen(file);
    size_t size = (size_t)st->st_size;
    /* One block: struct, key + NUL, file + NUL, content (+1 so SIZE 0 is fine). */
    struct filecache_entry *e = malloc(sizeof *e + keylen + 1 + filelen + 1 + size + 1);
    if (e == NULL) {
        *oom = 1;
        return NULL;
    }
    e->key = (char *)(e + 1);
    memcpy(e->key, key, keylen);
    e->key[keylen] = '\0';
    e->file = e->key + keylen + 1;
    memcpy(e->file, file, filelen + 1);
    e->data = e->file + filelen + 1;
    if (read_fully(fd, e->data, size) == -1) {
        free(e);
        return NULL;
    }
    e->data[size] = '\0';
    e->keylen = keylen;
    e->hash = hash;
    e->size = st->st_size;
    e->mtime = st->st_mtime;
    e->mtime_nsec = st->st_mtim.tv_nsec;
    e->dir_mtime = (struct timespec){ 0, 0 };
    if (is_index_key(e) && dir_mtime(file, &e->dir_mtime) == -1) {
        free(e);
        return NULL;
    }
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    e->type = type;
    e->codings = 0;
    for (int i = 0; i < FILECACHE_VARIANTS; i++)
        atomic_init(&e->variant[i], NULL);
    atomic_init(&e->refs, 1);
    e->removed = 0;
    e->next = e->older = e->newer = NULL;
    return e;
}

/* Double the bucket array when the table holds more entries than
 * buckets.  Caller holds the lock exclusively.  Out of memory only makes
 * chains longer, so it is not an error. */
static void maybe_grow(struct filecache *fc)
{
    if (fc->count <= fc->nbuckets || fc->nbuckets > SIZE_MAX / 2 / sizeof *fc->buckets)
        return;
    size_t n = fc->nbuckets * 2;
    struct filecache_entry **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    for (size_t i = 0; i < fc->nbuckets; i++) {
        struct filecache_entry *e = fc->buckets[i];
        while (e != NULL) {
            struct filecache_entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(fc->buckets);
    fc->buckets = b;
    fc->nbuckets = n;
}

/* Unlink the oldest entries until NEED more bytes fit; returns them
 * chained through ->next (the caller drops their table references after
 * unlocking).  Caller holds the lock exclusively; NEED <= max_bytes. */
static struct filecache_entry *evict_for(struct filecache *fc, size_t need)
{
    struct filecache_entry *dead = NULL;
    while (fc->bytes + need > fc->max_bytes && fc->oldest != NULL) {
        struct filecache_entry *e = fc->oldest;
        unlink_entry(fc, e);
        e->next = dead;
        dead = e;
    }
    return dead;
}

/* Put E (not in the table, KEY absent) at the newest end.  Caller holds
 * the lock exclusively and has made room. */
static void link_entry(struct filecache *fc, struct filecache_entry *e)
{
    struct filecache_entry **head = &fc->buckets[e->hash & (fc->nbuckets - 1)];
    e->next = *head;
    *head = e;
    e->older = fc->newest;
    e->newer = NULL;
    if (fc->newest != NULL)
        fc->newest->newer = e;
    else
        fc->oldest = e;
    fc->newest = e;
    fc->count++;
    fc->bytes += (size_t)e->size;
    maybe_grow(fc);
}

int filecache_put(struct filecache *fc, const char *key, size_t keylen, const char *file, int fd,
                  const struct stat *st, const char *type, long now)
{
    return filecache_put_validated(fc, key, keylen, file, fd, st, type, NULL, NULL, now);
}

/* DST (CAP bytes) := SRC, or "" when SRC is NULL or does not fit. */
static void copy_validator(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

int filecache_put_validated(struct filecache *fc, const char *key, size_t keylen,
                            const char *file, int fd, const struct stat *st, const char *type,
                            const char *last_modified, const char *etag, long now)
{
    return filecache_put_coded(fc, key, keylen, file, fd, st, type, last_modified, etag, 0, now);
}

int filecache_put_coded(struct filecache *fc, const char *key, size_t keylen, const char *file,
                        int fd, const struct stat *st, const char *type,
                        const char *last_modified, const char *etag, unsigned codings, long now)
{
    if (fc->max_bytes == 0 || !S_ISREG(st->st_mode) || st->st_size < 0 || (uintmax_t)st->st_size > fc->max_file
        || (uintmax_t)st->st_size > fc->max_bytes)
        return 0;
    int oom = 0;
    uint32_t hash = hash_key(key, keylen);
    struct filecache_entry *e = make_entry(key, keylen, hash, file, fd, st, type, &oom);
    if (e == NULL)
        return oom ? -1 : 0;
    copy_validator(e->last_modified, sizeof e->last_modified, last_modified);
    copy_validator(e->etag, sizeof e->etag, etag);
    e->codings = codings;
    atomic_init(&e->checked, now);

    pthread_rwlock_wrlock(&fc->lock);
    if (find(fc, key, keylen, hash) != NULL) {
        pthread_rwlock_unlock(&fc->lock);
        free(e);
        return 0;
    }
    struct filecache_entry *dead = evict_for(fc, (size_t)e->size);
    link_entry(fc, e);
    pthread_rwlock_unlock(&fc->lock);

    while (dead != NULL) {
        struct filecache_entry *next = dead->next;
        filecache_release(fc, dead);
        dead = next;
    }
    return 1;
}

struct filecache_variant *filecache_attach_variant(struct filecache *fc,
                                                   struct filecache_entry *e, int slot,
                                                   struct filecache_variant *v)
{
    struct filecache_variant *had = NULL;
    pthread_rwlock_wrlock(&fc->lock);
    if (!atomic_compare_exchange_strong_explicit(&e->variant[slot], &had, v,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        pthread_rwlock_unlock(&fc->lock);
        free(v);
        return had;
    }
    struct filecache_entry *dead = NULL;
    if (!e->removed) {
        fc->bytes += v->len;
        /* Room for the variant: older entries go (never E itself: it is the newest
         * that matters now, but it may be the oldest, so it is skipped). */
        while (fc->bytes > fc->max_bytes && fc->oldest != NULL && fc->oldest != e) {
            struct filecache_entry *old = fc->oldest;
            unlink_entry(fc, old);
            old->next = dead;
            dead = old;
        }
    }
    pthread_rwlock_unlock(&fc->lock);
    while (dead != NULL) {
        struct filecache_entry *next = dead->next;
        filecache_release(fc, dead);
        dead = next;
    }
    return v;
}

size_t filecache_bytes(struct filecache *fc)
{
    pthread_rwlock_rdlock(&fc->lock);
    size_t n = fc->bytes;
    pthread_rwlock_unlock(&fc->lock);
    return n;
}

size_t filecache_count(struct filecache *fc)
{
    pthread_rwlock_rdlock(&fc->lock);
    size_t n = fc->count;
    pthread_rwlock_unlock(&fc->lock);
    return n;
}
