/* scoreboard.c: the shared scoreboard (see scoreboard.h): the server's
 * record, made once by the supervisor, and one board per generation.
 * The supervisor creates, claims and releases; children write their own
 * records from any of their threads; any process reads. */
#include "config.h"

#include "mpmd/core/scoreboard.h"

#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <time.h>

#define SB_FOLD_WAIT_US 200000     /* see sb_server_totals */

const int64_t sb_duration_bounds_us[SB_DURATION_BUCKETS] = {
    5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, INT64_MAX,
};

static size_t round_up_64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static void *map_shared(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* ---- the server's record ---------------------------------------------- */

struct sb_server *sb_server_create(int n_procs, int threads)
{
    size_t head = round_up_64(sizeof(struct sb_server));
    size_t procs = round_up_64((size_t)n_procs * sizeof(struct sb_proc));
    size_t nthreads = (size_t)n_procs * (size_t)(threads + 1);
    size_t threads_bytes = nthreads * sizeof(struct sb_thread);
    size_t size = head + procs + threads_bytes + SB_UPSTREAMS * sizeof(struct sb_upstream);
    char *p = map_shared(size);
    if (!p)
        return NULL;
    struct sb_server *srv = (struct sb_server *)p;
    srv->size = size;
    srv->n_procs = n_procs;
    srv->threads_per_proc = threads;
    srv->procs = (struct sb_proc *)(p + head);
    srv->threads = (struct sb_thread *)(p + head + procs);
    srv->upstreams = (struct sb_upstream *)(p + head + procs + threads_bytes);
    int64_t now = (int64_t)time(NULL);   /* time(): the clock the claims and readers use */
    atomic_store(&srv->start_time, now);
    atomic_store(&srv->restart_time, now);
    return srv;
}

void sb_server_destroy(struct sb_server *srv)
{
    if (srv)
        munmap(srv, srv->size);
}

static void counters_zero(struct sb_counters *c)
{
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            atomic_store_explicit(&c->requests[m][s], 0, memory_order_relaxed);
    for (int b = 0; b < SB_DURATION_BUCKETS; b++)
        atomic_store_explicit(&c->duration_bucket[b], 0, memory_order_relaxed);
    atomic_store_explicit(&c->body_bytes, 0, memory_order_relaxed);
    atomic_store_explicit(&c->duration_us, 0, memory_order_relaxed);
    atomic_store_explicit(&c->connections, 0, memory_order_relaxed);
    atomic_store_explicit(&c->cache_hits, 0, memory_order_relaxed);
    atomic_store_explicit(&c->cache_misses, 0, memory_order_relaxed);
    atomic_store_explicit(&c->arm_failures, 0, memory_order_relaxed);
}

/* OUT += IN (OUT may be shared: relaxed adds; IN is read relaxed). */
static void counters_add(struct sb_counters *out, const struct sb_counters *in)
{
#define ADD(f)                                                                              \
    atomic_fetch_add_explicit(&out->f, atomic_load_explicit(&in->f, memory_order_relaxed), \
                              memory_order_relaxed)
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            ADD(requests[m][s]);
    for (int b = 0; b < SB_DURATION_BUCKETS; b++)
        ADD(duration_bucket[b]);
    ADD(body_bytes);
    ADD(duration_us);
    ADD(connections);
    ADD(cache_hits);
    ADD(cache_misses);
    ADD(arm_failures);
#undef ADD
}

int sb_server_claim(struct sb_server *srv, int generation, int slot)
{
    for (int i = 0; i < srv->n_procs; i++) {
        struct sb_proc *p = &srv->procs[i];
        if (atomic_load(&p->pid) != 0)
            continue;
        atomic_store(&p->pid, -1);            /* taken; the real pid follows the fork */
        atomic_store(&p->generation, generation);
        atomic_store(&p->slot, slot);
        atomic_store(&p->state, SB_CHILD_STARTING);
        atomic_store(&p->started, (int64_t)time(NULL));
        for (int s = 0; s < SB_CONN_STATES; s++)
            atomic_store(&p->conns[s], 0);
        atomic_store(&p->queued, 0);
        atomic_store(&p->threads, 0);
        counters_zero(&p->c);             /* release zeroed it; a crash mid-fold may not */
        for (int t = 0; t <= srv->threads_per_proc; t++) {
            struct sb_thread *th = sb_server_thread(srv, i, t);
            atomic_store(&th->state, SB_THREAD_DEAD);
            atomic_store(&th->requests, 0);
            atomic_store(&th->bytes, 0);
            atomic_store(&th->last_start_us, 0);
            atomic_store(&th->last_dur_us, 0);
            atomic_store(&th->dur_sum_us, 0);
            th->client_key = th->vhost_key = 0;
            sb_text_put(th->client, SB_CLIENT_WORDS, "", 0);
            sb_text_put(th->vhost, SB_VHOST_WORDS, "", 0);
            sb_text_put(th->request, SB_REQUEST_WORDS, "", 0);
        }
        return i;
    }
    return -1;
}

void sb_server_release(struct sb_server *srv, int proc)
{
    if (proc < 0 || proc >= srv->n_procs)
        return;
    struct sb_proc *p = &srv->procs[proc];
    /* Readers that overlap the move see an odd or changed sequence and
     * sum again (sb_server_totals). */
    atomic_fetch_add_explicit(&srv->fold_seq, 1, memory_order_acq_rel);
    atomic_thread_fence(memory_order_seq_cst);
    counters_add(&srv->retired, &p->c);
    counters_zero(&p->c);
    atomic_thread_fence(memory_order_seq_cst);
    atomic_fetch_add_explicit(&srv->fold_seq, 1, memory_order_acq_rel);
    atomic_store(&p->state, SB_CHILD_FREE);
    for (int t = 0; t <= srv->threads_per_proc; t++)
        atomic_store(&sb_server_thread(srv, proc, t)->state, SB_THREAD_DEAD);
    atomic_store(&p->pid, 0);
}

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sb_server_totals(const struct sb_server *srv, struct sb_counters *out)
{
    int64_t odd_since = 0;
    for (int attempt = 0;; attempt++) {
        uint32_t seq = atomic_load_explicit(&srv->fold_seq, memory_order_acquire);
        counters_zero(out);
        counters_add(out, &srv->retired);
        for (int i = 0; i < srv->n_procs; i++)
            if (atomic_load_explicit(&srv->procs[i].pid, memory_order_relaxed) != 0)
                counters_add(out, &srv->procs[i].c);
        atomic_thread_fence(memory_order_seq_cst);
        if ((seq & 1) == 0 && seq == atomic_load_explicit(&srv->fold_seq, memory_order_acquire))
            return;
        /* A fold takes the supervisor well under a microsecond and folds
         * (children exiting) are rare: try again, yielding the CPU (the
         * supervisor may have been preempted mid-fold).  Only a fold that
         * stays unfinished for SB_FOLD_WAIT_US (a supervisor that died in
         * it) makes the reader take what it has; the attempt cap bounds a
         * pathological stream of folds. */
        if ((seq & 1) && odd_since == 0)
            odd_since = monotonic_us();
        else if (!(seq & 1))
            odd_since = 0;
        if ((odd_since && monotonic_us() - odd_since > SB_FOLD_WAIT_US) || attempt >= 1000000)
            return;
        sched_yield();
    }
}

static int upstream_named(const struct sb_upstream *u, const char *name)
{
    char have[SB_UPSTREAM_NAME_WORDS * 8 + 1];
    sb_text_get(u->name, SB_UPSTREAM_NAME_WORDS, have);
    return strncmp(have, name, SB_UPSTREAM_NAME_WORDS * 8 - 1) == 0;
}

/* The first record in use named NAME below index END, or NULL. */
static struct sb_upstream *upstream_lookup(struct sb_server *srv, const char *name, int end)
{
    for (int i = 0; i < end; i++) {
        struct sb_upstream *u = &srv->upstreams[i];
        if (atomic_load(&u->state) == SB_UPSTREAM_USED && upstream_named(u, name))
            return u;
    }
    return NULL;
}

struct sb_upstream *sb_upstream_find(struct sb_server *srv, const char *name)
{
    struct sb_upstream *u = upstream_lookup(srv, name, SB_UPSTREAMS);
    for (int i = 0; !u && i < SB_UPSTREAMS; i++) {
        int free_state = SB_UPSTREAM_FREE;
        struct sb_upstream *mine = &srv->upstreams[i];
        if (!atomic_compare_exchange_strong(&mine->state, &free_state, SB_UPSTREAM_NAMING))
            continue;
        sb_text_put(mine->name, SB_UPSTREAM_NAME_WORDS, name, strlen(name));
        atomic_store(&mine->state, SB_UPSTREAM_USED);
        /* Another process may have named an earlier record the same meanwhile:
         * the earliest wins, and this one is never counted in. */
        u = upstream_lookup(srv, name, i);
        if (u)
            atomic_store(&mine->state, SB_UPSTREAM_DUPLICATE);
        else
            u = mine;
    }
    return u;
}

static int duration_bucket(int64_t duration_us)
{
    int b = 0;
    while (duration_us > sb_duration_bounds_us[b])
        b++;
    return b;
}

void sb_count_upstream(struct sb_upstream *u, int status, int own_error, int64_t duration_us)
{
    if (duration_us < 0)
        duration_us = 0;
    atomic_fetch_add_explicit(&u->requests, 1, memory_order_relaxed);
    if (own_error && status >= 502 && status <= 504)
        atomic_fetch_add_explicit(&u->failures[status - 502], 1, memory_order_relaxed);
    else if (status >= 100 && status < 600)
        atomic_fetch_add_explicit(&u->responses[status / 100 - 1], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_us, (uint64_t)duration_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->duration_bucket[duration_bucket(duration_us)], 1,
                              memory_order_relaxed);
}

void sb_count_request(struct sb_counters *c, enum sb_method m, int status, long long body_bytes,
                      int64_t duration_us)
{
    int cls = status / 100 - 1;
    if (cls < 0 || cls >= SB_STATUS_CLASSES)
        cls = SB_STATUS_CLASSES - 1;
    if ((unsigned)m >= SB_METHODS)
        m = SB_METHOD_OTHER;
    if (duration_us < 0)
        duration_us = 0;
    int b = duration_bucket(duration_us);
    atomic_fetch_add_explicit(&c->requests[m][cls], 1, memory_order_relaxed);
    if (body_bytes > 0)
        atomic_fetch_add_explicit(&c->body_bytes, (uint64_t)body_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->duration_us, (uint64_t)duration_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->duration_bucket[b], 1, memory_order_relaxed);
}

enum sb_method sb_method_of(const char *name, size_t len)
{
    static const struct { const char *name; enum sb_method m; } known[] = {
        {"GET", SB_METHOD_GET}, {"HEAD", SB_METHOD_HEAD}, {"POST", SB_METHOD_POST},
        {"PUT", SB_METHOD_PUT}, {"DELETE", SB_METHOD_DELETE}, {"OPTIONS", SB_METHOD_OPTIONS},
        {"PATCH", SB_METHOD_PATCH},
    };
    for (size_t i = 0; name && i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && memcmp(known[i].name, name, len) == 0)
            return known[i].m;
    return SB_METHOD_OTHER;
}

void sb_text_put(_Atomic uint64_t *field, int words, const char *s, size_t len)
{
    uint64_t v[16] = { 0 };
    if (words > 16)
        words = 16;                         /* no field is longer (scoreboard.h) */
    size_t cap = (size_t)words * 8 - 1;    /* keep a NUL at the end */
    if (len > cap)
        len = cap;
    memcpy(v, s, len);
    /* Up to the word holding the NUL; the rest stays as it was, past it. */
    for (size_t w = 0; w <= len / 8; w++)
        atomic_store_explicit(&field[w], v[w], memory_order_relaxed);
}

void sb_text_get(const _Atomic uint64_t *field, int words, char *out)
{
    for (int w = 0; w < words; w++) {
        uint64_t v = atomic_load_explicit((_Atomic uint64_t *)&field[w], memory_order_relaxed);
        memcpy(out + (size_t)w * 8, &v, 8);
    }
    out[(size_t)words * 8] = '\0';
    out[strnlen(out, (size_t)words * 8)] = '\0';
}

/* ---- one generation's board ------------------------------------------- */

int scoreboard_create(struct scoreboard *sb, int server_limit, int threads, struct sb_server *srv)
{
    size_t size = round_up_64((size_t)server_limit * sizeof(struct sb_child));
    void *p = map_shared(size);
    if (!p)
        return -1;
    memset(sb, 0, sizeof *sb);
    sb->server_limit = server_limit;
    sb->threads_per_child = threads;
    sb->size = size;
    sb->children = p;
    sb->srv = srv;
    for (int i = 0; i < server_limit; i++)
        atomic_store(&sb->children[i].proc, -1);
    return 0;
}

void scoreboard_destroy(struct scoreboard *sb)
{
    if (sb->children)
        munmap(sb->children, sb->size);
    memset(sb, 0, sizeof *sb);
}

int scoreboard_count_threads(const struct scoreboard *sb, int slot, int state)
{
    int n = 0;
    for (int t = 0; t < sb->threads_per_child; t++) {
        const struct sb_thread *th = scoreboard_thread(sb, slot, t);
        if (th && atomic_load_explicit(&th->state, memory_order_relaxed) == state)
            n++;
    }
    return n;
}
