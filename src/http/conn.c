/* conn.c: a connection's life: read → parse → handle → write → keep-alive
 * or close (see conn.h for who owns a connection when).
 *
 * The same functions run in the listener thread (reading heads, finishing
 * writes, idle keep-alive) and in handler threads (running handlers,
 * writing responses; in MPM worker also reading).  The design essay:
 *
 *   MPM event: the listener reads and parses until a whole request is in,
 *   then pushes the connection to the work queue.  A handler runs it,
 *   writes the response straight to the non-blocking socket and, if the
 *   socket would block, copies what is left into a conn_out and hands the
 *   connection back to the listener (write completion).  A finished
 *   keep-alive connection goes back to the listener with its buffer freed,
 *   unless pipelined bytes already hold the next request, which the same
 *   handler then serves without a hand-over.
 *
 *   MPM worker: the listener only accepts; the handler thread that pops a
 *   connection reads, serves and waits on it (poll with timeouts) until it
 *   closes.
 *
 *   Both: a request is answered as soon as its head is in (the static
 *   handler never needs the body); a body still to come is then read and
 *   dropped before the next request, or, when it is large, of unknown
 *   length or awaited with "Expect: 100-continue", the answer says
 *   "Connection: close".  Every close mpmd starts while the client may
 *   still be sending is a lingering close in the listener (conn_linger),
 *   so a reset never destroys a response already sent.
 *
 *   On a Listen marked for the PROXY protocol (RemoteIPProxyProtocol),
 *   reading a connection's first request starts with its PROXY header
 *   (conn_read_proxy, before the TLS handshake on HTTPS), under the same
 *   header-stage timeout. */
#include "config.h"

#include "mpmd/http/conn.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpmd/mpm/child.h"
#include "mpmd/http/dispatch.h"
#include "mpmd/http/evscan.h"
#include "mpmd/http/proxyproto.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/route.h"
#include "mpmd/http/tls_io.h"
#include "mpmd/http/tunnel.h"

/* ---- replies ------------------------------------------------------ */

/* Close the head of RP for C: the Connection field the connection needs
 * (a reply that must close ends keep-alive), then the final CRLF. */
static void conn_finish_head(struct conn *c, struct reply *rp)
{
    if (rp->must_close)
        c->keep_alive = 0;
    if (!c->keep_alive)
        response_head_add(&rp->out.head, "Connection", "close", 5);
    else if (c->req.parser.http_minor == 0)
        response_head_add(&rp->out.head, "Connection", "keep-alive", 10);
    response_head_finish(&rp->out.head);
    c->head_out = rp->out.head.len;
    free(c->resp_head);
    c->resp_head = NULL;
    const struct logger *lg = log_for_site(c->child->log, c->site ? c->site->site_id : 0);
    if (lg->needs & LOGFORMAT_NEEDS_RESP_HEADERS) {   /* %{X}o: kept for the log line */
        c->resp_head = malloc(rp->out.head.len);
        if (c->resp_head)
            memcpy(c->resp_head, response_head_data(&rp->out.head), rp->out.head.len);
    }
}

/* ---- sending ------------------------------------------------------ */

/* ---- the transport: TCP, or TLS over it --------------------------- */

#define TLS_RECORD 16384          /* the most plaintext one TLS record carries */
/* MPM event over TLS: a response with more file than this is encrypted and
 * sent by the listener, not the handler thread that opened the file
 * (docs/performance.md: 1 MiB keep-alive 0.95-1.03 x nginx that way, 0.83
 * when handler threads wrote, then waited for the next request) ... */
#define TLS_LISTENER_WRITES (64 * 1024)
/* ... this much per connection per loop iteration, so one large file does
 * not hold up the other connections' answers. */
#define TLS_LISTENER_SLICE (1024 * 1024)

/* After a TLS call on C returned R (tls_io.h): remember the event it waits
 * for; return R as recv/send would (-1 with errno EAGAIN, or EIO). */
static ssize_t tls_result(struct conn *c, ssize_t r, int want)
{
    c->tls_want = (uint8_t)want;
    if (r >= 0)
        return r;
    errno = r == TLS_IO_AGAIN ? EAGAIN : EIO;
    return -1;
}

/* Read up to LEN bytes from C's client (decrypted on HTTPS). */
static ssize_t io_recv(struct conn *c, void *buf, size_t len)
{
    if (c->ssl == NULL)
        return recv(c->fd, buf, len, 0);
    int want;
    ssize_t r = tls_io_read(c->ssl, buf, len, &want);
    return tls_result(c, r, want);
}

static ssize_t io_tls_send(struct conn *c, const void *buf, size_t len)
{
    int want;
    ssize_t r = tls_io_write(c->ssl, buf, len, &want);
    return tls_result(c, r, want);
}

/* Whether C's TLS holds decrypted bytes that no event will announce. */
static int io_pending(const struct conn *c)
{
    return c->ssl != NULL && tls_io_pending(c->ssl);
}

/* The poll events C waits for: what its last TLS call wants, else IN or
 * OUT as the caller says. */
static short io_poll_events(const struct conn *c, short plain)
{
    return c->tls_want == TLS_WANT_READ ? POLLIN : c->tls_want == TLS_WANT_WRITE ? POLLOUT
                                                                                 : plain;
}

/* The same as a libevent event. */
static short io_event(const struct conn *c, short plain)
{
    return c->tls_want == TLS_WANT_READ ? EV_READ : c->tls_want == TLS_WANT_WRITE ? EV_WRITE
                                                                                  : plain;
}

/* N bytes of O went out: head first, then body, then file. */
static void out_account(struct reply_out *o, size_t n, long long *body_sent)
{
    size_t h = o->head.len - o->head_sent;
    if (n <= h) {
        o->head_sent += n;
        return;
    }
    o->head_sent = o->head.len;
    n -= h;
    size_t b = o->body_len - o->body_sent;
    size_t from_body = n < b ? n : b;
    o->body_sent += from_body;
    o->file_pos += (off_t)(n - from_body);
    *body_sent += (long long)n;
}

/* The next bytes of O for one TLS write, in BUF (TLS_RECORD bytes):
 * what is left of head and body, topped up from the file, so a small
 * response is one record.  A large body in memory is written from where
 * it is.  Built from O's counters alone, so a write that must be retried
 * gets the same bytes again (OpenSSL's rule).  Returns the length, with
 * *DATA where they are, or -1 (the file shrank, or cannot be read). */
static ssize_t out_tls_chunk(const struct reply_out *o, char *buf, const char **data)
{
    size_t h = o->head.len - o->head_sent, b = o->body_len - o->body_sent, n = 0;
    if (h == 0 && b >= TLS_RECORD) {
        *data = (const char *)o->body + o->body_sent;
        return (ssize_t)b;
    }
    size_t take = h < TLS_RECORD ? h : TLS_RECORD;
    if (take > 0)
        memcpy(buf, response_head_data(&o->head) + o->head_sent, take);
    n = take;
    take = b < TLS_RECORD - n ? b : TLS_RECORD - n;
    if (take > 0)                     /* a reply of file alone has no body (NULL) */
        memcpy(buf + n, (const char *)o->body + o->body_sent, take);
    n += take;
    off_t f = o->file_end - o->file_pos;
    if (n < TLS_RECORD && f > 0) {
        size_t want = (size_t)f < TLS_RECORD - n ? (size_t)f : TLS_RECORD - n;
        ssize_t r;
        do
            r = pread(o->file_fd, buf + n, want, o->file_pos);
        while (r == -1 && errno == EINTR);
        if (r <= 0)
            return -1;
        n += (size_t)r;
    }
    *data = buf;
    return (ssize_t)n;
}

/* The file part of O once head and body are out, for the listener: read
 * READ_AHEAD bytes at a time into RA (one pread per four records, as
 * nginx reads 32 KB output buffers) and hand out a record's worth.  What
 * RA holds is valid for this call only (*RA_POS, *RA_LEN), so a write
 * to retry is rebuilt by a new read of the same bytes. */
#define TLS_READ_AHEAD (4 * TLS_RECORD)
static ssize_t out_tls_file(const struct reply_out *o, char *ra, off_t *ra_pos, size_t *ra_len,
                            const char **data)
{
    if (o->file_pos < *ra_pos || o->file_pos >= *ra_pos + (off_t)*ra_len) {
        off_t left = o->file_end - o->file_pos;
        size_t want = left < TLS_READ_AHEAD ? (size_t)left : TLS_READ_AHEAD;
        ssize_t r;
        do
            r = pread(o->file_fd, ra, want, o->file_pos);
        while (r == -1 && errno == EINTR);
        if (r <= 0)
            return -1;                /* the file shrank, or cannot be read */
        *ra_pos = o->file_pos;
        *ra_len = (size_t)r;
    }
    size_t off = (size_t)(o->file_pos - *ra_pos), avail = *ra_len - off;
    *data = ra + off;
    return (ssize_t)(avail < TLS_RECORD ? avail : TLS_RECORD);
}

/* out_send over TLS: records of up to 16 KB (nginx's ssl_buffer_size),
 * or the file straight from the page cache with kernel TLS.  At most
 * BUDGET bytes, then 0 as if the socket were full, with C waiting to
 * write (the listener's turn-taking). */
