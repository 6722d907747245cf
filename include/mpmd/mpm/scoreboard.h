/* scoreboard.h: the shared-memory scoreboard.
 *
 * Created by the supervisor before it forks (one anonymous shared
 * mapping), so every child sees the same pages.  One slot per child
 * process and one per handler thread.  Each slot has exactly one writer
 * (the child that owns it, or one of its threads), so slots are written
 * without locks using relaxed atomics; readers (the supervisor, the
 * status handler) see a consistent-enough snapshot, as in Apache. */
#ifndef MPMD_SCOREBOARD_H
#define MPMD_SCOREBOARD_H

#include <stdatomic.h>
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

struct sb_thread {
    _Atomic uint64_t requests;
    _Atomic int state;
    char pad[64 - sizeof(uint64_t) - sizeof(int)]; /* one cache line each */
};
_Static_assert(sizeof(struct sb_thread) == 64, "a thread slot is one cache line");

struct sb_child {
    _Atomic pid_t pid;
    _Atomic int generation;
    _Atomic int state;
    _Atomic uint64_t connections;  /* accepted since start */
    _Atomic uint64_t requests;     /* served since start */
    _Atomic int conns_open;        /* connections currently open */
    _Atomic uint64_t arm_failures; /* connections closed because their event
                                    * could not be registered */
};

struct scoreboard {
    int server_limit;
    int threads_per_child;
    size_t size;                 /* bytes mapped */
    struct sb_child *children;   /* server_limit entries */
    struct sb_thread *threads;   /* server_limit * threads_per_child entries */
};

/* Map a zeroed scoreboard for SERVER_LIMIT children of THREADS threads.
 * Returns 0 or -1 (errno set).  Supervisor, before fork. */
int scoreboard_create(struct scoreboard *sb, int server_limit, int threads);

/* Unmap.  Supervisor at exit (children just exit). */
void scoreboard_destroy(struct scoreboard *sb);

static inline struct sb_child *scoreboard_child(const struct scoreboard *sb, int slot)
{
    return &sb->children[slot];
}

static inline struct sb_thread *scoreboard_thread(const struct scoreboard *sb, int slot, int t)
{
    return &sb->threads[(size_t)slot * (size_t)sb->threads_per_child + (size_t)t];
}

/* Relaxed store: one writer per slot. */
static inline void scoreboard_set_thread_state(struct sb_thread *t, int state)
{
    atomic_store_explicit(&t->state, state, memory_order_relaxed);
}

/* Count threads of child SLOT in STATE. */
int scoreboard_count_threads(const struct scoreboard *sb, int slot, int state);

#endif
