/* logformat.h: Apache mod_log_config formats (LogFormat / CustomLog text),
 * compiled once and applied to every request.
 *
 * logformat_compile turns a format such as `%h %l %u %t "%r" %>s %b` into
 * an array of items at configuration time (supervisor or config reload,
 * any one thread).  logformat_line then formats one request into a
 * caller's buffer: a loop of copies with no allocation, no lock and no
 * stdio, so any number of threads may share one compiled format.  The
 * time text (%t) is cached per second in a struct logformat_clock that
 * each thread owns.
 *
 * Two escape modes:
 *   LOGFORMAT_ESCAPE_APACHE  values from the client are escaped as
 *       Apache's ap_escape_logitem does (\" \\ \n \t \xhh ...); a missing
 *       value prints "-".
 *   LOGFORMAT_ESCAPE_JSON    the literal text of the format is a JSON
 *       skeleton; every substituted value is escaped for a JSON string
 *       (\" \\ \n \r \t \b \f, other controls and DEL as \u00XX; valid
 *       UTF-8 copied as is, each byte of an invalid sequence as \u00XX).
 *       A value between the format's own quotes prints bare (missing: empty);
 *       one outside quotes prints as a JSON value: numbers bare, text in
 *       quotes, a missing value as null.  %b prints 0 instead of "-", a
 *       status of 0 prints 0.  So a format whose literal text is valid JSON
 *       gives a valid JSON line for every request, truncated or not.
 *
 * Every Apache 2.4 directive compiles.  Where mpmd has nothing behind one
 * it prints as missing: %l %{X}e %{X}n %{X}x %c %F %^ti %^to %{c}L.  %h is
 * %a (no HostnameLookups); %U is the raw path of the request-target, not
 * Apache's decoded one; %s %<s %>s are the same status (no internal
 * redirects).  A bad {argument} of %p, %P or %T is a compile error (Apache
 * logs the argument itself). */
#ifndef MPMD_LOGFORMAT_H
#define MPMD_LOGFORMAT_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

/* A request as the access log sees it, filled by the connection layer after
 * the response.  Strings with a length need no NUL; the others are C
 * strings.  Nothing is kept after logformat_line returns. */
struct log_request {
    const struct sockaddr *peer;        /* client; v4-mapped IPv6 printed as IPv4 */
    const struct sockaddr *conn_peer;   /* %{c}a: the connection's own peer when PEER
                                         * came from a PROXY header; NULL: PEER */
    const struct sockaddr *local;       /* may be NULL: %A prints "-", %{local}p "-" */
    /* NULL if no request was parsed (e.g. a 400 on garbage) */
    const char *method; size_t method_len;
    /* the raw request-target as sent: %U is its path part (before '?'; the
     * path of an absolute-form target), %q is "?query" or "" */
    const char *target; size_t target_len;
    const char *protocol; size_t protocol_len;          /* "HTTP/1.1" */
    const char *request_line; size_t request_line_len;  /* may be NULL → "-" */
    int status;                  /* %>s and %s (and %<s) */
    long long body_bytes;        /* %b ("-" when 0), %B */
    long long bytes_in;          /* %I: request bytes read incl. head */
    long long bytes_out;         /* %O: bytes sent incl. head; %S is %I + %O */
    struct timespec start;       /* CLOCK_REALTIME when the request began: %t, %{...}t */
    long long duration_us;       /* %D, %T (seconds, integer), %{ms}T %{us}T %{s}T; the
                                  * end (%{end:...}t) is start + duration */
    const char *server_name;     /* %v: the site's ServerName */
    const char *host; size_t host_len;  /* %V: the host the client named, lower case, no
                                         * port (Apache), or server_name */
    int server_port;             /* %p and %{canonical}p; %{local}p uses local */
    pid_t pid; long tid;         /* %P, %{pid}P, %{tid}P, %{hextid}P */
    char conn_status;            /* %X: 'X' aborted, '+' kept alive, '-' closed */
    unsigned keepalive_count;    /* %k: requests on this connection before this one
                                  * (Apache: 0 for the first) */
    const char *user;            /* %u, NULL → "-" ("" prints "" as in Apache) */
    const char *filename;        /* %f, NULL → "-" */
    const char *log_id;          /* %L, NULL → "-" */
    const char *handler;         /* %R, NULL → "-" */
    /* header look-ups (case-insensitive names; %{Cookie}i and %{X}C ask for
     * "Cookie"); NULL function or NULL result → "-".  Called from
     * logformat_line only, in the caller's thread, with CTX. */
    const char *(*req_header)(const void *ctx, const char *name, size_t name_len,
                              size_t *value_len);
    const char *(*resp_header)(const void *ctx, const char *name, size_t name_len,
                               size_t *value_len);
    /* %{NAME}x: mod_ssl's variables of a TLS connection (SSL_PROTOCOL,
     * SSL_CIPHER, SSL_SESSION_RESUMED, SSL_TLS_SNI, HTTPS); as above. */
    const char *(*ssl_var)(const void *ctx, const char *name, size_t name_len,
                           size_t *value_len);
    const void *ctx;
};

