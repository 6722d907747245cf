/* check_filecache.c: unit tests for the small-file cache (src/modules/filecache.c):
 * insert and lookup, size limits, eviction order and byte accounting,
 * reference counting (entries outlive their removal while referenced),
 * freshness re-checks with stat(2), and multi-threaded stress runs.
 * Runs in the single Check runner (check_main.c).
 *
 * Each TCase gets a fresh directory under $TMPDIR or /tmp (an unchecked
 * fixture, so it is removed even when a test fails); tests use distinct
 * file names in it.  Threaded tests join their threads before asserting. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/modules/filecache.h"

/* The test-only sandbox; set up and removed by the fixture (parent process). */
static char sandbox[256];

static const char text_plain[] = "text/plain";
static const char text_html[] = "text/html";

static void sandbox_setup(void)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(sandbox, sizeof sandbox, "%s/mpmd-check-filecache-XXXXXX", tmp);
    ck_assert_msg(mkdtemp(sandbox) != NULL, "mkdtemp %s: %s", sandbox, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == -1 ? -1 : 0;
}

static void sandbox_teardown(void)
{
    if (sandbox[0] != '\0')
        nftw(sandbox, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The absolute path of NAME in the sandbox, in BUF. */
static char *sandbox_path(char *buf, size_t len, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", sandbox, name);
    ck_assert_msg(n > 0 && (size_t)n < len, "path too long: %s", name);
    return buf;
}

/* Set the modification (and access) time of PATH to MTIME. */
static void set_mtime(const char *path, time_t mtime)
{
    struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
    ck_assert_msg(utimensat(AT_FDCWD, path, ts, 0) == 0, "utimensat %s: %s", path,
                  strerror(errno));
}

/* Create or replace NAME in the sandbox with LEN bytes of CONTENT and
 * modification time MTIME. */
static void write_file(const char *name, const void *content, size_t len, time_t mtime)
{
    char path[512];
    sandbox_path(path, sizeof path, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
    ck_assert_msg(len == 0 || write(fd, content, len) == (ssize_t)len, "write %s: %s", path,
                  strerror(errno));
    ck_assert_int_eq(close(fd), 0);
    set_mtime(path, mtime);
}

/* write_file with a NUL-terminated string. */
static void write_str(const char *name, const char *content, time_t mtime)
{
    write_file(name, content, strlen(content), mtime);
}

/* A file of LEN bytes of FILL. */
static void write_filled(const char *name, size_t len, char fill, time_t mtime)
{
    char *buf = malloc(len + 1);
    ck_assert_ptr_nonnull(buf);
    memset(buf, fill, len);
    write_file(name, buf, len, mtime);
    free(buf);
}

/* Insert sandbox file NAME under KEY the way a handler does: open, fstat,
 * filecache_put, close.  Returns what filecache_put returned. */
static int put_file(struct filecache *fc, const char *key, const char *name, const char *type,
                    long now)
{
    char path[512];
    sandbox_path(path, sizeof path, name);
    int fd = open(path, O_RDONLY);
    ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    int rc = filecache_put(fc, key, strlen(key), path, fd, &st, type, now);
    close(fd);
    return rc;
}

static struct filecache_entry *get(struct filecache *fc, const char *key, long now)
{
    return filecache_get(fc, key, strlen(key), now);
}

/* Assert that KEY is cached with content EXPECT, then release it. */
static void assert_cached(struct filecache *fc, const char *key, const char *expect, long now)
{
    struct filecache_entry *e = get(fc, key, now);
    ck_assert_msg(e != NULL, "%s not cached", key);
    ck_assert_int_eq(e->size, (off_t)strlen(expect));
    ck_assert_mem_eq(e->data, expect, strlen(expect));
    filecache_release(fc, e);
}

static void assert_not_cached(struct filecache *fc, const char *key, long now)
{
    struct filecache_entry *e = get(fc, key, now);
    ck_assert_msg(e == NULL, "%s still cached", key);
}

/* ---- insert and lookup --------------------------------------------- */

START_TEST(test_round_trip)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("rt.txt", "hello, cache\n", 1234567);
    ck_assert_int_eq(put_file(fc, "/rt.txt", "rt.txt", text_plain, 100), 1);
    ck_assert_uint_eq(filecache_count(fc), 1);
    ck_assert_uint_eq(filecache_bytes(fc), 13);

    char path[512];
    struct stat st;
    ck_assert_int_eq(stat(sandbox_path(path, sizeof path, "rt.txt"), &st), 0);
    struct filecache_entry *e = get(fc, "/rt.txt", 100);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->size, 13);
    ck_assert_mem_eq(e->data, "hello, cache\n", 13);
    ck_assert_int_eq(e->mtime, 1234567);
    ck_assert_ptr_eq(e->type, text_plain);
    ck_assert_str_eq(e->file, path);
    ck_assert_uint_eq(e->keylen, 7);
    ck_assert_mem_eq(e->key, "/rt.txt", 7);
    ck_assert_uint_eq(e->dev, st.st_dev);
    ck_assert_uint_eq(e->ino, st.st_ino);
    ck_assert_int_eq(e->removed, 0);
    filecache_release(fc, e);
    filecache_free(fc);
}
END_TEST

START_TEST(test_key_not_nul_terminated)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("nt.txt", "abc", 1000);
    char path[512];
    sandbox_path(path, sizeof path, "nt.txt");
    int fd = open(path, O_RDONLY);
    ck_assert_int_ne(fd, -1);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    /* Keys are (pointer, length) slices of a longer buffer. */
    const char *buf = "/nt.txt?query=1";
    ck_assert_int_eq(filecache_put(fc, buf, 7, path, fd, &st, text_plain, 1), 1);
    close(fd);
    struct filecache_entry *e = filecache_get(fc, "/nt.txtXYZ", 7, 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(e->key, "/nt.txt");
    filecache_release(fc, e);
    ck_assert_ptr_null(filecache_get(fc, buf, 8, 1));
    ck_assert_ptr_null(filecache_get(fc, buf, 6, 1));
    filecache_free(fc);
}
END_TEST

START_TEST(test_miss_unknown_key)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    assert_not_cached(fc, "/nothing", 1);
    write_str("miss.txt", "x", 1000);
    ck_assert_int_eq(put_file(fc, "/miss.txt", "miss.txt", text_plain, 1), 1);
    assert_not_cached(fc, "/miss.tx", 1);      /* prefix */
    assert_not_cached(fc, "/miss.txtx", 1);    /* longer */
    assert_not_cached(fc, "/miss.TXT", 1);     /* same length, other bytes */
    assert_not_cached(fc, "", 1);
    assert_cached(fc, "/miss.txt", "x", 1);
    filecache_free(fc);
}
END_TEST

