/* check_upstream.c: upstream addresses and connection pools
 * (src/modules/upstream.c): upstream_addr_parse's forms and refusals;
 * acquire and release against a real listener on 127.0.0.1 (reuse within
 * the ttl, a new connection after it, an idle connection the peer closed
 * or wrote on, max= waits and EAGAIN, a release from another thread
 * waking a waiter, detach, the sweeper closing idle connections past
 * their pool's ttl); refused connects, the retry window, and the send and
 * wait timeouts.  Each test takes at most about 2 s. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/modules/upstream.h"

/* ---- helpers ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* A socket bound to 127.0.0.1 on a free port, listening when LISTEN_TOO;
 * *PORT its port. */
static int bound_socket(int *port, int listen_too)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ne(fd, -1);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    socklen_t len = sizeof sin;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    if (listen_too)
        ck_assert_int_eq(listen(fd, 16), 0);
    return fd;
}

static void addr_of(struct upstream_addr *a, int port)
{
    char p[16], err[256] = "";
    snprintf(p, sizeof p, "%d", port);
    ck_assert_msg(upstream_addr_parse(a, "127.0.0.1", p, NULL, err, sizeof err) == 0, "%s", err);
}

/* A listener, a set and a pool of MAX for it. */
struct fixture {
    int lfd, port;
    struct upstream_addr addr;
    struct upstream_set *set;
    struct upstream_pool *pool;
};

/* The pool's own ttl (its sweeper's) is TTL; acquire passes its own. */
static void fixture_open_ttl(struct fixture *f, int max, int ttl)
{
    f->lfd = bound_socket(&f->port, 1);
    addr_of(&f->addr, f->port);
    f->set = upstream_set_new();
    ck_assert_ptr_nonnull(f->set);
    f->pool = upstream_pool(f->set, &f->addr, max, ttl);
    ck_assert_ptr_nonnull(f->pool);
}

static void fixture_open(struct fixture *f, int max)
{
    fixture_open_ttl(f, max, 5);
}

static void fixture_close(struct fixture *f)
{
    upstream_set_free(f->set);
    close(f->lfd);
}

/* Acquire from F's pool (connect_s CONNECT_S, ttl TTL): the fd, *REUSED. */
static int acquire(struct fixture *f, int connect_s, int ttl, int *reused)
{
    *reused = -1;
    int fd = upstream_acquire(f->pool, connect_s, ttl, reused);
    ck_assert_msg(fd != -1, "acquire: %s", strerror(errno));
    ck_assert_int_ne(*reused, -1);
    return fd;
}

/* The server side of the next connection to F's listener. */
static int accept_one(struct fixture *f)
{
    int s = accept(f->lfd, NULL, NULL);
    ck_assert_int_ne(s, -1);
    return s;
}

/* Whether FD is non-blocking and close-on-exec, as acquire promises. */
static void check_flags(int fd)
{
    ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
}

/* ---- addresses --------------------------------------------------------------- */

START_TEST(test_addr_numeric)
{
    struct upstream_addr a;
    char err[256] = "";
    ck_assert_int_eq(upstream_addr_parse(&a, "127.0.0.1", "8080", NULL, err, sizeof err), 0);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&a.sa;
    ck_assert_int_eq(sin->sin_family, AF_INET);
    ck_assert_uint_eq(a.len, sizeof *sin);
    ck_assert_int_eq(ntohs(sin->sin_port), 8080);
    ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
    ck_assert_str_eq(a.text, "127.0.0.1:8080");

    ck_assert_int_eq(upstream_addr_parse(&a, "::1", "9000", NULL, err, sizeof err), 0);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a.sa;
    ck_assert_int_eq(sin6->sin6_family, AF_INET6);
    ck_assert_uint_eq(a.len, sizeof *sin6);
    ck_assert_int_eq(ntohs(sin6->sin6_port), 9000);
    ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    ck_assert_str_eq(a.text, "[::1]:9000");

    ck_assert_int_eq(upstream_addr_parse(&a, "localhost", "80", NULL, err, sizeof err), 0);
    ck_assert(a.sa.ss_family == AF_INET || a.sa.ss_family == AF_INET6);
    ck_assert_str_eq(a.text, "localhost:80");
}
END_TEST