static int out_send_tls(struct conn *c, struct reply_out *o, long long *body_sent, size_t budget)
{
    /* The listener's read-ahead buffer: one per thread, touched only by
     * the listener (handler threads send at most TLS_LISTENER_WRITES of
     * file, from BUF on their stack). */
    static _Thread_local char ra[TLS_READ_AHEAD];
    char buf[TLS_RECORD];
    off_t ra_pos = 0;
    size_t ra_len = 0, sent = 0;
    int listener = c->state == CONN_WRITING;
    for (;;) {
        if (sent >= budget) {
            c->tls_want = TLS_WANT_WRITE;
            return 0;
        }
        int files_left = o->file_pos < o->file_end;
        if (o->head_sent == o->head.len && o->body_sent == o->body_len && !files_left)
            return 1;
        ssize_t n;
        if (o->head_sent == o->head.len && o->body_sent == o->body_len &&
            tls_io_ktls_send(c->ssl)) {
            int want;
            off_t left = o->file_end - o->file_pos;
            n = tls_result(c, tls_io_sendfile(c->ssl, o->file_fd, o->file_pos,
                                              left > 0x7ffff000 ? 0x7ffff000 : (size_t)left,
                                              &want), want);
        } else {
            const char *data;
            ssize_t len = listener && o->head_sent == o->head.len && o->body_sent == o->body_len
                          ? out_tls_file(o, ra, &ra_pos, &ra_len, &data)
                          : out_tls_chunk(o, buf, &data);
            if (len == -1)
                return -1;
            n = io_tls_send(c, data, (size_t)len);
        }
        if (n == -1)
            return errno == EAGAIN ? 0 : -1;
        if (n == 0)
            return -1;
        out_account(o, (size_t)n, body_sent);
        sent += (size_t)n;
    }
}

/* Send what is left of O on C.  Returns 1 when everything is sent, 0
 * when the socket would block, -1 on error (peer gone).  Adds body bytes
 * sent to *BODY_SENT.  Any owner. */
static int out_send(struct conn *c, struct reply_out *o, long long *body_sent)
{
    if (c->ssl)
        return out_send_tls(c, o, body_sent, c->state == CONN_WRITING ? TLS_LISTENER_SLICE
                                                                        : SIZE_MAX);
    int fd = c->fd;
    while (o->head_sent < o->head.len || o->body_sent < o->body_len) {
        struct iovec iov[2] = {
            { (char *)response_head_data(&o->head) + o->head_sent, o->head.len - o->head_sent },
            { (char *)o->body + o->body_sent, o->body_len - o->body_sent },
        };
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
        int more = o->file_pos < o->file_end ? MSG_MORE : 0;
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | more);
        if (n == -1)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        size_t h = o->head.len - o->head_sent;
        if ((size_t)n <= h) {
            o->head_sent += (size_t)n;
        } else {
            o->head_sent = o->head.len;
            o->body_sent += (size_t)n - h;
            *body_sent += (long long)((size_t)n - h);
        }
    }
    while (o->file_pos < o->file_end) {
        off_t before = o->file_pos;
        off_t left = o->file_end - o->file_pos;
        size_t chunk = left > 0x7ffff000 ? 0x7ffff000 : (size_t)left;
        ssize_t n = sendfile(fd, o->file_fd, &o->file_pos, chunk);
        if (n == -1)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        if (n == 0)
            return -1; /* the file shrank under us: the length we sent is a lie */
        *body_sent += (long long)(o->file_pos - before);
    }
    return 1;
}

/* Wait until C can take more output (or what its TLS wants) or the
 * timeout passes (MPM worker).  Returns 1 ready, 0 timeout/error. */
static int wait_writable(const struct conn *c, int timeout_s)
{
    struct pollfd p = { .fd = c->fd, .events = io_poll_events(c, POLLOUT) };
    int r;
    do {
        r = poll(&p, 1, timeout_s * 1000);
    } while (r == -1 && errno == EINTR);
    return r == 1 && !(p.revents & (POLLERR | POLLNVAL));
}

/* ---- connection life -------------------------------------------- */

_Static_assert(CONN_READING == (int)SB_CONN_READING && CONN_KEEPALIVE == (int)SB_CONN_KEEPALIVE &&
               CONN_HANDLING == (int)SB_CONN_HANDLING && CONN_WRITING == (int)SB_CONN_WRITING &&
               CONN_LINGERING == (int)SB_CONN_LINGERING && CONN_TUNNEL == (int)SB_CONN_TUNNEL &&
               CONN_SUSPENDED == (int)SB_CONN_SUSPENDED, "conn states are the scoreboard's");

/* Move C to state ST, keeping its child's count of connections by state
 * (server-status, metrics).  Owner. */
static void conn_set_state(struct conn *c, enum conn_state st)
{
    if (c->state == st)
        return;
    struct sb_proc *p = c->child->proc;
    atomic_fetch_sub_explicit(&p->conns[c->state], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->conns[st], 1, memory_order_relaxed);
    c->state = (uint8_t)st;
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg);

static int conn_arm(struct conn *c, short what, const struct timeval *tv);

/* Wait for input on C, with timeout TV.  The listener waits
 * edge-triggered: epoll then reports the connection again only when new
 * bytes arrive, instead of polling it once more after every request (4 %
 * of the children's time, docs/performance.md).  Bytes already in the
 * socket bring no new edge, so when the last recv filled the buffer the
 * read callback is made to run in the next loop iteration (not from here:
 * no recursion however much a client pipelines).  A handler thread
 * handing C over cannot touch it after arming, so it waits
 * level-triggered.  ON_LISTENER: the caller is the listener thread. */
static void conn_wait_input(struct conn *c, const struct timeval *tv, int on_listener)
{
    int more = c->recv_full || io_pending(c);
    c->recv_full = 0;
    short what = io_event(c, EV_READ);   /* a TLS handshake may wait to write */
    /* HTTPS waits level-triggered: OpenSSL reads one record at a time, so
     * what else came raises no new edge, and reading once more to find
     * out (an SSL_read, a recv, a loop iteration per request) costs more
     * than epoll looking at the socket again. */
    if (what == EV_READ && on_listener && c->ssl == NULL)
        what |= EV_ET;
    if (conn_arm(c, what, tv) == 0 && more && on_listener)
        event_active(&c->ev, EV_READ, 1);
}

/* The event of C could not be registered: C would be neither watched nor
 * closed.  Close it, count it in the scoreboard, say so.  Owner. */
static void conn_arm_failed(struct conn *c)
{
    struct child *ch = c->child;
    uint64_t n = atomic_fetch_add_explicit(&ch->proc->c.arm_failures, 1,
                                           memory_order_relaxed) + 1;
    log_msg(ch->log, LOGL_ERROR,
            "cannot register a connection with the event loop; closed it (%llu so far)",
            (unsigned long long)n);
    conn_close(c);
}

/* Register C's event for WHAT (EV_READ or EV_WRITE) with timeout TV,
 * giving the connection to the listener; if that fails, close C.  Either
 * way the caller must let go of C.  Read events are persistent:
 * re-arming one that is already registered only moves its timeout, which
 * costs no epoll_ctl (the common case: a request answered in the listener
 * and the connection back to keep-alive).  ARMED is set before event_add
 * because after it the listener may run the callback at once. */
static int conn_arm(struct conn *c, short what, const struct timeval *tv)
{
    short flags = (what & EV_READ) ? what | EV_PERSIST : what;
    if (!c->armed || event_get_events(&c->ev) != flags) {
        if (c->armed)
            event_del(&c->ev);
        event_assign(&c->ev, c->child->lst.base, c->fd, flags, conn_event_cb, c);
        c->armed = 1;
    }
    if (event_add(&c->ev, tv) == -1) {
        conn_arm_failed(c);
        return -1;
    }
    return 0;
}

/* Take C's event out of the loop (listener thread, before a hand-over). */
static void conn_disarm(struct conn *c)
{
    if (c->armed) {
        event_del(&c->ev);
        c->armed = 0;
    }
}

struct conn *conn_new(struct child *ch, int fd, const struct sockaddr *peer, int peerlen,
                      struct ssl_ctx_st *tls, int proxy)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c && proxy && (c->pp_buf = malloc(CONN_PP_MAX)) == NULL) {
        free(c);
        c = NULL;
    }
    if (c && tls && (c->ssl = tls_io_new(tls, fd, c)) == NULL) {
        free(c->pp_buf);
        free(c);
        c = NULL;
    }
    if (!c) {
        log_msg(ch->log, LOGL_ERROR, "out of memory accepting a connection; closing it");
        close(fd);
        return NULL;
    }
    c->child = ch;
    c->fd = fd;
    if (peerlen > 0 && (size_t)peerlen <= sizeof c->peer)
        memcpy(&c->peer, peer, (size_t)peerlen);
    http_request_init(&c->req);
    child_conn_opened(ch);
    atomic_fetch_add_explicit(&ch->proc->conns[CONN_READING], 1, memory_order_relaxed);
    return c;
}

static void conn_drop_waiter(struct conn *c);

void conn_close(struct conn *c)
{
    struct child *ch = c->child;
    conn_disarm(c);
    if (c->waiter)
        conn_drop_waiter(c);
    if (c->tunnel)
        tunnel_free(c->tunnel);   /* asked for, never started */
    if (c->out) {
        reply_release(c->out);
        free(c->out);
    }
    http_request_free(&c->req);
    free(c->resp_head);
    free(c->user);
    free(c->pp_buf);
    if (c->ssl)
        tls_io_free(c->ssl);      /* no close_notify: an abort must look like one */
    close(c->fd);
    atomic_fetch_sub_explicit(&ch->proc->conns[c->state], 1, memory_order_relaxed);
    free(c);
    child_conn_closed(ch);
}

/* Close C at the end of its exchange (not an abort): on HTTPS the client
 * first gets close_notify, so it can tell the end of the data from a cut
 * (a client that sent "Connection: close" reads to it). */
static void conn_close_done(struct conn *c)
{
    if (c->ssl)
        tls_io_close_notify(c->ssl);
    conn_close(c);
}

/* ---- lingering close ----------------------------------------------- */

/* Wait (in the listener) for the client's next bytes or its close, for a
 * quiet period, but never past CONN_LINGER_MAX_SECONDS in all. */
static void linger_wait(struct conn *c)
{
    long left = c->stage_start + CONN_LINGER_MAX_SECONDS - monotonic_seconds();
    if (left <= 0) {
        conn_close(c);
    } else if (left >= CONN_LINGER_QUIET_SECONDS) {
        conn_arm(c, EV_READ, c->child->lst.tv_linger);
    } else {
        struct timeval tv = { .tv_sec = left, .tv_usec = 0 };
        conn_arm(c, EV_READ, &tv);
    }
}