START_TEST(test_too_big_not_cached)
{
    struct filecache *fc = filecache_new(1 << 20, 100, 5);
    ck_assert_ptr_nonnull(fc);
    write_filled("big101", 101, 'b', 1000);
    write_filled("big100", 100, 'c', 1000);
    ck_assert_int_eq(put_file(fc, "/big101", "big101", text_plain, 1), 0);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    assert_not_cached(fc, "/big101", 1);
    /* Exactly MAX_FILE is allowed. */
    ck_assert_int_eq(put_file(fc, "/big100", "big100", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_bytes(fc), 100);
    filecache_free(fc);
}
END_TEST

START_TEST(test_duplicate_put_keeps_first)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("dup1", "first", 1000);
    write_str("dup2", "second!", 2000);
    ck_assert_int_eq(put_file(fc, "/dup", "dup1", text_plain, 1), 1);
    ck_assert_int_eq(put_file(fc, "/dup", "dup2", text_html, 1), 0);
    ck_assert_uint_eq(filecache_count(fc), 1);
    ck_assert_uint_eq(filecache_bytes(fc), 5);
    struct filecache_entry *e = get(fc, "/dup", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_mem_eq(e->data, "first", 5);
    ck_assert_ptr_eq(e->type, text_plain);
    ck_assert_int_eq(e->mtime, 1000);
    filecache_release(fc, e);
    filecache_free(fc);
}
END_TEST

START_TEST(test_zero_size_file)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_file("empty", "", 0, 1000);
    ck_assert_int_eq(put_file(fc, "/empty", "empty", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_count(fc), 1);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    struct filecache_entry *e = get(fc, "/empty", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->size, 0);
    ck_assert_ptr_nonnull(e->data);
    filecache_release(fc, e);
    filecache_free(fc);
}
END_TEST

START_TEST(test_reference_counts)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("refs", "r", 1000);
    ck_assert_int_eq(put_file(fc, "/refs", "refs", text_plain, 1), 1);
    struct filecache_entry *a = get(fc, "/refs", 1);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(atomic_load(&a->refs), 2);
    struct filecache_entry *b = get(fc, "/refs", 1);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(atomic_load(&a->refs), 3);
    filecache_release(fc, b);
    ck_assert_int_eq(atomic_load(&a->refs), 2);
    filecache_release(fc, a);
    ck_assert_uint_eq(filecache_count(fc), 1);
    filecache_release(fc, NULL);    /* harmless */
    filecache_free(fc);
}
END_TEST

