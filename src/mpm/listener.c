/* listener.c: a child's listener thread (see listener.h).
 *
 * The child's main thread runs this event loop.  It owns the event_base;
 * handler threads only add events to it (libevent_pthreads locks the base
 * and wakes the loop) and activate resume_ev / drained_ev. */
#include "config.h"

#include "mpmd/core/dirconf.h"
#include "mpmd/core/tls.h"
#include "mpmd/mpm/listener.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mpmd/mpm/child.h"
#include "mpmd/http/conn.h"

#define ACCEPT_RETRY_MS 100       /* pause after accept ran out of descriptors */
#define ACCEPT_BURST 16           /* connections taken per wake-up before yielding */

static void listener_note_accept(struct child *c);
static void listener_sync(struct child *c);

/* The Listen that EVL's socket serves (the sockets are in the order of
 * the Listen lines), or NULL. */
static const struct listen_spec *listener_spec(const struct child *c, struct evconnlistener *evl)
{
    evutil_socket_t lfd = evconnlistener_get_fd(evl);
    for (int i = 0; i < c->n_listen && i < c->cfg->n_listen; i++)
        if (c->listen_fds[i] == lfd)
            return &c->cfg->listen[i];
    return NULL;
}

/* The TLS context for connections on Listen L, or NULL for plain HTTP. */
static struct ssl_ctx_st *listener_tls(const struct listen_spec *l)
{
    const struct tls_conf *t = l && l->tls ? tls_site_conf(l->tls_site) : NULL;
    return t ? t->ctx : NULL;
}

/* Whether a connection from PEER on Listen L starts with a PROXY header:
 * L is marked for it and PEER is not one of the owning site's
 * RemoteIPProxyProtocolExceptions (a monitor that connects directly). */
static int listener_expects_proxy(const struct listen_spec *l, const struct sockaddr *peer)
{
    if (l == NULL || !l->proxy)
        return 0;
    const struct config *site = l->proxy_site;
    return site == NULL || site->n_remoteip_proxy_except == 0 ||
           !authz_nets_match(site->remoteip_proxy_except, site->n_remoteip_proxy_except, peer);
}

/* evconnlistener callback: a new connection on one of our sockets. */
static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    struct child *c = arg;
    struct sb_child *slot = scoreboard_child(c->sb, c->slot);
    uint64_t n = atomic_fetch_add_explicit(&c->accepted, 1, memory_order_relaxed) + 1;
    atomic_store_explicit(&slot->connections, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->proc->c.connections, 1, memory_order_relaxed);
    const struct listen_spec *l = listener_spec(c, evl);
    struct conn *conn = conn_new(c, fd, sa, salen, listener_tls(l),
                                 listener_expects_proxy(l, sa));
    if (conn)
        conn_start(conn);
    listener_note_accept(c);
    long max = c->cfg->max_connections_per_child;
    if (max > 0 && n >= (uint64_t)max) {
        log_msg(c->log, LOGL_INFO, "served MaxConnectionsPerChild (%ld) connections; recycling", max);
        child_begin_stop(c, CHILD_GRACEFUL, 0);
    }
}

/* accept(2) failed.  Out of descriptors (or memory), the socket stays
 * readable and accept would fail in a tight loop: stop accepting for a
 * moment (siblings may have room) and say so once per pause. */
static void on_accept_error(struct evconnlistener *evl, void *arg)
{
    struct child *c = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)evl;
    if (err == ECONNABORTED || err == EINTR)
        return;
    int exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    log_msg(c->log, LOGL_ERROR, "accept failed: %s%s", strerror(err),
            exhausted ? "; not accepting for 100 ms (raise LimitNOFILE / ulimit -n)" : "");
    if (!exhausted || c->lst.retry_pending)
        return;
    struct timeval tv = { .tv_sec = 0, .tv_usec = ACCEPT_RETRY_MS * 1000 };
    listener_pause_accept(c);
    if (evtimer_add(c->lst.retry_ev, &tv) == -1) {
        /* Stay paused; the next idle handler (resume_ev) resumes. */
        log_msg(c->log, LOGL_ERROR, "cannot arm the accept retry timer");
        return;
    }
    c->lst.retry_pending = 1;
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    c->lst.retry_pending = 0;
    listener_resume_accept(c);
}

