/* cgienv.h: what CGI scripts and FastCGI applications share: the
 * request's meta-variables (RFC 3875 4.1, with Apache's additions), a
 * request body read whole into a file when its length is not known, and
 * the script's response head turned into a reply.  Handler threads. */
#ifndef MPMD_CGIENV_H
#define MPMD_CGIENV_H

#include <stddef.h>

#include "mpmd/http/handler.h"
#include "mpmd/modules/cgihead.h"

/* The script a request runs. */
struct cgi_script {
    const char *filename;         /* SCRIPT_FILENAME: its file */
    const char *name;             /* SCRIPT_NAME: its URL path */
    size_t name_len;
    const char *path_info;        /* PATH_INFO, or NULL */
    size_t path_info_len;
};

/* Called once per variable; returns 0, or -1 to stop (out of memory). */
typedef int (*cgi_env_add_fn)(void *ctx, const char *name, size_t nlen, const char *value,
                              size_t vlen);

/* Every meta-variable of RQ running S, CONTENT_LENGTH being LENGTH (< 0:
 * no body): the RFC 3875 set, Apache's (DOCUMENT_ROOT, SCRIPT_FILENAME,
 * REQUEST_URI, REQUEST_SCHEME, SERVER_ADMIN, REMOTE_PORT, CONTEXT_PREFIX,
 * PATH), HTTP_* for the request's fields (repeated ones joined with ", ";
 * not Proxy, which would set HTTP_PROXY: httpoxy; not Authorization, as
 * Apache's CGIPassAuth Off), then SetEnv's.  0, or -1 when ADD stopped. */
int cgi_env_build(const struct req_ctx *rq, const struct cgi_script *s, long long length,
                  cgi_env_add_fn add, void *ctx);

/* Read RQ's whole body into an unlinked temporary file (a chunked body,
 * whose length a script needs first).  Returns the fd at offset 0 and
 * *LEN; -1 with *STATUS the answer to give (0: the client is gone). */
int cgi_body_spool(const struct req_ctx *rq, long long *len, int *status);

/* Start RP from the script head H (done): the status (Status:, 302 for
 * a client redirect, else 200) with the script's reason phrase, its
 * fields but those the server decides (Status, Connection and other
 * hop-by-hop fields, Date, Server).  A local redirect sets
 * rp->local_redirect instead (and RP is a plain 500 for safety).  0, or
 * -1 when the head does not fit (RP then holds a 502). */
int cgi_head_reply(const struct req_ctx *rq, const struct cgi_head *h, struct reply *rp);

/* A script's standard error on its way to the error log, a line at a
 * time ("WHO: line"): one per LF, a line over 1 KiB cut in pieces, the CR
 * before an LF dropped, other control characters logged as spaces. */
struct cgi_errlog {
    const struct logger *log;
    const char *who;
    char line[1024];              /* the line being gathered */
    size_t len;
};

void cgi_errlog_feed(struct cgi_errlog *e, const char *buf, size_t len);

/* Log what is gathered (the last line, without its LF). */
void cgi_errlog_flush(struct cgi_errlog *e);

/* A script's output on its way to the client: the head parsed
 * (cgihead.h), turned into a reply and streamed, then the body as it
 * comes.  One per request, on the handler thread's stack. */
struct cgi_output {
    const struct req_ctx *rq;
    struct reply *rp;
    const char *who;              /* the script, for log lines */
    int bad_status;               /* the answer when the head is bad or missing */
    struct cgi_head head;
    int begun;                    /* the head went out */
    int redirected;               /* a local redirect: the rest is dropped */
    int failed;                   /* the head was bad (RP holds the error) */
    int client_gone;
    struct cgi_errlog errlog;     /* the script's standard error */
};

/* 0, or -1 when out of memory. */
int cgi_output_init(struct cgi_output *o, const struct req_ctx *rq, struct reply *rp,
                    const char *who, int bad_status);

/* The next LEN bytes of the script's standard output.  0, or -1 when the
 * rest of the output is not wanted (the client is gone, the head was bad:
 * the caller stops the script). */
int cgi_output_feed(struct cgi_output *o, const char *buf, size_t len);

/* The script's standard error: each line to the site's error log. */
void cgi_output_stderr(struct cgi_output *o, const char *buf, size_t len);

/* The output is over: COMPLETE when the script finished it (EOF, or
 * FastCGI's END_REQUEST), else it was cut (timeout, error).  Ends the
 * stream, or sets RP when nothing went out yet (BAD_STATUS when the head
 * never came, with a log line naming WHY). */
void cgi_output_end(struct cgi_output *o, int complete, const char *why);

void cgi_output_free(struct cgi_output *o);

#endif
