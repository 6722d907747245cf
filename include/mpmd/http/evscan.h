/* evscan.h: the objects behind the events registered in an event_base,
 * each once: how a child that stops now finds every connection, tunnel
 * and kept descriptor it must end (conn.c, tunnel.c).  The listener
 * thread, or after its loop ended. */
#ifndef MPMD_EVSCAN_H
#define MPMD_EVSCAN_H

#include <event2/event.h>

/* The distinct non-NULL OWNER(EV) of the events registered in BASE, into
 * *OUT (malloc'd: the caller frees it; NULL when there are none).
 * Returns how many (fewer when out of memory). */
int evscan_owners(struct event_base *base, void *(*owner)(const struct event *ev), void ***out);

#endif
