/* bind.h: the listening sockets the supervisor owns.
 *
 * Bound once at start-up and kept across restarts: a restart that keeps
 * an address keeps its socket (and every connection waiting in its
 * backlog); added addresses are bound, removed ones closed.  Supervisor
 * only; children inherit the descriptors through fork. */
#ifndef MPMD_BIND_H
#define MPMD_BIND_H

#include <stddef.h>

#include "mpmd/config.h"

struct bound_socket {
    int fd;
    struct listen_spec spec;
};

struct socket_set {
    struct bound_socket s[CONFIG_MAX_LISTEN];
    int n;
};

/* Make SET match CFG's Listen directives: keep sockets whose address is
 * still wanted, bind new ones.  Nothing changes on failure: returns 0, or
 * -1 with "FILE:LINE: Listen: cannot listen on ADDR: why" in ERR (the
 * sockets bound so far for this call are closed again).  Sockets no
 * longer wanted are moved to *DROPPED (caller closes them with
 * socket_set_close once the old children are told to stop). */
int socket_set_update(struct socket_set *set, const struct config *cfg, struct socket_set *dropped,
                      char *err, size_t errlen);

/* Stop new connections reaching SET (a socket filter that drops SYNs),
 * so the backlog can be drained and the sockets closed without a reset:
 * a client that connects later is refused once the socket is closed. */
void socket_set_refuse_new(struct socket_set *set);

/* The descriptors, for the children (FDS has room for CONFIG_MAX_LISTEN). */
int socket_set_fds(const struct socket_set *set, int *fds);

/* Close every socket and empty SET. */
void socket_set_close(struct socket_set *set);

#endif
