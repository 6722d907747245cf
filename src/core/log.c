/* log.c: the error log and the access log (Apache 2.4 line formats).
 *
 * The supervisor opens the files (log_open) before it forks; every process
 * and thread then writes through the same descriptors.  Each line is built
 * in a buffer on the caller's stack and written with one write(2) to an
 * O_APPEND descriptor, so concurrent lines never interleave.  The only
 * state outside the struct logger is a per-thread cache of the last
 * broken-down local time, so that busy threads do not take glibc's
 * time-zone lock for every request logged within the same second.
 *
 * Untrusted bytes (request line, Referer, User-Agent, and whatever callers
 * put into error messages) are escaped as Apache does: \" \\ \n \t ... and
 * \xhh for other control and non-ASCII bytes, so a line is always one
 * line and cannot be forged by a client. */
#ifdef HAVE_CONFIG_H
#include "config.h"     /* _GNU_SOURCE (AC_USE_SYSTEM_EXTENSIONS) */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "mpmd/core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ERROR_MSG_MAX 2048      /* formatted message before escaping */
#define ERROR_LINE_MAX 4096     /* whole error-log line */
#define ACCESS_LINE_MAX 8192    /* whole access-log line */
#define REQUEST_FIELD_MAX 4096  /* escaped request line */
#define HEADER_FIELD_MAX 1536   /* escaped Referer or User-Agent */

