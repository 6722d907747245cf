/* bind.c: the supervisor's listening sockets (see bind.h). */
#include "config.h"

#include "mpmd/bind.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 511        /* Apache's ListenBacklog default */

static int same_address(const struct listen_spec *a, const struct listen_spec *b)
{
    return a->addrlen == b->addrlen && memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

static int bind_one(const char *file, const struct listen_spec *ls, char *err, size_t errlen)
{
    int fam = ls->addr.ss_family, one = 1;
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
    if (bind(fd, (const struct sockaddr *)&ls->addr, ls->addrlen) == -1 ||
        listen(fd, LISTEN_BACKLOG) == -1)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "%s:%d: Listen: cannot listen on %s: %s", file, ls->line, ls->text,
             strerror(errno));
    if (fd != -1)
        close(fd);
    return -1;
}

/* Index of SPEC's address in SET, or -1. */
static int find_socket(const struct socket_set *set, const struct listen_spec *spec)
{
    for (int i = 0; i < set->n; i++)
        if (same_address(&set->s[i].spec, spec))
            return i;
    return -1;
}

int socket_set_update(struct socket_set *set, const struct config *cfg, struct socket_set *dropped,
                      char *err, size_t errlen)
{
    struct socket_set next = { .n = 0 };
    int fresh[CONFIG_MAX_LISTEN] = { 0 };
    for (int i = 0; i < cfg->n_listen; i++) {
        const struct listen_spec *ls = &cfg->listen[i];
        int have = find_socket(set, ls);
        int fd = have >= 0 ? set->s[have].fd : bind_one(cfg->file, ls, err, errlen);
        if (fd == -1) {
            for (int j = 0; j < next.n; j++)
                if (fresh[j])
                    close(next.s[j].fd);
            return -1;
        }
        fresh[next.n] = have < 0;
        next.s[next.n].fd = fd;
        next.s[next.n].spec = *ls;
        next.n++;
    }
    dropped->n = 0;
    for (int i = 0; i < set->n; i++)
        if (find_socket(&next, &set->s[i].spec) < 0)
            dropped->s[dropped->n++] = set->s[i];
    *set = next;
    return 0;
}

void socket_set_refuse_new(struct socket_set *set)
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
    for (int i = 0; i < set->n; i++)
        setsockopt(set->s[i].fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog);
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
        close(set->s[i].fd);
    set->n = 0;
}