START_TEST(test_disabled_cache)
{
    struct filecache *fc = filecache_new(0, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("off", "content", 1000);
    write_file("off0", "", 0, 1000);
    ck_assert_int_eq(put_file(fc, "/off", "off", text_plain, 1), 0);
    ck_assert_int_eq(put_file(fc, "/off0", "off0", text_plain, 1), 0);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    assert_not_cached(fc, "/off", 1);
    assert_not_cached(fc, "/off0", 1);
    filecache_free(fc);
}
END_TEST

START_TEST(test_short_read_not_cached)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("short", "0123456789", 1000);
    char path[512];
    sandbox_path(path, sizeof path, "short");
    int fd = open(path, O_RDONLY);
    ck_assert_int_ne(fd, -1);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    st.st_size += 5;    /* the file shrank after fstat */
    ck_assert_int_eq(filecache_put(fc, "/short", 6, path, fd, &st, text_plain, 1), 0);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    assert_not_cached(fc, "/short", 1);
    close(fd);
    filecache_free(fc);
}
END_TEST

START_TEST(test_unreadable_not_cached)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    write_str("unread", "data", 1000);
    char path[512];
    struct stat st;
    ck_assert_int_eq(stat(sandbox_path(path, sizeof path, "unread"), &st), 0);
    /* A bad descriptor: pread fails. */
    ck_assert_int_eq(filecache_put(fc, "/unread", 7, path, -1, &st, text_plain, 1), 0);
    /* A write-only descriptor: pread fails with EBADF. */
    int fd = open(path, O_WRONLY);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(filecache_put(fc, "/unread", 7, path, fd, &st, text_plain, 1), 0);
    close(fd);
    /* Not a regular file. */
    fd = open(sandbox, O_RDONLY | O_DIRECTORY);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(filecache_put(fc, "/", 1, sandbox, fd, &st, text_plain, 1), 0);
    close(fd);
    ck_assert_uint_eq(filecache_count(fc), 0);
    assert_not_cached(fc, "/unread", 1);
    assert_not_cached(fc, "/", 1);
    filecache_free(fc);
}
END_TEST

START_TEST(test_many_keys)
{
    enum { N = 300 };
    /* Small capacity per byte, so the table starts small and must grow. */
    struct filecache *fc = filecache_new(64 * 1024, 4096, 5);
    ck_assert_ptr_nonnull(fc);
    char name[32], key[64], expect[32];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "many%03d", i);
        snprintf(key, sizeof key, "/dir/%s.html", name);
        snprintf(expect, sizeof expect, "content %d", i);
        write_str(name, expect, 1000 + i);
        ck_assert_int_eq(put_file(fc, key, name, text_html, 1), 1);
        total += strlen(expect);
    }
    ck_assert_uint_eq(filecache_count(fc), N);
    ck_assert_uint_eq(filecache_bytes(fc), total);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "/dir/many%03d.html", i);
        snprintf(expect, sizeof expect, "content %d", i);
        assert_cached(fc, key, expect, 1);
    }
    assert_not_cached(fc, "/dir/many300.html", 1);
    filecache_free(fc);
}
END_TEST

/* ---- eviction ---------------------------------------------------------- */

/* A cache with room for three 100-byte files ev0..ev2, all inserted. */
static struct filecache *three_full(void)
{
    struct filecache *fc = filecache_new(300, 1000, 60);
    ck_assert_ptr_nonnull(fc);
    char name[16], key[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "ev%d", i);
        write_filled(name, 100, (char)('0' + i), 1000);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "ev%d", i);
        snprintf(key, sizeof key, "/ev%d", i);
        ck_assert_int_eq(put_file(fc, key, name, text_plain, 1), 1);
    }
    ck_assert_uint_eq(filecache_count(fc), 3);
    ck_assert_uint_eq(filecache_bytes(fc), 300);
    return fc;
}

/* Whether KEY is cached (releasing the reference at once). */
static int is_cached(struct filecache *fc, const char *key)
{
    struct filecache_entry *e = get(fc, key, 1);
    filecache_release(fc, e);
    return e != NULL;
}

