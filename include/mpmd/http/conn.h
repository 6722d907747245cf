/* conn.h: one client connection and its state machine.
 *
 * Ownership: a connection belongs to exactly one thread at a time.  The
 * listener owns it while its event is registered (reading a head, idle
 * in keep-alive, completing a write, lingering before close); a handler
 * thread owns it from workq_pop until it hands it back with event_add /
 * event_active (MPM event) or closes it (MPM worker: the handler keeps
 * it for its whole life).  Whoever owns it may touch every field; the
 * hand-over (the work-queue mutex, or libevent's base lock) orders the
 * memory accesses.
 *
 * An idle keep-alive connection holds this struct only: no read buffer,
 * no thread. */
#ifndef MPMD_CONN_H
#define MPMD_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "mpmd/http/http.h"
#include "mpmd/http/reply.h"
#include "mpmd/mpm/workq.h"

/* Lingering close (RFC 9112 9.6), Apache's semantics: after shutting
 * down our write side, read and drop what the client still sends until
 * it closes, until it has been quiet this long ... */
#define CONN_LINGER_QUIET_SECONDS 2      /* Apache's SECONDS_TO_LINGER */
/* ... but for no longer than this in all ... */
#define CONN_LINGER_MAX_SECONDS 30       /* Apache's MAX_SECS_TO_LINGER */
/* ... and no more than this many bytes; then close. */
#define CONN_LINGER_MAX_BYTES (64u << 20)

/* A request answered from its head keeps the connection when at most
 * this many body bytes, of a known length, are still to come: the
 * listener reads and drops them.  Otherwise the answer carries
 * "Connection: close" and the connection lingers. */
#define CONN_DISCARD_KEEP_MAX (64 * 1024)

struct child;
struct worker;
struct ssl_st;
struct ssl_ctx_st;

enum conn_state {
    CONN_READING,    /* listener: waiting for (more of) a request head */
    CONN_KEEPALIVE,  /* listener: idle between requests, no buffer held */
    CONN_HANDLING,   /* handler thread: queued or running the handler */
    CONN_WRITING,    /* listener: completing a write a handler started */
    CONN_LINGERING,  /* listener: write side shut, dropping input until the client
                      * closes (no buffer held) */
    CONN_TUNNEL,     /* listener: relayed to an upstream after a 101 (tunnel.h); the
                      * tunnel's events, not EV, watch the socket */
    CONN_SUSPENDED,  /* listener: its handler waits on an upstream (handler.h's
                      * "answering later"); the waiter's event watches that, and
                      * EV, if still registered, only notes the client's input */
};

struct conn {
    struct workq_item qi;    /* must stay first: work-queue link */
    struct child *child;
    int fd;
    uint8_t state;           /* enum conn_state */
    uint8_t keep_alive;      /* decided per response */
    uint8_t is_head;         /* current request is HEAD */
    uint8_t body_stage;      /* RequestReadTimeout: reading the body, not the head */
    uint8_t armed;           /* EV is registered with the listener's base */
    uint8_t discarding;      /* answered from the head: reading the body to drop it */
    uint8_t sent_continue;   /* "100 Continue" sent for the current request */
    uint8_t recv_full;       /* the last recv filled the buffer: more may be waiting */
    uint32_t served;         /* responses sent on this connection */
    uint32_t drained;        /* bytes read and dropped while lingering */
    time_t stage_start;      /* monotonic second the current read stage (or the
                              * lingering close) began */
    struct event ev;         /* one event, re-assigned per state */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    struct request req;
    const struct config *site; /* the current request's site once chosen, or NULL */
    const struct config *site_known; /* the site of the host name hashed in SITE_KEY */
    uint64_t site_key;       /* host_key of the last host name looked up; 0: none */
    struct reply_out *out;   /* pending output handed to the listener, or NULL */
    struct tunnel *tunnel;   /* a handler's 101 answer: the tunnel to start once it
                              * returns; NULL otherwise */
    struct handler_waiter *waiter; /* while CONN_SUSPENDED: the handler's (owned) */
    void *resumed;           /* a suspended handler's state, for the dispatch that
                              * resumes it; NULL otherwise */
    int64_t req_start_us;    /* realtime_us() when the current request's first bytes
                              * came; 0: none yet */
    struct sb_thread *rec;   /* the scoreboard record of the thread answering it */
    uint32_t head_in;        /* its head's bytes (access log %I) */
    size_t head_out;         /* the response head's bytes (%O) */
    char *resp_head;         /* a copy of the response head (HEAD_OUT bytes) while a log
                              * line needs it (%{X}o), or NULL; owned */
    int status;              /* status of the response in progress (access log) */
    char *user;              /* the user its credentials named (access log %u), or NULL;
                              * owned */
    uint8_t tls_want;        /* HTTPS: the event the last TLS call waits for
                              * (enum tls_want; 0: none) */
    long long body_sent;     /* body bytes sent for it (access log) */
    struct ssl_st *ssl;      /* HTTPS: the TLS connection (owned); NULL: plain */
    unsigned char *pp_buf;   /* a Listen with RemoteIPProxyProtocol: the PROXY header
                              * read so far (CONN_PP_MAX bytes, owned) until it is
                              * complete; NULL: none expected (any more) */
    uint16_t pp_len;         /* bytes of it in PP_BUF */
    uint8_t peer_proxied;    /* PEER came from a PROXY header; SOCK_PEER is the socket's */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } sock_peer;             /* the socket's peer (the balancer) when PEER_PROXIED */
};

/* The longest PROXY protocol header accepted (a v2 header with TLVs may
 * say up to 64 KiB; HAProxy's own, with its optional TLVs, stay far below). */
#define CONN_PP_MAX 4096

/* Accept a new connection on FD from PEER (listener thread), speaking TLS
 * with context TLS when not NULL (the site that owns the address).  PROXY:
 * its Listen takes the PROXY protocol (RemoteIPProxyProtocol): a v1 or v2
 * header must come first, and its source replaces PEER.  Returns the
 * connection, or NULL (FD closed, logged). */
struct conn *conn_new(struct child *c, int fd, const struct sockaddr *peer, int peerlen,
                      struct ssl_ctx_st *tls, int proxy);

/* Listener: start reading the first request of a fresh connection. */
void conn_start(struct conn *conn);

/* Handler thread: serve the request that is complete in CONN (MPM
 * event), or the whole connection (MPM worker). */
void conn_run(struct worker *w, struct conn *conn);

/* Close and free CONN now (owner only). */
void conn_close(struct conn *conn);

/* Listener thread, when stopping now: close every connection registered
 * in BASE (reading, idle, writing, lingering, suspended).  Returns how
 * many. */
int conn_close_registered(struct event_base *base);

#endif
