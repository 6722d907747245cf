/* bind.c: the supervisor's listening sockets, bound by mpmd or passed by
 * systemd (see bind.h).  Supervisor process only. */
#include "config.h"

#include "mpmd/mpm/bind.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFER_ACCEPT_SECONDS 1    /* connections that send nothing wait at most ~1 s more */

/* The sockets one socket_set_update call assembles. */
struct update {
    struct bound_socket s[CONFIG_MAX_LISTEN];
    int n;
    int claimed[CONFIG_MAX_LISTEN]; /* per passed socket: 1 + index of its Listen, or 0 */
};

static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

/* "127.0.0.1:8080" / "[::]:80" into BUF. */
static void format_address(const struct sockaddr_storage *ss, socklen_t len, char *buf,
                           size_t size)
{
    char host[INET6_ADDRSTRLEN + IF_NAMESIZE], port[8];
    if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        snprintf(buf, size, "(address family %d)", ss->ss_family);
    else if (ss->ss_family == AF_INET6)
        snprintf(buf, size, "[%s]:%s", host, port);
    else
        snprintf(buf, size, "%s:%s", host, port);
}

/* Options every listening socket gets, bound or passed: accepted sockets
 * inherit TCP_NODELAY (no setsockopt per connection), and TCP_DEFER_ACCEPT
 * (Apache's "AcceptFilter http data") wakes a child only once the request
 * has arrived, so its first read finds it.  Best effort: a socket that
 * refuses them still works. */
static void tune_listener(int fd)
{
    int one = 1, defer = DEFER_ACCEPT_SECONDS;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
}

static int bind_one(const struct listen_spec *ls, int backlog, char *err, size_t errlen)
{
    int fam = ls->addr.ss_family, one = 1, saved;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
        goto fail;
    if (fam == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ls->addr;
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) == -1)
            goto fail;
    }
    tune_listener(fd);
    if (bind(fd, (const struct sockaddr *)&ls->addr, ls->addrlen) == -1 ||
        listen(fd, backlog) == -1)
        goto fail;
    return fd;
fail:
    saved = errno;
    snprintf(err, errlen, "%s:%d: Listen: cannot listen on %s: %s", ls->file, ls->line, ls->text,
             strerror(saved));
    if (fd != -1)
        close(fd);
    errno = saved;
    return -1;
}

/* A socket the supervisor before an upgrade bound: mpmd's own again,
 * found by address by the first socket_set_update (find_own_socket). */
static void adopt_own(struct socket_set *set, const struct passed_socket *p)
{
    struct bound_socket *b = &set->s[set->n++];
    *b = (struct bound_socket){ .fd = p->fd, .origin = SOCKET_KEPT };
    b->spec.addr = p->addr;
    b->spec.addrlen = p->addrlen;
    _Static_assert(sizeof b->spec.text == sizeof p->text, "address texts differ in size");
    memcpy(b->spec.text, p->text, sizeof b->spec.text);
}

int socket_set_adopt(struct socket_set *set, char *err, size_t errlen)
{
    struct sd_socket got[CONFIG_MAX_LISTEN];
    int n = sd_take_listen_sockets(got, CONFIG_MAX_LISTEN, err, errlen);
    set->n_passed = 0;
    for (int i = 0; i < n; i++) {
        struct passed_socket *p = &set->passed[set->n_passed];
        int fl = fcntl(got[i].fd, F_GETFL);
        p->fd = got[i].fd;
        snprintf(p->name, sizeof p->name, "%s", got[i].name);
        p->addrlen = sizeof p->addr;
        /* Children must never block in accept(): make it non-blocking. */
        if (getsockname(p->fd, (struct sockaddr *)&p->addr, &p->addrlen) == -1 || fl == -1 ||
            fcntl(p->fd, F_SETFL, fl | O_NONBLOCK) == -1) {
            snprintf(err, errlen, "systemd's socket fd %d (name \"%s\"): %s", p->fd, p->name,
                     strerror(errno));
            return -1;
        }
        format_address(&p->addr, p->addrlen, p->text, sizeof p->text);
        tune_listener(p->fd);
        if (strcmp(p->name, SOCKET_OWN_NAME) == 0)
            adopt_own(set, p);
        else
            set->n_passed++;
    }
    return n;
}

static int add_socket(struct update *u, int fd, int origin, const struct listen_spec *ls,
                      char *err, size_t errlen)
{
    if (u->n == CONFIG_MAX_LISTEN) {
        snprintf(err, errlen, "%s:%d: Listen %s: more than %d listening sockets", ls->file,
                 ls->line, ls->text, CONFIG_MAX_LISTEN);
        errno = EINVAL;
        return -1;
    }
    u->s[u->n++] = (struct bound_socket){ .fd = fd, .origin = origin, .spec = *ls };
    return 0;
}

/* Give Listen number LI the passed sockets it asks for (by name when it
 * names one, else by address).  Returns how many, or -1 (ERR set). */
static int claim_passed(const struct socket_set *set, struct update *u, const struct config *cfg,
                        int li, char *err, size_t errlen)
{
    const struct listen_spec *ls = &cfg->listen[li];
    int got = 0;
    for (int i = 0; i < set->n_passed; i++) {
        const struct passed_socket *p = &set->passed[i];
        if (ls->name[0] ? strcmp(p->name, ls->name) != 0 : !same_address(&p->addr, &ls->addr))
            continue;
        if (u->claimed[i]) {
            const struct listen_spec *first = &cfg->listen[u->claimed[i] - 1];
            int same = first->file == ls->file;
            snprintf(err, errlen, "%s:%d: Listen %s: systemd's socket fd %d (name \"%s\", %s) "
                     "is already taken by the Listen on line %d%s%s", ls->file,
                     ls->line, ls->text, p->fd, p->name, p->text, first->line,
                     same ? "" : " of ", same ? "" : first->file);
            errno = EINVAL;
            return -1;
        }
        if (add_socket(u, p->fd, SOCKET_INHERITED, ls, err, errlen) == -1)
            return -1;
        u->claimed[i] = li + 1;
        got++;
    }
    return got;
}

