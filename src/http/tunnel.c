/* tunnel.c: relaying two sockets in the listener thread (tunnel.h).
 *
 * Side i has a read event (persistent, with the idle timeout) and a write
 * event (one-shot, armed only while bytes wait for it).  Bytes read from
 * side i are sent at once to the other side; what does not fit is kept in
 * the other side's pending buffer, and side i is not read again until it
 * has drained.  EOF from side i is passed on as shutdown(SHUT_WR) of the
 * other once its pending bytes are out; when both have ended, the tunnel
 * ends.  Built on a handler thread, then run by the listener thread
 * only. */
#include "config.h"

#include "mpmd/http/tunnel.h"

#include <errno.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/http/evscan.h"
#include "mpmd/http/response.h"
#include "mpmd/http/tls_io.h"

#define TUNNEL_READ_CHUNK 16384
#define TUNNEL_READS_PER_EVENT 4     /* then let other connections run */

struct tunnel;

struct tunnel_side {
    struct tunnel *t;
    int fd;
    struct event rd, wr;
    char *pend;                      /* bytes waiting to be written to FD; owned */
    size_t pend_len, pend_off;
    struct ssl_st *ssl;              /* the client's TLS (side 0 on HTTPS), not owned */
    int eof;                         /* FD sent EOF */
    int rd_on;                       /* RD is registered */
};

struct tunnel {
    struct tunnel_side s[2];         /* 0: the client, 1: the upstream */
    struct event start;              /* run once by the listener: registers the sides */
    struct timeval idle;
    long last_active;                /* monotonic second of the last byte either way */
    void (*done)(void *arg);
    void *arg;
};

struct tunnel *tunnel_new(int a, int b, int idle_s)
{
    struct tunnel *t = calloc(1, sizeof *t);
    if (t == NULL) {
        close(b);
        return NULL;
    }
    t->s[0].fd = a;
    t->s[1].fd = b;
    t->s[0].t = t->s[1].t = t;
    t->idle.tv_sec = idle_s > 0 ? idle_s : 60;
    return t;
}

void tunnel_set_tls(struct tunnel *t, struct ssl_st *ssl)
{
    t->s[0].ssl = ssl;
}

/* recv/send on side S, through its TLS when it has one: -1 with errno
 * EAGAIN when it would block (a TLS call that needs the other direction,
 * rare after the handshake, waits for this one's event too). */
static ssize_t side_recv(struct tunnel_side *s, char *buf, size_t len)
{
    if (s->ssl == NULL)
        return recv(s->fd, buf, len, MSG_DONTWAIT);
    int want;
    ssize_t n = tls_io_read(s->ssl, buf, len, &want);
    if (n < 0)
        errno = n == TLS_IO_AGAIN ? EAGAIN : EIO;
    return n < 0 ? -1 : n;
}

