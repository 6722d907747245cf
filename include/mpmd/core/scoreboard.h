/* scoreboard.h: the shared-memory scoreboard.
 *
 * Two shared anonymous mappings, both made by the supervisor before it
 * forks, so every child sees the same pages:
 *
 *   struct sb_server  made once, for the server's whole life: the times,
 *                     generation and restart counts, one record per child
 *                     process (struct sb_proc: its state, connections by
 *                     state, request counters) with one struct sb_thread
 *                     per handler thread plus one for its listener, and
 *                     the counters of children that have exited.  The
 *                     status and metrics handlers read it; its counters
 *                     survive graceful restarts, whatever generation the
 *                     reader belongs to.
 *   struct scoreboard one per generation (config load): the slots the
 *                     supervisor's spare-thread maintenance and the
 *                     children's accept balancing use.  Each slot names
 *                     the sb_proc record of the child that holds it.
 *
 * Every field has one writer at a time (the child that owns the record,
 * one of its threads, or the supervisor while no child owns it) or is
 * only ever added to; everything is a relaxed atomic, no locks.  Readers
 * get a consistent-enough snapshot, as in Apache; the fold of an exited
 * child's counters into the totals is guarded by a sequence number so a
 * reader never counts them twice or not at all. */
#ifndef MPMD_SCOREBOARD_H
#define MPMD_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum sb_child_state {
    SB_CHILD_FREE = 0,   /* slot unused */
    SB_CHILD_STARTING,   /* forked, not yet accepting */
    SB_CHILD_READY,      /* listener accepting */
    SB_CHILD_STOPPING,   /* graceful stop: finishing in-flight work */
};

enum sb_thread_state {
    SB_THREAD_DEAD = 0,
    SB_THREAD_READY,     /* idle, waiting for work */
    SB_THREAD_READING,   /* reading a request (MPM worker) */
    SB_THREAD_WRITING,   /* running a handler / writing a response */
    SB_THREAD_KEEPALIVE, /* waiting for the next request (MPM worker) */
    SB_THREAD_CLOSING,
};

/* Connections by what they wait for (conn.h's enum conn_state has the
 * same values). */
enum sb_conn_state {
    SB_CONN_READING = 0, /* a request head on its way */
    SB_CONN_KEEPALIVE,   /* idle between requests */
    SB_CONN_HANDLING,    /* with a handler thread */
    SB_CONN_WRITING,     /* the listener finishing a write */
    SB_CONN_LINGERING,   /* lingering close */
    SB_CONN_TUNNEL,      /* relayed after a 101 */
    SB_CONN_SUSPENDED,   /* its handler waits on an upstream, no thread */
    SB_CONN_STATES
};

/* Request methods counted apart (metrics label method=). */
enum sb_method {
    SB_METHOD_GET = 0, SB_METHOD_HEAD, SB_METHOD_POST, SB_METHOD_PUT, SB_METHOD_DELETE,
    SB_METHOD_OPTIONS, SB_METHOD_PATCH, SB_METHOD_OTHER, SB_METHODS
};

#define SB_STATUS_CLASSES 5        /* 1xx .. 5xx */
#define SB_DURATION_BUCKETS 12     /* upper bounds in sb_duration_bounds_us, then +Inf */

/* The upper bounds (µs) of the request-duration histogram's buckets, the
 * last being +Inf (INT64_MAX): 5 ms .. 10 s. */
extern const int64_t sb_duration_bounds_us[SB_DURATION_BUCKETS];

/* Counters that only grow, per child process (and summed for exited
 * ones).  Buckets are stored per bucket, not cumulatively. */
struct sb_counters {
    _Atomic uint64_t requests[SB_METHODS][SB_STATUS_CLASSES];
    _Atomic uint64_t body_bytes;          /* response body bytes sent */
    _Atomic uint64_t duration_us;         /* sum of request durations */
    _Atomic uint64_t duration_bucket[SB_DURATION_BUCKETS];
    _Atomic uint64_t connections;         /* accepted */
    _Atomic uint64_t cache_hits;          /* file cache */
    _Atomic uint64_t cache_misses;
    _Atomic uint64_t arm_failures;        /* connections closed because their event could
                                           * not be registered */
};

/* The text fields of an ExtendedStatus record are stored as relaxed
 * atomic words so that a reader racing the writer sees a mix of old and
 * new bytes, never undefined behaviour. */
