/* upstream.c: per-child pools of upstream connections (upstream.h).
 * Any thread (handler threads use it); each pool's state is behind its
 * own mutex, and connecting, waiting and peeking happen outside it. */
#include "config.h"

#include "mpmd/modules/upstream.h"

#include "mpmd/core/scoreboard.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/http/response.h"

struct idle_conn {
    int fd;
    long long since;              /* monotonic millisecond it went idle */
};

struct upstream_pool {
    struct upstream_addr addr;
    pthread_mutex_t mu;
    pthread_cond_t freed;         /* a connection closed or went idle */
    int max;                      /* open at once; <= 0: no limit */
    int ttl;                          /* seconds an idle connection lives (the sweeper's) */
    int open;                     /* busy + idle */
    struct idle_conn *idle;       /* a stack: newest last */
    int n_idle, cap_idle;
    long long down_until;         /* monotonic millisecond before which connecting is refused */
    void *listener_data;          /* the listener thread's own (upstream_listener_slot) */
    struct sb_upstream *stats;    /* its record in the server's scoreboard, or NULL */
};

#define UPSTREAM_MAX_POOLS 1024    /* distinct upstream addresses per child */

struct upstream_set {
    pthread_mutex_t mu;           /* adding a pool; the sweeper's sleep */
    struct upstream_pool *pools[UPSTREAM_MAX_POOLS]; /* only ever appended */
    _Atomic int n;                /* read without the lock: pools[0..n) are complete */
    pthread_t sweeper;            /* closes idle connections past their ttl */
    pthread_cond_t wake;          /* stop the sweeper */
    int stop, sweeping;
    struct sb_server *scoreboard; /* where new pools find their records, or NULL */
};

#define SWEEP_INTERVAL_MS 500
#define PEEK_AFTER_MS 20             /* idle longer than this: peek before reuse */

int upstream_addr_parse(struct upstream_addr *a, const char *host, const char *port,
                        const char *unix_path, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (unix_path) {
        struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
        if (unix_path[0] != '/' || strlen(unix_path) >= sizeof un->sun_path) {
            snprintf(err, errlen, "expected an absolute unix socket path shorter than %zu bytes, "
                     "got '%s'", sizeof un->sun_path, unix_path);
            return -1;
        }
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, unix_path);
        a->len = (socklen_t)sizeof *un;
        snprintf(a->text, sizeof a->text, "unix:%s", unix_path);
        return 0;
    }
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atoi(port) < 1 ||
        atoi(port) > 65535) {
        snprintf(err, errlen, "expected a port from 1 to 65535, got '%s'", port);
        return -1;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res;
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        snprintf(err, errlen, "cannot resolve '%s' port '%s': %s", host, port, gai_strerror(r));
        return -1;
    }
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(a->text, sizeof a->text, strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, port);
    return 0;
}

static void sweep_pool(struct upstream_pool *p, long long now);

/* The sweeper: twice a second, every pool's idle connections past their
 * ttl are closed, so an upstream that dedicates a worker to each open
 * connection (php-fpm) gets it back even when no request comes. */
static void *sweep_main(void *arg)
{
    struct upstream_set *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SWEEP_INTERVAL_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L)
            until.tv_sec++, until.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&s->wake, &s->mu, &until);
        int n = atomic_load(&s->n);
        for (int i = 0; i < n && !s->stop; i++)
            sweep_pool(s->pools[i], monotonic_ms());   /* pool locks nest inside the set's */
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

struct upstream_set *upstream_set_new(void)
{
    struct upstream_set *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    return s;
}

void upstream_set_scoreboard(struct upstream_set *s, struct sb_server *srv)
{
    s->scoreboard = srv;
}

struct sb_upstream *upstream_stats(const struct upstream_pool *p)
{
    return p->stats;
}

/* Under S's lock, with its first pool: start the sweeper (a child that
 * proxies nothing runs no such thread).  0, or -1. */
static int start_sweeper(struct upstream_set *s)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);   /* signals are the main thread's */
    s->sweeping = pthread_create(&s->sweeper, NULL, sweep_main, s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s->sweeping ? 0 : -1;
}

static void pool_free(struct upstream_pool *p)
{
    for (int i = 0; i < p->n_idle; i++)
        close(p->idle[i].fd);
    free(p->idle);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->freed);
    free(p);
}