/* The supervisor wrote to (or closed) the control pipe. */
static void on_control(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    char msg;
    (void)what;
    ssize_t n = read(fd, &msg, 1);
    if (n == -1 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 1 && msg == CONTROL_STOP)
        child_begin_stop(c, CHILD_IMMEDIATE, 0);
    else
        child_begin_stop(c, CHILD_GRACEFUL, n == 1 && msg == CONTROL_DRAIN);
        /* 'G', 'W', or the supervisor is gone */
    if (n != 1)
        event_del(c->lst.control_ev);
}

/* Every child is woken for a new connection on the shared socket, the
 * kernel wakes the most recently registered waiter first, and libevent's
 * evconnlistener accepts until the queue is empty: left alone, one child
 * takes most of a burst (wrk -c1000) or even of a trickle.  Two brakes:
 *  - after ACCEPT_BURST accepts the child yields until this loop pass is
 *    over (burst_paused), leaving the rest to the siblings woken with it;
 *  - a child holding more than its share of connections (balance.h) stops
 *    accepting (deferring) and only watches its sockets, edge-triggered:
 *    on each new connection it checks again whether it is still over its
 *    share, and if a connection is still queued BALANCE_WAIT_MS later (no
 *    sibling took it: all busy, or many arriving) it takes it itself.  So
 *    deferring costs nothing while no connection comes, and never strands
 *    one for longer than BALANCE_WAIT_MS. */
static int listener_over_share(struct child *c)
{
    return balance_over_share(&c->lst.balance, c->sb, c->slot, child_conns_open(c),
                              (time_t)monotonic_seconds());
}

static void listener_note_accept(struct child *c)
{
    struct listener *l = &c->lst;
    if (l->burst_paused || l->draining)
        return;
    if (++l->burst >= ACCEPT_BURST) {
        l->burst_paused = 1;
        event_active(l->burst_ev, EV_READ, 1);
    } else if (listener_over_share(c)) {
        l->deferring = 1;
    } else {
        return;
    }
    listener_sync(c);
}

static void on_burst_end(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    c->lst.burst = 0;
    c->lst.burst_paused = 0;
    listener_sync(c);
}

static void listener_end_deferral(struct child *c)
{
    c->lst.deferring = 0;
    evtimer_del(c->lst.defer_check_ev);
    listener_sync(c);
}

/* Whether a connection is waiting in one of our listening sockets' queues. */
static int listener_queue_nonempty(const struct child *c)
{
    struct pollfd pfd[CONFIG_MAX_LISTEN];
    for (int i = 0; i < c->n_listen; i++)
        pfd[i] = (struct pollfd){ .fd = c->listen_fds[i], .events = POLLIN };
    return poll(pfd, (nfds_t)c->n_listen, 0) > 0;
}

/* Deferring, a new connection arrived on a socket. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    if (!listener_over_share(c)) {
        listener_end_deferral(c);
    } else if (!evtimer_pending(c->lst.defer_check_ev, NULL)) {
        struct timeval tv = { .tv_sec = 0, .tv_usec = BALANCE_WAIT_MS * 1000 };
        if (evtimer_add(c->lst.defer_check_ev, &tv) == -1)
            listener_end_deferral(c);  /* cannot wait: take connections now */
    }
}

static void on_defer_check(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    if (listener_queue_nonempty(c) || !listener_over_share(c))
        listener_end_deferral(c);
}

/* Make the sockets' events match the accept state (see listener.h).
 * Enabling or disabling an event twice is a no-op in libevent.  Removal
 * first: it refuses an edge-triggered and a level-triggered event on one
 * descriptor at the same time. */
