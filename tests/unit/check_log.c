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
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdarg.h>
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

    /* a file but the format is off: no access log at all (the file need
     * not even be created), nothing written */
    logdir_make(&d, LOGL_WARN, ACCESS_COMMON);
    d.cfg.access_format = ACCESS_OFF;
    char err[256];
    ck_assert_int_eq(log_open(&d.lg, &d.cfg, err, sizeof err), 0);
    ck_assert_int_eq(d.lg.access_fd, -1);
    ck_assert_int_eq(d.lg.n_outs, 0);
    log_access(&d.lg, &r);
    if (access(d.access_path, F_OK) == 0)
        assert_file_eq(d.access_path, "");
    logdir_remove(&d);
}
END_TEST

/* ---- CustomLog: formats, shared files, piped logs ------------------- */

/* CustomLog TARGET FORMAT as config.c leaves it (compiled), added to D's
 * config; freed by customlogs_free. */
static void add_customlog(struct logdir *d, char *target, const char *format,
                          enum logformat_escape esc)
{
    char why[256] = "";
    ck_assert_int_lt(d->cfg.n_logs, CONFIG_MAX_LOGS);
    struct log_spec *s = &d->cfg.logs[d->cfg.n_logs++];
    memset(s, 0, sizeof *s);
    s->target = target;
    s->format = (char *)format;
    s->compiled = logformat_compile(format, esc, why, sizeof why);
    ck_assert_msg(s->compiled != NULL, "%s: %s", format, why);
}

static void customlogs_free(struct logdir *d)
{
    for (int i = 0; i < d->cfg.n_logs; i++)
        logformat_free(d->cfg.logs[i].compiled);
    d->cfg.n_logs = 0;
}

static const char *hdr_lookup(const void *ctx, const char *name, size_t name_len,
                              size_t *value_len)
{
    (void)ctx;
    if (name_len == 7 && strncasecmp(name, "X-Trace", 7) == 0) {
        *value_len = 5;
        return "t\"1\"2";
    }
    return NULL;
}

/* A request as the connection layer fills it, by hand. */
static struct log_request request_rec(const struct sockaddr *peer, time_t when, int status)
{
    static const char rl[] = "GET /a?b=1 HTTP/1.1";
    struct log_request r;
    memset(&r, 0, sizeof r);
    r.peer = peer;
    r.method = "GET"; r.method_len = 3;
    r.target = "/a?b=1"; r.target_len = 6;
    r.protocol = "HTTP/1.1"; r.protocol_len = 8;
    r.request_line = rl; r.request_line_len = sizeof rl - 1;
    r.status = status;
    r.body_bytes = 321;
    r.start.tv_sec = when;
    r.duration_us = 1500;
    r.server_name = "site.example";
    r.server_port = 8080;
    r.pid = 4242;
    r.req_header = hdr_lookup;
    return r;
}

/* Wait (at most ~10 s) until PATH holds WANT exactly; returns whether it
 * did, the last contents in *GOT (caller frees). */
static int wait_for_file(const char *path, const char *want, char **got)
{
    *got = NULL;
    for (int i = 0; i < 1000; i++) {
        free(*got);
        *got = access(path, F_OK) == 0 ? slurp(path) : strdup("");
        if (strcmp(*got, want) == 0)
            return 1;
        usleep(10000);
    }
    return 0;
}