START_TEST(test_addr_unix)
{
    struct upstream_addr a;
    char err[512] = "", path[200];
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, "/run/php/php-fpm.sock", err,
                                         sizeof err), 0);
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a.sa;
    ck_assert_int_eq(un->sun_family, AF_UNIX);
    ck_assert_str_eq(un->sun_path, "/run/php/php-fpm.sock");
    ck_assert_str_eq(a.text, "unix:/run/php/php-fpm.sock");
    /* The longest path that fits, and one byte more. */
    size_t max = sizeof un->sun_path - 1;
    path[0] = '/';
    memset(path + 1, 'p', max - 1);
    path[max] = '\0';
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, path, err, sizeof err), 0);
    ck_assert_str_eq(((const struct sockaddr_un *)&a.sa)->sun_path, path);
    path[max] = 'p';
    path[max + 1] = '\0';
    char want[512];
    snprintf(want, sizeof want, "expected an absolute unix socket path shorter than %zu bytes, "
             "got '%s'", sizeof un->sun_path, path);
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, path, err, sizeof err), -1);
    ck_assert_str_eq(err, want);
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, "run/php.sock", err, sizeof err), -1);
    ck_assert_str_eq(err, "expected an absolute unix socket path shorter than 108 bytes, got "
                          "'run/php.sock'");
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, "", err, sizeof err), -1);
}
END_TEST

START_TEST(test_addr_bad_port)
{
    struct upstream_addr a;
    char err[256] = "";
    static const char *const bad[] = {"http", "80x", "-1", "8 0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(upstream_addr_parse(&a, "127.0.0.1", bad[i], NULL, err, sizeof err) == -1,
                      "port '%s' accepted", bad[i]);
        char quoted[32];
        snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
        ck_assert_msg(strstr(err, quoted) != NULL, "the message does not name the port: %s", err);
    }
    ck_assert_int_eq(upstream_addr_parse(&a, "1.2.3.4.5", "80", NULL, err, sizeof err), -1);
    ck_assert_msg(strncmp(err, "cannot resolve '1.2.3.4.5' port '80': ", 38) == 0, "%s", err);
}
END_TEST

/* Ports above 65535, 0 or none: getaddrinfo takes them modulo 65536 (99999
 * is port 34463; "" is 0), so they must be refused before it sees them. */
START_TEST(test_addr_port_range)
{
    struct upstream_addr a;
    static const char *const bad[] = {"", "0", "65536", "99999", "4294967377"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        int r = upstream_addr_parse(&a, "127.0.0.1", bad[i], NULL, err, sizeof err);
        ck_assert_msg(r == -1, "port '%s' accepted as %d", bad[i],
                      ntohs(((const struct sockaddr_in *)&a.sa)->sin_port));
    }
    char err[256] = "";
    ck_assert_int_eq(upstream_addr_parse(&a, "127.0.0.1", "65535", NULL, err, sizeof err), 0);
    ck_assert_int_eq(upstream_addr_parse(&a, "127.0.0.1", "1", NULL, err, sizeof err), 0);
}
END_TEST

/* ---- pools -------------------------------------------------------------------- */

START_TEST(test_pool_lookup)
{
    struct upstream_set *s = upstream_set_new();
    ck_assert_ptr_nonnull(s);
    struct upstream_addr a, b, c;
    addr_of(&a, 8000);
    addr_of(&b, 8000);
    addr_of(&c, 8001);
    struct upstream_pool *pa = upstream_pool(s, &a, 2, 5);
    ck_assert_ptr_nonnull(pa);
    ck_assert_ptr_eq(upstream_pool(s, &b, 5, 5), pa);
    struct upstream_pool *pc = upstream_pool(s, &c, 2, 5);
    ck_assert_ptr_nonnull(pc);
    ck_assert_ptr_ne(pc, pa);
    /* More pools than the first allocation holds. */
    struct upstream_pool *ps[20];
    for (int i = 0; i < 20; i++) {
        struct upstream_addr x;
        addr_of(&x, 9000 + i);
        ps[i] = upstream_pool(s, &x, 1, 5);
        ck_assert_ptr_nonnull(ps[i]);
    }
    for (int i = 0; i < 20; i++) {
        struct upstream_addr x;
        addr_of(&x, 9000 + i);
        ck_assert_ptr_eq(upstream_pool(s, &x, 1, 5), ps[i]);
    }
    ck_assert_ptr_eq(upstream_pool(s, &a, 2, 5), pa);
    upstream_set_free(s);
    upstream_set_free(NULL);
}
END_TEST

