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
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ERROR_MSG_MAX 2048      /* formatted message before escaping */
#define ERROR_LINE_MAX 4096     /* whole error-log line */

static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
};
/* How lines name each module (enum log_module); the core is "mpmd". */
static const char *const module_names[LOG_MODULES] = {
    "mpmd", "static", "alias", "proxy", "proxy_http", "proxy_fcgi", "cgi", "status", "log_config",
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
    lg->access_fmt = NULL;
    lg->n_outs = 0;
    lg->needs = 0;
    lg->files = NULL;
    lg->borrowed = 0;
    lg->sites = NULL;
    lg->n_sites = 0;
}

static int open_log_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* ---- access-log files and piped programs -------------------------------- */

/* Start "|command" (Apache runs it with the shell) reading from READ_FD.
 * The supervisor blocks the signals it waits for: the program must not
 * inherit that.  Returns its pid, or -1. */
static pid_t start_piped(const char *target, int read_fd)
{
    const char *cmd = target + strspn(target, "|");
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (dup2(read_fd, 0) == -1)
        _exit(127);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

/* The file or pipe TARGET in FILES, opened (or started) on first use.
 * Returns its index, or -1 with a message in ERR. */
static int log_file_open(struct log_files *files, const char *directive, const char *target,
                         char *err, size_t errlen)
{
    for (int i = 0; i < files->n; i++)
        if (strcmp(files->f[i].target, target) == 0)
            return i;
    struct log_file *more = realloc(files->f, (size_t)(files->n + 1) * sizeof *more);
    if (!more) {
        snprintf(err, errlen, "%s %s: out of memory", directive, target);
        return -1;
    }
    files->f = more;
    struct log_file *f = &files->f[files->n];
    *f = (struct log_file){ .target = strdup(target), .fd = -1, .read_fd = -1 };
    if (!f->target) {
        snprintf(err, errlen, "%s %s: out of memory", directive, target);
        return -1;
    }
    files->n++;
    if (target[0] != '|') {
        if ((f->fd = open_log_file(target)) == -1) {
            snprintf(err, errlen, "%s %s: cannot open: %s", directive, target, strerror(errno));
            return -1;
        }
        return files->n - 1;
    }
    int p[2];
    if (pipe2(p, O_CLOEXEC) == -1) {
        snprintf(err, errlen, "%s \"%s\": cannot make a pipe: %s", directive, target,
                 strerror(errno));
        return -1;
    }
    f->read_fd = p[0];
    f->fd = p[1];
    if ((f->pid = start_piped(target, p[0])) == -1) {
        snprintf(err, errlen, "%s \"%s\": cannot start it: %s", directive, target,
                 strerror(errno));
        f->pid = 0;
        return -1;
    }
    return files->n - 1;
}

static void log_files_free(struct log_files *files)
{
    if (!files)
        return;
    for (int i = 0; i < files->n; i++) {
        if (files->f[i].fd >= 0)
            close(files->f[i].fd);
        if (files->f[i].read_fd >= 0)
            close(files->f[i].read_fd);   /* the program reads on until every child is gone */
        free(files->f[i].target);
    }
    free(files->f);
    free(files);
}

int log_piped_exited(struct logger *lg, pid_t pid)
{
    struct log_files *files = lg->files;
    for (int i = 0; files && pid > 0 && i < files->n; i++) {
        struct log_file *f = &files->f[i];
        if (f->pid != pid)
            continue;
        f->pid = start_piped(f->target, f->read_fd);
        if (f->pid == -1) {
            f->pid = 0;
            log_mmsg(lg, LOGM_LOG_CONFIG, LOGL_ERROR, "piped log \"%s\" exited and cannot be "
                     "started again: %s", f->target, strerror(errno));
        } else {
            log_mmsg(lg, LOGM_LOG_CONFIG, LOGL_WARN, "piped log \"%s\" exited; started it "
                     "again (pid %ld)", f->target, (long)f->pid);
        }
        return 1;
    }
    return 0;
}

/* Add an output of LG writing FMT to FILES' file I. */
static void add_out(struct logger *lg, const struct log_files *files, int i,
                    const struct logformat *fmt)
{
    struct log_out *o = &lg->outs[lg->n_outs++];
    o->fd = files->f[i].fd;
    o->fmt = fmt;
    o->max_line = files->f[i].read_fd >= 0 ? PIPE_BUF : LOGFORMAT_LINE_MAX;
    lg->needs |= logformat_needs(fmt);
}

/* The access logs of site CFG: AccessLog's, then each CustomLog's. */
static int log_open_outputs(struct logger *lg, const struct config *cfg, struct log_files *files,
                            char *err, size_t errlen)
{
    if (cfg->access_log != NULL && cfg->access_format != ACCESS_OFF) {
        const char *nick = cfg->access_format == ACCESS_COMMON ? "common" : "combined";
        char why[256];
        lg->access_fmt = logformat_compile(logformat_predefined(nick, NULL),
                                           LOGFORMAT_ESCAPE_APACHE, why, sizeof why);
        if (!lg->access_fmt) {
            snprintf(err, errlen, "AccessLog %s: %s", cfg->access_log, why);
            return -1;
        }
        int i = log_file_open(files, "AccessLog", cfg->access_log, err, errlen);
        if (i < 0)
            return -1;
        lg->access_fd = files->f[i].fd;
        lg->access_format = cfg->access_format;
        add_out(lg, files, i, lg->access_fmt);
    }
    for (int k = 0; k < cfg->n_logs; k++) {
        int i = log_file_open(files, "CustomLog", cfg->logs[k].target, err, errlen);
        if (i < 0)
            return -1;
        add_out(lg, files, i, cfg->logs[k].compiled);
    }
    return 0;
}

/* Open the ErrorLog and AccessLog of one site into LG; a path that MAIN
 * (the main server's logger, NULL for the main server itself) has open
 * already is shared, not opened again. */
static int log_open_site(struct logger *lg, const struct config *cfg, const struct logger *main,
                         const struct config *main_cfg, struct log_files *files, char *err,
                         size_t errlen)
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
    return log_open_outputs(lg, cfg, files, err, errlen);
}