/* Close C the way that cannot destroy what was sent (RFC 9112 9.6): shut
 * down our write side (the client sees EOF after the last response), then
 * read and drop whatever it still sends, until it closes, goes quiet, or
 * a limit is reached (CONN_LINGER_*); only then close, so the kernel has
 * no unread bytes that would make it answer with a reset.  Owner (any
 * thread): the connection goes to the listener holding no buffer. */
static void conn_linger(struct conn *c)
{
    if (c->ssl) {                 /* close_notify first; the rest is TCP's */
        tls_io_close_notify(c->ssl);
        tls_io_free(c->ssl);      /* its buffers go now, not after lingering */
        c->ssl = NULL;
    }
    if (shutdown(c->fd, SHUT_WR) == -1) {
        conn_close(c);
        return;
    }
    http_request_release_buffer(&c->req);
    conn_set_state(c, CONN_LINGERING);
    c->discarding = 0;
    c->drained = 0;
    c->stage_start = monotonic_seconds();
    linger_wait(c);
}

/* Listener: the lingering connection is readable.  Drop what is there;
 * close at EOF, on error, or at the byte limit. */
static void linger_drain(struct conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n > 0) {
            c->drained += (uint32_t)n;
            if (c->drained >= CONN_LINGER_MAX_BYTES)
                break;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN) {
            linger_wait(c);
            return;
        }
        break;
    }
    conn_close(c);
}

/* Read once into the request buffer.  Returns bytes read (> 0), 0 at
 * EOF, -1 when nothing is available, -2 on error, -3 when the head
 * outgrew every limit. */
static ssize_t conn_fill(struct conn *c)
{
    const struct http_limits *lim = &c->child->limits;
    size_t max = (size_t)lim->line + (size_t)lim->fields * lim->field_size + 4096;
    size_t room = http_request_reserve(&c->req, 2048, max);
    if (room == 0)
        return -3;
    /* recv, not read: it skips the VFS layer (access hooks, fsnotify). */
    ssize_t n = io_recv(c, c->req.buf + c->req.len, room);
    c->recv_full = n > 0 && (size_t)n == room;   /* the socket may hold more */
    if (n > 0) {
        c->req.len += (uint32_t)n;
        return n;
    }
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EINTR ? -1 : -2;
}

enum read_result { READ_READY, READ_WAIT, READ_GONE };

static void conn_request_begins(struct conn *c);

/* A new read stage (a request head, or its body) starts now. */
static void conn_begin_stage(struct conn *c, int body)
{
    c->body_stage = (uint8_t)body;
    c->stage_start = monotonic_seconds();
}

/* Seconds the current read stage may still wait (RequestReadTimeout,
 * mod_reqtimeout semantics), never more than Timeout.  0: time is up. */
static int read_time_left(const struct conn *c)
{
    const struct config *cfg = c->child->cfg;
    const struct read_timeout *t = c->body_stage ? &cfg->body_timeout : &cfg->header_timeout;
    if (t->initial == 0)
        return cfg->timeout;
    uint64_t bytes = c->body_stage ? c->req.body_bytes : c->req.len;
    long allowed = t->initial + (t->rate ? (long)(bytes / (uint64_t)t->rate) : 0);
    if (t->max && allowed > t->max)
        allowed = t->max;
    long left = (long)(c->stage_start + allowed - monotonic_seconds());
    if (left > cfg->timeout)
        left = cfg->timeout;
    return left > 0 ? (int)left : 0;
}

static void conn_log(const struct conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A complete PROXY header R: its client becomes C's peer, for the access
 * log, Require ip, CGI and X-Forwarded-For alike (mod_remoteip).  LOCAL
 * (a health check) and UNKNOWN keep the socket's peer. */
static void conn_proxy_done(struct conn *c, const struct pp_result *r)
{
    free(c->pp_buf);
    c->pp_buf = NULL;
    if (r->local) {
        conn_log(c, LOGL_DEBUG, "PROXY v%d header names no client (LOCAL/UNKNOWN); "
                 "keeping the connection's own address", r->version);
        return;
    }
    _Static_assert(sizeof c->sock_peer == sizeof c->peer, "sock_peer holds a peer");
    memcpy(&c->sock_peer, &c->peer, sizeof c->sock_peer);
    c->peer_proxied = 1;
    if (r->src.ss_family == AF_INET)
        memcpy(&c->peer.in, &r->src, sizeof c->peer.in);
    else
        memcpy(&c->peer.in6, &r->src, sizeof c->peer.in6);
    conn_log(c, LOGL_DEBUG, "PROXY v%d header: client address taken from it", r->version);
}

/* Read C's PROXY header (RemoteIPProxyProtocol), never a byte past it:
 * on HTTPS what follows is the TLS handshake, which OpenSSL reads from
 * the socket itself.  So peek, and take from the socket only bytes the
 * parser placed inside the header (all of them while it wants more).
 * Returns 1 when the header is in, 0 to wait for more, -1 to close
 * (closed early, malformed or too long; logged). */
static int conn_read_proxy(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->pp_buf + c->pp_len, CONN_PP_MAX - c->pp_len, MSG_PEEK);
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return 0;
        if (n <= 0) {
            conn_log(c, LOGL_DEBUG, "connection ended before its PROXY protocol header");
            return -1;
        }
        struct pp_result r;
        enum pp_status st = pp_parse(c->pp_buf, c->pp_len + (size_t)n, &r);
        if (st == PP_ERROR) {
            conn_log(c, LOGL_INFO, "RemoteIPProxyProtocol: %s; closing the connection",
                     r.error);
            return -1;
        }
        size_t take = st == PP_DONE ? r.consumed - c->pp_len : (size_t)n;
        if (recv(c->fd, c->pp_buf + c->pp_len, take, 0) != (ssize_t)take)
            return -1;                /* peeked bytes vanished: a reset */
        c->pp_len = (uint16_t)(c->pp_len + take);
        if (st == PP_DONE) {
            conn_proxy_done(c, &r);
            return 1;
        }
        if (c->pp_len == CONN_PP_MAX) {
            conn_log(c, LOGL_INFO, "RemoteIPProxyProtocol: header longer than %d bytes; "
                     "closing the connection", CONN_PP_MAX);
            return -1;
        }
    }
}

/* Parse what is buffered, reading once more if needed.  READ_READY: a
 * request head (or a parse error to answer) is complete; while
 * discarding: the body is over (or broken). */
static enum read_result conn_read_request(struct conn *c)
{
    if (c->pp_buf) {
        int pp = conn_read_proxy(c);
        if (pp <= 0)
            return pp == 0 ? READ_WAIT : READ_GONE;
    }
    for (;;) {
        if (c->req.len > 0 && !c->discarding)
            conn_request_begins(c);
        if (c->req.parsed < c->req.len &&
            http_request_parse(&c->req, &c->child->limits) != HTTP_PARSE_MORE)
            return READ_READY;
        if (c->req.headers_done && !c->body_stage)
            conn_begin_stage(c, 1);
        ssize_t n = conn_fill(c);
        if (n == -1)
            return READ_WAIT;
        if (n == -3) {
            c->req.error_status = c->req.headers_done || c->req.url_len ? 431 : 414;
            c->req.error_reason = "request head larger than the configured limits";
            return READ_READY;
        }
        if (n <= 0)
            return READ_GONE;
    }
}

/* ---- the request body as a stream (handler threads) -------------------- */

/* Send the N buffers of IOV completely, waiting up to Timeout each time
 * the socket is full.  0, or -1 (the client is gone or stopped reading). */
static int conn_sendv_blocking_tls(struct conn *c, struct iovec *iov, int n);

static int conn_sendv_blocking(struct conn *c, struct iovec *iov, int n)
{
    if (c->ssl)
        return conn_sendv_blocking_tls(c, iov, n);
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    while (msg.msg_iovlen > 0 && msg.msg_iov->iov_len == 0)
        msg.msg_iov++, msg.msg_iovlen--;
    while (msg.msg_iovlen > 0) {
        ssize_t w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (w == -1) {
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN || poll(&pfd, 1, c->child->cfg->timeout * 1000) <= 0)
                return -1;
            continue;
        }
        size_t left = (size_t)w;
        while (msg.msg_iovlen > 0 && left >= msg.msg_iov->iov_len) {
            left -= msg.msg_iov->iov_len;
            msg.msg_iov++, msg.msg_iovlen--;
        }
        if (msg.msg_iovlen > 0) {
            msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + left;
            msg.msg_iov->iov_len -= left;
        }
    }
    return 0;
}

/* Write LEN bytes of DATA over C's TLS, waiting up to Timeout whenever it
 * would block (retrying with the same bytes).  0 or -1. */
static int tls_send_all(struct conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = io_tls_send(c, data, len);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
            continue;
        }
        struct pollfd pfd = {.fd = c->fd, .events = io_poll_events(c, POLLOUT)};
        if (w == 0 || errno != EAGAIN || poll(&pfd, 1, c->child->cfg->timeout * 1000) <= 0)
            return -1;
    }
    return 0;
}

/* conn_sendv_blocking over TLS: small buffers gathered into one record,
 * large ones written where they are. */
static int conn_sendv_blocking_tls(struct conn *c, struct iovec *iov, int n)
{
    char buf[TLS_RECORD];
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len >= TLS_RECORD) {
            if ((used && tls_send_all(c, buf, used) == -1) ||
                tls_send_all(c, iov[i].iov_base, iov[i].iov_len) == -1)
                return -1;
            used = 0;
            continue;
        }
        if (used + iov[i].iov_len > TLS_RECORD) {
            if (tls_send_all(c, buf, used) == -1)
                return -1;
            used = 0;
        }
        if (iov[i].iov_len > 0)       /* an empty buffer may be NULL */
            memcpy(buf + used, iov[i].iov_base, iov[i].iov_len);
        used += iov[i].iov_len;
    }
    return used ? tls_send_all(c, buf, used) : 0;
}

/* Send all of BUF (LEN bytes), waiting up to Timeout for room.  0 or -1. */
static int conn_send_blocking(struct conn *c, const char *buf, size_t len)
{
    struct iovec iov = { (char *)buf, len };
    return conn_sendv_blocking(c, &iov, 1);
}

/* Wait until the socket has bytes, within the body stage's time.  0 or
 * -1 with the request's error set (408). */