#define SB_CLIENT_WORDS 6          /* 48 bytes */
#define SB_VHOST_WORDS 6           /* 48 bytes */
#define SB_REQUEST_WORDS 8         /* 64 bytes, as Apache's request[64] */

/* One handler thread (or a child's listener). */
struct sb_thread {
    _Atomic uint64_t requests;     /* answered since the thread started */
    _Atomic int state;             /* enum sb_thread_state */
    _Atomic int unused;
    /* Its writer's own: what the text fields below were written from (an
     * address, a site), so an unchanged one is not written again. */
    uint64_t client_key, vhost_key;
    /* ExtendedStatus On only: */
    _Atomic uint64_t bytes;        /* body bytes sent */
    _Atomic int64_t last_start_us; /* CLOCK_REALTIME µs the current or last request began */
    _Atomic int64_t last_dur_us;   /* how long it took; -1 while it runs */
    _Atomic uint64_t dur_sum_us;   /* sum over its requests */
    _Atomic uint64_t client[SB_CLIENT_WORDS];
    _Atomic uint64_t vhost[SB_VHOST_WORDS];
    _Atomic uint64_t request[SB_REQUEST_WORDS];
    char pad[256 - 64 - 8 * (SB_CLIENT_WORDS + SB_VHOST_WORDS + SB_REQUEST_WORDS)];
};
_Static_assert(sizeof(struct sb_thread) == 256, "a thread record is four cache lines");

/* One child process, for its life (sb_server's procs[]). */
struct sb_proc {
    _Atomic pid_t pid;             /* 0: record free */
    _Atomic int generation;
    _Atomic int slot;              /* its slot in its generation's scoreboard */
    _Atomic int state;             /* enum sb_child_state */
    _Atomic int64_t started;       /* CLOCK_REALTIME seconds */
    _Atomic int conns[SB_CONN_STATES]; /* open connections by state */
    _Atomic int queued;            /* connections waiting for a handler thread */
    _Atomic int threads;           /* handler threads it runs */
    struct sb_counters c;
};

/* One upstream (a proxy's address), shared by every child: each adds to
 * it directly (proxied requests cost far more than a contended add). */
#define SB_UPSTREAMS 64
#define SB_UPSTREAM_NAME_WORDS 12      /* 96 bytes */
enum sb_upstream_state { SB_UPSTREAM_FREE = 0, SB_UPSTREAM_NAMING, SB_UPSTREAM_USED,
                         SB_UPSTREAM_DUPLICATE };
struct sb_upstream {
    _Atomic int state;                 /* enum sb_upstream_state */
    _Atomic uint64_t name[SB_UPSTREAM_NAME_WORDS];
    _Atomic uint64_t requests;
    _Atomic uint64_t responses[SB_STATUS_CLASSES]; /* the upstream's answers, by class */
    _Atomic uint64_t failures[3];      /* mpmd answered 502, 503, 504 itself */
    _Atomic uint64_t duration_us;
    _Atomic uint64_t duration_bucket[SB_DURATION_BUCKETS];
};

struct sb_server {
    size_t size;                   /* bytes mapped */
    int n_procs;                   /* records in procs[] */
    int threads_per_proc;          /* handler-thread records per child (the listener's
                                    * comes after them) */
    _Atomic int64_t start_time;    /* CLOCK_REALTIME seconds: first start */
    _Atomic int64_t restart_time;  /* last start or restart */
    _Atomic int generation;        /* the current one */
    _Atomic int server_limit;      /* its ServerLimit and ThreadsPerChild (the grid) */
    _Atomic int threads_per_child;
    _Atomic uint64_t restarts;     /* graceful and full, since start */
    _Atomic uint64_t child_crashes;/* children that died of a signal or failed */
    _Atomic uint64_t children_started;
    _Atomic uint32_t fold_seq;     /* odd while an exited child's counters move */
    struct sb_counters retired;    /* of every child that exited */
    struct sb_proc *procs;
    struct sb_thread *threads;     /* n_procs x (threads_per_proc + 1) */
    struct sb_upstream *upstreams; /* SB_UPSTREAMS */
};

struct sb_child {
    _Atomic pid_t pid;
    _Atomic int generation;
    _Atomic int state;
    _Atomic int proc;              /* its sb_server record, or -1 */
    _Atomic uint64_t connections;  /* accepted since start */
    _Atomic int conns_open;        /* connections currently open */
};