static void listener_sync(struct child *c)
{
    struct listener *l = &c->lst;
    int take = l->accepting && !l->burst_paused && !l->deferring;
    int watch = l->accepting && l->deferring;
    for (int i = 0; i < l->n_evl; i++) {
        if (!take)
            evconnlistener_disable(l->evl[i]);
        if (!watch)
            event_del(l->watch_ev[i]);
        if (watch && event_add(l->watch_ev[i], NULL) == -1) {
            /* Cannot watch: stop deferring rather than strand connections. */
            log_msg(c->log, LOGL_ERROR, "cannot watch listening socket %d; accepting instead",
                    c->listen_fds[i]);
            l->deferring = 0;
            listener_sync(c);
            return;
        }
        if (take && evconnlistener_enable(l->evl[i]) == -1)
            log_msg(c->log, LOGL_ERROR, "cannot accept on listening socket %d",
                    c->listen_fds[i]);
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    listener_resume_accept(arg);
}

static void on_drained(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    if (child_conns_open(c) == 0 && !c->lst.draining)
        event_base_loopbreak(c->lst.base);
}

static void on_sigterm(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    child_begin_stop(arg, CHILD_IMMEDIATE, 0);
}

/* Free L's listener and watch events (the sockets stay open). */
static void listener_forget_sockets(struct listener *l)
{
    for (int i = 0; i < l->n_evl; i++) {
        evconnlistener_free(l->evl[i]);
        if (l->watch_ev[i])
            event_free(l->watch_ev[i]);
    }
    l->n_evl = 0;
}

/* Graceful stop, the queue drained: close this child's copies of the
 * listening sockets (the supervisor has closed its own), so that once
 * every child has, the kernel refuses new connections instead of queueing
 * them for nobody.  The loops over the sockets see none from here on. */
static void listener_close_sockets(struct child *c)
{
    listener_forget_sockets(&c->lst);
    for (int i = 0; i < c->n_listen; i++)
        close(c->listen_fds[i]);
    c->n_listen = 0;
}

static void on_drain_end(evutil_socket_t fd, short what, void *arg)
{
    struct child *c = arg;
    (void)fd;
    (void)what;
    c->lst.draining = 0;
    listener_stop_accepting(c);
    listener_close_sockets(c);
    if (child_conns_open(c) == 0)
        event_base_loopbreak(c->lst.base);
}

static const struct timeval *common_timeout(struct event_base *base, int seconds)
{
    struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };
    return event_base_init_common_timeout(base, &tv);
}

static int listener_add_sockets(struct child *c)
{
    struct listener *l = &c->lst;
    for (int i = 0; i < c->n_listen; i++) {
        /* backlog 0: the supervisor already called listen(); flags 0: the
         * socket is the supervisor's, never closed here. */
        l->evl[i] = evconnlistener_new(l->base, on_accept, c, 0, 0, c->listen_fds[i]);
        if (!l->evl[i]) {
            log_msg(c->log, LOGL_ERROR, "cannot watch listening socket %d", c->listen_fds[i]);
            return -1;
        }
        evconnlistener_set_error_cb(l->evl[i], on_accept_error);
        l->watch_ev[i] = event_new(l->base, c->listen_fds[i], EV_READ | EV_ET | EV_PERSIST,
                                   on_watch, c);
        l->n_evl++;
        if (!l->watch_ev[i]) {
            log_msg(c->log, LOGL_ERROR, "cannot watch listening socket %d", c->listen_fds[i]);
            return -1;
        }
    }
    l->accepting = 1;
    return 0;
}