static int conn_wait_readable(struct conn *c)
{
    int left = read_time_left(c);
    if (io_pending(c))
        return 0;
    struct pollfd pfd = { .fd = c->fd, .events = io_poll_events(c, POLLIN) };
    int n = left > 0 ? poll(&pfd, 1, left * 1000) : 0;
    if (n > 0 || (n == -1 && errno == EINTR))
        return 0;
    c->req.error_status = 408;
    c->req.error_reason = "request body not received in time";
    return -1;
}

/* body_reader.read for a handler thread that owns C: up to LEN bytes of
 * the current request's body, decoded.  "100 Continue" goes out before
 * the first wait, when the client asked for it (RFC 9110 10.1.1). */
static ssize_t conn_read_body(void *ctx, char *buf, size_t len, int *status)
{
    struct conn *c = ctx;
    if (!c->body_stage)
        conn_begin_stage(c, 1);
    for (;;) {
        size_t got;
        enum http_parse_result r =
            http_request_read_body(&c->req, &c->child->limits, buf, len, &got);
        if (got > 0)
            return (ssize_t)got;
        if (r == HTTP_PARSE_DONE)
            return 0;
        if (r == HTTP_PARSE_ERROR)
            break;
        if (c->req.expect_continue && !c->sent_continue) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            c->sent_continue = 1;
            if (conn_send_blocking(c, cont, sizeof cont - 1) == -1)
                return *status = 0, -1;
        }
        ssize_t n = conn_fill(c);
        if (n == -1 && conn_wait_readable(c) == 0)
            continue;
        if (n == 0 || n == -2) {
            c->req.error_status = 400;
            c->req.error_reason = "connection closed before the request body was complete";
            return *status = 0, -1;   /* nobody is left to answer */
        }
        if (n < 0)
            break;
    }
    *status = c->req.error_status ? c->req.error_status : 400;
    return -1;
}

/* Whether the response to the current request may keep the connection. */
static int decide_keep_alive(const struct conn *c)
{
    const struct config *cfg = c->child->cfg;
    if (!cfg->keepalive || !c->req.keep_alive || c->req.error_status)
        return 0;
    if (atomic_load_explicit(&c->child->stopping, memory_order_relaxed) != CHILD_RUNNING)
        return 0;
    if (cfg->max_keepalive_requests > 0 && c->served + 1 >= (uint32_t)cfg->max_keepalive_requests)
        return 0;
    if (http_request_body_pending(&c->req)) {
        /* Answered from the head.  A client awaiting 100 Continue may or
         * may not send the body now (RFC 9110 10.1.1): only a close
         * settles it.  A body of unknown or large size is not worth
         * reading. */
        long long left = http_request_body_left(&c->req);
        if (c->req.expect_continue || left < 0 || left > CONN_DISCARD_KEEP_MAX)
            return 0;
    }
    return 1;
}

/* ---- streamed responses (handler threads) ---------------------------------- */

/* The state of one streamed response (handler.h), on the stack of the
 * handler thread that answers. */
struct conn_stream {
    struct conn *c;
    struct reply *rp;
    uint8_t begun, head_pending, chunked, no_body, ended, failed;
    long long cl_left;       /* Content-Length still to send; -1: none given */
};

static int decide_keep_alive(const struct conn *c);
static void conn_finish_head(struct conn *c, struct reply *rp);

/* A Content-Length value: its number, or -1 when it is not one. */
static long long parse_length(const char *v, size_t len)
{
    long long n = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    return n;
}

static int stream_write(void *ctx, const char *buf, size_t len, int last);

static int stream_begin(void *ctx, struct reply *rp, int flush)
{
    struct conn_stream *cs = ctx;
    struct conn *c = cs->c;
    if (cs->begun)
        return -1;
    cs->begun = 1;
    cs->rp = rp;
    rp->streamed = 1;
    int st = rp->status;
    size_t vlen;
    const char *cl = response_head_get(&rp->out.head, "Content-Length", &vlen);
    cs->cl_left = cl ? parse_length(cl, vlen) : -1;
    cs->no_body = c->is_head || st < 200 || st == 204 || st == 304;
    if (cs->no_body)
        cs->cl_left = -1;         /* a HEAD's or 304's length describes another body */
    if (st == 101) {
        c->keep_alive = 0;        /* the tunnel follows; the handler said Connection: Upgrade */
        response_head_finish(&rp->out.head);
    } else {
        if (!cs->no_body && cs->cl_left < 0) {
            if (c->req.parser.http_major == 1 && c->req.parser.http_minor >= 1) {
                response_head_add(&rp->out.head, "Transfer-Encoding", "chunked", 7);
                cs->chunked = 1;
            } else {
                rp->must_close = 1;   /* HTTP/1.0: the close ends the body */
            }
        }
        c->keep_alive = (uint8_t)decide_keep_alive(c);
        conn_finish_head(c, rp);
    }
    if (rp->out.head.overflow) {
        cs->failed = 1;
        return -1;
    }
    c->status = st;
    c->body_sent = 0;
    cs->head_pending = 1;
    return flush ? stream_write(cs, NULL, 0, 0) : 0;
}

static int stream_write(void *ctx, const char *buf, size_t len, int last)
{
    struct conn_stream *cs = ctx;
    struct conn *c = cs->c;
    if (!cs->begun || cs->failed || cs->ended)
        return -1;
    if (cs->no_body)
        len = 0;
    if (cs->cl_left >= 0 && (long long)len > cs->cl_left)
        len = (size_t)cs->cl_left;            /* never more than the head announced */
    char size_line[24];
    struct iovec iov[5];
    int n = 0;
    if (cs->head_pending)
        iov[n++] = (struct iovec){(char *)response_head_data(&cs->rp->out.head),
                                  cs->rp->out.head.len};
    if (cs->chunked && len > 0) {
        int sl = snprintf(size_line, sizeof size_line, "%zx\r\n", len);
        iov[n++] = (struct iovec){size_line, (size_t)sl};
    }
    iov[n++] = (struct iovec){(char *)buf, len};
    if (cs->chunked && len > 0)
        iov[n++] = (struct iovec){(char *)"\r\n", 2};
    if (cs->chunked && last)
        iov[n++] = (struct iovec){(char *)"0\r\n\r\n", 5};
    if (conn_sendv_blocking(c, iov, n) == -1) {
        cs->failed = 1;
        return -1;
    }
    cs->head_pending = 0;
    c->body_sent += (long long)len;
    if (cs->cl_left >= 0)
        cs->cl_left -= (long long)len;
    if (last)
        cs->ended = 1;
    return 0;
}

static int stream_tunnel(void *ctx, int fd, const char *pending, size_t len, int idle_s)
{
    struct conn_stream *cs = ctx;
    struct conn *c = cs->c;
    if (!cs->begun || cs->failed || cs->rp->status != 101 || c->tunnel) {
        close(fd);
        return -1;
    }
    if (cs->head_pending && stream_write(cs, NULL, 0, 0) == -1) {
        close(fd);
        return -1;
    }
    struct tunnel *t = tunnel_new(c->fd, fd, idle_s);
    const struct request *r = &c->req;
    if (t && c->ssl)
        tunnel_set_tls(t, c->ssl);
    if (t == NULL || tunnel_push(t, 0, pending, len) == -1 ||
        tunnel_push(t, 1, r->buf + r->parsed, r->len - r->parsed) == -1) {
        tunnel_free(t);
        cs->failed = 1;
        return -1;
    }
    cs->ended = 1;
    c->tunnel = t;            /* started once the handler has returned */
    return 0;
}

/* reply_async.local_addr: CTX is the connection. */
static int conn_local_addr(void *ctx, struct sockaddr_storage *out)
{
    struct conn *c = ctx;
    socklen_t len = sizeof *out;
    return getsockname(c->fd, (struct sockaddr *)out, &len);
}

static int stream_local_addr(void *ctx, struct sockaddr_storage *out)
{
    struct conn_stream *cs = ctx;
    return conn_local_addr(cs->c, out);
}

/* An error-log line about C's request: its site's ErrorLog, with the
 * client's address and the virtual host (as handler_log). */