/* Reap PID, which must exit by itself within ~10 s. */
static void wait_exit(pid_t pid)
{
    int status;
    for (int i = 0; i < 1000; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        ck_assert_int_ne(w, -1);
        if (w == pid)
            return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_abort_msg("piped log program %ld did not exit at EOF", (long)pid);
}

/* A CustomLog with its own format: log_request writes the line, and the
 * AccessLog beside it writes its own format of the same request. */
START_TEST(test_customlog_format)
{
    struct logdir d;
    char custom_path[300];
    logdir_make(&d, LOGL_WARN, ACCESS_COMMON);
    snprintf(custom_path, sizeof custom_path, "%s/custom.log", d.dir);
    add_customlog(&d, custom_path, "%h %>s %v:%p \"%r\" %m %U%q %B %D %P [%{X-Trace}i] "
                  "[%{Referer}i]", LOGFORMAT_ESCAPE_APACHE);
    char err[256] = "";
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    ck_assert_int_eq(d.lg.n_outs, 2);
    struct sockaddr_in sin = peer_v4("192.0.2.10");
    struct log_request r = request_rec((struct sockaddr *)&sin, 1700000020, 201);
    struct logformat_clock clk;
    memset(&clk, 0, sizeof clk);
    log_request(&d.lg, &r, &clk);
    r.status = 404;
    r.req_header = NULL;
    log_request(&d.lg, &r, NULL);
    assert_file_eq(custom_path,
                   "192.0.2.10 201 site.example:8080 \"GET /a?b=1 HTTP/1.1\" GET /a?b=1 321 1500 "
                   "4242 [t\\\"1\\\"2] [-]\n"
                   "192.0.2.10 404 site.example:8080 \"GET /a?b=1 HTTP/1.1\" GET /a?b=1 321 1500 "
                   "4242 [-] [-]\n");
    char t[64], want[512];
    access_time(1700000020, t, sizeof t);
    snprintf(want, sizeof want, "192.0.2.10 - - [%s] \"GET /a?b=1 HTTP/1.1\" 201 321\n"
             "192.0.2.10 - - [%s] \"GET /a?b=1 HTTP/1.1\" 404 321\n", t, t);
    assert_file_eq(d.access_path, want);
    log_close(&d.lg);
    customlogs_free(&d);
    unlink(custom_path);
    logdir_remove(&d);
}
END_TEST

/* Two CustomLogs (and the AccessLog) naming one file share one descriptor,
 * also across virtual hosts; each writes its own line, in order. */
START_TEST(test_customlog_shared_fd)
{
    struct logdir d;
    logdir_make(&d, LOGL_WARN, ACCESS_COMMON);
    add_customlog(&d, d.access_path, "one %>s", LOGFORMAT_ESCAPE_APACHE);
    add_customlog(&d, d.access_path, "{\"two\":%>s}", LOGFORMAT_ESCAPE_JSON);
    struct config vcfg;
    struct vhost vh;
    memset(&vcfg, 0, sizeof vcfg);
    memset(&vh, 0, sizeof vh);
    vcfg.logs[0] = d.cfg.logs[0];          /* the same file from a virtual host */
    vcfg.n_logs = 1;
    vh.cfg = &vcfg;
    d.cfg.vhosts = &vh;
    d.cfg.n_vhosts = 1;
    int lowest = lowest_free_fd();
    char err[256] = "";
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    ck_assert_int_eq(d.lg.n_outs, 3);
    ck_assert_int_eq(d.lg.files->n, 1);
    ck_assert_int_eq(d.lg.outs[0].fd, d.lg.access_fd);
    ck_assert_int_eq(d.lg.outs[1].fd, d.lg.access_fd);
    ck_assert_int_eq(d.lg.outs[2].fd, d.lg.access_fd);
    ck_assert_int_eq(d.lg.files->f[0].read_fd, -1);
    ck_assert_int_eq(d.lg.files->f[0].pid, 0);
    const struct logger *site = log_for_site(&d.lg, 1);
    ck_assert_ptr_eq(site, &d.lg.sites[0]);
    ck_assert_int_eq(site->n_outs, 1);
    ck_assert_int_eq(site->outs[0].fd, d.lg.access_fd);
    ck_assert_int_eq(lowest_free_fd(), lowest + 2);   /* error log and one access-log file */

    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct log_request r = request_rec((struct sockaddr *)&sin, 1700000021, 200);
    log_request(&d.lg, &r, NULL);
    r.status = 204;
    log_request(site, &r, NULL);
    char t[64], want[512];
    access_time(1700000021, t, sizeof t);
    snprintf(want, sizeof want, "127.0.0.1 - - [%s] \"GET /a?b=1 HTTP/1.1\" 200 321\n"
             "one 200\n{\"two\":200}\none 204\n", t);
    assert_file_eq(d.access_path, want);
    log_close(&d.lg);
    ck_assert_int_eq(lowest_free_fd(), lowest);
    customlogs_free(&d);
    logdir_remove(&d);
}
END_TEST

/* CustomLog "|cat > FILE": lines go down a pipe to the program, whole;
 * a line longer than PIPE_BUF is cut to fit (one atomic write); after
 * log_close the program sees EOF and has written everything. */
START_TEST(test_customlog_piped)
{
    struct logdir d;
    char out[300], target[400];
    logdir_make(&d, LOGL_WARN, ACCESS_OFF);
    snprintf(out, sizeof out, "%s/piped.out", d.dir);
    snprintf(target, sizeof target, "|cat > '%s'", out);
    add_customlog(&d, target, "%>s \"%r\"", LOGFORMAT_ESCAPE_APACHE);
    char err[256] = "";
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    ck_assert_int_eq(d.lg.files->n, 1);
    const struct log_file *f = &d.lg.files->f[0];
    ck_assert_str_eq(f->target, target);
    ck_assert_int_gt(f->pid, 0);
    ck_assert_int_ge(f->read_fd, 0);
    ck_assert_int_ne(fcntl(f->fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_int_ne(fcntl(f->read_fd, F_GETFD) & FD_CLOEXEC, 0);
    ck_assert_uint_eq(d.lg.outs[0].max_line, PIPE_BUF);
    pid_t pid = f->pid;

    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct log_request r = request_rec((struct sockaddr *)&sin, 1700000022, 200);
    log_request(&d.lg, &r, NULL);
    r.status = 500;
    log_request(&d.lg, &r, NULL);
    size_t n = 3 * PIPE_BUF;
    char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'A', n);
    r.request_line = big;
    r.request_line_len = n;
    r.status = 414;
    log_request(&d.lg, &r, NULL);
    free(big);
    log_close(&d.lg);
    wait_exit(pid);

    char *got = slurp(out);
    ck_assert_int_eq(count_lines(got), 3);
    ck_assert_int_eq(strncmp(got, "200 \"GET /a?b=1 HTTP/1.1\"\n500 \"GET /a?b=1 HTTP/1.1\"\n", 52),
                     0);
    const char *third = got + 52;
    ck_assert_uint_le(strlen(third), PIPE_BUF);
    ck_assert_msg(matches("^414 \"A+\"$", third), "bad line: %.60s", third);
    free(got);
    customlogs_free(&d);
    unlink(out);
    logdir_remove(&d);
}
END_TEST

/* A piped log's program that dies is started again on the same pipe by
 * log_piped_exited: what was written meanwhile waits in the pipe, and what
 * is written afterwards arrives too. */
START_TEST(test_customlog_piped_restart)
{
    struct logdir d;
    char out[300], target[400];
    logdir_make(&d, LOGL_WARN, ACCESS_OFF);
    snprintf(out, sizeof out, "%s/piped.out", d.dir);
    snprintf(target, sizeof target, "|exec cat >> '%s'", out);
    add_customlog(&d, target, "%>s", LOGFORMAT_ESCAPE_APACHE);
    char err[256] = "";
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    d.lg.journal_prefix = 1;
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    struct log_request r = request_rec((struct sockaddr *)&sin, 1700000023, 200);
    log_request(&d.lg, &r, NULL);
    char *got;
    ck_assert_msg(wait_for_file(out, "200\n", &got), "got '%s'", got);
    free(got);

    pid_t old = d.lg.files->f[0].pid;
    ck_assert_int_eq(log_piped_exited(&d.lg, old + 100000), 0);   /* not a piped log's */
    ck_assert_int_eq(log_piped_exited(&d.lg, 0), 0);
    ck_assert_int_eq(kill(old, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(old, &status, 0), old);
    ck_assert(WIFSIGNALED(status));
    r.status = 201;                               /* nobody reads: it waits in the pipe */
    log_request(&d.lg, &r, NULL);
    ck_assert_int_eq(log_piped_exited(&d.lg, old), 1);
    pid_t again = d.lg.files->f[0].pid;
    ck_assert_int_gt(again, 0);
    ck_assert_int_ne(again, old);
    r.status = 202;
    log_request(&d.lg, &r, NULL);
    ck_assert_msg(wait_for_file(out, "200\n201\n202\n", &got), "got '%s'", got);
    free(got);
    char want[512];
    snprintf(want, sizeof want, "<4>[log_config] piped log \"%s\" exited; started it again "
             "(pid %ld)\n", target, (long)again);
    assert_file_eq(d.error_path, want);

    log_close(&d.lg);
    wait_exit(again);
    customlogs_free(&d);
    unlink(out);
    logdir_remove(&d);
}
END_TEST

/* ---- per-module levels and request messages ------------------------- */

/* LogLevel warn proxy:info: proxy's info lines are written, named
 * "[proxy:info]"; other modules and the core keep warn. */
START_TEST(test_module_levels)
{
    struct logdir d;
    logdir_make(&d, LOGL_WARN, ACCESS_OFF);
    char err[256] = "";
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    log_mmsg(&d.lg, LOGM_PROXY, LOGL_INFO, "dropped: proxy info at warn");
    ck_assert(!log_enabled(&d.lg, LOGM_PROXY, LOGL_INFO));
    ck_assert(log_enabled(&d.lg, LOGM_PROXY, LOGL_WARN));
    log_close(&d.lg);
    assert_file_eq(d.error_path, "");

    d.cfg.log_module_level[LOGM_PROXY] = LOGL_INFO + 1;
    d.cfg.log_module_level[LOGM_CGI] = LOGL_ERROR + 1;   /* quieter than the rest */
    struct config vcfg;
    struct vhost vh;
    memset(&vcfg, 0, sizeof vcfg);
    memset(&vh, 0, sizeof vh);
    vcfg.log_level = LOGL_DEBUG;                         /* LogLevel is the server's only */
    vcfg.error_log = d.error_path;
    vh.cfg = &vcfg;
    d.cfg.vhosts = &vh;
    d.cfg.n_vhosts = 1;
    ck_assert_msg(log_open(&d.lg, &d.cfg, err, sizeof err) == 0, "log_open: %s", err);
    ck_assert_int_eq(d.lg.mod_level[LOGM_PROXY], LOGL_INFO + 1);
    ck_assert(log_enabled(&d.lg, LOGM_PROXY, LOGL_INFO));
    ck_assert(!log_enabled(&d.lg, LOGM_PROXY, LOGL_DEBUG));
    ck_assert(!log_enabled(&d.lg, LOGM_CGI, LOGL_WARN));
    ck_assert(log_enabled(&d.lg, LOGM_CGI, LOGL_ERROR));
    ck_assert(!log_enabled(&d.lg, LOGM_PROXY_HTTP, LOGL_INFO));
    ck_assert(!log_enabled(&d.lg, LOGM_CORE, LOGL_INFO));
    const struct logger *site = log_for_site(&d.lg, 1);
    ck_assert_int_eq(site->level, LOGL_WARN);
    ck_assert(log_enabled(site, LOGM_PROXY, LOGL_INFO));
    ck_assert(!log_enabled(site, LOGM_CGI, LOGL_WARN));

    log_mmsg(&d.lg, LOGM_PROXY, LOGL_INFO, "proxy %s", "info");
    log_mmsg(&d.lg, LOGM_PROXY, LOGL_DEBUG, "proxy debug");
    log_mmsg(&d.lg, LOGM_PROXY_HTTP, LOGL_INFO, "proxy_http info");
    log_mmsg(&d.lg, LOGM_CGI, LOGL_WARN, "cgi warn");
    log_mmsg(&d.lg, LOGM_CGI, LOGL_ERROR, "cgi error");
    log_msg(&d.lg, LOGL_INFO, "core info");
    log_mmsg(&d.lg, LOGM_STATIC, LOGL_WARN, "static warn");
    log_mmsg(site, LOGM_PROXY, LOGL_INFO, "site proxy info");
    char *got = slurp(d.error_path);
    ck_assert_int_eq(count_lines(got), 4);
    ck_assert_msg(matches("^\\[[^]]+\\] \\[proxy:info\\] \\[pid [0-9]+:tid [0-9]+\\] proxy info$",
                          got), "%s", got);
    ck_assert(matches("^\\[[^]]+\\] \\[cgi:error\\] \\[pid [0-9]+:tid [0-9]+\\] cgi error$", got));
    ck_assert(matches("^\\[[^]]+\\] \\[static:warn\\] \\[pid [0-9]+:tid [0-9]+\\] static warn$",
                      got));
    ck_assert(matches("\\[proxy:info\\] .* site proxy info$", got));
    ck_assert_ptr_null(strstr(got, "debug"));
    ck_assert_ptr_null(strstr(got, "proxy_http"));
    ck_assert_ptr_null(strstr(got, "cgi warn"));
    ck_assert_ptr_null(strstr(got, "core"));
    free(got);

    /* the journal's lines name the module after the priority */
    ck_assert_int_eq(truncate(d.error_path, 0), 0);
    d.lg.journal_prefix = 1;
    log_mmsg(&d.lg, LOGM_PROXY, LOGL_INFO, "j");
    log_mmsg(&d.lg, LOGM_CORE, LOGL_ERROR, "c");
    assert_file_eq(d.error_path, "<6>[proxy] j\n<3>c\n");
    logdir_remove(&d);
}
END_TEST

static void reqmsg(const struct logger *lg, int module, int level, const struct sockaddr *client,
                   const char *vhost, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void reqmsg(const struct logger *lg, int module, int level, const struct sockaddr *client,
                   const char *vhost, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_reqmsg(lg, module, level, client, vhost, fmt, ap);
    va_end(ap);
}

/* A request's message names the client (address:port) and the virtual
 * host after the pid, as Apache's ap_log_rerror does. */
START_TEST(test_reqmsg)
{
    struct logdir d;
    logdir_open(&d, LOGL_WARN, ACCESS_OFF);
    struct sockaddr_in sin = peer_v4("127.0.0.1");
    sin.sin_port = htons(5678);
    struct sockaddr_in6 mapped = peer_v6("::ffff:10.0.0.2");
    mapped.sin6_port = htons(443);
    reqmsg(&d.lg, LOGM_PROXY, LOGL_ERROR, (struct sockaddr *)&sin, "NAME", "upstream %d", 7);
    reqmsg(&d.lg, LOGM_PROXY, LOGL_INFO, (struct sockaddr *)&sin, "NAME", "dropped");
    char *got = slurp(d.error_path);
    ck_assert_msg(matches("^\\[[^]]+\\] \\[proxy:error\\] \\[pid [0-9]+:tid [0-9]+\\] "
                          "\\[client 127\\.0\\.0\\.1:5678\\] \\[vhost NAME\\] upstream 7$", got),
                  "bad line: %s", got);
    ck_assert_int_eq(count_lines(got), 1);
    free(got);

    ck_assert_int_eq(truncate(d.error_path, 0), 0);
    d.lg.journal_prefix = 1;
    errno = EPIPE;
    reqmsg(&d.lg, LOGM_PROXY, LOGL_ERROR, (struct sockaddr *)&sin, "NAME", "send: %m");
    ck_assert_int_eq(errno, EPIPE);
    reqmsg(&d.lg, LOGM_CORE, LOGL_WARN, (struct sockaddr *)&sin, NULL, "no vhost");
    reqmsg(&d.lg, LOGM_STATIC, LOGL_ERROR, (struct sockaddr *)&mapped, "a\nb]", "x");
    assert_file_eq(d.error_path,
                   "<3>[proxy] [client 127.0.0.1:5678] [vhost NAME] send: Broken pipe\n"
                   "<4>[client 127.0.0.1:5678] no vhost\n"
                   "<3>[static] [client 10.0.0.2:443] [vhost a\\nb]] x\n");
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
    tcase_add_test(tc, test_module_levels);
    tcase_add_test(tc, test_reqmsg);
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
    tcase_add_test(tc, test_customlog_format);
    tcase_add_test(tc, test_customlog_shared_fd);
    tcase_add_test(tc, test_customlog_piped);
    tcase_add_test(tc, test_customlog_piped_restart);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