START_TEST(test_reuse_within_ttl)
{
    struct fixture f;
    fixture_open(&f, 4);
    int reused;
    int fd = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 0);
    check_flags(fd);
    int s = accept_one(&f);
    upstream_release(f.pool, fd, 1);
    int again = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 1);
    ck_assert_int_eq(again, fd);
    /* It is the same connection: what the server writes arrives on it. */
    ck_assert_int_eq(write(s, "x", 1), 1);
    ck_assert_int_eq(upstream_wait(again, POLLIN, 1), 1);
    char c;
    ck_assert_int_eq(recv(again, &c, 1, 0), 1);
    upstream_release(f.pool, again, 0);           /* not reusable: closed */
    int third = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, third, 1);
    close(s);
    fixture_close(&f);
}
END_TEST

/* Newest first: of two idle connections the one released last comes back. */
START_TEST(test_reuse_newest_first)
{
    struct fixture f;
    fixture_open(&f, 4);
    int reused;
    int a = acquire(&f, 1, 5, &reused), b = acquire(&f, 1, 5, &reused);
    ck_assert_int_ne(a, b);
    upstream_release(f.pool, a, 1);
    upstream_release(f.pool, b, 1);
    ck_assert_int_eq(acquire(&f, 1, 5, &reused), b);
    ck_assert_int_eq(reused, 1);
    ck_assert_int_eq(acquire(&f, 1, 5, &reused), a);
    ck_assert_int_eq(reused, 1);
    upstream_release(f.pool, a, 0);
    upstream_release(f.pool, b, 0);
    fixture_close(&f);
}
END_TEST

START_TEST(test_ttl_expired)
{
    struct fixture f;
    fixture_open(&f, 4);
    int reused;
    int fd = acquire(&f, 1, 1, &reused);
    upstream_release(f.pool, fd, 1);
    sleep_ms(1100);
    int again = acquire(&f, 1, 1, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, again, 1);
    /* ttl 0: never reused. */
    again = acquire(&f, 1, 0, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, again, 0);
    fixture_close(&f);
}
END_TEST

/* An idle connection past its pool's ttl is closed with no request
 * coming (php-fpm holds a worker per open connection): the upstream sees
 * the close within the ttl and a sweep. */
START_TEST(test_sweeper_closes_idle)
{
    struct fixture f;
    fixture_open_ttl(&f, 4, 1);
    int reused;
    int fd = acquire(&f, 1, 1, &reused);
    int s = accept_one(&f);
    double t0 = now_s();
    upstream_release(f.pool, fd, 1);
    struct pollfd pfd = {.fd = s, .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 2500), 1);
    double took = now_s() - t0;
    char c;
    ck_assert_int_eq(read(s, &c, 1), 0);                 /* EOF: closed by the pool */
    ck_assert_msg(took >= 0.9 && took < 2.0, "closed after %.2f s", took);
    int again = acquire(&f, 1, 1, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, again, 0);
    close(s);
    fixture_close(&f);
}
END_TEST

/* The peer closed an idle connection (or wrote on it): not handed out. */
START_TEST(test_idle_peer_closed)
{
    struct fixture f;
    fixture_open(&f, 4);
    int reused;
    int fd = acquire(&f, 1, 5, &reused);
    int s = accept_one(&f);
    upstream_release(f.pool, fd, 1);
    close(s);
    ck_assert_int_eq(upstream_wait(fd, POLLIN, 1), 1);   /* the FIN has arrived */
    sleep_ms(100);                 /* past the moments after a release taken without a peek */
    int again = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 0);
    s = accept_one(&f);
    upstream_release(f.pool, again, 1);
    ck_assert_int_eq(write(s, "late", 4), 4);            /* stray bytes on an idle one */
    ck_assert_int_eq(upstream_wait(again, POLLIN, 1), 1);
    sleep_ms(100);
    int third = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, third, 0);
    close(s);
    fixture_close(&f);
}
END_TEST