struct scoreboard {
    int server_limit;
    int threads_per_child;
    size_t size;                 /* bytes mapped */
    struct sb_child *children;   /* server_limit entries */
    struct sb_server *srv;       /* the server's record (not owned) */
};

/* ---- the server's record (supervisor) ------------------------------- */

/* Map a zeroed server record for up to N_PROCS child processes of at
 * most THREADS handler threads each.  Returns it, or NULL (errno set). */
struct sb_server *sb_server_create(int n_procs, int threads);
void sb_server_destroy(struct sb_server *srv);

/* Take a free process record for a child of GENERATION in SLOT (before
 * fork; the pid is set after).  Returns its index, or -1 when all are in
 * use. */
int sb_server_claim(struct sb_server *srv, int generation, int slot);

/* The child of record PROC has exited: add its counters to the totals
 * and free the record. */
void sb_server_release(struct sb_server *srv, int proc);

/* Sum every child's counters, live and exited, into OUT.  While the
 * supervisor folds an exited child's counters (well under a microsecond,
 * at each child's exit) it sums again, yielding the CPU; only a fold left
 * unfinished for 200 ms (a supervisor that died in it) ends the wait. */
void sb_server_totals(const struct sb_server *srv, struct sb_counters *out);

static inline struct sb_thread *sb_server_thread(const struct sb_server *srv, int proc, int t)
{
    return &srv->threads[(size_t)proc * (size_t)(srv->threads_per_proc + 1) + (size_t)t];
}

/* The record of upstream NAME, added on first use; NULL when all
 * SB_UPSTREAMS are taken.  Any process; two adding the same name at once
 * both end up with the first record. */
struct sb_upstream *sb_upstream_find(struct sb_server *srv, const char *name);

/* One proxied request to U: STATUS the client's answer, OWN_ERROR when
 * mpmd made that answer itself (the upstream failed). */
void sb_count_upstream(struct sb_upstream *u, int status, int own_error, int64_t duration_us);

/* Record one finished request in C (any thread of the owning child). */
void sb_count_request(struct sb_counters *c, enum sb_method m, int status, long long body_bytes,
                      int64_t duration_us);

/* The method class of an HTTP method name. */
enum sb_method sb_method_of(const char *name, size_t len);

/* ExtendedStatus: copy S (LEN bytes, cut to fit) into a text field of
 * WORDS words; read one back into OUT (WORDS * 8 + 1 bytes). */
void sb_text_put(_Atomic uint64_t *field, int words, const char *s, size_t len);
void sb_text_get(const _Atomic uint64_t *field, int words, char *out);

/* ---- one generation's board ----------------------------------------- */

/* Map a zeroed scoreboard for SERVER_LIMIT children of THREADS threads
 * whose records live in SRV.  Returns 0 or -1 (errno set).  Supervisor,
 * before fork. */
int scoreboard_create(struct scoreboard *sb, int server_limit, int threads, struct sb_server *srv);

/* Unmap.  Supervisor at exit (children just exit). */
void scoreboard_destroy(struct scoreboard *sb);

static inline struct sb_child *scoreboard_child(const struct scoreboard *sb, int slot)
{
    return &sb->children[slot];
}

/* The process record of SLOT's child, or NULL when it has none. */
static inline struct sb_proc *scoreboard_proc(const struct scoreboard *sb, int slot)
{
    int p = atomic_load_explicit(&sb->children[slot].proc, memory_order_relaxed);
    return p < 0 || p >= sb->srv->n_procs ? NULL : &sb->srv->procs[p];
}

/* Handler thread T of SLOT's child (T == threads_per_proc: its
 * listener), or NULL when the slot has no record. */
static inline struct sb_thread *scoreboard_thread(const struct scoreboard *sb, int slot, int t)
{
    int p = atomic_load_explicit(&sb->children[slot].proc, memory_order_relaxed);
    return p < 0 || p >= sb->srv->n_procs ? NULL : sb_server_thread(sb->srv, p, t);
}

/* Relaxed store: one writer per slot. */
static inline void scoreboard_set_thread_state(struct sb_thread *t, int state)
{
    atomic_store_explicit(&t->state, state, memory_order_relaxed);
}

/* Count threads of child SLOT in STATE (0 when the slot has no record). */
int scoreboard_count_threads(const struct scoreboard *sb, int slot, int state);

#endif