int listener_init(struct child *c)
{
    struct listener *l = &c->lst;
    const struct config *cfg = c->cfg;
    memset(l, 0, sizeof *l);
    l->base = event_base_new();
    if (!l->base) {
        log_msg(c->log, LOGL_ERROR, "cannot create the event base");
        return -1;
    }
    l->tv_write = common_timeout(l->base, cfg->timeout);
    l->tv_keepalive = common_timeout(l->base, cfg->keepalive_timeout);
    l->tv_linger = common_timeout(l->base, CONN_LINGER_QUIET_SECONDS);
    l->control_ev = event_new(l->base, c->control_fd, EV_READ | EV_PERSIST, on_control, c);
    l->resume_ev = event_new(l->base, -1, 0, on_resume, c);
    l->drained_ev = event_new(l->base, -1, 0, on_drained, c);
    l->sigterm_ev = evsignal_new(l->base, SIGTERM, on_sigterm, c);
    l->drain_ev = evtimer_new(l->base, on_drain_end, c);
    l->retry_ev = evtimer_new(l->base, on_accept_retry, c);
    l->burst_ev = event_new(l->base, -1, 0, on_burst_end, c);
    l->defer_check_ev = evtimer_new(l->base, on_defer_check, c);
    balance_init(&l->balance, cfg->start_servers - 1);
    if (!l->tv_write || !l->tv_keepalive || !l->tv_linger || !l->control_ev ||
        !l->resume_ev || !l->drained_ev || !l->sigterm_ev || !l->drain_ev || !l->retry_ev ||
        !l->burst_ev || !l->defer_check_ev) {
        log_msg(c->log, LOGL_ERROR, "cannot set up the listener's events");
        return -1;
    }
    if ((c->control_fd != -1 && event_add(l->control_ev, NULL) == -1) ||
        event_add(l->sigterm_ev, NULL) == -1) {
        log_msg(c->log, LOGL_ERROR, "cannot register the control pipe and SIGTERM");
        return -1;
    }
    return listener_add_sockets(c);
}

/* The event loop, one iteration at a time: the access-log lines of the
 * requests an iteration answered are written together before the loop
 * waits again (one write per log file instead of one per request; a line
 * is never held while the listener sleeps). */
int listener_run(struct child *c)
{
    struct event_base *base = c->lst.base;
    int rc;
    log_batch_begin(&c->lst.log_batch);
    do {
        rc = event_base_loop(base, EVLOOP_ONCE);
        log_batch_flush(&c->lst.log_batch);
    } while (rc == 0 && !event_base_got_break(base) && !event_base_got_exit(base));
    log_batch_end(&c->lst.log_batch);
    return rc == -1 ? -1 : 0;
}

void listener_free(struct child *c)
{
    struct listener *l = &c->lst;
    listener_forget_sockets(l);
    if (l->control_ev)
        event_free(l->control_ev);
    if (l->resume_ev)
        event_free(l->resume_ev);
    if (l->drained_ev)
        event_free(l->drained_ev);
    if (l->sigterm_ev)
        event_free(l->sigterm_ev);
    if (l->drain_ev)
        event_free(l->drain_ev);
    if (l->retry_ev)
        event_free(l->retry_ev);
    if (l->burst_ev)
        event_free(l->burst_ev);
    if (l->defer_check_ev)
        event_free(l->defer_check_ev);
    if (l->base)
        event_base_free(l->base);
    memset(l, 0, sizeof *l);
}

void listener_stop_accepting(struct child *c)
{
    c->lst.accepting = 0;
    listener_end_deferral(c);
}

void listener_drain_then_stop(struct child *c)
{
    struct listener *l = &c->lst;
    struct timeval tv = { .tv_sec = 0, .tv_usec = LISTENER_DRAIN_MS * 1000 };
    l->accepting = 1;             /* even if paused while busy */
    l->draining = 1;
    listener_end_deferral(c);
    if (evtimer_add(l->drain_ev, &tv) == -1) {
        log_msg(c->log, LOGL_ERROR, "cannot arm the accept drain timer; not draining");
        on_drain_end(-1, 0, c);
    }
}

void listener_pause_accept(struct child *c)
{
    c->lst.accepting = 0;
    listener_sync(c);
}

void listener_resume_accept(struct child *c)
{
    struct listener *l = &c->lst;
    if (l->accepting || l->retry_pending ||
        (atomic_load(&c->stopping) != CHILD_RUNNING && !l->draining))
        return;
    l->accepting = 1;
    listener_sync(c);
}

void listener_wake_accept(struct child *c)
{
    event_active(c->lst.resume_ev, EV_READ, 1);
}
