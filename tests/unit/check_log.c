/* check_log.c: unit tests for the error and access logs (src/core/log.c).
 * Each test opens its logs in a fresh temporary directory through
 * log_open with a hand-filled struct config and reads the files back.
 * Runs in the single Check runner (check_main.c).
 *
 * log.c caches the broken-down time of the last second per thread, keyed
 * by time_t only, so tests that change TZ use timestamps no other test
 * uses. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/core/log.h"

/* A temporary directory with error.log and access.log paths in it. */
struct logdir {
    char dir[256];
    char error_path[300];
    char access_path[300];
    struct config cfg;
    struct logger lg;
};

static void logdir_make(struct logdir *d, int level, int access_format)
{
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(d->dir, sizeof d->dir, "%s/mpmd-log-XXXXXX", tmp);
    ck_assert_ptr_nonnull(mkdtemp(d->dir));
    snprintf(d->error_path, sizeof d->error_path, "%s/error.log", d->dir);
    snprintf(d->access_path, sizeof d->access_path, "%s/access.log", d->dir);
    memset(&d->cfg, 0, sizeof d->cfg);
    d->cfg.error_log = d->error_path;
    d->cfg.access_log = access_format == ACCESS_OFF ? NULL : d->access_path;
    d->cfg.log_level = level;
    d->cfg.access_format = access_format;
}

/* logdir_make and log_open, which must succeed. */
static void logdir_open(struct logdir *d, int level, int access_format)
{
    char err[256] = "";
    logdir_make(d, level, access_format);
    ck_assert_msg(log_open(&d->lg, &d->cfg, err, sizeof err) == 0, "log_open: %s", err);
}

static void logdir_remove(struct logdir *d)
{
    log_close(&d->lg);
    unlink(d->error_path);
    unlink(d->access_path);
    ck_assert_int_eq(rmdir(d->dir), 0);
}

/* The whole file at PATH as a NUL-terminated string (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int matches(const char *re, const char *s)
{
    regex_t rx;
    ck_assert_int_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE), 0);
    int ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

static void assert_file_eq(const char *path, const char *want)
{
    char *got = slurp(path);
    ck_assert_str_eq(got, want);
    free(got);
}

/* strftime in the C locale for the access log's [%d/%b/%Y:%H:%M:%S %z]. */
static void access_time(time_t t, char *buf, size_t cap)
{
    struct tm tm;
    ck_assert_ptr_nonnull(localtime_r(&t, &tm));
    ck_assert_uint_gt(strftime(buf, cap, "%d/%b/%Y:%H:%M:%S %z", &tm), 0);
}

static struct sockaddr_in peer_v4(const char *addr)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(40000);
    ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
    return sin;
}

static struct sockaddr_in6 peer_v6(const char *addr)
{
    struct sockaddr_in6 sin6;
    memset(&sin6, 0, sizeof sin6);
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(40000);
    ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
    return sin6;
}

/* A GET / record from 127.0.0.1 at WHEN, BYTES long. */
static struct access_record record(const struct sockaddr *peer, time_t when, long long bytes)
{
    static const char rl[] = "GET / HTTP/1.1";
    struct access_record r = {
        .peer = peer, .request_line = rl, .request_line_len = sizeof rl - 1,
        .status = 200, .bytes = bytes, .when = when,
    };
    return r;
}

/* Is FD open? */
static int fd_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* The lowest free descriptor number (to see that nothing leaked). */
static int lowest_free_fd(void)
{
    int fd = dup(0);
    ck_assert_int_ne(fd, -1);
    close(fd);
    return fd;
}

/* ---- level names -------------------------------------------------- */

