/* check_bind.c: unit tests for the supervisor's listening sockets
 * (src/mpm/bind.c, include/mpmd/mpm/bind.h): socket_set_update binding, keeping,
 * adding and dropping sockets and failing without side effects; the
 * options every listener gets; socket_set_fds and socket_set_close;
 * socket_set_refuse_new's SYN filter; and socket activation
 * (socket_set_adopt with LISTEN_FDS, matching passed sockets by address and
 * by name, and its error messages).
 *
 * Everything listens on 127.0.0.1 (and ::1 / [::]) on ports picked free by
 * binding port 0 first, because the config parser refuses port 0.  Each
 * TCase gets a fresh ServerRoot under /tmp holding htdocs/ (an unchecked
 * fixture, run in the runner process, so it is removed even when a test
 * fails).  The socket-activation tests need the passed sockets at fd 3 and
 * up, where Check keeps its own files, so each runs in a process of its own
 * (run_scenario) that reports the first failed requirement through a pipe. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/mpm/bind.h"
#include "mpmd/core/config.h"

#define CONF "bind.conf"
#define FILTER_LEN 5            /* instructions in socket_set_refuse_new's filter */
#define ACCEPT_WAIT_MS 3000     /* how long a queued connection may take to show */
#define REFUSED_WAIT_MS 300     /* how long a refused connect() is given */

/* The test-only ServerRoot; set up and removed by the fixture (runner process). */
static char sandbox[64];

static void sandbox_setup(void)
{
    char path[128];
    snprintf(sandbox, sizeof sandbox, "/tmp/mpmd-check-bind-XXXXXX");
    ck_assert_msg(mkdtemp(sandbox) != NULL, "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/htdocs", sandbox);
    ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

static void sandbox_teardown(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/htdocs", sandbox);
    rmdir(path);
    rmdir(sandbox);
}

/* ---- helpers that report failure by value (usable in scenarios) -------- */

/* A TCP port that was free a moment ago on ADDR (family FAMILY), or 0. */
static int free_port_on(int family, const char *addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        inet_pton(AF_INET, addr, &in->sin_addr);
        len = sizeof *in;
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, addr, &in6->sin6_addr);
        len = sizeof *in6;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), port = 0;
    if (fd == -1)
        return 0;
    if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
        getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                       : ((struct sockaddr_in6 *)&ss)->sin6_port);
    close(fd);
    return port;
}

static int free_port(void)
{
    return free_port_on(AF_INET, "127.0.0.1");
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return in;
}

/* A listening socket on 127.0.0.1:PORT (blocking, no options), or -1. */
static int listen_on(int port)
{
    struct sockaddr_in in = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1)
        return -1;
    if (bind(fd, (struct sockaddr *)&in, sizeof in) == -1 || listen(fd, 16) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether 127.0.0.1:PORT can be bound (nobody listens on it). */
static int port_is_free(int port)
{
    int fd = listen_on(port);
    if (fd == -1)
        return 0;
    close(fd);
    return 1;
}

/* The port FD is bound to (AF_INET or AF_INET6), or -1. */
static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* Whether FD is bound to 127.0.0.1:PORT. */
static int bound_to_loopback(int fd, int port)
{
    struct sockaddr_in in;
    socklen_t len = sizeof in;
    return getsockname(fd, (struct sockaddr *)&in, &len) == 0 && in.sin_family == AF_INET &&
           in.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && ntohs(in.sin_port) == port;
}

static int int_option(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, level, name, &v, &len) == -1 ? -1 : v;
}

/* Instructions in the socket filter attached to FD (0: none), or -1. */
static int filter_length(int fd)
{
    socklen_t len = 0;
    return getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) == -1 ? -1 : (int)len;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* Descriptors open in this process (the directory stream's own counted too,
 * the same way each time). */