int log_open(struct logger *lg, const struct config *cfg, char *err, size_t errlen)
{
    struct log_files *files = calloc(1, sizeof *files);
    log_init_stderr(lg, cfg->log_level);
    if (!files) {
        snprintf(err, errlen, "out of memory for the logs");
        return -1;
    }
    int failed = log_open_site(lg, cfg, NULL, NULL, files, err, errlen) == -1;
    lg->files = files;
    if (failed)
        goto fail;
    if (cfg->n_vhosts > 0 && (lg->sites = calloc((size_t)cfg->n_vhosts, sizeof *lg->sites)) == NULL) {
        snprintf(err, errlen, "out of memory for the virtual hosts' logs");
        goto fail;
    }
    for (int i = 0; i < cfg->n_vhosts; i++) {
        lg->n_sites = i + 1;
        if (log_open_site(&lg->sites[i], cfg->vhosts[i].cfg, lg, cfg, files, err, errlen) == -1)
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
    logformat_free(lg->access_fmt);   /* the files are closed with the main logger's */
    lg->access_fmt = NULL;
    lg->n_outs = 0;
    lg->needs = 0;
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
    log_files_free(lg->files);
    lg->files = NULL;
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
                logformat_day_abbr[tm.tm_wday % 7], logformat_month_abbr[tm.tm_mon % 12],
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec / 1000, tm.tm_year + 1900,
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
        int port = logformat_addr_port(client);
        line_printf(&l, "[client %s:%d] ", log_format_addr(client, addr, sizeof addr),
                    port < 0 ? 0 : port);
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
    char addr[INET6_ADDRSTRLEN];
    size_t n = logformat_addr_text(addr, sa);
    snprintf(text, size, "%.*s", n ? (int)n : 1, n ? addr : "-");
    return text;
}


/* The calling thread's batch, if it collects lines (log_batch_begin). */
static _Thread_local struct log_batch *thread_batch;

/* Write all N bytes of BUF to FD (short writes: a full disk). */
static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w == -1 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        buf += w;
        n -= (size_t)w;
    }
}

void log_batch_begin(struct log_batch *b)
{
    memset(b, 0, sizeof *b);
    thread_batch = b;
}

void log_batch_flush(struct log_batch *b)
{
    for (int i = 0; i < b->n; i++)
        if (b->f[i].len > 0) {
            write_all(b->f[i].fd, b->f[i].buf, b->f[i].len);
            b->f[i].len = 0;
        }
}

void log_batch_end(struct log_batch *b)
{
    log_batch_flush(b);
    for (int i = 0; i < b->n; i++)
        free(b->f[i].buf);
    b->n = 0;
    if (thread_batch == b)
        thread_batch = NULL;
}

/* Add a line to B's buffer for FD; 0, or -1 when it must be written now. */
static int batch_add(struct log_batch *b, int fd, const char *line, size_t n)
{
    int i = 0;
    while (i < b->n && b->f[i].fd != fd)
        i++;
    if (i == b->n) {
        if (b->n == LOG_BATCH_FILES || (b->f[i].buf = malloc(LOG_BATCH_BYTES)) == NULL)
            return -1;
        b->f[i].fd = fd;
        b->f[i].len = 0;
        b->n++;
    }
    if (n > LOG_BATCH_BYTES)
        return -1;
    if (b->f[i].len + n > LOG_BATCH_BYTES) {
        write_all(fd, b->f[i].buf, b->f[i].len);
        b->f[i].len = 0;
    }
    memcpy(b->f[i].buf + b->f[i].len, line, n);
    b->f[i].len += n;
    return 0;
}

void log_request(const struct logger *lg, const struct log_request *rec,
                 struct logformat_clock *clk)
{
    if (lg->n_outs == 0)
        return;
    int saved_errno = errno;
    char buf[LOGFORMAT_LINE_MAX];
    for (int i = 0; i < lg->n_outs; i++) {
        const struct log_out *o = &lg->outs[i];
        size_t n = logformat_line(o->fmt, rec, clk, buf, o->max_line);
        if (thread_batch && o->max_line != PIPE_BUF && batch_add(thread_batch, o->fd, buf, n) == 0)
            continue;
        ssize_t w;
        do
            w = write(o->fd, buf, n);
        while (w == -1 && errno == EINTR);
    }
    errno = saved_errno;
}

/* log_request's header look-up for an access_record: Referer and
 * User-Agent only. */
static const char *access_record_header(const void *ctx, const char *name, size_t name_len,
                                        size_t *value_len)
{
    const struct access_record *rec = ctx;
    if (name_len == 7 && strncasecmp(name, "Referer", 7) == 0) {
        *value_len = rec->referer_len;
        return rec->referer;
    }
    if (name_len == 10 && strncasecmp(name, "User-Agent", 10) == 0) {
        *value_len = rec->user_agent_len;
        return rec->user_agent;
    }
    return NULL;
}

void log_access(const struct logger *lg, const struct access_record *rec)
{
    struct log_request r = {
        .peer = rec->peer, .request_line = rec->request_line,
        .request_line_len = rec->request_line_len, .status = rec->status,
        .body_bytes = rec->bytes, .start = { rec->when, 0 }, .pid = getpid(),
        .req_header = access_record_header, .ctx = rec,
    };
    log_request(lg, &r, NULL);
}

