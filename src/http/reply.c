/* reply.c: starting replies, error replies, releasing bodies (reply.h).
 * Any thread: pure formatting on the caller's stack, no I/O but close. */
#include "config.h"

#include "mpmd/http/reply.h"

#include <string.h>
#include <unistd.h>

void reply_start(struct reply *rp, struct date_cache *date, int status)
{
    rp->status = status;
    rp->must_close = 0;
    rp->streamed = 0;
    rp->relayed = 0;
    rp->local_redirect = NULL;
    rp->file_mtime = 0;
    rp->file_type = NULL;
    rp->user[0] = '\0';
    rp->out.head_sent = 0;
    rp->out.body = NULL;
    rp->out.body_len = rp->out.body_sent = 0;
    rp->out.file_fd = -1;
    rp->out.file_pos = rp->out.file_end = 0;
    rp->out.release = NULL;
    rp->out.release_a = rp->out.release_b = NULL;
    response_head_start(&rp->out.head, status, date_cache_now(date));
}

/* Errors after which the request's framing cannot be trusted, and server
 * errors: the connection ends with the answer. */
static int status_closes_connection(int status)
{
    return status == 400 || status == 408 || status == 413 || status == 414 ||
           status == 417 || status == 431 || status >= 500;
}

void reply_error(struct reply *rp, struct date_cache *date, int status)
{
    size_t len;
    const char *body = response_error_body(status, &len);
    reply_start(rp, date, status);
    response_head_add(&rp->out.head, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add_num(&rp->out.head, "Content-Length", (long long)len);
    rp->must_close = status_closes_connection(status);
    rp->out.body = body;
    rp->out.body_len = len;
}

void reply_redirect(struct reply *rp, struct date_cache *date, int status, const char *location,
                    size_t len)
{
    size_t blen;
    const char *body = response_error_body(status, &blen);
    reply_start(rp, date, status);
    response_head_add(&rp->out.head, "Location", location, len);
    response_head_add(&rp->out.head, "Content-Type", "text/html; charset=utf-8", 24);
    response_head_add_num(&rp->out.head, "Content-Length", (long long)blen);
    rp->out.body = body;
    rp->out.body_len = blen;
}

void reply_text(struct reply *rp, struct date_cache *date, int status, const char *type,
                const char *body, size_t len)
{
    reply_start(rp, date, status);
    response_head_add(&rp->out.head, "Content-Type", type, strlen(type));
    response_head_add_num(&rp->out.head, "Content-Length", (long long)len);
    rp->out.body = body;
    rp->out.body_len = len;
}

void reply_release(struct reply_out *o)
{
    reply_release_body(o);
    if (o->head.heap)
        response_head_free(&o->head);
}

void reply_release_body(struct reply_out *o)
{
    if (o->file_fd != -1) {
        close(o->file_fd);
        o->file_fd = -1;
    }
    if (o->release) {
        o->release(o->release_a, o->release_b);
        o->release = NULL;
    }
}