START_TEST(test_evicts_oldest)
{
    struct filecache *fc = three_full();
    /* Lookups do not change the eviction order (oldest insert goes first). */
    ck_assert(is_cached(fc, "/ev0"));
    ck_assert_int_eq(put_file(fc, "/ev3", "ev3", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_count(fc), 3);
    ck_assert_uint_eq(filecache_bytes(fc), 300);
    ck_assert(!is_cached(fc, "/ev0"));
    ck_assert(is_cached(fc, "/ev1"));
    ck_assert(is_cached(fc, "/ev2"));
    ck_assert(is_cached(fc, "/ev3"));
    ck_assert_int_eq(put_file(fc, "/ev4", "ev4", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_count(fc), 3);
    ck_assert(!is_cached(fc, "/ev1"));
    ck_assert(is_cached(fc, "/ev2"));
    ck_assert(is_cached(fc, "/ev4"));
    filecache_free(fc);
}
END_TEST

START_TEST(test_evicts_several)
{
    struct filecache *fc = three_full();
    write_filled("ev-250", 250, 'x', 1000);
    ck_assert_int_eq(put_file(fc, "/ev-250", "ev-250", text_plain, 1), 1);
    /* 250 + 100 > 300: all three had to go. */
    ck_assert_uint_eq(filecache_count(fc), 1);
    ck_assert_uint_eq(filecache_bytes(fc), 250);
    ck_assert(!is_cached(fc, "/ev0"));
    ck_assert(!is_cached(fc, "/ev1"));
    ck_assert(!is_cached(fc, "/ev2"));
    ck_assert(is_cached(fc, "/ev-250"));
    write_filled("ev-50", 50, 'y', 1000);
    ck_assert_int_eq(put_file(fc, "/ev-50", "ev-50", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_count(fc), 2);
    ck_assert_uint_eq(filecache_bytes(fc), 300);
    filecache_free(fc);
}
END_TEST

START_TEST(test_larger_than_max_bytes_not_cached)
{
    struct filecache *fc = three_full();
    write_filled("ev-301", 301, 'z', 1000);
    ck_assert_int_eq(put_file(fc, "/ev-301", "ev-301", text_plain, 1), 0);
    /* Nothing was evicted for it. */
    ck_assert_uint_eq(filecache_count(fc), 3);
    ck_assert_uint_eq(filecache_bytes(fc), 300);
    ck_assert(is_cached(fc, "/ev0"));
    ck_assert(!is_cached(fc, "/ev-301"));
    filecache_free(fc);
}
END_TEST

START_TEST(test_evicted_entry_readable_while_referenced)
{
    struct filecache *fc = three_full();
    struct filecache_entry *e = get(fc, "/ev0", 1);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(put_file(fc, "/ev3", "ev3", text_plain, 1), 1);
    ck_assert_uint_eq(filecache_count(fc), 3);
    ck_assert(!is_cached(fc, "/ev0"));
    /* Still ours: readable, marked removed, only our reference left. */
    ck_assert_int_eq(e->removed, 1);
    ck_assert_int_eq(atomic_load(&e->refs), 1);
    ck_assert_int_eq(e->size, 100);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(e->data[i], '0');
    ck_assert_str_eq(e->key, "/ev0");
    /* A new entry under the same key is independent of the old one. */
    ck_assert_int_eq(put_file(fc, "/ev0", "ev4", text_plain, 1), 1);
    struct filecache_entry *f = get(fc, "/ev0", 1);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_ne(e, f);
    ck_assert_int_eq(f->data[0], '4');
    ck_assert_int_eq(e->data[0], '0');
    filecache_release(fc, f);
    filecache_release(fc, e);    /* frees it (ASan/valgrind check) */
    filecache_free(fc);
}
END_TEST

/* ---- freshness ------------------------------------------------------------ */

START_TEST(test_modified_file_dropped_after_interval)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    write_str("mod", "old content", 5000);
    ck_assert_int_eq(put_file(fc, "/mod", "mod", text_plain, 100), 1);
    write_str("mod", "new content", 6000);
    /* Not re-checked yet: the old entry. */
    assert_cached(fc, "/mod", "old content", 100);
    ck_assert_uint_eq(filecache_count(fc), 1);
    /* Due: stat sees the new mtime, the entry goes. */
    assert_not_cached(fc, "/mod", 101);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    assert_not_cached(fc, "/mod", 100);
    /* The handler re-inserts the new content. */
    ck_assert_int_eq(put_file(fc, "/mod", "mod", text_plain, 101), 1);
    assert_cached(fc, "/mod", "new content", 101);
    filecache_free(fc);
}
END_TEST

START_TEST(test_recheck_updates_checked)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 2);
    ck_assert_ptr_nonnull(fc);
    write_str("chk", "same", 5000);
    ck_assert_int_eq(put_file(fc, "/chk", "chk", text_plain, 100), 1);
    /* Due at 102; the file is unchanged, so it stays and counts as checked. */
    struct filecache_entry *e = get(fc, "/chk", 102);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(atomic_load(&e->checked), 102);
    filecache_release(fc, e);
    char path[512];
    ck_assert_int_eq(unlink(sandbox_path(path, sizeof path, "chk")), 0);
    /* Checked at 102: no stat before 104. */
    assert_cached(fc, "/chk", "same", 103);
    assert_not_cached(fc, "/chk", 104);
    ck_assert_uint_eq(filecache_count(fc), 0);
    filecache_free(fc);
}
END_TEST