START_TEST(test_level_names)
{
    static const char *const names[] = {
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    };
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(log_level_from_name(names[i]), i);
        ck_assert_str_eq(log_level_name(i), names[i]);
    }
    ck_assert_int_eq(LOGL_WARN, 4);
    ck_assert_int_eq(log_level_from_name("WARN"), LOGL_WARN);
    ck_assert_int_eq(log_level_from_name("Debug"), LOGL_DEBUG);
    ck_assert_int_eq(log_level_from_name("warning"), -1);
    ck_assert_int_eq(log_level_from_name("err"), -1);
    ck_assert_int_eq(log_level_from_name("trace1"), -1);
    ck_assert_int_eq(log_level_from_name(""), -1);
    ck_assert_int_eq(log_level_from_name(NULL), -1);
    ck_assert_str_eq(log_level_name(-1), "unknown");
    ck_assert_str_eq(log_level_name(8), "unknown");
}
END_TEST

/* ---- log_open / log_close ----------------------------------------- */

START_TEST(test_open_creates_files)
{
    struct logdir d;
    mode_t old = umask(0);
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    umask(old);
    struct stat st;
    ck_assert_int_eq(stat(d.error_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(stat(d.access_path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_gt(d.lg.error_fd, 2);
    ck_assert_int_gt(d.lg.access_fd, 2);
    ck_assert_int_ne(fcntl(d.lg.error_fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ne(fcntl(d.lg.access_fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ne(fcntl(d.lg.error_fd, F_GETFL) & O_APPEND, 0);
    ck_assert_int_ne(fcntl(d.lg.access_fd, F_GETFL) & O_APPEND, 0);
    ck_assert_int_eq(d.lg.level, LOGL_WARN);
    ck_assert_int_eq(d.lg.access_format, ACCESS_COMMON);
    ck_assert_int_eq(d.lg.journal_prefix, 0);
    int efd = d.lg.error_fd, afd = d.lg.access_fd;
    log_close(&d.lg);
    ck_assert(!fd_open(efd));
    ck_assert(!fd_open(afd));
    ck_assert_int_eq(d.lg.error_fd, 2);
    ck_assert_int_eq(d.lg.access_fd, -1);
    logdir_remove(&d);
}
END_TEST

/* Existing contents are kept: the files are appended to. */
START_TEST(test_open_appends)
{
    struct logdir d;
    logdir_make(&d, LOGL_DEBUG, ACCESS_COMMON);
    FILE *f = fopen(d.error_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("old line\n", f);
    fclose(f);
    char err[256];
    ck_assert_int_eq(log_open(&d.lg, &d.cfg, err, sizeof err), 0);
    d.lg.journal_prefix = 1;
    log_msg(&d.lg, LOGL_ERROR, "new line");
    assert_file_eq(d.error_path, "old line\n<3>new line\n");
    logdir_remove(&d);
}
END_TEST

START_TEST(test_open_stderr)
{
    struct config cfg;
    struct logger lg;
    char err[128];
    memset(&cfg, 0, sizeof cfg);
    cfg.error_log = "stderr";
    cfg.log_level = LOGL_INFO;
    cfg.access_format = ACCESS_COMBINED;
    ck_assert_int_eq(log_open(&lg, &cfg, err, sizeof err), 0);
    ck_assert_int_eq(lg.error_fd, 2);
    ck_assert_int_eq(lg.access_fd, -1);
    ck_assert_int_eq(lg.level, LOGL_INFO);
    log_close(&lg);
    ck_assert(fd_open(2));
    cfg.error_log = NULL;                       /* no ErrorLog: stderr too */
    ck_assert_int_eq(log_open(&lg, &cfg, err, sizeof err), 0);
    ck_assert_int_eq(lg.error_fd, 2);
    log_close(&lg);
    ck_assert(fd_open(2));
}
END_TEST

START_TEST(test_init_stderr)
{
    struct logger lg;
    log_init_stderr(&lg, LOGL_NOTICE);
    ck_assert_int_eq(lg.error_fd, 2);
    ck_assert_int_eq(lg.level, LOGL_NOTICE);
    ck_assert_int_eq(lg.access_fd, -1);
    log_close(&lg);
    ck_assert(fd_open(2));
}
END_TEST

START_TEST(test_open_error_log_fails)
{
    struct config cfg;
    struct logger lg;
    char err[256] = "";
    memset(&cfg, 0, sizeof cfg);
    cfg.error_log = "/nonexistent-mpmd-dir/error.log";
    cfg.log_level = LOGL_WARN;
    int lowest = lowest_free_fd();
    ck_assert_int_eq(log_open(&lg, &cfg, err, sizeof err), -1);
    ck_assert_str_eq(err, "ErrorLog /nonexistent-mpmd-dir/error.log: cannot open: "
                          "No such file or directory");
    ck_assert_int_eq(lg.error_fd, 2);           /* still usable: stderr */
    ck_assert_int_eq(lg.access_fd, -1);
    ck_assert_int_eq(lowest_free_fd(), lowest);
}
END_TEST

/* The AccessLog fails after the ErrorLog opened: that one is closed again. */
START_TEST(test_open_access_log_fails)
{
    struct logdir d;
    char err[512] = "", want[512];
    logdir_make(&d, LOGL_WARN, ACCESS_COMMON);
    d.cfg.access_log = d.dir;                   /* a directory: EISDIR */
    int lowest = lowest_free_fd();
    ck_assert_int_eq(log_open(&d.lg, &d.cfg, err, sizeof err), -1);
    snprintf(want, sizeof want, "AccessLog %s: cannot open: Is a directory", d.dir);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(lowest_free_fd(), lowest);
    ck_assert_int_eq(d.lg.error_fd, 2);
    ck_assert_int_eq(d.lg.access_fd, -1);
    logdir_remove(&d);
}
END_TEST

/* A short ERR buffer is truncated, not overrun. */
START_TEST(test_open_error_short_buffer)
{
    struct config cfg;
    struct logger lg;
    char err[16];
    memset(err, 'x', sizeof err);
    memset(&cfg, 0, sizeof cfg);
    cfg.error_log = "/nonexistent-mpmd-dir/error.log";
    ck_assert_int_eq(log_open(&lg, &cfg, err, 12), -1);
    ck_assert_str_eq(err, "ErrorLog /n");
    ck_assert_int_eq(err[12], 'x');
}
END_TEST

/* ---- error log ---------------------------------------------------- */

START_TEST(test_error_line_shape)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_OFF);
    time_t before = time(NULL);
    log_msg(&d.lg, LOGL_ERROR, "hello %d", 42);
    /* time() reads the coarse clock, which may still show the previous
     * second for a few ms after the precise clock log_msg uses has moved
     * on (seen once: "08:04:08.000404" with time() at :07). */
    time_t after = time(NULL) + 1;
    char *got = slurp(d.error_path);
    ck_assert_msg(matches("^\\[(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug"
                          "|Sep|Oct|Nov|Dec) [0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
                          "\\.[0-9]{6} [0-9]{4}\\] \\[mpmd:error\\] \\[pid [0-9]+:tid [0-9]+\\] "
                          "hello 42\n$", got), "bad line: %s", got);
    ck_assert_int_eq(count_lines(got), 1);

    char want[64];
    snprintf(want, sizeof want, "[pid %ld:tid %ld] ", (long)getpid(), (long)syscall(SYS_gettid));
    ck_assert_msg(strstr(got, want) != NULL, "want %s in %s", want, got);

    /* the date is the local time of the call */
    int found = 0;
    for (time_t t = before; t <= after; t++) {
        struct tm tm;
        char head[32], year[8];
        localtime_r(&t, &tm);
        strftime(head, sizeof head, "[%a %b %d %H:%M:%S.", &tm);
        strftime(year, sizeof year, " %Y] ", &tm);
        found |= strncmp(got, head, strlen(head)) == 0 && strncmp(got + 27, year, 7) == 0;
    }
    ck_assert_msg(found, "time in %s", got);
    free(got);
    logdir_remove(&d);
}
END_TEST

START_TEST(test_error_level_filter)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_OFF);
    log_msg(&d.lg, LOGL_DEBUG, "debug");
    log_msg(&d.lg, LOGL_INFO, "info");
    log_msg(&d.lg, LOGL_NOTICE, "notice");
    log_msg(&d.lg, LOGL_WARN, "warn");
    log_msg(&d.lg, LOGL_ERROR, "error");
    log_msg(&d.lg, LOGL_CRIT, "crit");
    log_msg(&d.lg, LOGL_ALERT, "alert");
    log_msg(&d.lg, LOGL_EMERG, "emerg");
    char *got = slurp(d.error_path);
    ck_assert_int_eq(count_lines(got), 5);
    ck_assert(matches("\\[mpmd:warn\\] \\[pid [0-9]+:tid [0-9]+\\] warn$", got));
    ck_assert(matches("\\[mpmd:error\\] .* error$", got));
    ck_assert(matches("\\[mpmd:crit\\] .* crit$", got));
    ck_assert(matches("\\[mpmd:alert\\] .* alert$", got));
    ck_assert(matches("\\[mpmd:emerg\\] .* emerg$", got));
    ck_assert_ptr_null(strstr(got, "notice"));
    ck_assert_ptr_null(strstr(got, "info"));
    ck_assert_ptr_null(strstr(got, "debug"));
    free(got);
    logdir_remove(&d);
}
END_TEST

START_TEST(test_error_journal_prefix)
{
    struct logdir d;
    logdir_open(&d, LOGL_DEBUG, ACCESS_OFF);
    d.lg.journal_prefix = 1;
    log_msg(&d.lg, LOGL_ERROR, "hello %s", "world");
    log_msg(&d.lg, LOGL_WARN, "w");
    log_msg(&d.lg, LOGL_DEBUG, "d");
    log_msg(&d.lg, LOGL_EMERG, "e");
    assert_file_eq(d.error_path, "<3>hello world\n<4>w\n<7>d\n<0>e\n");
    logdir_remove(&d);
}
END_TEST

START_TEST(test_error_preserves_errno)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    d.lg.journal_prefix = 1;
    errno = EACCES;
    log_msg(&d.lg, LOGL_ERROR, "shown");
    ck_assert_int_eq(errno, EACCES);
    errno = ENOSPC;
    log_msg(&d.lg, LOGL_DEBUG, "dropped");
    ck_assert_int_eq(errno, ENOSPC);
    errno = ENOENT;
    log_msg(&d.lg, LOGL_ERROR, "open x: %s", strerror(errno));
    ck_assert_int_eq(errno, ENOENT);
    errno = ENOENT;
    log_msg(&d.lg, LOGL_ERROR, "open y: %m");  /* formatted before errno can change */
    ck_assert_int_eq(errno, ENOENT);
    struct sockaddr_in sin = peer_v4("10.0.0.1");
    struct access_record r = record((struct sockaddr *)&sin, 1700000001, 5);
    errno = EPIPE;
    log_access(&d.lg, &r);
    ck_assert_int_eq(errno, EPIPE);
    /* a write that fails keeps the caller's errno too */
    struct logger bad = d.lg;
    bad.error_fd = 1000;                        /* not open: EBADF inside */
    errno = EAGAIN;
    log_msg(&bad, LOGL_ERROR, "lost");
    ck_assert_int_eq(errno, EAGAIN);
    assert_file_eq(d.error_path, "<3>shown\n<3>open x: No such file or directory\n"
                                 "<3>open y: No such file or directory\n");
    logdir_remove(&d);
}
END_TEST

/* Control bytes, backslashes and non-ASCII bytes are escaped; quotes are
 * left alone in the error log (ap_escape_errorlog_item); trailing
 * newlines are dropped. */
START_TEST(test_error_escaping)
{
    struct logdir d;
    logdir_open(&d, LOGL_DEBUG, ACCESS_OFF);
    d.lg.journal_prefix = 1;
    log_msg(&d.lg, LOGL_ERROR, "a\nb\tc\x01" "d\"e\\f\xff\r\x7f");
    log_msg(&d.lg, LOGL_ERROR, "ends in newlines\n\n");
    log_msg(&d.lg, LOGL_ERROR, "%s", "");
    assert_file_eq(d.error_path,
                   "<3>a\\nb\\tc\\x01d\"e\\\\f\\xff\\r\\x7f\n<3>ends in newlines\n<3>\n");
    logdir_remove(&d);
}
END_TEST

/* A huge message becomes one truncated line; escapes are never cut. */
START_TEST(test_error_long_message)
{
    struct logdir d;
    logdir_open(&d, LOGL_DEBUG, ACCESS_OFF);
    char *big = malloc(20000);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    log_msg(&d.lg, LOGL_ERROR, "%s", big);
    memset(big, '\x01', 19999);
    d.lg.journal_prefix = 1;
    log_msg(&d.lg, LOGL_ERROR, "%s", big);
    free(big);

    char *got = slurp(d.error_path);
    ck_assert_int_eq(count_lines(got), 2);
    char *second = strchr(got, '\n') + 1;
    size_t first_len = (size_t)(second - got);
    ck_assert_uint_le(first_len, 4096);
    ck_assert_uint_gt(first_len, 1024);
    ck_assert(matches("^\\[.*\\] \\[mpmd:error\\] \\[pid [0-9]+:tid [0-9]+\\] x+$", got));
    size_t second_len = strlen(second);
    ck_assert_uint_le(second_len, 4096);
    ck_assert_int_eq(second[second_len - 1], '\n');
    ck_assert_int_eq(strncmp(second, "<3>", 3), 0);
    ck_assert_uint_eq((second_len - 4) % 4, 0);  /* whole "\x01" escapes only */
    ck_assert(matches("^<3>(\\\\x01)+$", second));
    free(got);
    logdir_remove(&d);
}
END_TEST

/* ---- access log --------------------------------------------------- */

START_TEST(test_access_common)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct access_record r = record((struct sockaddr *)&sin, 1700000002, 1234);
    r.referer = "http://ref/";                  /* not in the common format */
    r.referer_len = 11;
    log_access(&d.lg, &r);
    char t[64], want[256];
    access_time(1700000002, t, sizeof t);
    snprintf(want, sizeof want, "127.0.0.1 - - [%s] \"GET / HTTP/1.1\" 200 1234\n", t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

START_TEST(test_access_zero_bytes)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    struct sockaddr_in sin = peer_v4("192.0.2.7");
    struct access_record r = record((struct sockaddr *)&sin, 1700000003, 0);
    r.status = 304;
    log_access(&d.lg, &r);
    r.bytes = -1;                               /* nothing known: "-" too */
    r.status = 500;
    log_access(&d.lg, &r);
    char t[64], want[256];
    access_time(1700000003, t, sizeof t);
    snprintf(want, sizeof want,
             "192.0.2.7 - - [%s] \"GET / HTTP/1.1\" 304 -\n"
             "192.0.2.7 - - [%s] \"GET / HTTP/1.1\" 500 -\n", t, t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

START_TEST(test_access_combined)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMBINED);
    struct sockaddr_in sin = peer_v4("10.1.2.3");
    struct access_record r = record((struct sockaddr *)&sin, 1700000004, 99999999999LL);
    r.referer = "http://example.com/page";
    r.referer_len = strlen(r.referer);
    r.user_agent = "curl/8.0 (extra)";
    r.user_agent_len = strlen(r.user_agent);
    log_access(&d.lg, &r);
    r.referer = NULL;                           /* absent: "-" */
    r.user_agent = NULL;
    log_access(&d.lg, &r);
    r.referer = "";                             /* present but empty: "" */
    r.referer_len = 0;
    log_access(&d.lg, &r);
    char t[64], want[1024];
    access_time(1700000004, t, sizeof t);
    snprintf(want, sizeof want,
             "10.1.2.3 - - [%s] \"GET / HTTP/1.1\" 200 99999999999 "
             "\"http://example.com/page\" \"curl/8.0 (extra)\"\n"
             "10.1.2.3 - - [%s] \"GET / HTTP/1.1\" 200 99999999999 \"-\" \"-\"\n"
             "10.1.2.3 - - [%s] \"GET / HTTP/1.1\" 200 99999999999 \"\" \"-\"\n", t, t, t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

/* Lengths are honoured: fields need not be NUL-terminated. */
START_TEST(test_access_field_lengths)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMBINED);
    struct sockaddr_in sin = peer_v4("10.1.2.3");
    struct access_record r = record((struct sockaddr *)&sin, 1700000005, 1);
    r.request_line = "HEAD /x HTTP/1.0\r\nHost: y";
    r.request_line_len = 16;
    r.referer = "refXXX";
    r.referer_len = 3;
    r.user_agent = "uaYYY";
    r.user_agent_len = 2;
    log_access(&d.lg, &r);
    char t[64], want[256];
    access_time(1700000005, t, sizeof t);
    snprintf(want, sizeof want, "10.1.2.3 - - [%s] \"HEAD /x HTTP/1.0\" 200 1 \"ref\" \"ua\"\n", t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

START_TEST(test_access_escaping)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMBINED);
    struct sockaddr_in sin = peer_v4("10.0.0.9");
    struct access_record r = record((struct sockaddr *)&sin, 1700000006, 10);
    static const char rl[] = "GET /a\"b\\c\x01\x7f\xe9\n\r\t\b\v HTTP/1.1";
    r.request_line = rl;
    r.request_line_len = sizeof rl - 1;
    r.referer = "say \"hi\"";
    r.referer_len = strlen(r.referer);
    static const char ua[] = "nul\0byte\x1b[31m";
    r.user_agent = ua;
    r.user_agent_len = sizeof ua - 1;
    log_access(&d.lg, &r);
    char t[64], want[512];
    access_time(1700000006, t, sizeof t);
    snprintf(want, sizeof want,
             "10.0.0.9 - - [%s] \"GET /a\\\"b\\\\c\\x01\\x7f\\xe9\\n\\r\\t\\b\\v HTTP/1.1\" "
             "200 10 \"say \\\"hi\\\"\" \"nul\\x00byte\\x1b[31m\"\n", t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

/* Peers: IPv4, IPv6 without brackets, v4-mapped as IPv4, none as "-". */
START_TEST(test_access_peers)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    struct sockaddr_in6 v6 = peer_v6("2001:db8::1");
    struct sockaddr_in6 lo6 = peer_v6("::1");
    struct sockaddr_in6 mapped = peer_v6("::ffff:1.2.3.4");
    struct sockaddr_in v4 = peer_v4("203.0.113.255");
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    const struct sockaddr *peers[] = {
        (struct sockaddr *)&v6, (struct sockaddr *)&lo6, (struct sockaddr *)&mapped,
        (struct sockaddr *)&v4, (struct sockaddr *)&un, NULL,
    };
    for (size_t i = 0; i < sizeof peers / sizeof *peers; i++) {
        struct access_record r = record(peers[i], 1700000007, 1);
        log_access(&d.lg, &r);
    }
    char t[64], want[1024];
    access_time(1700000007, t, sizeof t);
    snprintf(want, sizeof want,
             "2001:db8::1 - - [%s] \"GET / HTTP/1.1\" 200 1\n"
             "::1 - - [%s] \"GET / HTTP/1.1\" 200 1\n"
             "1.2.3.4 - - [%s] \"GET / HTTP/1.1\" 200 1\n"
             "203.0.113.255 - - [%s] \"GET / HTTP/1.1\" 200 1\n"
             "- - - [%s] \"GET / HTTP/1.1\" 200 1\n"
             "- - - [%s] \"GET / HTTP/1.1\" 200 1\n", t, t, t, t, t, t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

/* No request line (e.g. a timeout before one arrived): "-". */
START_TEST(test_access_no_request_line)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct access_record r = record((struct sockaddr *)&sin, 1700000008, 0);
    r.request_line = NULL;
    r.status = 408;
    log_access(&d.lg, &r);
    char t[64], want[256];
    access_time(1700000008, t, sizeof t);
    snprintf(want, sizeof want, "127.0.0.1 - - [%s] \"-\" 408 -\n", t);
    assert_file_eq(d.access_path, want);
    logdir_remove(&d);
}
END_TEST

/* Very long fields are cut, the line stays one line and well formed. */
START_TEST(test_access_truncation)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMBINED);
    size_t n = 100000;
    char *big = malloc(n), *ctl = malloc(n);
    ck_assert_ptr_nonnull(big);
    ck_assert_ptr_nonnull(ctl);
    memset(big, 'A', n);
    memset(ctl, '\x02', n);
    struct sockaddr_in6 v6 = peer_v6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    struct access_record r = record((struct sockaddr *)&v6, 1700000009, 123456789);
    r.request_line = big;
    r.request_line_len = n;
    r.referer = ctl;
    r.referer_len = n;
    r.user_agent = big;
    r.user_agent_len = n;
    log_access(&d.lg, &r);
    free(big);
    free(ctl);
    char *got = slurp(d.access_path);
    size_t len = strlen(got);
    ck_assert_int_eq(count_lines(got), 1);
    ck_assert_uint_le(len, 8192);
    ck_assert_int_eq(got[len - 1], '\n');
    ck_assert_msg(matches("^2001:db8:ffff:ffff:ffff:ffff:ffff:ffff - - \\[[^]]+\\] \"A+\" "
                          "200 123456789 \"(\\\\x02)+\" \"A+\"$", got), "bad line: %.200s", got);
    free(got);
    logdir_remove(&d);
}
END_TEST

/* The offset is the local zone's, numeric, including negative and
 * half-hour zones; day and month names are English whatever the locale. */
START_TEST(test_access_time_zones)
{
    static const struct { const char *tz; time_t when; const char *want; } cases[] = {
        { "UTC0", 1735787045, "[02/Jan/2025:03:04:05 +0000]" },
        { "EST5", 1795413797, "[23/Nov/2026:01:03:17 -0500]" },
        { "IST-5:30", 1783166400, "[04/Jul/2026:17:30:00 +0530]" },
        { "NST3:30", 1783166401, "[04/Jul/2026:08:30:01 -0330]" },
    };
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMMON);
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ck_assert_int_eq(setenv("TZ", cases[i].tz, 1), 0);
        tzset();
        struct access_record r = record((struct sockaddr *)&sin, cases[i].when, 1);
        log_access(&d.lg, &r);
        char *got = slurp(d.access_path);
        ck_assert_msg(strstr(got, cases[i].want) != NULL, "TZ=%s: want %s in %s",
                      cases[i].tz, cases[i].want, got);
        free(got);
        ck_assert_int_eq(truncate(d.access_path, 0), 0);
    }
    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    } else {
        unsetenv("TZ");
    }
    tzset();
    logdir_remove(&d);
}
END_TEST

/* No access log: log_access does nothing. */
START_TEST(test_access_off)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_OFF);
    ck_assert_int_eq(d.lg.access_fd, -1);
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct access_record r = record((struct sockaddr *)&sin, 1700000010, 1);
    log_access(&d.lg, &r);
    ck_assert_int_eq(access(d.access_path, F_OK), -1);
    logdir_remove(&d);

    /* a file but the format is off: nothing written either */
    logdir_make(&d, LOGL_WARN, ACCESS_COMMON);
    d.cfg.access_format = ACCESS_OFF;
    char err[256];
    ck_assert_int_eq(log_open(&d.lg, &d.cfg, err, sizeof err), 0);
    log_access(&d.lg, &r);
    assert_file_eq(d.access_path, "");
    logdir_remove(&d);
}
END_TEST

