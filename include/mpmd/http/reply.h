/* reply.h: a response as a handler builds it: status, head fields and a
 * body source (static memory, a file cache entry, or a file range).
 *
 * A handler never sees the connection: it leaves the head open, and the
 * connection code (src/http/conn.c) adds the Connection field and the final
 * CRLF, strips the body of a HEAD answer, and sends it.  Any thread; a
 * reply lives on the stack of whoever builds it, and its body moves into
 * the connection's pending output when the socket would block. */
#ifndef MPMD_REPLY_H
#define MPMD_REPLY_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "mpmd/http/response.h"

/* Output still to send: the head (copied), a body in memory, a file range. */
struct reply_out {
    struct response_head head;
    size_t head_sent;
    const char *body;        /* static storage, or memory kept alive by RELEASE's args */
    size_t body_len, body_sent;
    int file_fd;             /* -1 if none; owned: closed when done */
    off_t file_pos, file_end;
    /* Called once when the body is sent or dropped (e.g. a file cache
     * entry's reference), or NULL. */
    void (*release)(void *a, void *b);
    void *release_a, *release_b;
};

#define REPLY_USER_MAX 256        /* a user name's bytes, NUL included */

struct reply {
    int status;
    int must_close;          /* the connection must end after this reply */
    int streamed;            /* sent through the stream (handler.h): nothing left to send */
    int relayed;             /* an upstream's answer, whole: ErrorDocument leaves it as it
                              * is (Apache's ProxyErrorOverride Off), as when streamed */
    char *local_redirect;    /* a CGI "Location: /path" (owned, malloc'd): answer with
                              * a GET of that path instead (dispatch.c) */
    time_t file_mtime;       /* a file's answer (the static handler, 304 included): the
                              * file's modification time and media type, for Expires
                              * (expires.h); 0 and NULL for anything else */
    const char *file_type;
    struct reply_out out;
    char user[REPLY_USER_MAX]; /* the user the request's credentials named (access log
                              * %u), "" for none; dispatch.c sets it after the handler */
};

/* Start RP: status line, Date (from DATE, the calling thread's cache),
 * Server.  The head stays open for more fields. */
void reply_start(struct reply *rp, struct date_cache *date, int status);

/* A complete error reply for STATUS: the canned HTML page, Content-Type,
 * Content-Length.  400-class framing errors (400, 408, 413, 414, 417,
 * 431) and 5xx set must_close. */
void reply_error(struct reply *rp, struct date_cache *date, int status);

/* A complete redirect: STATUS (3xx), Location LOCATION (LEN bytes), the
 * canned page. */
void reply_redirect(struct reply *rp, struct date_cache *date, int status, const char *location,
                    size_t len);

/* A complete reply with BODY (LEN bytes, kept alive by the caller until
 * the reply is sent: static or configuration memory) of media TYPE. */
void reply_text(struct reply *rp, struct date_cache *date, int status, const char *type,
                const char *body, size_t len);

/* Give back what O holds: its body's file descriptor or cache reference,
 * and a head that grew onto the heap (the head is empty afterwards). */
void reply_release(struct reply_out *o);

/* The body's part only: the head stays (a HEAD answer). */
void reply_release_body(struct reply_out *o);

#endif