static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};
/* How lines name each module (enum log_module); the core is "mpmd". */
static const char *const module_names[LOG_MODULES] = {
    "mpmd", "static", "alias", "proxy", "proxy_http", "proxy_fcgi", "cgi", "status", "log_config",
};
static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char month_names[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* A line being built in a caller's buffer; one byte is always kept free
 * for the final '\n'. */
struct line {
    char *buf;
    size_t len;
    size_t room;        /* capacity minus the byte kept for '\n' */
};

static void line_put(struct line *l, const char *s, size_t n)
{
    if (n > l->room - l->len)
        n = l->room - l->len;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void line_puts(struct line *l, const char *s)
{
    line_put(l, s, strlen(s));
}

static void line_printf(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void line_printf(struct line *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, l->room - l->len + 1, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < l->room - l->len ? (size_t)n : l->room - l->len;
}

/* Append S[0..N) escaped as Apache's ap_escape_logitem does, using at most
 * MAX bytes; QUOTES: escape '"' too (the error log leaves it alone).  An
 * escape sequence is never cut in half. */
static void line_put_escaped(struct line *l, const char *s, size_t n, size_t max, int quotes)
{
    static const char hex[] = "0123456789abcdef";
    size_t end = l->room - l->len < max ? l->len + (l->room - l->len) : l->len + max;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[4];
        size_t k = 0;
        if (c >= 0x20 && c < 0x7f && c != '\\' && (c != '"' || !quotes)) {
            esc[k++] = (char)c;
        } else {
            esc[k++] = '\\';
            switch (c) {
            case '\b': esc[k++] = 'b'; break;
            case '\n': esc[k++] = 'n'; break;
            case '\r': esc[k++] = 'r'; break;
            case '\t': esc[k++] = 't'; break;
            case '\v': esc[k++] = 'v'; break;
            case '\\': case '"': esc[k++] = (char)c; break;
            default:
                esc[k++] = 'x';
                esc[k++] = hex[c >> 4];
                esc[k++] = hex[c & 15];
            }
        }
        if (k > end - l->len)
            return;
        memcpy(l->buf + l->len, esc, k);
        l->len += k;
    }
}

/* End the line with '\n' and write it with one write(2). */
static void line_write(int fd, struct line *l)
{
    ssize_t w;
    l->buf[l->len++] = '\n';
    do
        w = write(fd, l->buf, l->len);
    while (w == -1 && errno == EINTR);
}

/* localtime_r(T), remembered per thread for the rest of the second. */
static void local_time(time_t t, struct tm *tm)
{
    static _Thread_local struct { time_t t; int valid; struct tm tm; } cache;
    if (!cache.valid || cache.t != t) {
        if (localtime_r(&t, &cache.tm) == NULL)
            memset(&cache.tm, 0, sizeof cache.tm);
        cache.t = t;
        cache.valid = 1;
    }
    *tm = cache.tm;
}

/* Is fd 2 connected to the journal?  (systemd sets JOURNAL_STREAM to the
 * "device:inode" of the stream it gave us.) */
static int stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (e == NULL || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) == -1)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init_stderr(struct logger *lg, int level)
{
    lg->error_fd = 2;
    lg->level = level;
    memset(lg->mod_level, 0, sizeof lg->mod_level);
    lg->journal_prefix = stderr_is_journal();
    lg->access_fd = -1;
    lg->access_format = ACCESS_OFF;
    lg->borrowed = 0;
    lg->sites = NULL;
    lg->n_sites = 0;
}

static int open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* Open the ErrorLog and AccessLog of one site into LG; a path that MAIN
 * (the main server's logger, NULL for the main server itself) has open
 * already is shared, not opened again. */
static int log_open_site(struct logger *lg, const struct config *cfg, const struct logger *main,
                         const struct config *main_cfg, char *err, size_t errlen)
{
    const struct config *server = main_cfg ? main_cfg : cfg;     /* LogLevel: server only */
    log_init_stderr(lg, server->log_level);
    memcpy(lg->mod_level, server->log_module_level, sizeof lg->mod_level);
    if (cfg->error_log != NULL && strcmp(cfg->error_log, "stderr") != 0) {
        if (main && main_cfg->error_log && strcmp(main_cfg->error_log, cfg->error_log) == 0) {
            lg->error_fd = main->error_fd;
            lg->borrowed |= LOG_BORROWED_ERROR;
        } else if ((lg->error_fd = open_log_file(cfg->error_log)) == -1) {
            snprintf(err, errlen, "ErrorLog %s: cannot open: %s", cfg->error_log,
                     strerror(errno));
            return -1;
        }
        lg->journal_prefix = 0;
    }
    if (cfg->access_log != NULL) {
        if (main && main_cfg->access_log && strcmp(main_cfg->access_log, cfg->access_log) == 0) {
            lg->access_fd = main->access_fd;
            lg->borrowed |= LOG_BORROWED_ACCESS;
        } else if ((lg->access_fd = open_log_file(cfg->access_log)) == -1) {
            snprintf(err, errlen, "AccessLog %s: cannot open: %s", cfg->access_log,
                     strerror(errno));
            return -1;
        }
        lg->access_format = cfg->access_format;
    }
    return 0;
}

int log_open(struct logger *lg, const struct config *cfg, char *err, size_t errlen)
{
    if (log_open_site(lg, cfg, NULL, NULL, err, errlen) == -1)
        goto fail;
    if (cfg->n_vhosts > 0 && (lg->sites = calloc((size_t)cfg->n_vhosts, sizeof *lg->sites)) == NULL) {
        snprintf(err, errlen, "out of memory for the virtual hosts' logs");
        goto fail;
    }
    for (int i = 0; i < cfg->n_vhosts; i++) {
        lg->n_sites = i + 1;
        if (log_open_site(&lg->sites[i], cfg->vhosts[i].cfg, lg, cfg, err, errlen) == -1)
            goto fail;
    }
    return 0;
fail:
    log_close(lg);
    return -1;
}

static void close_fds(struct logger *lg)
{
    if (lg->error_fd >= 0 && lg->error_fd != 2 && !(lg->borrowed & LOG_BORROWED_ERROR))
        close(lg->error_fd);
    if (lg->access_fd >= 0 && !(lg->borrowed & LOG_BORROWED_ACCESS))
        close(lg->access_fd);
    lg->borrowed = 0;
    lg->error_fd = 2;
    lg->journal_prefix = stderr_is_journal();
    lg->access_fd = -1;
    lg->access_format = ACCESS_OFF;
}

void log_close(struct logger *lg)
{
    for (int i = 0; i < lg->n_sites; i++)
        close_fds(&lg->sites[i]);
    free(lg->sites);
    lg->sites = NULL;
    lg->n_sites = 0;
    close_fds(lg);
}

const struct logger *log_for_site(const struct logger *lg, int site_id)
{
    return site_id > 0 && site_id <= lg->n_sites ? &lg->sites[site_id - 1] : lg;
}

int log_module_from_name(const char *name)
{
    static const struct { const char *name; int module; } aliases[] = {
        {"core", LOGM_CORE}, {"mpm_event", LOGM_CORE}, {"mpm_worker", LOGM_CORE},
        {"http", LOGM_CORE}, {"cgid", LOGM_CGI}, {"proxy_wstunnel", LOGM_PROXY_HTTP},
    };
    for (int i = 1; name && i < LOG_MODULES; i++)
        if (strcasecmp(name, module_names[i]) == 0)
            return i;
    for (size_t i = 0; name && i < sizeof aliases / sizeof *aliases; i++)
        if (strcasecmp(name, aliases[i].name) == 0)
            return aliases[i].module;
    return -1;
}

int log_level_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof level_names / sizeof *level_names; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *log_level_name(int level)
{
    if (level < LOGL_EMERG || level > LOGL_DEBUG)
        return "unknown";
    return level_names[level];
}

/* "[Mon Nov 23 06:03:17.123456 2026] [mpmd:error] [pid 1234:tid 5678] " */
static void put_error_prefix(struct line *l, int module, int level)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    local_time(now.tv_sec, &tm);
    line_printf(l, "[%s %s %02d %02d:%02d:%02d.%06ld %d] [%s:%s] [pid %ld:tid %ld] ",
                day_names[tm.tm_wday % 7], month_names[tm.tm_mon % 12], tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000, tm.tm_year + 1900,
                module_names[module], level_names[level], (long)getpid(),
                (long)syscall(SYS_gettid));
}

/* One error-log line: prefix (or the journal's "<N>"), the request's
 * client and vhost when CLIENT is set, the message escaped. */
static void write_error_line(const struct logger *lg, int module, int level,
                             const struct sockaddr *client, const char *vhost, const char *fmt,
                             va_list ap)
{
    if (!log_enabled(lg, module, level))
        return;
    int saved_errno = errno;
    char msg[ERROR_MSG_MAX], buf[ERROR_LINE_MAX];
    struct line l = { buf, 0, sizeof buf - 1 };

    if (level < LOGL_EMERG)
        level = LOGL_EMERG;
    if (level > LOGL_DEBUG)
        level = LOGL_DEBUG;
    int n = vsnprintf(msg, sizeof msg, fmt, ap);   /* first: %m still sees errno */
    size_t len = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;
    while (len > 0 && msg[len - 1] == '\n')
        len--;
    if (module < 0 || module >= LOG_MODULES)
        module = LOGM_CORE;
    if (lg->journal_prefix) {
        line_printf(&l, "<%d>", level);
        if (module != LOGM_CORE)
            line_printf(&l, "[%s] ", module_names[module]);
    } else {
        put_error_prefix(&l, module, level);
    }
    if (client) {
        char addr[INET6_ADDRSTRLEN];
        int port = client->sa_family == AF_INET
                       ? ntohs(((const struct sockaddr_in *)client)->sin_port)
                       : client->sa_family == AF_INET6
                             ? ntohs(((const struct sockaddr_in6 *)client)->sin6_port) : 0;
        line_printf(&l, "[client %s:%d] ", log_format_addr(client, addr, sizeof addr), port);
        if (vhost) {
            line_puts(&l, "[vhost ");
            line_put_escaped(&l, vhost, strlen(vhost), 256, 0);
            line_puts(&l, "] ");
        }
    }
    line_put_escaped(&l, msg, len, sizeof buf, 0);
    line_write(lg->error_fd, &l);
    errno = saved_errno;
}

void log_vmsg(const struct logger *lg, int level, const char *fmt, va_list ap)
{
    write_error_line(lg, LOGM_CORE, level, NULL, NULL, fmt, ap);
}

void log_mmsg(const struct logger *lg, int module, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    write_error_line(lg, module, level, NULL, NULL, fmt, ap);
    va_end(ap);
}

void log_reqmsg(const struct logger *lg, int module, int level, const struct sockaddr *client,
                const char *vhost, const char *fmt, va_list ap)
{
    write_error_line(lg, module, level, client, vhost, fmt, ap);
}

void log_msg(const struct logger *lg, int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(lg, level, fmt, ap);
    va_end(ap);
}

/* The client address as Apache's %h prints it: no brackets, no port, and
 * an IPv4-mapped IPv6 address as plain IPv4. */
const char *log_format_addr(const struct sockaddr *sa, char *text, size_t size)
{
    const char *s = NULL;
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        s = inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)size);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            s = inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, (socklen_t)size);
        else
            s = inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)size);
    }
    if (s == NULL && size > 1) {
        text[0] = '-';
        text[1] = '\0';
    }
    return text;
}