/* ---- many threads --------------------------------------------------- */

#define THREADS 8
#define LINES_PER_THREAD 250

static void *log_from_thread(void *arg)
{
    const struct logger *lg = arg;
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    char ua[600];
    memset(ua, 'u', sizeof ua);
    for (int i = 0; i < LINES_PER_THREAD; i++) {
        log_msg(lg, LOGL_ERROR, "thread line %d %0400d", i, i);
        struct access_record r = record((struct sockaddr *)&sin, 1700000011 + i % 3, i + 1);
        r.user_agent = ua;
        r.user_agent_len = sizeof ua;
        log_access(lg, &r);
    }
    return NULL;
}

/* Lines written concurrently never interleave. */
START_TEST(test_concurrent_lines)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_COMBINED);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, log_from_thread, &d.lg), 0);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);

    char *err = slurp(d.error_path), *acc = slurp(d.access_path);
    ck_assert_int_eq(count_lines(err), THREADS * LINES_PER_THREAD);
    ck_assert_int_eq(count_lines(acc), THREADS * LINES_PER_THREAD);
    regex_t eline, aline;
    ck_assert_int_eq(regcomp(&eline, "^\\[[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:]{8}\\.[0-9]{6}"
                             " [0-9]{4}\\] \\[mpmd:error\\] \\[pid [0-9]+:tid [0-9]+\\] thread "
                             "line [0-9]+ [0-9]{400}$", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regcomp(&aline, "^127\\.0\\.0\\.1 - - \\[[^]]+\\] \"GET / HTTP/1\\.1\" 200 "
                             "[0-9]+ \"-\" \"u{600}\"$", REG_EXTENDED | REG_NOSUB), 0);
    for (char *s = err, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        *nl = '\0';
        ck_assert_msg(regexec(&eline, s, 0, NULL, 0) == 0, "bad line: %s", s);
    }
    for (char *s = acc, *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        *nl = '\0';
        ck_assert_msg(regexec(&aline, s, 0, NULL, 0) == 0, "bad line: %s", s);
    }
    regfree(&eline);
    regfree(&aline);
    free(err);
    free(acc);
    logdir_remove(&d);
}
END_TEST

Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("open");
    tcase_add_test(tc, test_level_names);
    tcase_add_test(tc, test_open_creates_files);
    tcase_add_test(tc, test_open_appends);
    tcase_add_test(tc, test_open_stderr);
    tcase_add_test(tc, test_init_stderr);
    tcase_add_test(tc, test_open_error_log_fails);
    tcase_add_test(tc, test_open_access_log_fails);
    tcase_add_test(tc, test_open_error_short_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("error");
    tcase_add_test(tc, test_error_line_shape);
    tcase_add_test(tc, test_error_level_filter);
    tcase_add_test(tc, test_error_journal_prefix);
    tcase_add_test(tc, test_error_preserves_errno);
    tcase_add_test(tc, test_error_escaping);
    tcase_add_test(tc, test_error_long_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("access");
    tcase_add_test(tc, test_access_common);
    tcase_add_test(tc, test_access_zero_bytes);
    tcase_add_test(tc, test_access_combined);
    tcase_add_test(tc, test_access_field_lengths);
    tcase_add_test(tc, test_access_escaping);
    tcase_add_test(tc, test_access_peers);
    tcase_add_test(tc, test_access_no_request_line);
    tcase_add_test(tc, test_access_truncation);
    tcase_add_test(tc, test_access_time_zones);
    tcase_add_test(tc, test_access_off);
    tcase_add_test(tc, test_concurrent_lines);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