static ssize_t side_send(struct tunnel_side *s, const char *buf, size_t len)
{
    if (s->ssl == NULL)
        return send(s->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    int want;
    ssize_t n = tls_io_write(s->ssl, buf, len, &want);
    if (n < 0)
        errno = n == TLS_IO_AGAIN ? EAGAIN : EIO;
    return n < 0 ? -1 : n;
}

int tunnel_push(struct tunnel *t, int to_b, const char *data, size_t len)
{
    struct tunnel_side *s = &t->s[to_b ? 1 : 0];
    if (len == 0)
        return 0;
    char *p = realloc(s->pend, s->pend_len + len);
    if (p == NULL)
        return -1;
    memcpy(p + s->pend_len, data, len);
    s->pend = p;
    s->pend_len += len;
    return 0;
}

static void side_release(struct tunnel_side *s)
{
    free(s->pend);
    s->pend = NULL;
    s->pend_len = s->pend_off = 0;
}

void tunnel_free(struct tunnel *t)
{
    if (t == NULL)
        return;
    close(t->s[1].fd);
    side_release(&t->s[0]);
    side_release(&t->s[1]);
    free(t);
}

/* The tunnel is over: take it out of the loop, close the upstream, free
 * it, and tell its owner (who closes the client side). */
static void tunnel_end(struct tunnel *t)
{
    void (*done)(void *) = t->done;
    void *arg = t->arg;
    for (int i = 0; i < 2; i++) {
        event_del(&t->s[i].rd);
        event_del(&t->s[i].wr);
    }
    event_del(&t->start);
    tunnel_free(t);
    if (done)
        done(arg);
}

static void read_on(struct tunnel_side *s)
{
    if (!s->rd_on && !s->eof)
        s->rd_on = event_add(&s->rd, &s->t->idle) == 0;
}

static void read_off(struct tunnel_side *s)
{
    if (s->rd_on) {
        event_del(&s->rd);
        s->rd_on = 0;
    }
}

static int tunnel_finished(const struct tunnel *t)
{
    return t->s[0].eof && t->s[1].eof && t->s[0].pend_len == 0 && t->s[1].pend_len == 0;
}

/* Send to side TO what waits for it.  Returns 1 when all is out, 0 when
 * the socket is full, -1 on error. */
static int flush_pending(struct tunnel_side *to)
{
    while (to->pend_off < to->pend_len) {
        ssize_t n = side_send(to, to->pend + to->pend_off, to->pend_len - to->pend_off);
        if (n > 0) {
            to->pend_off += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        return n == -1 && errno == EAGAIN ? 0 : -1;
    }
    side_release(to);
    return 1;
}

/* Side FROM ended its sending: pass the EOF on once its bytes are out. */
static void pass_eof(struct tunnel_side *from, struct tunnel_side *to)
{
    if (from->eof && to->pend_len == 0) {
        if (to->ssl)
            tls_io_close_notify(to->ssl);
        shutdown(to->fd, SHUT_WR);
    }
}

/* BUF (LEN bytes, read from the other side) for TO: sent now, the rest
 * kept.  Returns 1 all sent, 0 some kept, -1 error / out of memory. */
static int relay(struct tunnel_side *to, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = side_send(to, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            return tunnel_push(to->t, to == &to->t->s[1], buf + off, len - off) == 0 ? 0 : -1;
        return -1;
    }
    return 1;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel_side *from = arg;
    struct tunnel *t = from->t;
    struct tunnel_side *to = &t->s[from == &t->s[0] ? 1 : 0];
    (void)fd;
    if (what & EV_TIMEOUT) {
        if (monotonic_seconds() - t->last_active >= t->idle.tv_sec)
            tunnel_end(t);
        return;
    }
    char buf[TUNNEL_READ_CHUNK];
    for (int i = 0; i < TUNNEL_READS_PER_EVENT; i++) {
        ssize_t n = side_recv(from, buf, sizeof buf);
        if (n == -1 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n < 0) {
            tunnel_end(t);
            return;
        }
        if (n == 0) {
            from->eof = 1;
            read_off(from);
            pass_eof(from, to);
            if (tunnel_finished(t))
                tunnel_end(t);
            return;
        }
        t->last_active = monotonic_seconds();
        int r = relay(to, buf, (size_t)n);
        if (r == -1) {
            tunnel_end(t);
            return;
        }
        if (r == 0) {                 /* TO is full: stop reading FROM until it drains */
            read_off(from);
            event_add(&to->wr, &t->idle);
            return;
        }
    }
    if (from->ssl && tls_io_pending(from->ssl))
        event_active(&from->rd, EV_READ, 1);   /* decrypted bytes raise no event */
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel_side *to = arg;
    struct tunnel *t = to->t;
    struct tunnel_side *from = &t->s[to == &t->s[0] ? 1 : 0];
    (void)fd;
    int r = (what & EV_TIMEOUT) ? -1 : flush_pending(to);
    if (r == -1) {
        tunnel_end(t);
        return;
    }
    if (r == 0) {
        event_add(&to->wr, &t->idle);
        return;
    }
    t->last_active = monotonic_seconds();
    pass_eof(from, to);
    read_on(from);
    if (tunnel_finished(t))
        tunnel_end(t);
}

/* Listener: register the sides' events.  Pending bytes for a side go
 * first; its source is read once they are out. */
static void on_start(evutil_socket_t fd, short what, void *arg)
{
    struct tunnel *t = arg;
    (void)fd, (void)what;
    for (int i = 0; i < 2; i++) {
        struct tunnel_side *to = &t->s[i], *from = &t->s[1 - i];
        if (to->pend_len) {
            if (event_add(&to->wr, &t->idle) == -1) {
                tunnel_end(t);
                return;
            }
        } else {
            read_on(from);
            if (!from->rd_on && !from->eof) {
                tunnel_end(t);
                return;
            }
            if (from->ssl && tls_io_pending(from->ssl))
                event_active(&from->rd, EV_READ, 1);
        }
    }
}

int tunnel_start(struct tunnel *t, struct event_base *base, void (*done)(void *arg), void *arg)
{
    t->done = done;
    t->arg = arg;
    t->last_active = monotonic_seconds();
    for (int i = 0; i < 2; i++) {
        struct tunnel_side *s = &t->s[i];
        if (event_assign(&s->rd, base, s->fd, EV_READ | EV_PERSIST, on_read, s) == -1 ||
            event_assign(&s->wr, base, s->fd, EV_WRITE, on_write, s) == -1) {
            tunnel_free(t);
            return -1;
        }
    }
    if (event_assign(&t->start, base, -1, 0, on_start, t) == -1) {
        tunnel_free(t);
        return -1;
    }
    /* From here on only the listener touches T (the caller may be a
     * handler thread: registering here would race with the callbacks). */
    event_active(&t->start, EV_TIMEOUT, 1);
    return 0;
}

/* evscan's OWNER: the tunnel an event belongs to, or NULL. */
static void *tunnel_of(const struct event *ev)
{
    if (event_get_callback(ev) == on_start)
        return event_get_callback_arg(ev);
    if (event_get_callback(ev) == on_read || event_get_callback(ev) == on_write)
        return ((struct tunnel_side *)event_get_callback_arg(ev))->t;
    return NULL;
}

int tunnel_close_registered(struct event_base *base)
{
    void **found;
    int n = evscan_owners(base, tunnel_of, &found);
    for (int i = 0; i < n; i++)
        tunnel_end(found[i]);
    free(found);
    return n;
}