START_TEST(test_deleted_file_dropped)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    write_str("del", "gone soon", 5000);
    ck_assert_int_eq(put_file(fc, "/del", "del", text_plain, 10), 1);
    char path[512];
    ck_assert_int_eq(unlink(sandbox_path(path, sizeof path, "del")), 0);
    assert_cached(fc, "/del", "gone soon", 10);
    assert_not_cached(fc, "/del", 11);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_uint_eq(filecache_bytes(fc), 0);
    filecache_free(fc);
}
END_TEST

/* A DirectoryIndex answer (key ending in '/') misses once its directory
 * changes: a higher-priority index file added next to it must be seen. */
START_TEST(test_index_entry_dropped_when_directory_changes)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    char dir[512], path[512];
    ck_assert_int_eq(mkdir(sandbox_path(dir, sizeof dir, "d"), 0755), 0);
    write_str("d/index.htm", "old index", 5000);
    ck_assert_int_eq(put_file(fc, "/d/", "d/index.htm", text_html, 10), 1);
    /* A file name that is not the key: not an index entry, no directory check. */
    ck_assert_int_eq(put_file(fc, "/d/index.htm", "d/index.htm", text_html, 10), 1);
    assert_cached(fc, "/d/", "old index", 11);
    write_str("d/index.html", "new index", 5000);   /* the directory's mtime moves */
    assert_not_cached(fc, "/d/", 12);
    assert_cached(fc, "/d/index.htm", "old index", 12);
    ck_assert_int_eq(unlink(sandbox_path(path, sizeof path, "d/index.html")), 0);
    filecache_free(fc);
}
END_TEST

/* Rewritten within the same second, same size: the nanosecond mtime differs. */
START_TEST(test_same_second_rewrite_detected)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    char path[512];
    write_str("ns", "aaaa", 5000);
    ck_assert_int_eq(put_file(fc, "/ns", "ns", text_plain, 10), 1);
    struct timespec ts[2] = { { 5000, 500000000 }, { 5000, 500000000 } };
    ck_assert_int_eq(utimensat(AT_FDCWD, sandbox_path(path, sizeof path, "ns"), ts, 0), 0);
    assert_not_cached(fc, "/ns", 11);
    filecache_free(fc);
}
END_TEST

START_TEST(test_valid_zero_rechecks_every_lookup)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 0);
    ck_assert_ptr_nonnull(fc);
    write_str("v0", "v0 data", 5000);
    ck_assert_int_eq(put_file(fc, "/v0", "v0", text_plain, 7), 1);
    assert_cached(fc, "/v0", "v0 data", 7);
    assert_cached(fc, "/v0", "v0 data", 7);
    write_str("v0", "v0 DATA", 5001);
    /* Same second as the insert and the last check: re-checked anyway. */
    assert_not_cached(fc, "/v0", 7);
    ck_assert_uint_eq(filecache_count(fc), 0);
    /* Even with a clock behind the last check. */
    ck_assert_int_eq(put_file(fc, "/v0", "v0", text_plain, 7), 1);
    char path[512];
    ck_assert_int_eq(unlink(sandbox_path(path, sizeof path, "v0")), 0);
    assert_not_cached(fc, "/v0", 6);
    filecache_free(fc);
}
END_TEST