/* max=1: a second acquire waits for connect_s, then EAGAIN. */
START_TEST(test_max_busy)
{
    struct fixture f;
    fixture_open(&f, 1);
    int reused;
    int fd = acquire(&f, 1, 5, &reused);
    double t0 = now_s();
    errno = 0;
    ck_assert_int_eq(upstream_acquire(f.pool, 1, 5, &reused), -1);
    double took = now_s() - t0;
    ck_assert_int_eq(errno, EAGAIN);
    ck_assert_msg(took >= 0.9 && took < 2.0, "gave up after %.2f s", took);
    upstream_release(f.pool, fd, 1);
    ck_assert_int_eq(acquire(&f, 1, 5, &reused), fd);    /* free again */
    upstream_release(f.pool, fd, 0);
    fixture_close(&f);
}
END_TEST

struct releaser {
    struct upstream_pool *pool;
    int fd, reusable;
};

static void *release_later(void *arg)
{
    struct releaser *r = arg;
    sleep_ms(200);
    upstream_release(r->pool, r->fd, r->reusable);
    return NULL;
}

/* A release in another thread wakes the acquire waiting for max=. */
START_TEST(test_release_wakes_waiter)
{
    for (int reusable = 1; reusable >= 0; reusable--) {
        struct fixture f;
        fixture_open(&f, 1);
        int reused;
        struct releaser r = {f.pool, acquire(&f, 1, 5, &reused), reusable};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, release_later, &r), 0);
        double t0 = now_s();
        int fd = acquire(&f, 2, 5, &reused);
        double took = now_s() - t0;
        pthread_join(th, NULL);
        ck_assert_msg(took >= 0.15 && took < 1.0, "waited %.2f s", took);
        ck_assert_int_eq(reused, reusable);         /* the idle one, or a new connection */
        if (reusable)
            ck_assert_int_eq(fd, r.fd);
        upstream_release(f.pool, fd, 0);
        fixture_close(&f);
    }
}
END_TEST

/* A detached connection (a tunnel's) no longer counts against max=. */
START_TEST(test_detach)
{
    struct fixture f;
    fixture_open(&f, 1);
    int reused;
    int tunnel = acquire(&f, 1, 5, &reused);
    upstream_detach(f.pool);
    double t0 = now_s();
    int fd = acquire(&f, 1, 5, &reused);
    ck_assert_double_lt(now_s() - t0, 0.5);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, fd, 0);
    close(tunnel);
    fixture_close(&f);
}
END_TEST

/* ---- failures ------------------------------------------------------------------- */

