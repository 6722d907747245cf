/* balance.h: sharing new connections evenly between the children of one
 * generation.
 *
 * All children listen on the same sockets and the kernel wakes every one
 * of them for each new connection; whichever calls accept() first wins.
 * Under a burst (a load balancer or benchmark opening 1,000 keep-alive
 * connections at once) one child can end up with twice its siblings'
 * share and, since keep-alive connections stay where they landed, do
 * twice their work for as long as they last.  nginx avoids this with
 * EPOLLEXCLUSIVE, which libevent 2.1 cannot ask for (and which does not
 * survive nesting an epoll fd in libevent's).
 *
 * So after each accept the listener asks balance_over_share(): a child
 * holding clearly more open connections than its least loaded READY
 * sibling stops accepting and leaves new connections to its siblings,
 * but takes any that still wait BALANCE_WAIT_MS later (listener.c), so a
 * sibling that cannot accept strands nothing.  The least loaded child
 * never holds back. */
#ifndef MPMD_BALANCE_H
#define MPMD_BALANCE_H

#include <time.h>

#include "mpmd/core/scoreboard.h"

/* How long a connection may wait for a sibling before a child over its
 * share takes it anyway. */
#define BALANCE_WAIT_MS 2
/* Siblings looked at (the rest of a larger generation are not deferred to). */
#define BALANCE_MAX_SIBLINGS 64

struct accept_balance {
    /* READY siblings, re-listed from the whole scoreboard once a second
     * (ServerLimit may be 20,000; the supervisor starts at most a few
     * children a second), and on every call while fewer than EXPECTED are
     * listed: a generation's first children become READY within
     * milliseconds of each other, and a burst meeting a sibling not yet
     * listed would not be shared for up to a second. */
    int sibs[BALANCE_MAX_SIBLINGS];
    int n_sibs;
    int expected;                /* siblings the generation starts with */
    time_t listed_at;            /* the second sibs was listed in; -1 never */
};

/* EXPECTED: the siblings this child should have (StartServers - 1). */
void balance_init(struct accept_balance *b, int expected);

/* How many more open connections than the least loaded sibling a child may
 * hold before it holds back: a few, or 1/16 of the sibling's count. */
int balance_slack(int least_open);

/* Child SELF of SB, holding OPEN connections, has just accepted one at NOW
 * (seconds, any clock that does not go back).  Returns 1 if it holds more
 * than its share (and should let its siblings accept first), else 0. */
int balance_over_share(struct accept_balance *b, const struct scoreboard *sb, int self,
                       int open, time_t now);

#endif