static void conn_log(const struct conn *c, int level, const char *fmt, ...)
{
    const struct logger *lg = log_for_site(c->child->log, c->site ? c->site->site_id : 0);
    if (!log_enabled(lg, LOGM_CORE, level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_reqmsg(lg, LOGM_CORE, level, &c->peer.sa, c->site ? c->site->server_name : NULL, fmt,
               ap);
    va_end(ap);
}

/* ---- the scoreboard and the access log -------------------------------- */

/* The first bytes of a request are in C: its clock starts (access log %t
 * and %D, the duration histogram).  Owner. */
static void conn_request_begins(struct conn *c)
{
    if (c->req_start_us == 0)
        c->req_start_us = realtime_us();
}

/* The method class of C's request; LINE: its request line, NULL when
 * none was parsed (a 400 on garbage). */
static enum sb_method conn_method_class(const struct conn *c, const char *line)
{
    if (line == NULL)
        return SB_METHOD_OTHER;
    switch (c->req.parser.method) {
    case HTTP_GET: return SB_METHOD_GET;
    case HTTP_HEAD: return SB_METHOD_HEAD;
    case HTTP_POST: return SB_METHOD_POST;
    case HTTP_PUT: return SB_METHOD_PUT;
    case HTTP_DELETE: return SB_METHOD_DELETE;
    case HTTP_OPTIONS: return SB_METHOD_OPTIONS;
    case HTTP_PATCH: return SB_METHOD_PATCH;
    default: return SB_METHOD_OTHER;
    }
}

/* ExtendedStatus: the request C is about to answer, in the record of the
 * thread REC that answers it. */
/* A key for C's client address (IPv4, or a hash of IPv6), never 0. */
static uint64_t peer_key(const struct conn *c)
{
    if (c->peer.sa.sa_family == AF_INET)
        return 1 + (uint64_t)c->peer.in.sin_addr.s_addr;
    uint64_t h = 14695981039346656037ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ c->peer.in6.sin6_addr.s6_addr[i]) * 1099511628211ULL;
    return h | 1ULL << 63;
}

static void conn_status_begin(struct conn *c, struct sb_thread *rec)
{
    size_t len;
    const char *line = http_request_line(&c->req, &len);
    atomic_store_explicit(&rec->last_start_us, c->req_start_us, memory_order_relaxed);
    atomic_store_explicit(&rec->last_dur_us, -1, memory_order_relaxed);
    uint64_t key = peer_key(c);
    if (rec->client_key != key) {          /* the same client again: already there */
        char addr[64];
        log_format_addr(&c->peer.sa, addr, sizeof addr);
        sb_text_put(rec->client, SB_CLIENT_WORDS, addr, strlen(addr));
        rec->client_key = key;
    }
    if (rec->vhost_key != (uint64_t)(uintptr_t)c->site) {
        const char *vhost = c->site && c->site->server_name ? c->site->server_name : "";
        sb_text_put(rec->vhost, SB_VHOST_WORDS, vhost, strlen(vhost));
        rec->vhost_key = (uint64_t)(uintptr_t)c->site;
    }
    sb_text_put(rec->request, SB_REQUEST_WORDS, line ? line : "", line ? len : 0);
}

/* log_request's header look-ups: the request's fields, and the response
 * head kept for %{X}o (read with response.h's look-up). */
static const char *log_req_header(const void *ctx, const char *name, size_t name_len,
                                  size_t *value_len)
{
    const struct conn *c = ctx;
    char n[128];
    if (name_len >= sizeof n)
        return NULL;
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    return http_request_header(&c->req, n, value_len);
}

static const char *log_resp_header(const void *ctx, const char *name, size_t name_len,
                                   size_t *value_len)
{
    const struct conn *c = ctx;
    char n[128];
    if (c->resp_head == NULL || name_len >= sizeof n)
        return NULL;
    memcpy(n, name, name_len);
    n[name_len] = '\0';
    const struct response_head view = { .heap = c->resp_head, .len = c->head_out };
    return response_head_get(&view, n, value_len);
}

/* The first line of a request the parser refused (a 400 on a bad
 * request line or header), as it came, for %r: Apache logs it (escaped)
 * so that garbage and probes show what they sent.  NULL if none. */
static const char *raw_first_line(const struct conn *c, size_t *len)
{
    const char *start = c->req.buf ? c->req.buf + c->req.line_off : NULL;
    const char *end = c->req.buf ? c->req.buf + c->req.len : NULL;
    if (!start || start >= end)
        return NULL;
    const char *p = start;
    while (p < end && *p != '\n' && p - start < 8192)
        p++;
    if (p > start && p[-1] == '\r')
        p--;
    *len = (size_t)(p - start);
    return *len ? start : NULL;
}

/* One access-log line for the request C just finished, whose request
 * line (or NULL) is LINE, LEN bytes (ABORTED: the client went away before
 * the response was out). */
/* logformat's ssl_var: mod_ssl's variables of C's TLS; NULL ("-") on a
 * plain connection. */
static const char *log_ssl_var(const void *ctx, const char *name, size_t name_len,
                               size_t *value_len)
{
    const struct conn *c = ctx;
    if (c->ssl == NULL)
        return NULL;
    struct tls_info ti;
    tls_io_info(c->ssl, &ti);
    const char *v = NULL;
#define IS(s) (name_len == sizeof s - 1 && memcmp(name, s, name_len) == 0)
    if (IS("HTTPS"))
        v = "on";
    else if (IS("SSL_PROTOCOL"))
        v = ti.protocol;
    else if (IS("SSL_CIPHER"))
        v = ti.cipher;
    else if (IS("SSL_SESSION_RESUMED"))
        v = ti.resumed ? "Resumed" : "Initial";
    else if (IS("SSL_TLS_SNI"))
        v = ti.sni;
#undef IS
    if (v)
        *value_len = strlen(v);
    return v;
}

static void conn_log_request(struct conn *c, const struct logger *lg, const char *line,
                             size_t len, int64_t dur, int aborted)
{
    static _Thread_local struct logformat_clock clk;   /* %t text, per thread and second */
    struct log_request r = {
        .peer = &c->peer.sa, .conn_peer = c->peer_proxied ? &c->sock_peer.sa : NULL,
        .status = c->status, .body_bytes = c->body_sent,
        .bytes_in = (long long)c->head_in + (long long)c->req.body_bytes,
        .bytes_out = (long long)c->head_out + c->body_sent,
        .start = { (time_t)(c->req_start_us / 1000000), (long)(c->req_start_us % 1000000) * 1000 },
        .duration_us = dur, .pid = c->child->pid, .keepalive_count = c->served,
        .conn_status = aborted ? 'X' : c->keep_alive ? '+' : '-',
        .req_header = log_req_header, .resp_header = log_resp_header,
        .ssl_var = log_ssl_var, .ctx = c, .user = c->user,
    };
    r.request_line = line;
    r.request_line_len = len;
    if (!r.request_line && c->req.error_status)
        r.request_line = raw_first_line(c, &r.request_line_len);
    else if (r.request_line) {
        r.method = http_method_str(c->req.parser.method);
        r.method_len = strlen(r.method);
        r.target = c->req.buf + c->req.url_off;
        r.target_len = c->req.url_len;
        const char *sp = memrchr(r.request_line, ' ', r.request_line_len);
        if (sp) {
            r.protocol = sp + 1;
            r.protocol_len = r.request_line_len - (size_t)(sp + 1 - r.request_line);
        }
    }
    const struct config *cfg = c->child->cfg;
    r.server_name = (c->site ? c->site : cfg)->server_name;
    char host[256];
    r.host = http_request_host_name(&c->req, host, sizeof host, &r.host_len);  /* %V */
    struct sockaddr_storage local;
    if (lg->needs & LOGFORMAT_NEEDS_LOCAL_ADDR) {
        socklen_t alen = sizeof local;
        if (getsockname(c->fd, (struct sockaddr *)&local, &alen) == 0)
            r.local = (struct sockaddr *)&local;
    }
    if (lg->needs & LOGFORMAT_NEEDS_TID)
        r.tid = (long)syscall(SYS_gettid);
    r.server_port = logformat_addr_port(r.local ? r.local : cfg->n_listen > 0
                                        ? (const struct sockaddr *)&cfg->listen[0].addr : NULL);
    if (r.server_port < 0)
        r.server_port = 0;
    log_request(lg, &r, &clk);
}

/* The user RP's credentials named, for the access log's %u. */
static void conn_note_user(struct conn *c, const char *user)
{
    free(c->user);
    c->user = user[0] ? strdup(user) : NULL;
}

/* A response is over (sent, cut short, or the client is gone): count it
 * in the scoreboard and write its access-log line.  Owner. */
static void conn_request_done_as(struct conn *c, int aborted)
{
    struct child *ch = c->child;
    int64_t now = realtime_us();
    if (c->req_start_us == 0)
        c->req_start_us = now;
    int64_t dur = now - c->req_start_us;
    size_t len;
    const char *line = http_request_line(&c->req, &len);
    sb_count_request(&ch->proc->c, conn_method_class(c, line), c->status, c->body_sent, dur);
    struct sb_thread *rec = c->rec ? c->rec : ch->listener_rec;
    atomic_fetch_add_explicit(&rec->requests, 1, memory_order_relaxed);
    if (ch->cfg->extended_status) {
        atomic_fetch_add_explicit(&rec->bytes, (uint64_t)(c->body_sent > 0 ? c->body_sent : 0),
                                  memory_order_relaxed);
        atomic_store_explicit(&rec->last_dur_us, dur, memory_order_relaxed);
        atomic_fetch_add_explicit(&rec->dur_sum_us, (uint64_t)(dur > 0 ? dur : 0),
                                  memory_order_relaxed);
    }
    const struct logger *lg = log_for_site(ch->log, c->site ? c->site->site_id : 0);
    if (lg->n_outs > 0)
        conn_log_request(c, lg, line, len, dur, aborted);
    free(c->resp_head);
    c->resp_head = NULL;
    free(c->user);
    c->user = NULL;
    c->head_in = 0;
    c->head_out = 0;
    c->req_start_us = 0;
    c->rec = NULL;
}

static void conn_request_done(struct conn *c)
{
    conn_request_done_as(c, 0);
}

/* The client went away (or stopped reading) before the response was out:
 * %X logs "X". */
static void conn_request_aborted(struct conn *c)
{
    conn_request_done_as(c, 1);
}

/* The site (virtual host) that answers the request in C: by the address
 * the connection came in on and the Host (RFC 9112 3.2.2: an absolute-form
 * target's authority instead).  A config without virtual hosts costs one
 * test.  Chosen once per request: a request the listener's fast path
 * declines is built again by a handler thread (c->site). */
/* FNV-1a of HOST (LEN bytes) in lower case; never 0 (0: nothing cached). */
static uint64_t host_key(const char *host, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; host && i < len; i++) {
        unsigned char ch = (unsigned char)host[i];
        h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 1099511628211ULL;
    }
    h ^= host ? len : 0x9e3779b97f4a7c15ULL;  /* no host differs from "" */
    return h ? h : 1;
}

static const struct config *choose_site(struct conn *c)
{
    const struct config *cfg = c->child->cfg;
    if (cfg->n_vhosts == 0)
        return cfg;
    const char *value = NULL, *host = NULL;
    size_t vlen = 0, hlen = 0;
    const char *url = c->req.buf + c->req.url_off;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (c->req.url_len > 0 && url[0] != '/' &&
        http_parser_parse_url(url, c->req.url_len, 0, &u) == 0 && (u.field_set & (1 << UF_HOST))) {
        host = url + u.field_data[UF_HOST].off;     /* no port, no brackets */
        hlen = u.field_data[UF_HOST].len;
        if (hlen > 1 && host[hlen - 1] == '.')
            hlen--;
    } else if ((value = http_request_host(&c->req, &vlen)) != NULL) {
        hlen = route_host_name(value, vlen, &host);
    }
    /* The answer depends on the local address (fixed for the connection)
     * and the host name only: a keep-alive client naming the same host
     * again gets the same site without the look-up (and getsockname).  A crafted hash
     * collision could only pick a site the client may name anyway. */
    uint64_t key = host_key(host, hlen);
    if (key == c->site_key)
        return c->site_known;
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    if (getsockname(c->fd, (struct sockaddr *)&local, &len) == -1)
        return cfg;
    c->site_key = key;
    c->site_known = route_site(cfg, (const struct sockaddr *)&local, host, hlen);
    return c->site_known;
}

