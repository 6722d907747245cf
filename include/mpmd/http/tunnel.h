/* tunnel.h: two sockets relayed to each other by the listener thread
 * (a WebSocket or any other upgraded connection after its 101).
 *
 * A tunnel holds no thread: each side's readability is an event in the
 * listener's event_base; bytes go straight from one socket to the other,
 * and only what the other side cannot take yet is kept (then that side is
 * not read until it drains: backpressure).  An idle tunnel holds its
 * struct and four events, no buffer.
 *
 * Built by a handler thread (tunnel_new, tunnel_push), then started with
 * tunnel_start; from then on the listener thread owns it. */
#ifndef MPMD_TUNNEL_H
#define MPMD_TUNNEL_H

#include <event2/event.h>
#include <stddef.h>

struct tunnel;

/* A tunnel between A (the client connection) and B (the upstream; owned
 * by the tunnel from here on, closed when it ends).  It ends when both
 * sides have closed, on an error, or when neither side sent anything for
 * IDLE_S seconds.  NULL when out of memory (B is then closed). */
struct tunnel *tunnel_new(int a, int b, int idle_s);

/* Side A (the client) speaks TLS through SSL (owned by its connection,
 * which outlives the tunnel). */
struct ssl_st;
void tunnel_set_tls(struct tunnel *t, struct ssl_st *ssl);

/* Bytes to deliver before anything else: to B when TO_B, else to A
 * (copied).  Before tunnel_start only.  0, or -1 when out of memory. */
int tunnel_push(struct tunnel *t, int to_b, const char *data, size_t len);

/* Hand T to BASE's thread.  When it ends, T closes B, frees itself and
 * calls DONE(ARG) (on the listener thread), which owns A.  Returns 0, or
 * -1 when the events could not be registered (T is then freed, B closed,
 * DONE not called). */
int tunnel_start(struct tunnel *t, struct event_base *base, void (*done)(void *arg), void *arg);

/* Free T that was never started (closes B). */
void tunnel_free(struct tunnel *t);

/* Stopping now (listener thread, or after its loop ended): end every
 * tunnel registered in BASE as if it had ended (DONE runs).  Returns how
 * many. */
int tunnel_close_registered(struct event_base *base);

#endif
