/* log.h: the error log and the access log.
 *
 * One struct logger per process (in the supervisor's or child's context).
 * Every function here may be called from any thread: each line is
 * formatted on the caller's stack and written with one write(2) to an
 * O_APPEND descriptor, so lines from different threads and processes never
 * interleave. */
#ifndef MPMD_LOG_H
#define MPMD_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "mpmd/core/config.h"
#include "mpmd/core/logformat.h"

/* One access log a site writes: where, and in what format. */
struct log_out {
    int fd;
    const struct logformat *fmt;  /* the config's (CustomLog) or the logger's (AccessLog) */
    size_t max_line;              /* a pipe takes whole lines up to PIPE_BUF only */
};

/* An access-log file or pipe, opened once for every site that names it
 * (struct log_files, owned by the main server's logger). */
struct log_file {
    char *target;                 /* absolute path, or "|command" */
    int fd;                       /* write end */
    int read_fd;                  /* a pipe's read end, kept to restart the program on;
                                   * -1 for a file */
    pid_t pid;                    /* the piped program, 0 if none running */
};

struct log_files {
    struct log_file *f;
    int n;
};

struct logger {
    int error_fd;           /* error log; 2 for stderr */
    int level;              /* enum log_level: lines above it are dropped */
    signed char mod_level[LOG_MODULES]; /* a module's own LogLevel + 1, or 0: LEVEL */
    int journal_prefix;     /* write "<N>message" lines instead of Apache's (stderr is the
                             * journal: set by log_init_stderr/log_open from $JOURNAL_STREAM) */
    int access_fd;          /* AccessLog's file, -1 when off */
    int access_format;      /* AccessLog's format: enum access_format */
    struct logformat *access_fmt; /* AccessLog's, compiled (owned) */
    struct log_out outs[CONFIG_MAX_LOGS + 1]; /* AccessLog's, then each CustomLog's */
    int n_outs;
    unsigned needs;         /* LOGFORMAT_NEEDS_* of all outs */
    struct log_files *files; /* main server's logger: the access-log files (owned) */
    unsigned borrowed;      /* LOG_BORROWED_*: fds of the main server's logger, not closed */
    struct logger *sites;   /* the virtual hosts' own (index site_id - 1), or NULL */
    int n_sites;
};

#define LOG_BORROWED_ERROR 1u


/* Set up a logger that writes to stderr only, at LEVEL, with no access
 * log.  journal_prefix is set when systemd's $JOURNAL_STREAM names fd 2. */
void log_init_stderr(struct logger *lg, int level);

/* Open the ErrorLog and AccessLog files named by CFG and by each of its
 * virtual hosts (append, create 0644, close-on-exec); ErrorLog "stderr"
 * (or NULL) is fd 2, AccessLog NULL is off.  Takes level and access format from CFG.  Returns 0, or -1 with a
 * message in ERR ("ErrorLog /x/y: cannot open: Permission denied"); LG is
 * then a usable stderr-only logger with nothing left open.  Supervisor
 * only, before fork. */
int log_open(struct logger *lg, const struct config *cfg, char *err, size_t errlen);

/* Close what log_open opened (stderr is left alone); LG then logs to
 * stderr with the access log off. */
void log_close(struct logger *lg);

/* The logger of site SITE_ID (struct config's site_id): a virtual host's
 * own ErrorLog and AccessLog (the main server's files where it names the
 * same path or none), or LG itself for the main server. */
const struct logger *log_for_site(const struct logger *lg, int site_id);

/* Write "[Mon Nov 23 06:03:17.123456 2026] [mpmd:error] [pid 12:tid 34]
 * message" (local time), or "<3>message" with journal_prefix, when LEVEL
 * is at or below lg->level.  Control, non-ASCII and '\\' bytes of the
 * message are escaped (\n, \xhh, ...), trailing newlines dropped, long
 * messages truncated.  errno is preserved (so "%m" works too). */