/* A compiled format: immutable once compiled, shared by any threads. */
struct logformat;

enum logformat_escape { LOGFORMAT_ESCAPE_APACHE, LOGFORMAT_ESCAPE_JSON };

/* Per-thread cache of the broken-down local time of one second, so that %t
 * needs no localtime_r (and no glibc time-zone lock) for the other requests
 * of that second.  Owned by the caller (one per thread); zero it before the
 * first use.  Keyed by the second only: a change of TZ shows from the next
 * second on. */
struct logformat_clock {
    time_t sec;
    int valid;
    struct tm tm;
    long gmtoff;                 /* seconds east of UTC, as tm.tm_gmtoff */
    char clf[40];                /* "[10/Oct/2000:13:55:36 -0700]" */
    size_t clf_len;
};

/* What a format reads (logformat_needs), so the caller can skip the work of
 * collecting the rest. */
#define LOGFORMAT_NEEDS_REQ_HEADERS  0x01u  /* %{X}i, %{X}C */
#define LOGFORMAT_NEEDS_RESP_HEADERS 0x02u  /* %{X}o */
#define LOGFORMAT_NEEDS_LOCAL_ADDR   0x04u  /* %A, %{local}p */
#define LOGFORMAT_NEEDS_TID          0x08u  /* %{tid}P, %{hextid}P */
#define LOGFORMAT_NEEDS_FILENAME     0x10u  /* %f */
#define LOGFORMAT_NEEDS_HANDLER      0x20u  /* %R */
#define LOGFORMAT_NEEDS_LOG_ID       0x40u  /* %L */

/* A line buffer big enough for any sensible format (log.c's access line). */
#define LOGFORMAT_LINE_MAX 8192

/* Compile FMT (Apache LogFormat syntax, after the config file's own
 * quoting: `\n` `\t` `\r` `\\` in it are the control characters, as in
 * Apache) for escape mode ESC.  Returns the format, to free with
 * logformat_free, or NULL with a one-line message in ERR naming the
 * offending directive and its byte offset ("unknown format directive %Y at
 * offset 3", "unterminated %{ at offset 0").  Any thread; allocates. */
struct logformat *logformat_compile(const char *fmt, enum logformat_escape esc, char *err,
                                    size_t errlen);

/* Free F (NULL is a no-op). */
void logformat_free(struct logformat *f);

/* The Apache format text of a predefined nickname: "common", "combined",
 * "vhost_combined", "referer", "agent" (Apache's), or "json" (one JSON
 * object per line, for LOGFORMAT_ESCAPE_JSON); *ESC (if ESC is not NULL)
 * gets the escape mode to compile it with.  NULL if NICKNAME is none of
 * them (case matters, as in Apache). */
const char *logformat_predefined(const char *nickname, enum logformat_escape *esc);

/* Format one line of R into BUF (CAP bytes; CAP >= 2, LOGFORMAT_LINE_MAX is
 * plenty): always a whole line ending in '\n', no NUL added.  Returns its
 * length (<= CAP).  When the values do not fit, the longest text fields
 * (request line, headers, ...) are cut, each by as little as it takes
 * (the shortest fields keep all of theirs), and a cut never splits an
 * escape sequence or a UTF-8 character; the literal text, numbers,
 * addresses and %t are kept whole (if even they do not fit, the line is
 * the part of them that does).  A %{format}t text is cut at 255 bytes.  CLK is
 * the calling thread's clock cache (NULL: no caching).  Any thread; reads
 * F and R only; no allocation. */
size_t logformat_line(const struct logformat *f, const struct log_request *r,
                      struct logformat_clock *clk, char *buf, size_t cap);

/* "Sun".."Sat" and "Jan".."Dec": the names every log line and HTTP date
 * uses (%a %b, the error log's time, IMF-fixdate). */
extern const char logformat_day_abbr[7][4];
extern const char logformat_month_abbr[12][4];

/* SA's address as %a prints it (no port; v4-mapped IPv6 as IPv4; IPv4
 * by hand, no sprintf) into OUT (INET6_ADDRSTRLEN bytes, not
 * NUL-terminated); its length, 0 when there is none.  Also the error
 * log's and ExtendedStatus's client text. */
size_t logformat_addr_text(char *out, const struct sockaddr *sa);

/* The length of the well-formed UTF-8 character at S (N bytes left,
 * S[0] >= 0x80), or 0 if it is not one (overlong, surrogate, beyond
 * U+10FFFF, cut short). */
size_t logformat_utf8_char(const unsigned char *s, size_t n);

/* SA's port (IPv4 or IPv6), or -1. */
int logformat_addr_port(const struct sockaddr *sa);

/* The LOGFORMAT_NEEDS_* bits of what F reads. */
unsigned logformat_needs(const struct logformat *f);

#endif