void upstream_set_free(struct upstream_set *s)
{
    if (s == NULL)
        return;
    if (s->sweeping) {
        pthread_mutex_lock(&s->mu);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sweeper, NULL);
    }
    pthread_cond_destroy(&s->wake);
    for (int i = 0; i < atomic_load(&s->n); i++)
        pool_free(s->pools[i]);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int same_addr(const struct upstream_addr *a, const struct upstream_addr *b)
{
    return a->len == b->len && memcmp(&a->sa, &b->sa, a->len) == 0;
}

static struct upstream_pool *pool_new(const struct upstream_set *s,
                                      const struct upstream_addr *addr, int max, int ttl)
{
    struct upstream_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->stats = s->scoreboard ? sb_upstream_find(s->scoreboard, addr->text) : NULL;
    p->addr = *addr;
    p->max = max;
    p->ttl = ttl;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    return p;
}

struct upstream_pool *upstream_pool(struct upstream_set *s, const struct upstream_addr *addr,
                                    int max, int ttl_s)
{
    int n = atomic_load(&s->n);
    for (int i = 0; i < n; i++)             /* the common case: no lock */
        if (same_addr(&s->pools[i]->addr, addr))
            return s->pools[i];
    struct upstream_pool *found = NULL;
    pthread_mutex_lock(&s->mu);
    n = atomic_load(&s->n);
    for (int i = 0; i < n && !found; i++)
        if (same_addr(&s->pools[i]->addr, addr))
            found = s->pools[i];
    if (found == NULL && !s->sweeping && start_sweeper(s) == -1) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    if (found == NULL && n < UPSTREAM_MAX_POOLS && (found = pool_new(s, addr, max, ttl_s)) != NULL) {
        s->pools[n] = found;
        atomic_store(&s->n, n + 1);         /* publishes the complete pool */
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

int upstream_wait(int fd, short events, int timeout_s)
{
    struct pollfd p = {.fd = fd, .events = events};
    int r;
    do {
        r = poll(&p, 1, timeout_s > 0 ? timeout_s * 1000 : -1);
    } while (r == -1 && errno == EINTR);
    if (r == 1 && (p.revents & POLLNVAL))
        return -1;
    return r;
}

int upstream_send_all(int fd, const char *buf, size_t len, int timeout_s)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno != EAGAIN)
            return -1;
        int r = upstream_wait(fd, POLLOUT, timeout_s);
        if (r <= 0) {
            if (r == 0)
                errno = ETIMEDOUT;
            return -1;
        }
    }
    return 0;
}

/* A new non-blocking socket connecting to ADDR: the fd, its connect done
 * or (*PENDING) under way; or -1 with errno. */