START_TEST(test_size_change_detected)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    write_str("size", "short", 5000);
    ck_assert_int_eq(put_file(fc, "/size", "size", text_plain, 10), 1);
    write_str("size", "longer!", 5000);    /* same mtime, other size */
    assert_not_cached(fc, "/size", 11);
    ck_assert_uint_eq(filecache_count(fc), 0);
    filecache_free(fc);
}
END_TEST

START_TEST(test_inode_change_detected)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    write_str("ino", "AAAA", 5000);
    ck_assert_int_eq(put_file(fc, "/ino", "ino", text_plain, 10), 1);
    /* Replaced by rename: same size and mtime, another inode.  The old
     * file is kept open so its inode number cannot be reused. */
    char path[512], tmp[512];
    int keep = open(sandbox_path(path, sizeof path, "ino"), O_RDONLY);
    ck_assert_int_ne(keep, -1);
    write_str("ino.new", "BBBB", 5000);
    ck_assert_int_eq(rename(sandbox_path(tmp, sizeof tmp, "ino.new"), path), 0);
    assert_not_cached(fc, "/ino", 11);
    ck_assert_uint_eq(filecache_count(fc), 0);
    close(keep);
    filecache_free(fc);
}
END_TEST

START_TEST(test_dropped_while_referenced)
{
    struct filecache *fc = filecache_new(1 << 20, 4096, 1);
    ck_assert_ptr_nonnull(fc);
    write_str("held", "held content", 5000);
    ck_assert_int_eq(put_file(fc, "/held", "held", text_plain, 10), 1);
    struct filecache_entry *a = get(fc, "/held", 10);
    struct filecache_entry *b = get(fc, "/held", 10);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    write_str("held", "changed!!!!!", 5001);
    assert_not_cached(fc, "/held", 11);
    ck_assert_uint_eq(filecache_count(fc), 0);
    ck_assert_int_eq(a->removed, 1);
    ck_assert_int_eq(atomic_load(&a->refs), 2);
    ck_assert_mem_eq(a->data, "held content", 12);
    filecache_release(fc, b);
    ck_assert_mem_eq(a->data, "held content", 12);
    filecache_release(fc, a);
    filecache_free(fc);
}
END_TEST

/* ---- threads -------------------------------------------------------------- */

#define STRESS_KEYS 50
#define STRESS_READERS 4
#define STRESS_MS 1000
#define STRESS_MAX_BYTES 3000

struct stress {
    struct filecache *fc;
    atomic_long clock;          /* the shared "monotonic second" */
    atomic_int stop;
    atomic_long hits;
    atomic_long errors;         /* wrong content seen by a reader */
    atomic_long inserted;
    atomic_long touched;
};

static size_t stress_size(int k)
{
    return 64 + (size_t)k * 13;
}

static char stress_fill(int k)
{
    return (char)('a' + k % 26);
}

static void stress_key(char *buf, size_t len, int k)
{
    snprintf(buf, len, "/stress/%02d.txt", k);
}

static void stress_name(char *buf, size_t len, int k)
{
    snprintf(buf, len, "stress%02d", k);
}

/* Whether E is the entry of key K with the right content. */
static int stress_entry_ok(const struct filecache_entry *e, int k)
{
    char key[32];
    stress_key(key, sizeof key, k);
    if (e->keylen != strlen(key) || memcmp(e->key, key, e->keylen) != 0)
        return 0;
    if (e->size != (off_t)stress_size(k) || e->type != text_plain)
        return 0;
    for (size_t i = 0; i < stress_size(k); i++) {
        if (e->data[i] != stress_fill(k))
            return 0;
    }
    return 1;
}

static void *stress_reader(void *arg)
{
    struct stress *s = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    char key[32];
    while (!atomic_load(&s->stop)) {
        int k = (int)(rand_r(&seed) % STRESS_KEYS);
        stress_key(key, sizeof key, k);
        struct filecache_entry *e = get(s->fc, key, atomic_load(&s->clock));
        if (e == NULL)
            continue;
        atomic_fetch_add(&s->hits, 1);
        if (!stress_entry_ok(e, k))
            atomic_fetch_add(&s->errors, 1);
        filecache_release(s->fc, e);
    }
    return NULL;
}

/* Insert key K (open, fstat, put) without Check assertions (any thread). */
static int stress_put(struct stress *s, int k)
{
    char name[32], path[512], key[32];
    stress_name(name, sizeof name, k);
    stress_key(key, sizeof key, k);
    snprintf(path, sizeof path, "%s/%s", sandbox, name);
    int fd = open(path, O_RDONLY);
    if (fd == -1)
        return -2;
    struct stat st;
    int rc = fstat(fd, &st) == -1
                 ? -2
                 : filecache_put(s->fc, key, strlen(key), path, fd, &st, text_plain,
                                 atomic_load(&s->clock));
    close(fd);
    return rc;
}