static int count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/* A non-blocking client socket connecting to 127.0.0.1:PORT, or -1. */
static int connect_nb(int port)
{
    struct sockaddr_in in = loopback(port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    if (connect(fd, (struct sockaddr *)&in, sizeof in) == -1 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Poll FD for EVENTS for at most MS milliseconds: the revents, 0 on timeout. */
static int wait_for(int fd, short events, int ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int n;
    do
        n = poll(&p, 1, ms);
    while (n == -1 && errno == EINTR);
    return n == 1 ? p.revents : 0;
}

/* A client connected to 127.0.0.1:PORT (handshake done), or -1. */
static int connect_done(int port)
{
    int fd = connect_nb(port), soerr = -1;
    socklen_t len = sizeof soerr;
    if (fd == -1)
        return -1;
    if (!(wait_for(fd, POLLOUT, ACCEPT_WAIT_MS) & POLLOUT) ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1 || soerr != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Accept from LISTENER once something is queued (the listeners have
 * TCP_DEFER_ACCEPT: a connection shows once its client has sent data). */
static int accept_queued(int listener)
{
    if (!(wait_for(listener, POLLIN, ACCEPT_WAIT_MS) & POLLIN))
        return -1;
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

static struct config *parse_config(const char *text, char *err, size_t errlen)
{
    return config_parse_text(CONF, text, sandbox, err, errlen);
}

/* ---- helpers for tests (Check assertions) -------------------------------- */

static struct config *config_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct config *config_ok(const char *fmt, ...)
{
    char text[2048], err[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    struct config *cfg = parse_config(text, err, sizeof err);
    ck_assert_msg(cfg != NULL, "config refused:\n%s\nerror: %s", text, err);
    return cfg;
}

static int port_ok(void)
{
    int port = free_port();
    ck_assert_int_gt(port, 0);
    return port;
}

static void update_ok(struct socket_set *set, const struct config *cfg,
                      struct socket_set *dropped)
{
    char err[512] = "";
    ck_assert_msg(socket_set_update(set, cfg, dropped, err, sizeof err) == 0,
                  "socket_set_update: %s", err);
}

/* SET's entry I listens on 127.0.0.1:PORT, with origin ORIGIN. */
static void assert_entry(const struct socket_set *set, int i, int port, int origin)
{
    char text[32];
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    ck_assert_int_lt(i, set->n);
    ck_assert_str_eq(set->s[i].spec.text, text);
    ck_assert_int_eq(set->s[i].origin, origin);
    ck_assert_msg(bound_to_loopback(set->s[i].fd, port), "entry %d (fd %d) not on %s", i,
                  set->s[i].fd, text);
    ck_assert_int_eq(int_option(set->s[i].fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
}

static void empty_set(struct socket_set *set)
{
    memset(set, 0, sizeof *set);
}

/* ---- socket_set_update ---------------------------------------------------- */

START_TEST(test_update_binds_each_listen)
{
    int p1 = port_ok(), p2 = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p1, p2);
    struct socket_set set, dropped;
    empty_set(&set);
    memset(&dropped, 0xff, sizeof dropped);
    update_ok(&set, cfg, &dropped);
    ck_assert_int_eq(set.n, 2);
    ck_assert_int_eq(dropped.n, 0);
    ck_assert_int_eq(set.n_passed, 0);
    assert_entry(&set, 0, p1, SOCKET_BOUND);
    assert_entry(&set, 1, p2, SOCKET_BOUND);
    ck_assert_int_ne(set.s[0].fd, set.s[1].fd);
    ck_assert_int_eq(set.s[0].spec.line, 1);
    ck_assert_int_eq(set.s[1].spec.line, 2);
    for (int i = 0; i < 2; i++) {
        int fd = set.s[i].fd;
        ck_assert_int_eq(int_option(fd, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
        ck_assert_int_eq(int_option(fd, SOL_SOCKET, SO_REUSEADDR), 1);
        ck_assert_int_eq(int_option(fd, IPPROTO_TCP, TCP_NODELAY), 1);
        ck_assert_int_gt(int_option(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT), 0);
        ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
        ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        ck_assert_int_eq(filter_length(fd), 0);
        /* Non-blocking: nothing queued means EAGAIN at once. */
        errno = 0;
        ck_assert_int_eq(accept(fd, NULL, NULL), -1);
        ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    }
    ck_assert(!port_is_free(p1));
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* A connection accepted from a listener has TCP_NODELAY already. */
START_TEST(test_accepted_socket_inherits_nodelay)
{
    int port = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\n", port);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, cfg, &dropped);
    int client = connect_done(port);
    ck_assert_int_ne(client, -1);
    ck_assert_int_eq(write(client, "x", 1), 1);
    int conn = accept_queued(set.s[0].fd);
    ck_assert_msg(conn != -1, "accept: %s", strerror(errno));
    ck_assert_int_eq(int_option(conn, IPPROTO_TCP, TCP_NODELAY), 1);
    ck_assert_int_eq(int_option(client, IPPROTO_TCP, TCP_NODELAY), 0);   /* not a default */
    char c = 0;
    ck_assert_int_eq(read(conn, &c, 1), 1);
    ck_assert_int_eq(c, 'x');
    close(conn);
    close(client);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* The same addresses again (from a new config, on other lines): the very
 * same sockets, now SOCKET_KEPT, and a connection queued before the update
 * is still there after it. */
START_TEST(test_update_same_config_keeps_fds)
{
    int p1 = port_ok(), p2 = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p1, p2);
    struct config *again = config_ok("# again\n\nListen 127.0.0.1:%d\nListen 127.0.0.1:%d\n",
                                     p1, p2);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, cfg, &dropped);
    int fd0 = set.s[0].fd, fd1 = set.s[1].fd;
    int client = connect_done(p1);
    ck_assert_int_ne(client, -1);
    ck_assert_int_eq(write(client, "q", 1), 1);
    int fds_before = count_open_fds();
    update_ok(&set, again, &dropped);
    ck_assert_int_eq(count_open_fds(), fds_before);
    ck_assert_int_eq(set.n, 2);
    ck_assert_int_eq(dropped.n, 0);
    ck_assert_int_eq(set.s[0].fd, fd0);
    ck_assert_int_eq(set.s[1].fd, fd1);
    assert_entry(&set, 0, p1, SOCKET_KEPT);
    assert_entry(&set, 1, p2, SOCKET_KEPT);
    ck_assert_int_eq(set.s[0].spec.line, 3);      /* the spec is the new config's */
    ck_assert_int_eq(set.s[1].spec.line, 4);
    int conn = accept_queued(fd0);
    ck_assert_msg(conn != -1, "the queued connection is gone: %s", strerror(errno));
    close(conn);
    close(client);
    /* And a third time, from the config it was bound with. */
    update_ok(&set, cfg, &dropped);
    ck_assert_int_eq(set.s[0].fd, fd0);
    ck_assert_int_eq(set.s[1].fd, fd1);
    ck_assert_int_eq(set.s[0].spec.line, 1);
    socket_set_close(&set);
    config_free(again);
    config_free(cfg);
}
END_TEST

/* A Listen added (first in the file) is bound; the other keeps its socket. */
START_TEST(test_update_adds_listen)
{
    int p1 = port_ok(), p2 = port_ok();
    struct config *one = config_ok("Listen 127.0.0.1:%d\n", p1);
    struct config *two = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p2, p1);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, one, &dropped);
    int fd1 = set.s[0].fd, fds_before = count_open_fds();
    ck_assert(port_is_free(p2));
    update_ok(&set, two, &dropped);
    ck_assert_int_eq(count_open_fds(), fds_before + 1);
    ck_assert_int_eq(set.n, 2);
    ck_assert_int_eq(dropped.n, 0);
    assert_entry(&set, 0, p2, SOCKET_BOUND);
    assert_entry(&set, 1, p1, SOCKET_KEPT);
    ck_assert_int_eq(set.s[1].fd, fd1);
    ck_assert_int_ne(set.s[0].fd, fd1);
    ck_assert_int_eq(int_option(set.s[0].fd, IPPROTO_TCP, TCP_NODELAY), 1);
    ck_assert(!port_is_free(p2));
    socket_set_close(&set);
    config_free(two);
    config_free(one);
}
END_TEST

/* A Listen removed: its socket moves to DROPPED, still open (the caller
 * closes it); the others stay. */
START_TEST(test_update_removes_listen)
{
    int p1 = port_ok(), p2 = port_ok(), p3 = port_ok();
    struct config *three = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n"
                                     "Listen 127.0.0.1:%d\n", p1, p2, p3);
    struct config *two = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p1, p3);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, three, &dropped);
    int fd1 = set.s[0].fd, fd2 = set.s[1].fd, fd3 = set.s[2].fd;
    int fds_before = count_open_fds();
    update_ok(&set, two, &dropped);
    ck_assert_int_eq(count_open_fds(), fds_before);     /* nothing closed, nothing opened */
    ck_assert_int_eq(set.n, 2);
    assert_entry(&set, 0, p1, SOCKET_KEPT);
    assert_entry(&set, 1, p3, SOCKET_KEPT);
    ck_assert_int_eq(set.s[0].fd, fd1);
    ck_assert_int_eq(set.s[1].fd, fd3);
    ck_assert_int_eq(dropped.n, 1);
    ck_assert_int_eq(dropped.n_passed, 0);
    ck_assert_int_eq(dropped.s[0].fd, fd2);
    ck_assert_str_eq(dropped.s[0].spec.text, three->listen[1].text);
    ck_assert(fd_is_open(fd2));
    ck_assert_int_eq(int_option(fd2, SOL_SOCKET, SO_ACCEPTCONN), 1);
    socket_set_close(&dropped);
    ck_assert_int_eq(dropped.n, 0);
    ck_assert(!fd_is_open(fd2));
    ck_assert(port_is_free(p2));
    ck_assert(fd_is_open(fd1) && fd_is_open(fd3));
    /* The same config again: nothing more dropped (each update empties
     * DROPPED first). */
    update_ok(&set, two, &dropped);
    ck_assert_int_eq(dropped.n, 0);
    socket_set_close(&set);
    config_free(two);
    config_free(three);
}
END_TEST

/* An address in use: -1, EADDRINUSE, "FILE:LINE: Listen: cannot listen on
 * ADDR: Address already in use"; SET and DROPPED unchanged, and the socket
 * this call bound before failing is closed again. */
START_TEST(test_update_address_in_use_fails)
{
    int p1 = port_ok(), p2 = port_ok(), busy_port = port_ok();
    int busy = listen_on(busy_port);
    ck_assert_int_ne(busy, -1);
    struct config *one = config_ok("Listen 127.0.0.1:%d\n", p1);
    struct config *bad = config_ok("# comment\nListen 127.0.0.1:%d\nListen 127.0.0.1:%d\n"
                                   "Listen 127.0.0.1:%d\n", p1, p2, busy_port);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, one, &dropped);
    struct socket_set set_before = set, dropped_before;
    memset(&dropped, 0x3c, sizeof dropped);
    dropped_before = dropped;
    int fds_before = count_open_fds();
    char err[512] = "", expected[512];
    errno = 0;
    ck_assert_int_eq(socket_set_update(&set, bad, &dropped, err, sizeof err), -1);
    ck_assert_int_eq(errno, EADDRINUSE);
    snprintf(expected, sizeof expected,
             CONF ":4: Listen: cannot listen on 127.0.0.1:%d: Address already in use", busy_port);
    ck_assert_str_eq(err, expected);
    ck_assert_int_eq(count_open_fds(), fds_before);
    ck_assert(port_is_free(p2));                  /* bound for this call, closed again */
    ck_assert_mem_eq(&set, &set_before, sizeof set);
    ck_assert_mem_eq(&dropped, &dropped_before, sizeof dropped);
    ck_assert_int_eq(int_option(set.s[0].fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
    /* From an empty set too: nothing bound, nothing left open. */
    struct socket_set fresh;
    empty_set(&fresh);
    ck_assert_int_eq(socket_set_update(&fresh, bad, &dropped, err, sizeof err), -1);
    ck_assert_int_eq(fresh.n, 0);
    ck_assert_int_eq(count_open_fds(), fds_before);
    socket_set_close(&set);
    close(busy);
    config_free(bad);
    config_free(one);
}
END_TEST

/* An address that is not this machine's: the bind error names it. */
START_TEST(test_update_address_not_available_fails)
{
    struct config *cfg = config_ok("Listen 192.0.2.1:%d\n", port_ok());   /* TEST-NET-1 */
    struct socket_set set, dropped;
    empty_set(&set);
    char err[512] = "", expected[512];
    int fds_before = count_open_fds();
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ne(probe, -1);
    int bindable = bind(probe, (const struct sockaddr *)&cfg->listen[0].addr,
                        cfg->listen[0].addrlen) == 0;
    close(probe);
    if (bindable) {
        /* net.ipv4.ip_nonlocal_bind is on (or the address is ours): it binds. */
        update_ok(&set, cfg, &dropped);
        ck_assert_int_eq(set.n, 1);
        ck_assert_int_eq(int_option(set.s[0].fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
        socket_set_close(&set);
        config_free(cfg);
        return;
    }
    errno = 0;
    ck_assert_int_eq(socket_set_update(&set, cfg, &dropped, err, sizeof err), -1);
    ck_assert_int_eq(errno, EADDRNOTAVAIL);
    snprintf(expected, sizeof expected, CONF ":1: Listen: cannot listen on %s: %s",
             cfg->listen[0].text, strerror(EADDRNOTAVAIL));
    ck_assert_str_eq(err, expected);
    ck_assert_int_eq(set.n, 0);
    ck_assert_int_eq(count_open_fds(), fds_before);
    config_free(cfg);
}
END_TEST

/* "Listen [::1]:PORT" is IPv6 only; "Listen PORT" is "[::]:PORT" and takes
 * IPv4 connections too. */
START_TEST(test_update_ipv6)
{
    int p6 = free_port_on(AF_INET6, "::1"), pany = free_port_on(AF_INET6, "::");
    char err[512] = "";
    if (p6 == 0 || pany == 0) {
        /* No IPv6 here: binding it must fail with the usual message. */
        struct config *cfg = config_ok("Listen [::1]:8080\n");
        struct socket_set set, dropped;
        empty_set(&set);
        ck_assert_int_eq(socket_set_update(&set, cfg, &dropped, err, sizeof err), -1);
        const char *prefix = CONF ":1: Listen: cannot listen on [::1]:8080: ";
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
        config_free(cfg);
        return;
    }
    /* The ports were free a moment ago; a server or client that other
     * tests run at the same time (make -j) may take one first: pick again. */
    struct config *cfg;
    struct socket_set set, dropped;
    for (int attempt = 1;; attempt++) {
        cfg = config_ok("Listen [::1]:%d\nListen %d\n", p6, pany);
        empty_set(&set);
        if (socket_set_update(&set, cfg, &dropped, err, sizeof err) == 0)
            break;
        config_free(cfg);
        ck_assert_msg(attempt < 5 && strstr(err, "Address already in use") != NULL,
                      "socket_set_update (attempt %d): %s", attempt, err);
        p6 = free_port_on(AF_INET6, "::1");
        pany = free_port_on(AF_INET6, "::");
    }
    char text[32];
    snprintf(text, sizeof text, "[::]:%d", pany);
    ck_assert_int_eq(set.n, 2);
    ck_assert_str_eq(set.s[1].spec.text, text);
    ck_assert_int_eq(local_port(set.s[0].fd), p6);
    ck_assert_int_eq(local_port(set.s[1].fd), pany);
    ck_assert_int_eq(int_option(set.s[0].fd, IPPROTO_IPV6, IPV6_V6ONLY), 1);
    ck_assert_int_eq(int_option(set.s[1].fd, IPPROTO_IPV6, IPV6_V6ONLY), 0);
    ck_assert_int_eq(int_option(set.s[1].fd, IPPROTO_TCP, TCP_NODELAY), 1);
    int client = connect_done(pany);               /* IPv4 to the dual-stack socket */
    ck_assert_int_ne(client, -1);
    ck_assert_int_eq(write(client, "4", 1), 1);
    int conn = accept_queued(set.s[1].fd);
    ck_assert_msg(conn != -1, "accept: %s", strerror(errno));
    close(conn);
    close(client);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* ---- socket_set_fds, socket_set_close --------------------------------------- */

START_TEST(test_fds_in_order)
{
    int p[3] = {port_ok(), port_ok(), port_ok()};
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n"
                                   "Listen 127.0.0.1:%d\n", p[0], p[1], p[2]);
    struct socket_set set, dropped;
    empty_set(&set);
    int fds[CONFIG_MAX_LISTEN];
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
        fds[i] = -7;
    ck_assert_int_eq(socket_set_fds(&set, fds), 0);
    ck_assert_int_eq(fds[0], -7);
    update_ok(&set, cfg, &dropped);
    ck_assert_int_eq(socket_set_fds(&set, fds), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(fds[i], set.s[i].fd);
        ck_assert_int_eq(local_port(fds[i]), p[i]);
    }
    ck_assert_int_eq(fds[3], -7);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

START_TEST(test_close_closes_every_socket)
{
    int p1 = port_ok(), p2 = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p1, p2);
    struct socket_set set, dropped;
    empty_set(&set);
    int fds_before = count_open_fds();
    update_ok(&set, cfg, &dropped);
    int fd1 = set.s[0].fd, fd2 = set.s[1].fd;
    ck_assert_int_eq(count_open_fds(), fds_before + 2);
    socket_set_close(&set);
    ck_assert_int_eq(set.n, 0);
    errno = 0;
    ck_assert_int_eq(fcntl(fd1, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
    ck_assert_int_eq(fcntl(fd2, F_GETFD), -1);
    ck_assert_int_eq(count_open_fds(), fds_before);
    ck_assert(port_is_free(p1) && port_is_free(p2));
    int fds[CONFIG_MAX_LISTEN];
    ck_assert_int_eq(socket_set_fds(&set, fds), 0);
    socket_set_close(&set);                         /* closing an empty set: nothing */
    ck_assert_int_eq(count_open_fds(), fds_before);
    /* After closing, an update binds afresh. */
    update_ok(&set, cfg, &dropped);
    assert_entry(&set, 0, p1, SOCKET_BOUND);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* ---- socket_set_refuse_new -------------------------------------------------- */

/* After the filter: a new connect() does not complete (its SYN is
 * dropped), while connections begun before it are still accepted, both
 * one whose request arrived before the filter and one whose request (with
 * TCP_DEFER_ACCEPT, what completes it on the server) arrives after. */
START_TEST(test_refuse_new_drops_syn_keeps_queued)
{
    int port = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\n", port);
    struct socket_set set, dropped;
    empty_set(&set);
    update_ok(&set, cfg, &dropped);
    int lfd = set.s[0].fd;
    int early = connect_done(port), late = connect_done(port);
    ck_assert_int_ne(early, -1);
    ck_assert_int_ne(late, -1);
    ck_assert_int_eq(write(early, "e", 1), 1);
    ck_assert(wait_for(lfd, POLLIN, ACCEPT_WAIT_MS) & POLLIN);   /* early is queued */

    socket_set_refuse_new(&set);
    ck_assert_int_eq(filter_length(lfd), FILTER_LEN);
    ck_assert_int_eq(write(late, "l", 1), 1);
    int refused = connect_nb(port);
    ck_assert_int_ne(refused, -1);
    ck_assert_msg(wait_for(refused, POLLOUT, REFUSED_WAIT_MS) == 0,
                  "a connect() after socket_set_refuse_new completed");

    char got[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        int conn = accept_queued(lfd);
        ck_assert_msg(conn != -1, "connection %d begun before the filter not accepted: %s", i,
                      strerror(errno));
        ck_assert_int_eq(wait_for(conn, POLLIN, ACCEPT_WAIT_MS) & POLLIN, POLLIN);
        ck_assert_int_eq(read(conn, &got[i], 1), 1);
        close(conn);
    }
    ck_assert_msg((got[0] == 'e' && got[1] == 'l') || (got[0] == 'l' && got[1] == 'e'),
                  "accepted %c and %c", got[0], got[1]);
    errno = 0;
    ck_assert_int_eq(accept(lfd, NULL, NULL), -1);   /* the refused one never queued */
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    close(refused);
    close(late);
    close(early);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* Every socket of the set gets the filter; an empty set is fine. */
START_TEST(test_refuse_new_every_socket)
{
    int p1 = port_ok(), p2 = port_ok();
    struct config *cfg = config_ok("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", p1, p2);
    struct socket_set set, dropped;
    empty_set(&set);
    socket_set_refuse_new(&set);
    ck_assert_int_eq(set.n, 0);
    update_ok(&set, cfg, &dropped);
    ck_assert_int_eq(filter_length(set.s[0].fd), 0);
    ck_assert_int_eq(filter_length(set.s[1].fd), 0);
    socket_set_refuse_new(&set);
    ck_assert_int_eq(filter_length(set.s[0].fd), FILTER_LEN);
    ck_assert_int_eq(filter_length(set.s[1].fd), FILTER_LEN);
    int refused = connect_nb(p2);
    ck_assert_int_ne(refused, -1);
    ck_assert_int_eq(wait_for(refused, POLLOUT, REFUSED_WAIT_MS), 0);
    close(refused);
    socket_set_close(&set);
    config_free(cfg);
}
END_TEST

/* ---- socket activation ------------------------------------------------------ */

/* Scenarios run in a process of their own and stop at the first failed
 * requirement, describing it in MSG. */
#define MSG_LEN 1024
#define REQUIRE(cond, ...)                                                          \
    do {                                                                            \
        if (!(cond)) {                                                              \
            int n_ = snprintf(msg, MSG_LEN / 2, "line %d: %s: ", __LINE__, #cond);   \
            n_ = n_ < 0 ? 0 : n_ >= MSG_LEN / 2 ? MSG_LEN / 2 - 1 : n_;               \
            snprintf(msg + n_, MSG_LEN - (size_t)n_, __VA_ARGS__);                   \
            return -1;                                                              \
        }                                                                           \
    } while (0)

typedef int (*scenario_fn)(char *msg);

/* Run FN in a child process; fail the test with its message if it fails. */
static void run_scenario(scenario_fn fn)
{
    int p[2];
    ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        char msg[MSG_LEN] = "";
        int out = fcntl(p[1], F_DUPFD_CLOEXEC, 200);   /* far from the passed fds */
        close(p[0]);
        close(p[1]);
        int rc = out == -1 ? -1 : fn(msg);
        if (out != -1 && write(out, msg, strlen(msg)) == -1)
            rc = -1;
        _exit(rc == 0 ? 0 : 1);
    }
    close(p[1]);
    char buf[MSG_LEN + 1];
    size_t got = 0;
    ssize_t n;
    while (got < MSG_LEN && (n = read(p[0], buf + got, MSG_LEN - got)) != 0) {
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(p[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "scenario failed (status %#x): %s", status, buf);
}

/* Make FDS[0..N) the sockets systemd passed: moved to fd 3 and up, with
 * LISTEN_PID, LISTEN_FDS and (unless NAMES is NULL) LISTEN_FDNAMES set as
 * systemd sets them.  Returns 0 or -1. */
static int pass_sockets(const int *fds, int n, const char *names)
{
    int high[64];
    char buf[32];
    for (int i = 0; i < n; i++) {
        high[i] = fcntl(fds[i], F_DUPFD, 100);
        if (high[i] == -1 || close(fds[i]) == -1)
            return -1;
    }
    for (int i = 0; i < n; i++)
        if (dup2(high[i], 3 + i) == -1 || close(high[i]) == -1)
            return -1;
    snprintf(buf, sizeof buf, "%d", (int)getpid());
    if (setenv("LISTEN_PID", buf, 1) == -1)
        return -1;
    snprintf(buf, sizeof buf, "%d", n);
    if (setenv("LISTEN_FDS", buf, 1) == -1)
        return -1;
    return names ? setenv("LISTEN_FDNAMES", names, 1) : unsetenv("LISTEN_FDNAMES");
}

/* One socket passed, listening on 127.0.0.1:*PORT, named NAME; adopted. */
static int adopt_one(struct socket_set *set, int *port, const char *name, char *msg)
{
    char err[512] = "";
    *port = free_port();
    REQUIRE(*port > 0, "no free port");
    int fd = listen_on(*port);
    REQUIRE(fd != -1, "listen: %s", strerror(errno));
    REQUIRE(pass_sockets(&fd, 1, name) == 0, "%s", strerror(errno));
    memset(set, 0, sizeof *set);
    int n = socket_set_adopt(set, err, sizeof err);
    REQUIRE(n == 1, "socket_set_adopt returned %d: %s", n, err);
    return 0;
}

static struct config *scenario_config(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static struct config *scenario_config(const char *fmt, ...)
{
    char text[1024], err[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    return parse_config(text, err, sizeof err);
}

/* Not socket-activated: nothing adopted, and LISTEN_FDS meant for another
 * process is ignored (fd 3 is not looked at). */
START_TEST(test_adopt_not_activated)
{
    struct socket_set set;
    char err[64] = "untouched";
    empty_set(&set);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
    ck_assert_int_eq(socket_set_adopt(&set, err, sizeof err), 0);
    ck_assert_int_eq(set.n_passed, 0);
    ck_assert_str_eq(err, "untouched");
    char pid[16];
    snprintf(pid, sizeof pid, "%d", (int)getppid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "1", 1);
    ck_assert_int_eq(socket_set_adopt(&set, err, sizeof err), 0);
    ck_assert_int_eq(set.n_passed, 0);
    ck_assert_str_eq(err, "untouched");
}
END_TEST

static int scenario_by_address(char *msg)
{
    struct socket_set set, dropped;
    char err[512] = "", text[32];
    int port;
    if (adopt_one(&set, &port, "web", msg) == -1)
        return -1;
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    REQUIRE(set.n_passed == 1, "n_passed %d", set.n_passed);
    REQUIRE(set.n == 0, "n %d", set.n);
    REQUIRE(set.passed[0].fd == 3, "fd %d", set.passed[0].fd);
    REQUIRE(strcmp(set.passed[0].name, "web") == 0, "name \"%s\"", set.passed[0].name);
    REQUIRE(strcmp(set.passed[0].text, text) == 0, "text \"%s\"", set.passed[0].text);
    REQUIRE(set.passed[0].addr.ss_family == AF_INET, "family %d", set.passed[0].addr.ss_family);
    REQUIRE(fcntl(3, F_GETFL) & O_NONBLOCK, "passed socket left blocking");
    REQUIRE(fcntl(3, F_GETFD) & FD_CLOEXEC, "passed socket not close-on-exec");
    REQUIRE(int_option(3, IPPROTO_TCP, TCP_NODELAY) == 1, "no TCP_NODELAY");
    REQUIRE(int_option(3, IPPROTO_TCP, TCP_DEFER_ACCEPT) > 0, "no TCP_DEFER_ACCEPT");
    REQUIRE(!getenv("LISTEN_FDS") && !getenv("LISTEN_PID") && !getenv("LISTEN_FDNAMES"),
            "environment not cleared");

    /* Listen by address takes the passed socket; another Listen is bound. */
    int other = free_port();
    struct config *both = scenario_config("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", port,
                                          other);
    struct config *one = scenario_config("Listen 127.0.0.1:%d\n", port);
    REQUIRE(both && one && other > 0, "config refused");
    int rc = socket_set_update(&set, both, &dropped, err, sizeof err);
    REQUIRE(rc == 0, "update: %s", err);
    REQUIRE(set.n == 2, "n %d", set.n);
    REQUIRE(set.s[0].fd == 3 && set.s[0].origin == SOCKET_INHERITED, "fd %d origin %d",
            set.s[0].fd, set.s[0].origin);
    REQUIRE(set.s[1].fd != 3 && set.s[1].origin == SOCKET_BOUND, "fd %d origin %d",
            set.s[1].fd, set.s[1].origin);
    REQUIRE(bound_to_loopback(set.s[1].fd, other), "second not on port %d", other);
    int bound = set.s[1].fd, fds[CONFIG_MAX_LISTEN];
    REQUIRE(socket_set_fds(&set, fds) == 2 && fds[0] == 3 && fds[1] == bound, "fds");

    /* The SYN filter is for mpmd's own sockets only. */
    socket_set_refuse_new(&set);
    REQUIRE(filter_length(3) == 0, "passed socket got a filter (%d)", filter_length(3));
    REQUIRE(filter_length(bound) == FILTER_LEN, "own socket filter %d", filter_length(bound));

    /* Again: still inherited, not "kept". */
    rc = socket_set_update(&set, both, &dropped, err, sizeof err);
    REQUIRE(rc == 0 && set.s[0].origin == SOCKET_INHERITED && set.s[1].origin == SOCKET_KEPT &&
            set.s[1].fd == bound && dropped.n == 0, "second update: %s", err);

    /* Dropping the other Listen drops the bound socket only. */
    rc = socket_set_update(&set, one, &dropped, err, sizeof err);
    REQUIRE(rc == 0, "update: %s", err);
    REQUIRE(set.n == 1 && set.s[0].fd == 3 && set.s[0].origin == SOCKET_INHERITED, "n %d",
            set.n);
    REQUIRE(dropped.n == 1 && dropped.s[0].fd == bound, "dropped %d", dropped.n);
    socket_set_close(&dropped);
    REQUIRE(!fd_is_open(bound), "dropped socket still open");

    /* Closing the set never closes the passed socket; it is taken again. */
    socket_set_close(&set);
    REQUIRE(set.n == 0, "n %d after close", set.n);
    REQUIRE(fd_is_open(3) && int_option(3, SOL_SOCKET, SO_ACCEPTCONN) == 1,
            "socket_set_close closed systemd's socket");
    rc = socket_set_update(&set, one, &dropped, err, sizeof err);
    REQUIRE(rc == 0 && set.n == 1 && set.s[0].fd == 3, "update after close: %s", err);
    config_free(both);
    config_free(one);
    return 0;
}

START_TEST(test_adopt_matches_by_address)
{
    run_scenario(scenario_by_address);
}
END_TEST

/* A Listen naming the socket takes it whatever its address; a Listen
 * naming another name does not, and its own bind then collides. */
static int scenario_by_name(char *msg)
{
    struct socket_set set, dropped;
    char err[512] = "", expected[512];
    int port;
    if (adopt_one(&set, &port, "web", msg) == -1)
        return -1;
    int other = free_port();
    struct config *named = scenario_config("Listen 127.0.0.1:%d web\n", other);
    struct config *wrong = scenario_config("Listen 127.0.0.1:%d api\n", port);
    REQUIRE(named && wrong && other > 0, "config refused");
    int fds_before = count_open_fds();
    int rc = socket_set_update(&set, named, &dropped, err, sizeof err);
    REQUIRE(rc == 0, "update: %s", err);
    REQUIRE(set.n == 1 && set.s[0].fd == 3 && set.s[0].origin == SOCKET_INHERITED,
            "n %d fd %d origin %d", set.n, set.s[0].fd, set.s[0].origin);
    REQUIRE(strcmp(set.s[0].spec.name, "web") == 0, "spec name %s", set.s[0].spec.name);
    REQUIRE(count_open_fds() == fds_before, "a socket was bound");
    REQUIRE(port_is_free(other), "port %d was bound", other);

    /* "api" names nothing passed: bound as usual, and the passed socket
     * holds that address; nothing changes. */
    struct socket_set before = set;
    rc = socket_set_update(&set, wrong, &dropped, err, sizeof err);
    snprintf(expected, sizeof expected,
             CONF ":1: Listen: cannot listen on 127.0.0.1:%d: Address already in use", port);
    REQUIRE(rc == -1 && strcmp(err, expected) == 0, "rc %d, err \"%s\"", rc, err);
    REQUIRE(memcmp(&set, &before, sizeof set) == 0, "set changed");
    REQUIRE(count_open_fds() == fds_before, "fd leaked");
    config_free(named);
    config_free(wrong);
    return 0;
}

START_TEST(test_adopt_matches_by_name)
{
    run_scenario(scenario_by_name);
}
END_TEST

/* A passed socket no Listen asks for: the message names its fd, name and
 * address; the socket bound for the other Listen is closed again. */
static int scenario_unclaimed(char *msg)
{
    struct socket_set set, dropped;
    char err[1024] = "", expected[1024];
    int port;
    if (adopt_one(&set, &port, "web", msg) == -1)
        return -1;
    int other = free_port();
    struct config *cfg = scenario_config("Listen 127.0.0.1:%d\n", other);
    REQUIRE(cfg && other > 0, "config refused");
    struct socket_set before = set;
    int fds_before = count_open_fds();
    errno = 0;
    int rc = socket_set_update(&set, cfg, &dropped, err, sizeof err);
    snprintf(expected, sizeof expected,
             CONF ": systemd passed socket fd 3 (name \"web\", address 127.0.0.1:%d) but no "
             "Listen directive asks for it: add \"Listen 127.0.0.1:%d\" (or \"Listen ADDRESS "
             "web\"), or remove it from the socket unit", port, port);
    REQUIRE(rc == -1 && errno == EINVAL, "rc %d errno %d", rc, errno);
    REQUIRE(strcmp(err, expected) == 0, "\n got: %.400s\nwant: %.400s", err, expected);
    REQUIRE(memcmp(&set, &before, sizeof set) == 0, "set changed");
    REQUIRE(count_open_fds() == fds_before, "fd leaked");
    REQUIRE(port_is_free(other), "port %d left bound", other);
    REQUIRE(fd_is_open(3), "passed socket closed");
    config_free(cfg);
    return 0;
}

START_TEST(test_adopt_unclaimed_socket_fails)
{
    run_scenario(scenario_unclaimed);
}
END_TEST

/* Two Listens claiming one passed socket (by address, then by name). */
static int scenario_claimed_twice(char *msg)
{
    struct socket_set set, dropped;
    char err[1024] = "", expected[1024];
    int port;
    if (adopt_one(&set, &port, "web", msg) == -1)
        return -1;
    int other = free_port();
    struct config *cfg = scenario_config("Listen 127.0.0.1:%d\n\nListen 127.0.0.1:%d web\n",
                                         port, other);
    REQUIRE(cfg && other > 0, "config refused");
    int fds_before = count_open_fds();
    errno = 0;
    int rc = socket_set_update(&set, cfg, &dropped, err, sizeof err);
    snprintf(expected, sizeof expected,
             CONF ":3: Listen 127.0.0.1:%d: systemd's socket fd 3 (name \"web\", "
             "127.0.0.1:%d) is already taken by the Listen on line 1", other, port);
    REQUIRE(rc == -1 && errno == EINVAL, "rc %d errno %d", rc, errno);
    REQUIRE(strcmp(err, expected) == 0, "\n got: %.400s\nwant: %.400s", err, expected);
    REQUIRE(set.n == 0, "n %d", set.n);
    REQUIRE(count_open_fds() == fds_before && fd_is_open(3), "fds changed");
    config_free(cfg);
    return 0;
}

START_TEST(test_adopt_claimed_twice_fails)
{
    run_scenario(scenario_claimed_twice);
}
END_TEST

/* Without LISTEN_FDNAMES: matched by address; what name it gets. */
static int scenario_no_names(char *msg)
{
    struct socket_set set, dropped;
    char err[512] = "";
    int port;
    if (adopt_one(&set, &port, NULL, msg) == -1)
        return -1;
    /* libsystemd names every socket "unknown" when LISTEN_FDNAMES is unset
     * (sd.h's "" is never seen); systemd itself always sets it. */
    REQUIRE(strcmp(set.passed[0].name, "unknown") == 0, "name \"%s\"", set.passed[0].name);
    struct config *cfg = scenario_config("Listen 127.0.0.1:%d\n", port);
    REQUIRE(cfg, "config refused");
    int rc = socket_set_update(&set, cfg, &dropped, err, sizeof err);
    REQUIRE(rc == 0 && set.n == 1 && set.s[0].fd == 3 && set.s[0].origin == SOCKET_INHERITED,
            "update: %s", err);
    config_free(cfg);
    return 0;
}

START_TEST(test_adopt_without_names)
{
    run_scenario(scenario_no_names);
}
END_TEST

/* A connected socket (Accept=yes) is refused, with the reason. */
static int scenario_connected(char *msg)
{
    struct socket_set set;
    char err[512] = "";
    int port = free_port();
    int lfd = listen_on(port), client = connect_done(port);
    REQUIRE(port > 0 && lfd != -1 && client != -1, "setup: %s", strerror(errno));
    REQUIRE(pass_sockets(&client, 1, "conn") == 0, "%s", strerror(errno));
    memset(&set, 0, sizeof set);
    int rc = socket_set_adopt(&set, err, sizeof err);
    REQUIRE(rc == -1, "rc %d", rc);
    REQUIRE(strcmp(err, "systemd passed a connected socket (fd 3, name \"conn\"): the socket "
                        "unit has Accept=yes, which starts one server per connection; mpmd "
                        "needs Accept=no (the default) to accept connections itself") == 0,
            "err \"%s\"", err);
    REQUIRE(set.n_passed == 0, "n_passed %d", set.n_passed);
    close(lfd);
    return 0;
}

START_TEST(test_adopt_connected_socket_fails)
{
    run_scenario(scenario_connected);
}
END_TEST

/* A UDP socket is refused, with the reason. */
static int scenario_not_tcp(char *msg)
{
    struct socket_set set;
    char err[512] = "";
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(udp != -1, "socket: %s", strerror(errno));
    REQUIRE(pass_sockets(&udp, 1, "dns") == 0, "%s", strerror(errno));
    memset(&set, 0, sizeof set);
    int rc = socket_set_adopt(&set, err, sizeof err);
    REQUIRE(rc == -1, "rc %d", rc);
    REQUIRE(strcmp(err, "systemd passed fd 3 (name \"dns\"), which is not a listening TCP "
                        "socket: mpmd takes ListenStream= sockets (IPv4/IPv6) only") == 0,
            "err \"%s\"", err);
    REQUIRE(set.n_passed == 0, "n_passed %d", set.n_passed);
    return 0;
}

START_TEST(test_adopt_not_tcp_fails)
{
    run_scenario(scenario_not_tcp);
}
END_TEST

/* More passed sockets than CONFIG_MAX_LISTEN. */
static int scenario_too_many_passed(char *msg)
{
    struct socket_set set;
    char err[512] = "", expected[128];
    int fds[CONFIG_MAX_LISTEN + 1];
    for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fds[i] != -1, "socket: %s", strerror(errno));
    }
    REQUIRE(pass_sockets(fds, CONFIG_MAX_LISTEN + 1, NULL) == 0, "%s", strerror(errno));
    memset(&set, 0, sizeof set);
    int rc = socket_set_adopt(&set, err, sizeof err);
    snprintf(expected, sizeof expected, "systemd passed %d sockets; mpmd takes at most %d",
             CONFIG_MAX_LISTEN + 1, CONFIG_MAX_LISTEN);
    REQUIRE(rc == -1 && strcmp(err, expected) == 0, "rc %d err \"%s\"", rc, err);
    REQUIRE(set.n_passed == 0, "n_passed %d", set.n_passed);
    return 0;
}

START_TEST(test_adopt_too_many_passed_fails)
{
    run_scenario(scenario_too_many_passed);
}
END_TEST

/* One name on CONFIG_MAX_LISTEN passed sockets: one Listen takes them all,
 * and a further Listen would make the set too big; the socket it bound is
 * closed again. */
static int scenario_set_full(char *msg)
{
    struct socket_set set, dropped;
    char err[512] = "", expected[256], names[CONFIG_MAX_LISTEN * 2 + 1] = "";
    int fds[CONFIG_MAX_LISTEN];
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
        int port = free_port();
        fds[i] = port > 0 ? listen_on(port) : -1;
        REQUIRE(fds[i] != -1, "listen: %s", strerror(errno));
        strcat(names, i ? ":a" : "a");
    }
    REQUIRE(pass_sockets(fds, CONFIG_MAX_LISTEN, names) == 0, "%s", strerror(errno));
    memset(&set, 0, sizeof set);
    int n = socket_set_adopt(&set, err, sizeof err);
    REQUIRE(n == CONFIG_MAX_LISTEN, "adopt %d: %s", n, err);
    int p1 = free_port(), p2 = free_port();
    struct config *all = scenario_config("Listen 127.0.0.1:%d a\n", p1);
    struct config *over = scenario_config("Listen 127.0.0.1:%d a\nListen 127.0.0.1:%d\n", p1, p2);
    REQUIRE(all && over && p2 > 0, "config refused");
    int rc = socket_set_update(&set, all, &dropped, err, sizeof err);
    REQUIRE(rc == 0 && set.n == CONFIG_MAX_LISTEN, "update: rc %d n %d: %s", rc, set.n, err);
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
        REQUIRE(set.s[i].fd == 3 + i && set.s[i].origin == SOCKET_INHERITED, "entry %d", i);
    struct socket_set before = set;
    int fds_before = count_open_fds();
    errno = 0;
    rc = socket_set_update(&set, over, &dropped, err, sizeof err);
    snprintf(expected, sizeof expected,
             CONF ":2: Listen 127.0.0.1:%d: more than %d listening sockets", p2,
             CONFIG_MAX_LISTEN);
    REQUIRE(rc == -1 && errno == EINVAL, "rc %d errno %d", rc, errno);
    REQUIRE(strcmp(err, expected) == 0, "\n got: %.400s\nwant: %.400s", err, expected);
    REQUIRE(memcmp(&set, &before, sizeof set) == 0, "set changed");
    REQUIRE(count_open_fds() == fds_before, "fd leaked");
    REQUIRE(port_is_free(p2), "port %d left bound", p2);
    config_free(all);
    config_free(over);
    return 0;
}

START_TEST(test_adopt_set_full_fails)
{
    run_scenario(scenario_set_full);
}
END_TEST

/* An upgrade's hand-over (socket_set_handoff, then socket_set_adopt in the
 * new binary): systemd's socket keeps its name and stays systemd's; the
 * socket mpmd bound goes as SOCKET_OWN_NAME and is mpmd's own again,
 * matched by address: kept (not bound anew), filtered on graceful stop,
 * dropped when no Listen wants it.  A NAMES buffer too small fails. */
static int scenario_handoff(char *msg)
{
    struct socket_set set, dropped;
    char err[512] = "", names[64], tiny[8];
    int port, fds[CONFIG_MAX_LISTEN];
    if (adopt_one(&set, &port, "web", msg) == -1)
        return -1;
    int other = free_port();
    struct config *both = scenario_config("Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", port,
                                          other);
    struct config *one = scenario_config("Listen 127.0.0.1:%d\n", port);
    REQUIRE(both && one && other > 0, "config refused");
    REQUIRE(socket_set_update(&set, both, &dropped, err, sizeof err) == 0, "update: %s", err);
    int n = socket_set_handoff(&set, fds, names, sizeof names);
    REQUIRE(n == 2 && fds[0] == 3 && fds[1] == set.s[1].fd, "handoff %d", n);
    REQUIRE(strcmp(names, "web:" SOCKET_OWN_NAME) == 0, "names \"%s\"", names);
    REQUIRE(socket_set_handoff(&set, fds, tiny, sizeof tiny) == -1, "tiny NAMES accepted");

    /* The new binary's view: the same two sockets at 3 and 4. */
    REQUIRE(pass_sockets(fds, 2, names) == 0, "%s", strerror(errno));
    memset(&set, 0, sizeof set);
    n = socket_set_adopt(&set, err, sizeof err);
    REQUIRE(n == 2, "adopt %d: %s", n, err);
    REQUIRE(set.n_passed == 1 && set.passed[0].fd == 3, "n_passed %d", set.n_passed);
    REQUIRE(set.n == 1 && set.s[0].fd == 4 && set.s[0].origin == SOCKET_KEPT, "own n %d",
            set.n);
    int fds_before = count_open_fds();
    REQUIRE(socket_set_update(&set, both, &dropped, err, sizeof err) == 0, "update: %s", err);
    REQUIRE(set.n == 2 && set.s[0].fd == 3 && set.s[0].origin == SOCKET_INHERITED &&
            set.s[1].fd == 4 && set.s[1].origin == SOCKET_KEPT && dropped.n == 0,
            "n %d origins %d %d", set.n, set.s[0].origin, set.s[1].origin);
    REQUIRE(count_open_fds() == fds_before, "a socket was bound anew");
    socket_set_refuse_new(&set);
    REQUIRE(filter_length(3) == 0 && filter_length(4) == FILTER_LEN, "filters %d %d",
            filter_length(3), filter_length(4));
    REQUIRE(socket_set_update(&set, one, &dropped, err, sizeof err) == 0, "update: %s", err);
    REQUIRE(set.n == 1 && dropped.n == 1 && dropped.s[0].fd == 4, "dropped %d", dropped.n);
    socket_set_close(&dropped);
    REQUIRE(!fd_is_open(4) && fd_is_open(3), "fds 3/4 open: %d/%d", fd_is_open(3),
            fd_is_open(4));
    config_free(both);
    config_free(one);
    return 0;
}

START_TEST(test_handoff_to_new_binary)
{
    run_scenario(scenario_handoff);
}
END_TEST

Suite *bind_suite(void)
{
    Suite *s = suite_create("bind");
    TCase *tc = tcase_create("update");
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    tcase_add_test(tc, test_update_binds_each_listen);
    tcase_add_test(tc, test_accepted_socket_inherits_nodelay);
    tcase_add_test(tc, test_update_same_config_keeps_fds);
    tcase_add_test(tc, test_update_adds_listen);
    tcase_add_test(tc, test_update_removes_listen);
    tcase_add_test(tc, test_update_address_in_use_fails);
    tcase_add_test(tc, test_update_address_not_available_fails);
    tcase_add_test(tc, test_update_ipv6);
    suite_add_tcase(s, tc);

    tc = tcase_create("fds_close");
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    tcase_add_test(tc, test_fds_in_order);
    tcase_add_test(tc, test_close_closes_every_socket);
    suite_add_tcase(s, tc);

    tc = tcase_create("refuse_new");
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    tcase_add_test(tc, test_refuse_new_drops_syn_keeps_queued);
    tcase_add_test(tc, test_refuse_new_every_socket);
    suite_add_tcase(s, tc);

    tc = tcase_create("adopt");
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    tcase_add_test(tc, test_adopt_not_activated);
    tcase_add_test(tc, test_adopt_matches_by_address);
    tcase_add_test(tc, test_adopt_matches_by_name);
    tcase_add_test(tc, test_adopt_unclaimed_socket_fails);
    tcase_add_test(tc, test_adopt_claimed_twice_fails);
    tcase_add_test(tc, test_adopt_without_names);
    tcase_add_test(tc, test_adopt_connected_socket_fails);
    tcase_add_test(tc, test_adopt_not_tcp_fails);
    tcase_add_test(tc, test_adopt_too_many_passed_fails);
    tcase_add_test(tc, test_adopt_set_full_fails);
    tcase_add_test(tc, test_handoff_to_new_binary);
    suite_add_tcase(s, tc);
    return s;
}