START_TEST(test_connect_refused)
{
    int port;
    int fd = bound_socket(&port, 0);        /* bound, not listening: connects are refused */
    struct upstream_addr a;
    addr_of(&a, port);
    struct upstream_set *s = upstream_set_new();
    struct upstream_pool *p = upstream_pool(s, &a, 1, 5);
    int reused;
    for (int i = 0; i < 2; i++) {          /* the failed try gave its place back (max=1) */
        errno = 0;
        ck_assert_int_eq(upstream_acquire(p, 1, 5, &reused), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
        ck_assert_int_eq(reused, 0);
    }
    upstream_set_free(s);
    close(fd);
    /* A unix socket nobody listens on. */
    char err[256], path[64];
    snprintf(path, sizeof path, "/tmp/mpmd-check-upstream-%d.sock", (int)getpid());
    ck_assert_int_eq(upstream_addr_parse(&a, NULL, NULL, path, err, sizeof err), 0);
    s = upstream_set_new();
    p = upstream_pool(s, &a, 1, 5);
    errno = 0;
    ck_assert_int_eq(upstream_acquire(p, 1, 5, &reused), -1);
    ck_assert_int_eq(errno, ENOENT);
    upstream_set_free(s);
}
END_TEST

START_TEST(test_mark_failed)
{
    struct fixture f;
    fixture_open(&f, 2);
    int reused;
    upstream_mark_failed(f.pool, 0);                    /* retry=0: never refused */
    int fd = acquire(&f, 1, 5, &reused);
    upstream_release(f.pool, fd, 1);
    upstream_mark_failed(f.pool, 2);
    errno = 0;
    ck_assert_int_eq(upstream_acquire(f.pool, 1, 5, &reused), -1);
    ck_assert_int_eq(errno, EHOSTDOWN);                 /* even with an idle connection */
    /* Another pool of the set is not concerned. */
    struct fixture g;
    fixture_open(&g, 2);
    struct upstream_pool *p2 = upstream_pool(f.set, &g.addr, 2, 5);
    ck_assert_ptr_ne(p2, f.pool);
    fd = upstream_acquire(p2, 1, 5, &reused);
    ck_assert_msg(fd != -1, "%s", strerror(errno));
    upstream_release(p2, fd, 0);
    fixture_close(&g);
    fixture_close(&f);
}
END_TEST

/* The window ends: retry=1 s, then connecting is allowed again. */
START_TEST(test_mark_failed_window_ends)
{
    struct fixture f;
    fixture_open(&f, 2);
    int reused;
    upstream_mark_failed(f.pool, 1);
    errno = 0;
    ck_assert_int_eq(upstream_acquire(f.pool, 1, 5, &reused), -1);
    ck_assert_int_eq(errno, EHOSTDOWN);
    sleep_ms(1100);
    int fd = acquire(&f, 1, 5, &reused);
    ck_assert_int_eq(reused, 0);
    upstream_release(f.pool, fd, 0);
    fixture_close(&f);
}
END_TEST

/* ---- send and wait ------------------------------------------------------------- */

START_TEST(test_wait)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ck_assert_int_eq(upstream_wait(sv[0], POLLOUT, 1), 1);
    double t0 = now_s();
    ck_assert_int_eq(upstream_wait(sv[0], POLLIN, 1), 0);
    double took = now_s() - t0;
    ck_assert_msg(took >= 0.9 && took < 2.0, "waited %.2f s", took);
    ck_assert_int_eq(write(sv[1], "a", 1), 1);
    ck_assert_int_eq(upstream_wait(sv[0], POLLIN, 1), 1);
    close(sv[0]);
    close(sv[1]);
    ck_assert_int_eq(upstream_wait(sv[0], POLLIN, 1), -1);     /* not an open fd */
}
END_TEST

START_TEST(test_send_all)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    ck_assert_int_eq(upstream_send_all(sv[0], "hello", 5, 1), 0);
    char buf[8];
    ck_assert_int_eq(read(sv[1], buf, sizeof buf), 5);
    ck_assert_mem_eq(buf, "hello", 5);
    ck_assert_int_eq(upstream_send_all(sv[0], "", 0, 1), 0);
    /* Nobody reads: full, then ETIMEDOUT after the timeout. */
    size_t big = 16u << 20;
    char *data = calloc(1, big);
    ck_assert_ptr_nonnull(data);
    double t0 = now_s();
    errno = 0;
    ck_assert_int_eq(upstream_send_all(sv[0], data, big, 1), -1);
    double took = now_s() - t0;
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_msg(took >= 0.9 && took < 2.0, "gave up after %.2f s", took);
    /* The peer gone: EPIPE, and no SIGPIPE. */
    close(sv[1]);
    errno = 0;
    ck_assert_int_eq(upstream_send_all(sv[0], data, 1024, 1), -1);
    ck_assert_int_eq(errno, EPIPE);
    free(data);
    close(sv[0]);
}
END_TEST

Suite *upstream_suite(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("upstream");
    tcase_set_timeout(tc, 30);     /* valgrind and sanitizers are slow; waits bound themselves */
    tcase_add_test(tc, test_addr_numeric);
    tcase_add_test(tc, test_addr_unix);
    tcase_add_test(tc, test_addr_bad_port);
    tcase_add_test(tc, test_addr_port_range);
    tcase_add_test(tc, test_pool_lookup);
    tcase_add_test(tc, test_reuse_within_ttl);
    tcase_add_test(tc, test_reuse_newest_first);
    tcase_add_test(tc, test_ttl_expired);
    tcase_add_test(tc, test_sweeper_closes_idle);
    tcase_add_test(tc, test_idle_peer_closed);
    tcase_add_test(tc, test_max_busy);
    tcase_add_test(tc, test_release_wakes_waiter);
    tcase_add_test(tc, test_detach);
    tcase_add_test(tc, test_connect_refused);
    tcase_add_test(tc, test_mark_failed);
    tcase_add_test(tc, test_mark_failed_window_ends);
    tcase_add_test(tc, test_wait);
    tcase_add_test(tc, test_send_all);
    suite_add_tcase(s, tc);
    return s;
}