static struct handler_waiter *conn_suspend(void *ctx, const struct handler_async_ops *ops,
                                           void *state, int timeout_ms);
static void *conn_take_resumed(struct conn *c);

/* HTTPS: the Host must name a site the TLS handshake could have served
 * (Apache's rule): with SNI, a Host whose site has another TLS setup than
 * the one SNI chose gets 421, and a request with no Host at all 400.  No
 * SNI: the Host decides alone. */
static void conn_check_sni(struct conn *c)
{
    int named;
    const struct config *sni = tls_io_sni_site(c->ssl, &named);
    if (!named)
        return;
    size_t hlen;
    if (http_request_host(&c->req, &hlen) == NULL && c->req.url_len > 0 &&
        c->req.buf[c->req.url_off] == '/') {
        c->req.error_status = 400;
        c->req.error_reason = "a host name was sent by SNI, but the request names none";
    } else if (sni != NULL && c->site != sni && !tls_compatible(sni, c->site)) {
        c->req.error_status = 421;
        c->req.error_reason = "the Host names a site whose TLS setup differs from the one "
                              "SNI chose";
    }
}

/* Build the reply for the complete (or failed) request in C: an error
 * page, or what the handler answers.  With LISTENER (the listener
 * thread), only the handler's non-blocking entry point runs; returns
 * DISPATCH_DECLINED when it declines (the request needs a handler
 * thread), DISPATCH_SUSPENDED when it answers later, else DISPATCH_DONE. */
static int conn_build_reply(struct date_cache *date, struct conn *c, struct reply *rp,
                            int listener, struct conn_stream *cs, struct sb_thread *rec)
{
    c->is_head = c->req.parser.method == HTTP_HEAD && !c->req.error_status;
    c->rec = rec;
    c->head_in = c->req.parsed > c->req.line_off ? c->req.parsed - c->req.line_off : 0;
    if (!c->req.error_status && c->site == NULL) {
        c->site = choose_site(c);
        if (c->ssl)
            conn_check_sni(c);
    }
    struct tls_info tls;
    if (c->ssl)
        tls_io_info(c->ssl, &tls);
    if (c->req.error_status) {
        conn_log(c, LOGL_INFO, "bad request (%d): %s", c->req.error_status,
                 c->req.error_reason ? c->req.error_reason : "malformed");
        reply_error(rp, date, c->req.error_status);
    } else {
        if (c->child->cfg->extended_status)
            conn_status_begin(c, rec);
        struct body_reader body = { conn_read_body, c };
        struct reply_stream stream = { stream_begin, stream_write, stream_tunnel,
                                       stream_local_addr, cs };
        struct reply_async async = { conn_suspend, conn_local_addr, c };
        struct dispatch_in in = { .req = &c->req, .site = c->site, .peer = &c->peer.sa,
                                  .env = &c->child->env, .date = date, .body = &body,
                                  .stream = cs ? &stream : NULL,
                                  .async = listener ? &async : NULL,
                                  .resumed = conn_take_resumed(c),
                                  .start_us = c->req_start_us,
                                  .tls = c->ssl ? &tls : NULL };
        int d = dispatch_request(&in, rp, listener);
        if (d != DISPATCH_DONE)
            return d;
        conn_note_user(c, rp->user);
        if (rp->streamed && !cs->head_pending)
            return 1;         /* sent (or being tunnelled): conn_stream_finish goes on */
        if (rp->streamed) {   /* failed before its head went out: still time for a 502 */
            reply_release(&rp->out);
            reply_error(rp, date, 502);
            *cs = (struct conn_stream){ .c = c, .cl_left = -1 };
        }
    }
    /* After the handler: one that read the whole body leaves nothing to discard. */
    c->keep_alive = (uint8_t)decide_keep_alive(c);
    conn_finish_head(c, rp);
    if (c->is_head) {
        reply_release_body(&rp->out);
        rp->out.body = NULL;
        rp->out.body_len = 0;
        rp->out.file_end = rp->out.file_pos;
    }
    c->status = rp->status;
    c->body_sent = 0;
    return DISPATCH_DONE;
}

enum next_step { NEXT_SERVE, NEXT_READ, NEXT_IDLE, NEXT_CLOSE, NEXT_LINGER,
                 NEXT_GONE /* handed over (a tunnel): the caller lets go of C */ };

/* Whether the client has said it will send nothing more: it asked for the
 * close (a client that sends "close" MUST NOT send further requests, RFC
 * 9112 9.6), its request was read whole and nothing follows it.  Only
 * then may mpmd close without lingering. */
static int client_done_sending(const struct conn *c)
{
    const struct request *r = &c->req;
    return !r->keep_alive && !r->error_status && r->complete && r->len == r->parsed;
}

/* The current request is over, body included: on to the next one. */
static enum next_step conn_next_request(struct conn *c)
{
    conn_begin_stage(c, 0);
    c->site = NULL;
    c->sent_continue = 0;
    if (http_request_next(&c->req) == 0) {
        http_request_release_buffer(&c->req);
        return NEXT_IDLE;
    }
    conn_request_begins(c);
    return http_request_parse(&c->req, &c->child->limits) == HTTP_PARSE_MORE ? NEXT_READ
                                                                             : NEXT_SERVE;
}

/* Discarding a body after its response, parsing has stopped: the body is
 * over, broken, or more is needed. */
static enum next_step conn_discard_next(struct conn *c)
{
    if (!c->req.complete && !c->req.error_status)
        return NEXT_READ;
    c->discarding = 0;
    if (c->req.complete)
        return conn_next_request(c);
    conn_log(c, LOGL_INFO, "bad request body after the response (%d): %s",
            c->req.error_status, c->req.error_reason ? c->req.error_reason : "malformed");
    return NEXT_LINGER;   /* broken framing: the response is out, end here */
}

/* A response is fully sent: log it and decide what the connection does
 * next.  Any owner. */
static enum next_step conn_response_done(struct conn *c)
{
    conn_request_done(c);
    c->served++;
    if (!c->keep_alive)
        return client_done_sending(c) ? NEXT_CLOSE : NEXT_LINGER;
    if (!http_request_body_pending(&c->req))
        return conn_next_request(c);
    /* Answered from the head: read the rest of the (small) body, drop it. */
    c->discarding = 1;
    conn_begin_stage(c, 1);
    http_request_parse(&c->req, &c->child->limits);
    return conn_discard_next(c);
}

static void conn_wait_read(struct conn *c, int on_listener);
static void conn_continue(struct conn *c, enum next_step next);

/* Listener: a tunnel ended; the client's socket goes with it. */
static void conn_tunnel_done(void *arg)
{
    struct conn *c = arg;
    c->tunnel = NULL;
    conn_close(c);
}

/* Start the tunnel a handler asked for (conn_stream's tunnel), handing C
 * to the listener.  Handler thread; C is not ours afterwards. */
static void conn_start_tunnel(struct conn *c)
{
    struct tunnel *t = c->tunnel;
    conn_request_done(c);
    c->served++;
    conn_set_state(c, CONN_TUNNEL);
    http_request_release_buffer(&c->req);
    if (tunnel_start(t, c->child->lst.base, conn_tunnel_done, c) == -1) {
        c->tunnel = NULL;     /* freed by tunnel_start */
        conn_close(c);
    }
}

/* A streamed response is over (handler thread): start its tunnel, or
 * say in *NEXT what the connection does now.  Returns 0 when C was
 * handed over (the caller lets go of it), else 1. */
static int conn_stream_finish(struct conn *c, struct conn_stream *cs, struct reply *rp,
                              enum next_step *next)
{
    reply_release(&rp->out);
    if (c->tunnel) {
        conn_start_tunnel(c);
        return 0;
    }
    if (cs->ended && cs->cl_left <= 0) {
        *next = conn_response_done(c);
        return 1;
    }
    /* Cut short: the client is gone (close), or the body stopped before
     * its end (linger: the close tells the client). */
    c->keep_alive = 0;
    conn_request_done_as(c, cs->failed);
    c->served++;
    *next = cs->failed ? NEXT_CLOSE : NEXT_LINGER;
    return 1;
}

/* Send RP; on a full socket hand the rest to the listener's write
 * completion.  Returns 1 when the response is complete (caller
 * continues), 0 when handed over or closed (caller must let go of C).
 * Owner (listener or handler thread). */
static int conn_send_reply(struct conn *c, struct reply *rp)
{
    int to_listener = c->ssl && c->state == CONN_HANDLING &&
                      rp->out.file_end - rp->out.file_pos > TLS_LISTENER_WRITES;
    int r = to_listener ? 0 : out_send(c, &rp->out, &c->body_sent);
    if (to_listener)
        c->tls_want = TLS_WANT_NONE;  /* wait to write, whatever the last read said */
    if (r == 1) {
        reply_release(&rp->out);
        return 1;
    }
    if (r == -1) {
        reply_release(&rp->out);
        conn_request_aborted(c);  /* the client is gone: logged as Apache does */
        conn_close(c);
        return 0;
    }
    c->out = malloc(sizeof *c->out);
    if (!c->out) {
        reply_release(&rp->out);
        conn_close(c);
        return 0;
    }
    *c->out = rp->out;
    conn_set_state(c, CONN_WRITING);
    conn_arm(c, io_event(c, EV_WRITE), c->child->lst.tv_write);
    return 0;
}

/* Listener thread: a request is complete in C.  Answer it here when that
 * cannot block (an error, or a file in the cache), else give it to a
 * handler thread. */