/* A socket mpmd bound earlier for LS's address, or -1. */
static int find_own_socket(const struct socket_set *set, const struct listen_spec *ls)
{
    for (int i = 0; i < set->n; i++)
        if (set->s[i].origin != SOCKET_INHERITED && same_address(&set->s[i].spec.addr, &ls->addr))
            return set->s[i].fd;
    return -1;
}

static int unclaimed_error(const struct socket_set *set, const struct update *u,
                           const struct config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < set->n_passed; i++) {
        const struct passed_socket *p = &set->passed[i];
        if (u->claimed[i])
            continue;
        snprintf(err, errlen, "%s: systemd passed socket fd %d (name \"%s\", address %s) but no "
                 "Listen directive asks for it: add \"Listen %s\" (or \"Listen ADDRESS %s\"), "
                 "or remove it from the socket unit", cfg->file, p->fd, p->name, p->text,
                 p->text, p->name[0] ? p->name : "NAME");
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* Give Listen number LI its socket: passed ones, else the one mpmd bound
 * for its address earlier, else a new one.  Returns 0 or -1 (ERR set). */
static int take_socket(const struct socket_set *set, struct update *u, const struct config *cfg,
                       int li, char *err, size_t errlen)
{
    const struct listen_spec *ls = &cfg->listen[li];
    int got = claim_passed(set, u, cfg, li, err, errlen);
    if (got != 0)
        return got == -1 ? -1 : 0;
    int fd = find_own_socket(set, ls), origin = SOCKET_KEPT;
    if (fd == -1) {
        fd = bind_one(ls, cfg->listen_backlog, err, errlen);
        origin = SOCKET_BOUND;
    } else {
        /* listen() again sets a listening socket's backlog (ListenBacklog
         * changed on a restart); best effort: the old one serves too. */
        (void)listen(fd, cfg->listen_backlog);
    }
    if (fd == -1)
        return -1;
    if (add_socket(u, fd, origin, ls, err, errlen) == -1) {
        if (origin == SOCKET_BOUND)
            close(fd);
        return -1;
    }
    return 0;
}

int socket_set_update(struct socket_set *set, const struct config *cfg, struct socket_set *dropped,
                      char *err, size_t errlen)
{
    struct update u = { .n = 0 };
    int status = 0;
    for (int li = 0; li < cfg->n_listen && status == 0; li++)
        status = take_socket(set, &u, cfg, li, err, errlen);
    if (status == 0)
        status = unclaimed_error(set, &u, cfg, err, errlen);
    if (status == -1) {
        int saved = errno;
        for (int i = 0; i < u.n; i++)
            if (u.s[i].origin == SOCKET_BOUND)
                close(u.s[i].fd);
        errno = saved;
        return -1;
    }
    dropped->n = 0;
    dropped->n_passed = 0;
    for (int i = 0; i < set->n; i++) {
        int kept = set->s[i].origin == SOCKET_INHERITED;
        for (int j = 0; j < u.n && !kept; j++)
            kept = u.s[j].fd == set->s[i].fd;
        if (!kept)
            dropped->s[dropped->n++] = set->s[i];
    }
    memcpy(set->s, u.s, sizeof u.s[0] * (size_t)u.n);
    set->n = u.n;
    return 0;
}

int socket_set_refuse_new(struct socket_set *set)
{
    /* Classic BPF over the TCP header: drop segments with SYN set and ACK
     * clear (new connection attempts); let everything else through, so
     * handshakes already under way complete into the backlog. */
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),                /* TCP flags */
        BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),             /* SYN | ACK */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x02, 0, 1),       /* SYN alone? */
        BPF_STMT(BPF_RET | BPF_K, 0),                          /* drop */
        BPF_STMT(BPF_RET | BPF_K, 0xffffffff),                 /* keep */
    };
    struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };
    int failed = 0;
    for (int i = 0; i < set->n; i++)
        if (set->s[i].origin != SOCKET_INHERITED &&
            setsockopt(set->s[i].fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == -1)
            failed++;
    return failed;
}

/* The name systemd gave passed socket FD. */
static const char *passed_name(const struct socket_set *set, int fd)
{
    for (int i = 0; i < set->n_passed; i++)
        if (set->passed[i].fd == fd)
            return set->passed[i].name;
    return "unknown";
}

int socket_set_handoff(const struct socket_set *set, int *fds, char *names, size_t size)
{
    size_t len = 0;
    if (size == 0)
        return -1;
    names[0] = '\0';
    for (int i = 0; i < set->n; i++) {
        const char *name = set->s[i].origin == SOCKET_INHERITED ? passed_name(set, set->s[i].fd)
                                                                 : SOCKET_OWN_NAME;
        int w = snprintf(names + len, size - len, "%s%s", i ? ":" : "", name);
        if (w < 0 || (size_t)w >= size - len)
            return -1;
        len += (size_t)w;
        fds[i] = set->s[i].fd;
    }
    return set->n;
}

int socket_set_fds(const struct socket_set *set, int *fds)
{
    for (int i = 0; i < set->n; i++)
        fds[i] = set->s[i].fd;
    return set->n;
}

void socket_set_close(struct socket_set *set)
{
    for (int i = 0; i < set->n; i++)
        if (set->s[i].origin != SOCKET_INHERITED)
            close(set->s[i].fd);
    set->n = 0;
}