static void put_peer(struct line *l, const struct sockaddr *sa)
{
    char text[INET6_ADDRSTRLEN];
    line_puts(l, log_format_addr(sa, text, sizeof text));
}

/* "[23/Nov/2026:06:03:17 +0000]", local time with its numeric offset. */
static void put_access_time(struct line *l, time_t when)
{
    struct tm tm;
    local_time(when, &tm);
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    line_printf(l, "[%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld]", tm.tm_mday,
                month_names[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec, sign, off / 3600, off % 3600 / 60);
}

/* A quoted, escaped field: "text", or "-" when absent. */
static void put_quoted(struct line *l, const char *s, size_t n, size_t max)
{
    line_put(l, "\"", 1);
    if (s == NULL)
        line_put(l, "-", 1);
    else
        line_put_escaped(l, s, n, max, 1);
    line_put(l, "\"", 1);
}

void log_access(const struct logger *lg, const struct access_record *rec)
{
    if (lg->access_fd == -1 || lg->access_format == ACCESS_OFF)
        return;
    int saved_errno = errno;
    char buf[ACCESS_LINE_MAX];
    struct line l = { buf, 0, sizeof buf - 1 };

    put_peer(&l, rec->peer);
    line_puts(&l, " - - ");
    put_access_time(&l, rec->when);
    line_put(&l, " ", 1);
    put_quoted(&l, rec->request_line, rec->request_line_len, REQUEST_FIELD_MAX);
    if (rec->bytes > 0)
        line_printf(&l, " %d %lld", rec->status, rec->bytes);
    else
        line_printf(&l, " %d -", rec->status);
    if (lg->access_format == ACCESS_COMBINED) {
        line_put(&l, " ", 1);
        put_quoted(&l, rec->referer, rec->referer_len, HEADER_FIELD_MAX);
        line_put(&l, " ", 1);
        put_quoted(&l, rec->user_agent, rec->user_agent_len, HEADER_FIELD_MAX);
    }
    line_write(lg->access_fd, &l);
    errno = saved_errno;
}