static void conn_dispatch(struct conn *c)
{
    struct child *ch = c->child;
    for (;;) {
        struct reply rp;
        int built = conn_build_reply(&ch->lst.date, c, &rp, 1, NULL, ch->listener_rec);
        if (built == DISPATCH_DECLINED)
            break;
        if (built == DISPATCH_SUSPENDED) {
            conn_set_state(c, CONN_SUSPENDED);    /* the waiter's event brings it back */
            return;
        }
        if (!conn_send_reply(c, &rp))
            return;
        enum next_step next = conn_response_done(c);
        if (next != NEXT_SERVE) {
            conn_continue(c, next);
            return;
        }
    }
    conn_disarm(c);
    conn_set_state(c, CONN_HANDLING);
    if (workq_push(&ch->q, &c->qi) <= 0)
        listener_pause_accept(ch);
}

/* Hand C back to the listener, or close it, according to NEXT.  Called
 * by its owner; after this returns the caller must not touch C. */
static void conn_continue(struct conn *c, enum next_step next)
{
    struct listener *l = &c->child->lst;
    int on_listener = c->state != CONN_HANDLING;   /* handler threads own HANDLING */
    switch (next) {
    case NEXT_IDLE:
        conn_set_state(c, CONN_KEEPALIVE);
        conn_wait_input(c, l->tv_keepalive, on_listener);
        break;
    case NEXT_READ:
        conn_wait_read(c, on_listener);
        break;
    case NEXT_SERVE:
        /* Only the listener gets here (handlers loop instead). */
        conn_dispatch(c);
        break;
    case NEXT_LINGER:
        conn_linger(c);
        break;
    case NEXT_CLOSE:
        conn_close_done(c);
        break;
    case NEXT_GONE:
        break;
    }
}

/* ---- suspended requests (handler.h's "answering later") ---------- */

/* handler.h's waiter: one per suspended request, owned by its connection
 * from conn_suspend until the dispatch that resumes it. */
struct handler_waiter {
    struct event ev;          /* one-shot, on the handler's descriptor (or a timer alone
                               * while KEPT reports its readiness) */
    struct conn *c;
    const struct handler_async_ops *ops;
    void *state;              /* the handler's */
    int armed;                /* EV is pending */
    struct handler_kept *kept; /* watched for reading through it, or NULL */
};

/* handler.h's kept descriptor: registered once, edge-triggered for reading. */
struct handler_kept {
    struct event ev;          /* persistent */
    struct handler_waiter *waiter; /* the request waiting on it, or NULL */
    int ready;                /* an edge came while no request waited */
    void (*idle)(void *arg);
    void *arg;
};

_Static_assert(HANDLER_EV_READ == EV_READ && HANDLER_EV_WRITE == EV_WRITE &&
               HANDLER_EV_TIMEOUT == EV_TIMEOUT, "handler.h's event bits are libevent's");

static void conn_waiter_cb(evutil_socket_t fd, short what, void *arg);

/* W no longer waits on its kept descriptor. */
static void waiter_unlink(struct handler_waiter *w)
{
    if (w->kept) {
        w->kept->waiter = NULL;
        w->kept = NULL;
    }
}

/* W watches nothing (before it watches something else, or goes). */
static void waiter_disarm(struct handler_waiter *w)
{
    if (w->armed)
        event_del(&w->ev);
    w->armed = 0;
    waiter_unlink(w);
}

/* Arm W's event, assigned to FD for WHAT (-1, 0: a timer), for MS.  0 or -1. */
static int waiter_arm(struct handler_waiter *w, int fd, short what, int ms)
{
    struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
    event_assign(&w->ev, w->c->child->lst.base, fd, what & (EV_READ | EV_WRITE), conn_waiter_cb,
                 w);
    w->armed = event_add(&w->ev, &tv) == 0;
    return w->armed ? 0 : -1;
}

int handler_watch(struct handler_waiter *w, int fd, short what, int timeout_ms)
{
    waiter_disarm(w);
    return waiter_arm(w, fd, what, timeout_ms);
}

int handler_watch_kept(struct handler_waiter *w, struct handler_kept *k, int timeout_ms)
{
    waiter_disarm(w);
    /* The readiness comes from K's event; W's own is the timeout (a
     * timer: no system call to add or remove). */
    if (k->waiter || waiter_arm(w, -1, 0, timeout_ms) == -1)
        return -1;                /* one request at a time */
    w->kept = k;
    k->waiter = w;
    if (k->ready) {               /* the edge came before this wait */
        k->ready = 0;
        event_active(&w->ev, EV_READ, 1);
    }
    return 0;
}

static void conn_kept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct handler_kept *k = arg;
    struct handler_waiter *w = k->waiter;
    (void)fd;
    (void)what;
    if (w == NULL) {
        k->ready = 1;
        k->idle(k->arg);          /* may free K */
        return;
    }
    event_del(&w->ev);            /* the timeout */
    event_active(&w->ev, EV_READ, 1);
}

struct handler_kept *handler_keep(struct handler_waiter *w, int fd, void (*idle)(void *arg),
                                  void *arg)
{
    struct conn *c = w->c;
    struct handler_kept *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->idle = idle;
    k->arg = arg;
    event_assign(&k->ev, c->child->lst.base, fd, EV_READ | EV_ET | EV_PERSIST, conn_kept_cb, k);
    if (event_add(&k->ev, NULL) == -1) {
        free(k);
        return NULL;
    }
    return k;
}

void handler_unkeep(struct handler_kept *k)
{
    if (k == NULL)
        return;
    if (k->waiter)
        k->waiter->kept = NULL;
    event_del(&k->ev);
    free(k);
}

/* reply_async.suspend (listener thread, from a fast entry point). */
static struct handler_waiter *conn_suspend(void *ctx, const struct handler_async_ops *ops,
                                           void *state, int timeout_ms)
{
    struct conn *c = ctx;
    if (c->waiter)
        return NULL;              /* one at a time */
    struct handler_waiter *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    *w = (struct handler_waiter){ .c = c, .ops = ops, .state = state };
    if (handler_watch(w, -1, 0, timeout_ms) == -1) {
        free(w);
        return NULL;
    }
    c->waiter = w;
    return w;
}

/* The state of C's woken handler, for the dispatch that resumes it (the
 * waiter goes); NULL when C is not resuming.  Owner. */
static void *conn_take_resumed(struct conn *c)
{
    struct handler_waiter *w = c->waiter;
    if (w == NULL || w->armed)
        return NULL;
    void *state = w->state;
    free(w);
    c->waiter = NULL;
    return state;
}

/* C is closed while suspended or woken: the handler frees its state. */
static void conn_drop_waiter(struct conn *c)
{
    struct handler_waiter *w = c->waiter;
    waiter_disarm(w);
    w->ops->cancel(w->state);
    free(w);
    c->waiter = NULL;
}

/* Listener: the descriptor a suspended handler watches is ready (or its
 * time ran out).  The handler says whether to wait on, or where its
 * request is dispatched again. */
static void conn_waiter_cb(evutil_socket_t fd, short what, void *arg)
{
    struct handler_waiter *w = arg;
    struct conn *c = w->c;
    (void)fd;
    w->armed = 0;
    waiter_unlink(w);
    enum handler_wake next = w->ops->event(w->state, what);
    if (next == HANDLER_WAIT && w->armed)
        return;
    if (next == HANDLER_WAKE_THREAD) {
        struct child *ch = c->child;
        conn_disarm(c);
        conn_set_state(c, CONN_HANDLING);
        if (workq_push(&ch->q, &c->qi) <= 0)
            listener_pause_accept(ch);
        return;
    }
    conn_dispatch(c);             /* HANDLER_WAIT unwatched too: it must answer now */
}

/* ---- listener side ---------------------------------------------- */

/* 408 for a request that did not arrive in time.  DATE: the calling
 * thread's date cache. */
static void conn_send_timeout_reply(struct conn *c, struct date_cache *date)
{
    struct reply rp;
    long long ignored = 0;
    c->req.error_status = 408;
    reply_error(&rp, date, 408);
    conn_finish_head(c, &rp);
    c->status = 408;
    out_send(c, &rp.out, &ignored);
    conn_request_done(c);
}

/* Owner: wait for more of the request in the listener, as long as
 * RequestReadTimeout allows (time already up: the listener answers 408 at
 * once, from its own thread). */
static void conn_wait_read(struct conn *c, int on_listener)
{
    int left = read_time_left(c);
    if (c->req.len == 0)
        http_request_release_buffer(&c->req); /* hold no buffer while nothing came */
    struct timeval tv = { .tv_sec = left, .tv_usec = 0 };
    conn_set_state(c, CONN_READING);
    conn_wait_input(c, &tv, on_listener);
}

/* An HTTPS read ended the connection: say why at info when the handshake
 * failed (Apache's "SSL handshake failed"), and linger, so the client
 * reads OpenSSL's alert rather than a reset. */