/* Give file K a new mtime, so its entry fails its next re-check. */
static int stress_touch(struct stress *s, int k, long op)
{
    char name[32], path[512];
    stress_name(name, sizeof name, k);
    snprintf(path, sizeof path, "%s/%s", sandbox, name);
    struct timespec ts[2] = { { 100000 + op, 0 }, { 100000 + op, 0 } };
    if (utimensat(AT_FDCWD, path, ts, 0) == -1)
        return -1;
    atomic_fetch_add(&s->touched, 1);
    return 0;
}

/* Insert, touch and tick the clock until STOP; returns the number of
 * failed operations. */
static void *stress_writer(void *arg)
{
    struct stress *s = arg;
    unsigned seed = 12345;
    long failures = 0;
    for (long op = 0; !atomic_load(&s->stop); op++) {
        int k = (int)(rand_r(&seed) % STRESS_KEYS);
        if (op % 8 == 7) {
            failures += stress_touch(s, k, op) == -1;
        } else {
            int rc = stress_put(s, k);
            if (rc == 1)
                atomic_fetch_add(&s->inserted, 1);
            failures += rc < 0;
        }
        if (op % 32 == 31)
            atomic_fetch_add(&s->clock, 1);
    }
    return (void *)(intptr_t)failures;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        continue;
}

/* Look every stress key up once more: each hit must hold the table's
 * reference plus ours, and the hits must be exactly what the cache counts. */
static void stress_final_check(struct stress *s)
{
    struct filecache_entry *held[STRESS_KEYS];
    size_t hits = 0, bytes = 0;
    char key[32];
    long now = atomic_load(&s->clock);
    for (int k = 0; k < STRESS_KEYS; k++) {
        stress_key(key, sizeof key, k);
        held[k] = get(s->fc, key, now);
        if (held[k] == NULL)
            continue;
        ck_assert_msg(stress_entry_ok(held[k], k), "bad entry for key %d", k);
        ck_assert_int_eq(atomic_load(&held[k]->refs), 2);
        ck_assert_int_eq(held[k]->removed, 0);
        hits++;
        bytes += (size_t)held[k]->size;
    }
    ck_assert_uint_eq(filecache_count(s->fc), hits);
    ck_assert_uint_eq(filecache_bytes(s->fc), bytes);
    ck_assert_uint_le(bytes, STRESS_MAX_BYTES);
    for (int k = 0; k < STRESS_KEYS; k++)
        filecache_release(s->fc, held[k]);
}

START_TEST(test_concurrent_stress)
{
    char name[32];
    for (int k = 0; k < STRESS_KEYS; k++) {
        stress_name(name, sizeof name, k);
        write_filled(name, stress_size(k), stress_fill(k), 5000);
    }
    struct stress s = { .fc = filecache_new(STRESS_MAX_BYTES, 4096, 1) };
    ck_assert_ptr_nonnull(s.fc);
    atomic_init(&s.clock, 1000);
    pthread_t readers[STRESS_READERS], writer;
    for (int i = 0; i < STRESS_READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i], NULL, stress_reader, &s), 0);
    ck_assert_int_eq(pthread_create(&writer, NULL, stress_writer, &s), 0);
    sleep_ms(STRESS_MS);
    atomic_store(&s.stop, 1);
    for (int i = 0; i < STRESS_READERS; i++)
        ck_assert_int_eq(pthread_join(readers[i], NULL), 0);
    void *failures = NULL;
    ck_assert_int_eq(pthread_join(writer, &failures), 0);

    ck_assert_int_eq((intptr_t)failures, 0);
    ck_assert_int_eq(atomic_load(&s.errors), 0);
    ck_assert_int_gt(atomic_load(&s.hits), 0);
    ck_assert_int_gt(atomic_load(&s.touched), 0);
    /* Many more inserts than fit at once: evictions happened. */
    ck_assert_int_gt(atomic_load(&s.inserted), 2 * (STRESS_MAX_BYTES / 64));
    stress_final_check(&s);
    filecache_free(s.fc);
}
END_TEST

/* Readers re-check one key on every lookup (VALID 0) while the main
 * thread keeps changing the file and re-inserting it. */