static int connect_start(const struct upstream_addr *addr, int *pending)
{
    int fd = socket(addr->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (addr->sa.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    *pending = 0;
    if (connect(fd, (const struct sockaddr *)&addr->sa, addr->len) == 0)
        return fd;
    if (errno == EINPROGRESS || errno == EAGAIN) {
        *pending = 1;
        return fd;
    }
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

int upstream_connect_result(int fd)
{
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
        return errno;
    return soerr;
}

/* Whether idle FD is still usable: open, with no bytes waiting (a late
 * response or the upstream's EOF). */
static int still_open(int fd)
{
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Under P's lock: take up to MAX idle connections idle for TTL ms or more
 * off the bottom of the stack (the oldest: the stack is in idle order)
 * into STALE; returns how many (closed by the caller, close_stale). */
static int take_oldest_stale(struct upstream_pool *p, long long now, long long ttl, int *stale,
                             int max)
{
    int old = 0;
    while (old < p->n_idle && old < max && now - p->idle[old].since >= ttl)
        stale[old] = p->idle[old].fd, old++;
    if (old > 0) {
        memmove(p->idle, p->idle + old, (size_t)(p->n_idle - old) * sizeof *p->idle);
        p->n_idle -= old;
        p->open -= old;
    }
    return old;
}

/* Under P's lock: an idle connection younger than TTL_S, or -1 (*IDLE_MS:
 * how long it was idle).  Stale ones are taken off the list into STALE
 * (closed by the caller). */
static int take_idle(struct upstream_pool *p, int ttl_s, int *stale, int *n_stale,
                     long long *idle_ms)
{
    long long now = monotonic_ms(), ttl = (long long)ttl_s * 1000;
    *n_stale = take_oldest_stale(p, now, ttl, stale, 8);
    while (p->n_idle > 0) {
        struct idle_conn ic = p->idle[--p->n_idle];
        *idle_ms = now - ic.since;
        if (now - ic.since < ttl)
            return ic.fd;
        stale[(*n_stale)++] = ic.fd;
        p->open--;
        if (*n_stale == 16)
            break;
    }
    return -1;
}

/* Close STALE idle connections of P (outside its lock). */
static void close_stale(struct upstream_pool *p, const int *stale, int n)
{
    for (int i = 0; i < n; i++)
        close(stale[i]);
    if (n > 0)
        pthread_cond_broadcast(&p->freed);
}

/* A connection of P: an idle one younger than TTL_S (*REUSED = 1), or a
 * new one whose connect is started (*REUSED = 0; *PENDING: still under
 * way).  While all MAX are busy: waits for one until DEADLINE, or with
 * none, fails at once (EAGAIN). */
static int acquire(struct upstream_pool *p, int ttl_s, const struct timespec *deadline,
                   int *reused, int *pending)
{
    for (;;) {
        int stale[16], n_stale = 0, fd = -1, may_open = 0;
        long long idle_ms = 0;
        pthread_mutex_lock(&p->mu);
        if (p->down_until > monotonic_ms()) {
            pthread_mutex_unlock(&p->mu);
            errno = EHOSTDOWN;
            return -1;
        }
        fd = take_idle(p, ttl_s, stale, &n_stale, &idle_ms);
        if (fd == -1 && (p->max <= 0 || p->open < p->max)) {
            p->open++;            /* reserved: connected below, outside the lock */
            may_open = 1;
        } else if (fd == -1 && n_stale == 0) {
            int r = deadline ? pthread_cond_timedwait(&p->freed, &p->mu, deadline) : ETIMEDOUT;
            pthread_mutex_unlock(&p->mu);
            if (r == ETIMEDOUT) {
                errno = EAGAIN;
                return -1;
            }
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        close_stale(p, stale, n_stale);
        if (fd != -1) {
            /* A connection given back moments ago (the common case under
             * load) is taken as it is; one idle for longer is first checked
             * for the upstream's close (the retry covers the rest). */
            if (idle_ms < PEEK_AFTER_MS || still_open(fd)) {
                *reused = 1;
                *pending = 0;
                return fd;
            }
            upstream_release(p, fd, 0);
            continue;
        }
        if (!may_open)
            continue;
        *reused = 0;
        fd = connect_start(&p->addr, pending);
        if (fd == -1) {
            int e = errno;
            upstream_detach(p);   /* the reserved slot */
            errno = e;
        }
        return fd;
    }
}

int upstream_acquire(struct upstream_pool *p, int connect_s, int ttl_s, int *reused)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += connect_s > 0 ? connect_s : 1;
    int pending, fd = acquire(p, ttl_s, &deadline, reused, &pending);
    if (fd == -1 || !pending)
        return fd;
    int r = upstream_wait(fd, POLLOUT, connect_s);
    int soerr = r == 1 ? upstream_connect_result(fd) : 0;
    if (r == 1 && soerr == 0)
        return fd;
    close(fd);
    upstream_detach(p);
    errno = r == 0 ? ETIMEDOUT : soerr ? soerr : ECONNREFUSED;
    return -1;
}

int upstream_acquire_nowait(struct upstream_pool *p, int ttl_s, int *reused, int *pending)
{
    return acquire(p, ttl_s, NULL, reused, pending);
}

void upstream_release(struct upstream_pool *p, int fd, int reusable)
{
    pthread_mutex_lock(&p->mu);
    if (reusable && p->n_idle == p->cap_idle) {
        int cap = p->cap_idle ? p->cap_idle * 2 : 8;
        struct idle_conn *n = realloc(p->idle, (size_t)cap * sizeof *n);
        if (n) {
            p->idle = n;
            p->cap_idle = cap;
        }
    }
    if (reusable && p->n_idle < p->cap_idle) {
        p->idle[p->n_idle++] = (struct idle_conn){fd, monotonic_ms()};
        fd = -1;
    } else {
        p->open--;
    }
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
    if (fd != -1)
        close(fd);
}

static void sweep_pool(struct upstream_pool *p, long long now)
{
    int stale[64];
    pthread_mutex_lock(&p->mu);
    int n = take_oldest_stale(p, now, (long long)p->ttl * 1000, stale, 64);
    pthread_mutex_unlock(&p->mu);
    close_stale(p, stale, n);
}

void **upstream_listener_slot(struct upstream_pool *p)
{
    return &p->listener_data;
}

void upstream_detach(struct upstream_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->open--;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

void upstream_mark_failed(struct upstream_pool *p, int retry_s)
{
    if (retry_s <= 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->down_until = monotonic_ms() + (long long)retry_s * 1000;
    pthread_mutex_unlock(&p->mu);
}