static void conn_tls_note_end(struct conn *c)
{
    int plain;
    const char *why = tls_io_why(c->ssl, &plain);  /* also drops a queued reason */
    if (!tls_io_handshaking(c->ssl) || tls_io_received(c->ssl) == 0)
        return;
    conn_log(c, LOGL_INFO, "TLS handshake failed: %s", why);
    if (plain) {
        /* Plain HTTP to an HTTPS port: say so in plain HTTP, as Apache and
         * nginx do, rather than leave the client with a TLS alert. */
        static const char msg[] =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
            "Content-Length: 45\r\nConnection: close\r\n\r\n"
            "This port speaks HTTPS: use an https:// URL.\n";
        _Static_assert(sizeof "This port speaks HTTPS: use an https:// URL.\n" - 1 == 45,
                       "Content-Length");
        ssize_t n = send(c->fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;                      /* best effort: the connection ends anyway */
    }
}

static void conn_tls_gone(struct conn *c)
{
    conn_tls_note_end(c);
    conn_linger(c);
}

static void on_readable(struct conn *c)
{
    if (c->state == CONN_KEEPALIVE)
        conn_begin_stage(c, 0);               /* a new request starts arriving */
    switch (conn_read_request(c)) {
    case READ_READY:
        if (c->discarding)
            conn_continue(c, conn_discard_next(c));
        else
            conn_dispatch(c);
        break;
    case READ_WAIT:
        conn_wait_read(c, 1);
        break;
    case READ_GONE:
        if (c->ssl)
            conn_tls_gone(c);
        else
            conn_close(c);
        break;
    }
}

/* RequestReadTimeout or KeepAliveTimeout ran out.  The client may be
 * sending right now, so even an idle connection ends in a lingering
 * close; a partial request first gets its 408. */
static void on_read_timeout(struct conn *c)
{
    if (c->state == CONN_READING && c->req.len > 0 && !c->discarding)
        conn_send_timeout_reply(c, &c->child->lst.date);
    conn_linger(c);
}

static void on_writable(struct conn *c)
{
    int r = out_send(c, c->out, &c->body_sent);
    if (r == 0) {
        conn_arm(c, io_event(c, EV_WRITE), c->child->lst.tv_write);
        return;
    }
    reply_release(c->out);
    free(c->out);
    c->out = NULL;
    if (r == -1) {
        conn_request_aborted(c);
        conn_close(c);
        return;
    }
    conn_continue(c, conn_response_done(c));
}

static void conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    if (!(event_get_events(&c->ev) & EV_PERSIST))
        c->armed = 0;             /* libevent removed the one-shot event */
    switch (c->state) {
    case CONN_READING:
    case CONN_KEEPALIVE:
        if (what & EV_TIMEOUT)
            on_read_timeout(c);
        else
            on_readable(c);
        break;
    case CONN_WRITING:
        if (what & EV_TIMEOUT) {
            conn_request_aborted(c);
            conn_linger(c);       /* Timeout: the client stopped reading */
        } else
            on_writable(c);
        break;
    case CONN_LINGERING:
        if (what & EV_TIMEOUT)
            conn_close(c);
        else
            linger_drain(c);
        break;
    case CONN_SUSPENDED:
        /* The client sent more (or closed) while its answer waits: edge
         * triggered, so note it for after the answer (conn_wait_input). */
        if (what & EV_READ)
            c->recv_full = 1;
        break;
    default:
        break;
    }
}

void conn_start(struct conn *c)
{
    conn_begin_stage(c, 0);   /* TCP_NODELAY comes from the listening socket */
    if (c->child->cfg->mpm == MPM_WORKER) {
        struct child *ch = c->child;  /* once pushed, C may be gone */
        conn_set_state(c, CONN_HANDLING);
        if (workq_push(&ch->q, &c->qi) <= 0)
            listener_pause_accept(ch);
        return;
    }
    conn_set_state(c, CONN_READING);
    on_readable(c);
}

/* ---- handler side: MPM event ---------------------------------------- */

/* How long a handler thread with nothing else to do waits for a
 * connection's next request before handing the connection back. */
#define CONN_HANDLER_WAIT_MS 1

/* MPM event, handler thread: C's response is out and C would go idle.
 * When no other request waits for a thread, look for C's next request for
 * a moment: a busy client (a browser fetching a page's parts, an API
 * client, a load generator) sends it within that time, and serving it
 * here saves two thread hand-overs (to the listener and back).  Returns
 * NEXT_SERVE when a request is in, else what to do with C (NEXT_IDLE:
 * give it to the listener as before). */
static enum next_step conn_next_here(struct conn *c)
{
    if (workq_pending(&c->child->q) > 0 && !io_pending(c))
        return NEXT_IDLE;
    struct pollfd p = { .fd = c->fd, .events = POLLIN };
    if (!io_pending(c) &&
        (poll(&p, 1, CONN_HANDLER_WAIT_MS) != 1 || (p.revents & (POLLERR | POLLNVAL))))
        return NEXT_IDLE;
    conn_begin_stage(c, 0);
    switch (conn_read_request(c)) {
    case READ_READY:
        return NEXT_SERVE;
    case READ_WAIT:
        return NEXT_READ;
    default:
        return NEXT_CLOSE;
    }
}

static void run_event(struct worker *w, struct conn *c)
{
    for (;;) {
        struct reply rp;
        struct conn_stream cs = { .c = c, .cl_left = -1 };
        enum next_step next;
        conn_build_reply(&w->date, c, &rp, 0, &cs, w->sb);
        if (rp.streamed) {
            if (!conn_stream_finish(c, &cs, &rp, &next))
                return;
        } else {
            if (!conn_send_reply(c, &rp))
                return;
            next = conn_response_done(c);
        }
        if (next == NEXT_IDLE)
            next = conn_next_here(c);
        if (next != NEXT_SERVE) {
            conn_continue(c, next);
            return;
        }
    }
}

/* ---- handler side: MPM worker --------------------------------------- */

/* Wait for input on C (or the child's stop pipe).  Returns 1 readable, 0
 * timeout, -1 stop requested while idle. */
static int wait_readable(struct conn *c, int timeout_s, int idle)
{
    if (io_pending(c))
        return 1;
    struct pollfd p[2] = { { .fd = c->fd, .events = io_poll_events(c, POLLIN) },
                           { .fd = c->child->stop_pipe[0], .events = POLLIN } };
    int r;
    do {
        r = poll(p, idle ? 2 : 1, timeout_s * 1000);
    } while (r == -1 && errno == EINTR);
    if (r > 0 && idle && (p[1].revents & POLLIN) && !(p[0].revents & (POLLIN | POLLOUT)))
        return -1;
    return r > 0;
}

/* Wait for and read the next request, or the rest of a body being
 * discarded, with blocking waits.  Returns what to do next: NEXT_SERVE
 * (a request is in), NEXT_CLOSE (the client closed, or stop now),
 * NEXT_LINGER (a timeout; a partial request got its 408), or after a
 * discarded body whatever comes next. */
static enum next_step worker_read(struct worker *w, struct conn *c)
{
    const struct config *cfg = c->child->cfg;
    for (;;) {
        enum read_result r = conn_read_request(c);
        if (r == READ_GONE && c->ssl)
            conn_tls_note_end(c);
        if (r == READ_GONE)
            return c->ssl ? NEXT_LINGER : NEXT_CLOSE;
        if (r == READ_READY)
            return c->discarding ? conn_discard_next(c) : NEXT_SERVE;
        int idle = c->req.len == 0 && c->served > 0 && !c->discarding;
        int left = idle ? cfg->keepalive_timeout : read_time_left(c);
        scoreboard_set_thread_state(w->sb, idle ? SB_THREAD_KEEPALIVE : SB_THREAD_READING);
        int ready = left > 0 ? wait_readable(c, left, idle) : 0;
        if (ready == 1) {
            if (idle)
                conn_begin_stage(c, 0);
            continue;
        }
        if (ready == -1)
            return NEXT_CLOSE;
        if (c->req.len > 0 && !c->discarding)
            conn_send_timeout_reply(c, &w->date);
        return NEXT_LINGER;
    }
}

/* Send RP completely, waiting for the socket (MPM worker).  Returns 1
 * when sent, 0 when the client stopped reading for Timeout, -1 when it
 * is gone. */
static int worker_send(struct conn *c, struct reply *rp)
{
    int r;
    while ((r = out_send(c, &rp->out, &c->body_sent)) == 0)
        if (!wait_writable(c, c->child->cfg->timeout))
            break;
    reply_release(&rp->out);
    return r;
}

/* Answer the request that is in.  Returns what to do next. */
static enum next_step worker_serve(struct worker *w, struct conn *c)
{
    struct reply rp;
    struct conn_stream cs = { .c = c, .cl_left = -1 };
    scoreboard_set_thread_state(w->sb, SB_THREAD_WRITING);
    conn_build_reply(&w->date, c, &rp, 0, &cs, w->sb);
    if (rp.streamed) {
        enum next_step next;
        return conn_stream_finish(c, &cs, &rp, &next) ? next : NEXT_GONE;
    }
    int sent = worker_send(c, &rp);
    if (sent != 1) {
        conn_request_aborted(c);
        return sent == 0 ? NEXT_LINGER : NEXT_CLOSE;
    }
    return conn_response_done(c);
}

/* The handler thread owns C until it closes; a lingering close is handed
 * to the listener, so no thread waits for a client to go away. */
static void run_worker(struct worker *w, struct conn *c)
{
    enum next_step next = NEXT_READ;
    for (;;) {
        switch (next) {
        case NEXT_READ:
        case NEXT_IDLE:
            next = worker_read(w, c);
            break;
        case NEXT_SERVE:
            next = worker_serve(w, c);
            break;
        case NEXT_LINGER:
            conn_linger(c);
            return;
        case NEXT_CLOSE:
            conn_close_done(c);
            return;
        case NEXT_GONE:
            return;
        }
    }
}

void conn_run(struct worker *w, struct conn *c)
{
    if (c->child->cfg->mpm == MPM_WORKER)
        run_worker(w, c);
    else
        run_event(w, c);
}

/* ---- stopping --------------------------------------------------- */

/* evscan's OWNER: the connection an event belongs to (its own, or its
 * suspended request's waiter), or NULL. */
static void *conn_of(const struct event *ev)
{
    if (event_get_callback(ev) == conn_event_cb)
        return event_get_callback_arg(ev);
    if (event_get_callback(ev) == conn_waiter_cb)
        return ((struct handler_waiter *)event_get_callback_arg(ev))->c;
    return NULL;
}

/* evscan's OWNER: a kept descriptor's event, or NULL. */
static void *kept_of(const struct event *ev)
{
    return event_get_callback(ev) == conn_kept_cb ? event_get_callback_arg(ev) : NULL;
}

int conn_close_registered(struct event_base *base)
{
    int tunnels = tunnel_close_registered(base);
    void **found;
    int n = evscan_owners(base, conn_of, &found);
    for (int i = 0; i < n; i++)
        conn_close(found[i]);
    free(found);
    /* Kept descriptors no request waits on any more: their handlers let
     * go of them (IDLE; each frees only its own), while the loop is there. */
    int kept = evscan_owners(base, kept_of, &found);
    for (int i = 0; i < kept; i++) {
        struct handler_kept *k = found[i];
        k->idle(k->arg);
    }
    free(found);
    return n + tunnels;
}