static void *recheck_reader(void *arg)
{
    struct stress *s = arg;
    while (!atomic_load(&s->stop)) {
        struct filecache_entry *e = get(s->fc, "/stress/00.txt", atomic_load(&s->clock));
        if (e == NULL)
            continue;
        atomic_fetch_add(&s->hits, 1);
        if (!stress_entry_ok(e, 0))
            atomic_fetch_add(&s->errors, 1);
        filecache_release(s->fc, e);
    }
    return NULL;
}

START_TEST(test_concurrent_recheck_same_key)
{
    char name[32];
    stress_name(name, sizeof name, 0);
    write_filled(name, stress_size(0), stress_fill(0), 5000);
    struct stress s = { .fc = filecache_new(1 << 20, 4096, 0) };
    ck_assert_ptr_nonnull(s.fc);
    atomic_init(&s.clock, 1000);
    pthread_t readers[STRESS_READERS];
    for (int i = 0; i < STRESS_READERS; i++)
        ck_assert_int_eq(pthread_create(&readers[i], NULL, recheck_reader, &s), 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long op = 0, failures = 0;
    do {
        int rc = stress_put(&s, 0);
        failures += rc < 0;
        if (op % 4 == 3)
            failures += stress_touch(&s, 0, op) == -1;
        op++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 500);
    atomic_store(&s.stop, 1);
    for (int i = 0; i < STRESS_READERS; i++)
        ck_assert_int_eq(pthread_join(readers[i], NULL), 0);
    ck_assert_int_eq(failures, 0);
    ck_assert_int_eq(atomic_load(&s.errors), 0);
    ck_assert_int_gt(atomic_load(&s.hits), 0);
    ck_assert_uint_le(filecache_count(s.fc), 1);
    /* Drop a stale entry if there is one; then an insert (or the fresh
     * entry already there) must stick, the file being unchanged now. */
    filecache_release(s.fc, get(s.fc, "/stress/00.txt", 1000));
    int rc = stress_put(&s, 0);
    ck_assert_msg(rc == 0 || rc == 1, "stress_put: %d", rc);
    struct filecache_entry *e = get(s.fc, "/stress/00.txt", 1000);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(atomic_load(&e->refs), 2);
    ck_assert_uint_eq(filecache_count(s.fc), 1);
    filecache_release(s.fc, e);
    filecache_free(s.fc);
}
END_TEST

/* A test case in S whose tests share a fresh sandbox. */
static TCase *sandboxed_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *filecache_suite(void)
{
    Suite *s = suite_create("filecache");

    TCase *tc = sandboxed_tcase(s, "basic");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_key_not_nul_terminated);
    tcase_add_test(tc, test_miss_unknown_key);
    tcase_add_test(tc, test_too_big_not_cached);
    tcase_add_test(tc, test_duplicate_put_keeps_first);
    tcase_add_test(tc, test_zero_size_file);
    tcase_add_test(tc, test_reference_counts);
    tcase_add_test(tc, test_disabled_cache);
    tcase_add_test(tc, test_short_read_not_cached);
    tcase_add_test(tc, test_unreadable_not_cached);
    tcase_add_test(tc, test_many_keys);

    tc = sandboxed_tcase(s, "eviction");
    tcase_add_test(tc, test_evicts_oldest);
    tcase_add_test(tc, test_evicts_several);
    tcase_add_test(tc, test_larger_than_max_bytes_not_cached);
    tcase_add_test(tc, test_evicted_entry_readable_while_referenced);

    tc = sandboxed_tcase(s, "freshness");
    tcase_add_test(tc, test_index_entry_dropped_when_directory_changes);
    tcase_add_test(tc, test_same_second_rewrite_detected);
    tcase_add_test(tc, test_modified_file_dropped_after_interval);
    tcase_add_test(tc, test_recheck_updates_checked);
    tcase_add_test(tc, test_deleted_file_dropped);
    tcase_add_test(tc, test_valid_zero_rechecks_every_lookup);
    tcase_add_test(tc, test_size_change_detected);
    tcase_add_test(tc, test_inode_change_detected);
    tcase_add_test(tc, test_dropped_while_referenced);

    tc = sandboxed_tcase(s, "threads");
    tcase_set_timeout(tc, 60);    /* valgrind and TSan are slow; the tests bound their own time */
    tcase_add_test(tc, test_concurrent_stress);
    tcase_add_test(tc, test_concurrent_recheck_same_key);
    return s;
}
