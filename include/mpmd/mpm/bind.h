/* bind.h: the listening sockets the supervisor owns.
 *
 * Bound once at start-up and kept across restarts: a restart that keeps
 * an address keeps its socket (and every connection waiting in its
 * backlog); added addresses are bound, removed ones closed.  Supervisor
 * only; children inherit the descriptors through fork.
 *
 * Socket activation: sockets systemd passed (socket_set_adopt) are taken
 * instead of binding.  They belong to systemd: kept across every restart,
 * never closed, never given the graceful-stop SYN filter (systemd keeps the
 * socket after mpmd exits, and what queues on it is served by the next
 * start). */
#ifndef MPMD_BIND_H
#define MPMD_BIND_H

#include <stddef.h>
#include <sys/socket.h>

#include "mpmd/core/config.h"
#include "mpmd/core/sd.h"

enum socket_origin {
    SOCKET_KEPT = 0,              /* bound by mpmd earlier, kept by this update */
    SOCKET_BOUND,                 /* bound by mpmd in this update */
    SOCKET_INHERITED,             /* passed by systemd: never closed by mpmd */
};

struct bound_socket {
    int fd;
    int origin;                   /* enum socket_origin */
    struct listen_spec spec;      /* the Listen directive it serves */
};

/* A socket systemd passed, with its actual address. */
struct passed_socket {
    int fd;
    char name[SD_NAME_MAX];       /* FileDescriptorName= */
    struct sockaddr_storage addr; /* getsockname() */
    socklen_t addrlen;
    char text[80];                /* "127.0.0.1:8080", "[::]:80" */
};

struct socket_set {
    struct bound_socket s[CONFIG_MAX_LISTEN];
    int n;
    struct passed_socket passed[CONFIG_MAX_LISTEN];
    int n_passed;                 /* > 0: socket-activated */
};

/* The LISTEN_FDNAMES name of a socket mpmd bound itself, handed to a new
 * binary by an upgrade (socket_set_handoff). */
#define SOCKET_OWN_NAME "mpmd.bound"

/* Take the sockets systemd passed (LISTEN_FDS) into SET, once, before the
 * first socket_set_update.  Sockets named SOCKET_OWN_NAME come from the
 * supervisor this one upgrades: they are mpmd's own (kept by address,
 * closed when no Listen wants them, filtered on graceful stop), not
 * systemd's, and do not count as socket activation.  Returns how many
 * sockets were passed (0: not socket-activated, or built
 * --without-systemd), or -1 with the reason in ERR (a connected socket
 * from Accept=yes, a socket that is not TCP, getsockname failing). */
int socket_set_adopt(struct socket_set *set, char *err, size_t errlen);

/* Make SET match CFG's Listen directives.  When socket-activated, each
 * Listen takes the passed socket named by its second argument
 * (FileDescriptorName=) or, unnamed, the one with its address; a Listen
 * with no passed socket is bound as usual (origin SOCKET_BOUND: the caller
 * logs it).  Otherwise sockets whose address is still wanted are kept and
 * new ones bound.  Nothing changes on failure: returns 0, or -1 with errno
 * set and the reason in ERR: "FILE:LINE: Listen: cannot listen on ADDR:
 * why", or a passed socket no Listen asks for (naming its fd, name and
 * address), or two Listens claiming one passed socket; the sockets bound
 * so far for this call are closed again.  Sockets mpmd bound that are no
 * longer wanted are moved to *DROPPED for the caller to close with
 * socket_set_close (at once is fine: old children hold their own copies
 * until they exit); passed sockets never are. */
int socket_set_update(struct socket_set *set, const struct config *cfg, struct socket_set *dropped,
                      char *err, size_t errlen);

/* Stop new connections reaching SET's own sockets (a socket filter that
 * drops SYNs), so the backlog can be drained and the sockets closed
 * without a reset: a client that connects later is refused once the
 * socket is closed.  Sockets systemd passed are left alone.  Returns how
 * many sockets refused the filter (errno from the last failure). */
int socket_set_refuse_new(struct socket_set *set);

/* The sockets in use for a new binary (upgrade): their descriptors into
 * FDS (room for CONFIG_MAX_LISTEN) and their LISTEN_FDNAMES into NAMES
 * ("a:b", systemd's name for a socket it passed, SOCKET_OWN_NAME for one
 * mpmd bound).  Returns how many, or -1 when NAMES is too small. */
int socket_set_handoff(const struct socket_set *set, int *fds, char *names, size_t size);

/* The descriptors, for the children (FDS has room for CONFIG_MAX_LISTEN). */
int socket_set_fds(const struct socket_set *set, int *fds);

/* Close every socket mpmd bound (not the ones systemd passed) and empty
 * SET's list of sockets in use. */
void socket_set_close(struct socket_set *set);

#endif