void log_msg(const struct logger *lg, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(const struct logger *lg, int level, const char *fmt, va_list ap);

/* One access-log record, as the handler knows it after the response. */
struct access_record {
    const struct sockaddr *peer;
    const char *request_line;  size_t request_line_len;  /* may be NULL */
    int status;
    long long bytes;           /* body bytes sent, as %b */
    const char *referer;   size_t referer_len;           /* may be NULL */
    const char *user_agent; size_t user_agent_len;       /* may be NULL */
    time_t when;
};

/* Write one line of REC to every access log of LG (none: nothing), each
 * in its own format, with one write(2) each: a whole line, never torn or
 * interleaved with another process's or thread's.  CLK: the calling
 * thread's clock cache, or NULL.  errno is preserved. */
void log_request(const struct logger *lg, const struct log_request *rec,
                 struct logformat_clock *clk);

/* log_request for the Common Log Format fields of REC alone (peer, time,
 * request line, status, bytes, Referer, User-Agent): `127.0.0.1 - -
 * [23/Nov/2026:06:03:17 +0000] "GET / HTTP/1.1" 200 1234`, plus
 * ` "referer" "user-agent"` for combined. */
void log_access(const struct logger *lg, const struct access_record *rec);

/* Lines a thread collects while it answers a batch of requests (the
 * listener: one event-loop iteration), then writes with one write(2) per
 * file: whole lines, so still never torn or interleaved with another
 * writer's (an O_APPEND write to a regular file is one unit), at a
 * fraction of the system calls.  Pipes are not batched (PIPE_BUF).  The
 * struct is its thread's; log_batch_begin makes log_request of the
 * calling thread collect into it, log_batch_flush writes, log_batch_end
 * writes and frees. */
#define LOG_BATCH_FILES 8
#define LOG_BATCH_BYTES 32768
struct log_batch {
    struct {
        int fd;
        size_t len;
        char *buf;                /* LOG_BATCH_BYTES, owned */
    } f[LOG_BATCH_FILES];
    int n;
};
void log_batch_begin(struct log_batch *b);
void log_batch_flush(struct log_batch *b);
void log_batch_end(struct log_batch *b);

/* Supervisor: a child process PID exited.  If it was a piped log's
 * program, start it again on the same pipe (nothing written meanwhile is
 * lost: the pipe holds it) and return 1; else 0. */
int log_piped_exited(struct logger *lg, pid_t pid);

/* The client address as Apache's %h prints it into TEXT (SIZE >= 46):
 * no brackets, no port, an IPv4-mapped IPv6 address as plain IPv4, "-"
 * when unknown.  Returns TEXT. */
const char *log_format_addr(const struct sockaddr *sa, char *text, size_t size);

/* The module names LogLevel takes (for messages). */
#define LOG_MODULE_NAMES "static, alias, proxy, proxy_http, proxy_fcgi, cgi, status, log_config"

/* MODULE's number (enum log_module), Apache's names included ("core",
 * "cgid", ...); -1 if unknown. */
int log_module_from_name(const char *name);

/* Would a message of MODULE at LEVEL be written? */
static inline int log_enabled(const struct logger *lg, int module, int level)
{
    int own = module >= 0 && module < LOG_MODULES ? lg->mod_level[module] : 0;
    return level <= (own ? own - 1 : lg->level);
}

/* log_msg for MODULE: its own LogLevel applies and the line names it
 * ("[proxy:error]"). */
void log_mmsg(const struct logger *lg, int module, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A message about one request: as log_mmsg, with "[client ADDR:PORT]"
 * and, when VHOST is not NULL, "[vhost NAME]" after the pid. */
void log_reqmsg(const struct logger *lg, int module, int level, const struct sockaddr *client,
                const char *vhost, const char *fmt, va_list ap);

/* Parse a LogLevel name ("warn", "debug", ..., any case); returns -1 if
 * unknown or NULL. */
int log_level_from_name(const char *name);
/* The Apache name of LEVEL ("error"), or "unknown" if out of range. */
const char *log_level_name(int level);

#endif
