/* upstream.h: connections from a child to its upstreams (HTTP
 * applications, FastCGI servers), opened with a timeout and kept alive in
 * a per-child pool per address.
 *
 * A pool holds at most MAX connections of one address open at once (the
 * ProxyPass max= parameter); a request that finds them all busy waits
 * for one.  An idle connection is reused only while younger than its
 * TTL and still open (a peek finds neither EOF nor stray bytes), newest
 * first, so a burst's extra connections age out.  Any thread: each
 * pool has its own lock; the set's lock only guards finding a pool. */
#ifndef MPMD_UPSTREAM_H
#define MPMD_UPSTREAM_H

#include <stddef.h>
#include <sys/socket.h>

/* Where an upstream listens: a TCP address, or a unix socket path. */
struct upstream_addr {
    struct sockaddr_storage sa;
    socklen_t len;
    char text[128];               /* "127.0.0.1:8000", "[::1]:9000", "unix:/run/php.sock" */
};

struct upstream_set;
struct upstream_pool;

/* Resolve TEXT: "HOST:PORT" (numeric or a name: getaddrinfo, first
 * address) or "unix:/PATH".  0, or -1 with a sentence in ERR.  Where the
 * configuration loads. */
int upstream_addr_parse(struct upstream_addr *a, const char *host, const char *port,
                        const char *unix_path, char *err, size_t errlen);

/* A child's pools.  With the first pool comes a thread of their own that
 * closes idle connections once past their pool's ttl (twice a second: an
 * upstream such as php-fpm dedicates a worker to every open connection,
 * so idle ones must not wait for the next request to be closed);
 * upstream_set_free joins it.  NULL when out of memory. */
struct upstream_set *upstream_set_new(void);

/* Pools made from now on count their requests in SRV's upstream records
 * (metrics: mpmd_upstream_*), found by the address's text. */
struct sb_server;
struct sb_upstream;
void upstream_set_scoreboard(struct upstream_set *s, struct sb_server *srv);

/* POOL's scoreboard record, or NULL. */
struct sb_upstream *upstream_stats(const struct upstream_pool *p);
void upstream_set_free(struct upstream_set *s);

/* The pool for ADDR in S, created on first use with MAX connections at
 * most (<= 0: no limit) and idle connections kept TTL_S seconds (the
 * first caller's values stay).  NULL when out of memory. */
struct upstream_pool *upstream_pool(struct upstream_set *s, const struct upstream_addr *addr,
                                    int max, int ttl_s);

/* A connection (non-blocking, close-on-exec) to POOL's address: an idle
 * one younger than TTL_S seconds (*REUSED = 1), else a new one connected
 * within CONNECT_S seconds (*REUSED = 0).  When MAX are open, waits up
 * to CONNECT_S seconds for one.  Returns the fd, or -1 with errno:
 * ECONNREFUSED and the like from connect, ETIMEDOUT (connect), EAGAIN
 * (all MAX busy for CONNECT_S), EHOSTDOWN (the address failed less than
 * its retry time ago: upstream_mark_failed). */
int upstream_acquire(struct upstream_pool *p, int connect_s, int ttl_s, int *reused);

/* upstream_acquire without waiting (the listener thread): an idle
 * connection (*REUSED = 1), or a new one whose connect is done or, with
 * *PENDING, under way (wait for it to be writable, then ask
 * upstream_connect_result).  -1 with errno EAGAIN when all MAX are busy,
 * EHOSTDOWN as above, or connect's error. */
int upstream_acquire_nowait(struct upstream_pool *p, int ttl_s, int *reused, int *pending);

/* How a connect that was under way on FD ended: 0, or its errno. */
int upstream_connect_result(int fd);

/* Give FD back: to the idle list when REUSABLE (the last response was
 * read whole and the upstream keeps the connection), else closed. */
void upstream_release(struct upstream_pool *p, int fd, int reusable);

/* A connection of P now belongs elsewhere (a tunnel closes it), or its
 * holder closed it: it no longer counts against max=. */
void upstream_detach(struct upstream_pool *p);

/* A pointer the listener thread keeps with P for itself (the connections
 * it holds on to: proxy_async.c); upstream.c never looks at it.  Only the
 * listener thread may use it. */
void **upstream_listener_slot(struct upstream_pool *p);

/* Connecting to POOL's address failed: refuse it for RETRY_S seconds
 * (ProxyPass retry=; 0: never refuse). */
void upstream_mark_failed(struct upstream_pool *p, int retry_s);

/* Wait up to TIMEOUT_S seconds for FD to be readable (POLLIN) or
 * writable (POLLOUT) as EVENTS says.  1 ready, 0 timed out, -1 error. */
int upstream_wait(int fd, short events, int timeout_s);

/* Send all of BUF, waiting up to TIMEOUT_S seconds each time FD is full.
 * 0, or -1 with errno (ETIMEDOUT on a timeout). */
int upstream_send_all(int fd, const char *buf, size_t len, int timeout_s);

#endif
