/* check_sbview.c: unit tests for the reading of the server's scoreboard
 * that server-status and metrics present (src/modules/sbview.c,
 * include/mpmd/modules/sbview.h).
 *
 *   take   a server record filled in by hand with children of two
 *          generations (and records that must not show: claimed before the
 *          fork, free, released): sbview_take's header, totals (counters
 *          of live and exited children), thread characters and the busy /
 *          idle / graceful counts (a STARTING child's threads are 'S' and
 *          neither; a STOPPING child's busy ones 'G', its idle ones '.'),
 *          the order of the processes (current generation first, by slot,
 *          then older generations), connection sums, requests summed over
 *          the threads and the listener, ExtendedStatus fields.
 *   grid   sbview_grid: ServerLimit x ThreadsPerChild places, '.' where no
 *          child runs, then the threads of older generations' children.
 *   tbuf   tb_html / tb_json escaping, tb_printf growth past 4096 bytes.
 *
 * Each test builds its own record (sb_server_create). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check_suites.h"
#include "json_valid.h"
#include "mpmd/modules/sbview.h"

#define THREADS 4                  /* handler-thread records per child */

static struct sb_server *srv;
static struct sbview v;
static int have_view;

static void teardown(void)
{
    if (have_view)
        sbview_free(&v);
    have_view = 0;
    sb_server_destroy(srv);
    srv = NULL;
}

static int thread_state(char c)
{
    switch (c) {
    case '_': return SB_THREAD_READY;
    case 'R': return SB_THREAD_READING;
    case 'W': return SB_THREAD_WRITING;
    case 'K': return SB_THREAD_KEEPALIVE;
    case 'C': return SB_THREAD_CLOSING;
    default: return SB_THREAD_DEAD;
    }
}

/* Claim a record for a child of GEN in SLOT, give it PID, STATE and one
 * handler thread per character of MODES (see thread_state) with REQ0,
 * REQ0 + 1, ... requests each.  Returns the record's index. */
static int child(int gen, int slot, pid_t pid, int state, const char *modes, uint64_t req0)
{
    int p = sb_server_claim(srv, gen, slot);
    ck_assert_int_ge(p, 0);
    struct sb_proc *pr = &srv->procs[p];
    atomic_store(&pr->pid, pid);
    atomic_store(&pr->state, state);
    int n = (int)strlen(modes);
    atomic_store(&pr->threads, n);
    for (int t = 0; t < n; t++) {
        struct sb_thread *th = sb_server_thread(srv, p, t);
        atomic_store(&th->state, thread_state(modes[t]));
        atomic_store(&th->requests, req0 + (uint64_t)t);
    }
    return p;
}

static void set_conns(int p, const int conns[SB_CONN_STATES], int queued)
{
    for (int s = 0; s < SB_CONN_STATES; s++)
        atomic_store(&srv->procs[p].conns[s], conns[s]);
    atomic_store(&srv->procs[p].queued, queued);
}

static void take(int generation, int server_limit, int threads, int extended)
{
    if (have_view)
        sbview_free(&v);
    int rc = sbview_take(&v, srv, generation, server_limit, threads, extended);
    ck_assert_msg(rc == 0, "sbview_take: %d", rc);
    have_view = 1;
}

static uint64_t ld64(const _Atomic uint64_t *p)
{
    return atomic_load(p);
}

/* The record indices build() made. */
static int r_cur1, r_old1, r_cur0, r_start, r_prefork, r_gone, r_free, r_old0;

/* Generation 2 is current (ServerLimit 4, 4 threads):
 *   slot 0  r_cur0   pid 1000 READY     "__RC"  listener READY, 3 requests
 *   slot 1  r_cur1   pid 1001 READY     "_WK."  listener 5 requests
 *   slot 2  r_start  pid 1002 STARTING  "_W"
 *   slot 3  r_prefork (pid -1: claimed, not forked yet: not shown)
 * Generation 1: r_old1 pid 900 STOPPING "W_." (its 4th record has
 * requests but is no thread of it); generation 0: r_old0 pid 800 STOPPING
 * "KW".  r_gone was released (its counters retired), r_free has a pid but
 * state FREE (not shown). */
static void build(void)
{
    srv = sb_server_create(8, THREADS);
    ck_assert_msg(srv != NULL, "sb_server_create: %s", strerror(errno));
    atomic_store(&srv->generation, 2);
    atomic_store(&srv->restarts, 2);
    atomic_store(&srv->child_crashes, 3);
    atomic_store(&srv->restart_time, atomic_load(&srv->start_time) + 60);

    r_cur1 = child(2, 1, 1001, SB_CHILD_READY, "_WK.", 10);
    r_old1 = child(1, 0, 900, SB_CHILD_STOPPING, "W_.", 1);
    r_cur0 = child(2, 0, 1000, SB_CHILD_READY, "__RC", 7);
    r_start = child(2, 2, 1002, SB_CHILD_STARTING, "_W", 0);
    r_prefork = child(2, 3, -1, SB_CHILD_STARTING, "____", 50);
    r_gone = child(2, 3, 1005, SB_CHILD_READY, "WWWW", 60);
    r_free = child(2, 3, 1006, SB_CHILD_FREE, "WWWW", 70);
    r_old0 = child(0, 5, 800, SB_CHILD_STOPPING, "KW", 0);

    /* Listeners: their requests count, their state makes no thread. */
    atomic_store(&sb_server_thread(srv, r_cur1, THREADS)->requests, 5);
    atomic_store(&sb_server_thread(srv, r_cur0, THREADS)->requests, 3);
    atomic_store(&sb_server_thread(srv, r_cur0, THREADS)->state, SB_THREAD_READY);
    atomic_store(&sb_server_thread(srv, r_old1, THREADS)->requests, 4);
    /* r_old1 runs 3 threads: its 4th record is not read. */
    atomic_store(&sb_server_thread(srv, r_old1, 3)->requests, 1000);
    atomic_store(&sb_server_thread(srv, r_old1, 3)->state, SB_THREAD_WRITING);

    static const int c_cur1[SB_CONN_STATES] = { 1, 2, 1, 0, 0, 0, 0 };
    static const int c_old1[SB_CONN_STATES] = { 0, -1, 1, 0, 0, 1, 0 };  /* -1: half seen */
    static const int c_cur0[SB_CONN_STATES] = { 0, 0, 0, 3, 1, 0, 2 };
    static const int c_hidden[SB_CONN_STATES] = { 5, 5, 5, 5, 5, 5, 5 };
    set_conns(r_cur1, c_cur1, 2);
    set_conns(r_old1, c_old1, 0);
    set_conns(r_cur0, c_cur0, 1);
    set_conns(r_prefork, c_hidden, 9);
    set_conns(r_free, c_hidden, 9);

    for (int i = 0; i < 3; i++)
        sb_count_request(&srv->procs[r_cur1].c, SB_METHOD_GET, 200, 100, 1000);
    sb_count_request(&srv->procs[r_cur0].c, SB_METHOD_POST, 500, 0, 7000);
    sb_count_request(&srv->procs[r_gone].c, SB_METHOD_HEAD, 304, 0, 1);
    sb_count_request(&srv->procs[r_gone].c, SB_METHOD_HEAD, 304, 0, 1);
    sb_count_request(&srv->procs[r_prefork].c, SB_METHOD_OTHER, 100, 0, 1);
    atomic_fetch_add(&srv->procs[r_old1].c.connections, 12);
    sb_server_release(srv, r_gone);
}

static const struct sbview_proc *proc_at(int i)
{
    ck_assert_int_lt(i, v.n_procs);
    return &v.procs[i];
}

static void assert_modes(const struct sbview_proc *p, const char *want)
{
    char got[THREADS + 2];
    int n = p->n_threads;
    ck_assert_int_le(n, THREADS);
    for (int t = 0; t < n; t++)
        got[t] = p->threads[t].mode;
    got[n] = '\0';
    ck_assert_msg(strcmp(got, want) == 0, "record %d: threads \"%s\", not \"%s\"", p->index,
                  got, want);
}

/* ---- take ------------------------------------------------------------------- */

START_TEST(test_take_header)
{
    build();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t before = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    take(2, 4, THREADS, 0);
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t after = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    ck_assert_int_ge(v.now_us, before);
    ck_assert_int_le(v.now_us, after);
    int64_t st = atomic_load(&srv->start_time);
    ck_assert_int_eq(v.start_time, st);
    ck_assert_int_eq(v.restart_time, st + 60);
    ck_assert_int_eq(v.generation, 2);
    ck_assert_uint_eq(v.restarts, 2);
    ck_assert_uint_eq(v.child_crashes, 3);
    ck_assert_uint_eq(v.children_started, 0);   /* the supervisor counts forks */
    ck_assert_int_eq(v.server_limit, 4);
    ck_assert_int_eq(v.threads_per_child, THREADS);
}
END_TEST

/* The generation shown is the newer of the server's and the reader's. */
START_TEST(test_take_generation)
{
    build();
    take(1, 4, THREADS, 0);
    ck_assert_int_eq(v.generation, 2);
    take(3, 4, THREADS, 0);
    ck_assert_int_eq(v.generation, 3);
}
END_TEST

/* Live children only (not a record claimed before its fork, not a free or
 * released one), current generation first by slot, then older ones, newer
 * first. */
START_TEST(test_take_process_order)
{
    build();
    take(2, 4, THREADS, 0);
    ck_assert_int_eq(v.n_procs, 5);
    ck_assert_int_eq(v.processes, 5);
    ck_assert_int_eq(v.stopping, 2);
    static const struct { int *index; pid_t pid; int gen, slot, state; } want[] = {
        {&r_cur0, 1000, 2, 0, SB_CHILD_READY},
        {&r_cur1, 1001, 2, 1, SB_CHILD_READY},
        {&r_start, 1002, 2, 2, SB_CHILD_STARTING},
        {&r_old1, 900, 1, 0, SB_CHILD_STOPPING},
        {&r_old0, 800, 0, 5, SB_CHILD_STOPPING},
    };
    for (int i = 0; i < 5; i++) {
        const struct sbview_proc *p = proc_at(i);
        ck_assert_msg(p->index == *want[i].index, "position %d: record %d, not %d", i,
                      p->index, *want[i].index);
        ck_assert_int_eq(p->pid, want[i].pid);
        ck_assert_int_eq(p->generation, want[i].gen);
        ck_assert_int_eq(p->slot, want[i].slot);
        ck_assert_int_eq(p->state, want[i].state);
        ck_assert_int_gt(p->started, 0);
    }
}
END_TEST

/* The thread characters and the busy / idle / graceful counts. */
START_TEST(test_take_thread_modes)
{
    build();
    take(2, 4, THREADS, 0);
    ck_assert_int_eq(v.n_procs, 5);
    /* slot 0: READY child: _ _ R C: 2 idle, 2 busy (the READY listener is no thread) */
    assert_modes(proc_at(0), "__RC");
    ck_assert_int_eq(proc_at(0)->idle, 2);
    ck_assert_int_eq(proc_at(0)->busy, 2);
    ck_assert_int_eq(proc_at(0)->graceful, 0);
    ck_assert_int_eq(proc_at(0)->n_threads, 4);
    /* slot 1: _ W K . (a dead thread: neither) */
    assert_modes(proc_at(1), "_WK.");
    ck_assert_int_eq(proc_at(1)->idle, 1);
    ck_assert_int_eq(proc_at(1)->busy, 2);
    ck_assert_int_eq(proc_at(1)->graceful, 0);
    /* STARTING: every thread 'S', neither busy nor idle */
    assert_modes(proc_at(2), "SS");
    ck_assert_int_eq(proc_at(2)->idle, 0);
    ck_assert_int_eq(proc_at(2)->busy, 0);
    ck_assert_int_eq(proc_at(2)->graceful, 0);
    /* STOPPING: busy threads 'G', idle and dead ones '.' */
    assert_modes(proc_at(3), "G..");
    ck_assert_int_eq(proc_at(3)->graceful, 1);
    ck_assert_int_eq(proc_at(3)->busy, 0);
    ck_assert_int_eq(proc_at(3)->idle, 0);
    ck_assert_int_eq(proc_at(3)->n_threads, 3);
    assert_modes(proc_at(4), "GG");
    ck_assert_int_eq(proc_at(4)->graceful, 2);
    /* Totals over every live child. */
    ck_assert_int_eq(v.busy, 4);
    ck_assert_int_eq(v.idle, 3);
    ck_assert_int_eq(v.graceful, 3);
    /* The listener's character is read too (threads[n_threads]). */
    ck_assert_int_eq(proc_at(0)->threads[4].mode, '_');
}
END_TEST

/* Connections by state and queued, per child and summed; a negative count
 * (a state change half seen) reads as 0; hidden records add nothing. */
START_TEST(test_take_conns)
{
    build();
    take(2, 4, THREADS, 0);
    static const int want[SB_CONN_STATES] = { 1, 2, 2, 3, 1, 1, 2 };
    for (int s = 0; s < SB_CONN_STATES; s++)
        ck_assert_msg(v.conns[s] == want[s], "conns[%d] %d, not %d", s, v.conns[s], want[s]);
    ck_assert_int_eq(v.conns_total, 12);
    ck_assert_int_eq(v.queued, 3);
    ck_assert_int_eq(proc_at(0)->conns_total, 6);
    ck_assert_int_eq(proc_at(0)->conns[SB_CONN_SUSPENDED], 2);
    ck_assert_int_eq(proc_at(0)->queued, 1);
    ck_assert_int_eq(proc_at(1)->conns_total, 4);
    ck_assert_int_eq(proc_at(1)->queued, 2);
    ck_assert_int_eq(proc_at(2)->conns_total, 0);
    ck_assert_int_eq(proc_at(3)->conns[SB_CONN_KEEPALIVE], 0);
    ck_assert_int_eq(proc_at(3)->conns_total, 2);
}
END_TEST

/* Requests per child: its handler threads' plus its listener's; the
 * totals: the counters of every child, live or exited. */
START_TEST(test_take_requests)
{
    build();
    take(2, 4, THREADS, 0);
    ck_assert_uint_eq(proc_at(0)->requests, 7 + 8 + 9 + 10 + 3);
    ck_assert_uint_eq(proc_at(1)->requests, 10 + 11 + 12 + 13 + 5);
    ck_assert_uint_eq(proc_at(2)->requests, 0 + 1);
    ck_assert_uint_eq(proc_at(3)->requests, 1 + 2 + 3 + 4);   /* not its 4th record's 1000 */
    ck_assert_uint_eq(proc_at(4)->requests, 0 + 1);
    /* 3 GET 2xx + 1 POST 5xx (live) + 2 HEAD 3xx (released) + 1 OTHER 1xx
     * (a record claimed before its fork counts in the totals). */
    ck_assert_uint_eq(v.requests, 7);
    ck_assert_uint_eq(ld64(&v.totals.requests[SB_METHOD_GET][1]), 3);
    ck_assert_uint_eq(ld64(&v.totals.requests[SB_METHOD_POST][4]), 1);
    ck_assert_uint_eq(ld64(&v.totals.requests[SB_METHOD_HEAD][2]), 2);
    ck_assert_uint_eq(ld64(&v.totals.requests[SB_METHOD_OTHER][0]), 1);
    ck_assert_uint_eq(ld64(&v.totals.body_bytes), 300);
    ck_assert_uint_eq(ld64(&v.totals.duration_us), 3000 + 7000 + 3);
    ck_assert_uint_eq(ld64(&v.totals.duration_bucket[0]), 6);
    ck_assert_uint_eq(ld64(&v.totals.duration_bucket[1]), 1);
    ck_assert_uint_eq(ld64(&v.totals.connections), 12);
}
END_TEST

/* A thread count out of range reads as the record's room. */
START_TEST(test_take_thread_count_clamped)
{
    build();
    atomic_store(&srv->procs[r_cur0].threads, 100);
    atomic_store(&srv->procs[r_cur1].threads, -3);
    take(2, 4, THREADS, 0);
    ck_assert_int_eq(proc_at(0)->n_threads, THREADS);
    ck_assert_int_eq(proc_at(1)->n_threads, THREADS);
    assert_modes(proc_at(0), "__RC");
}
END_TEST

/* ExtendedStatus copies each thread's request record; without it they
 * read as zero / empty. */
START_TEST(test_take_extended)
{
    build();
    struct sb_thread *th = sb_server_thread(srv, r_cur1, 1);
    atomic_store(&th->bytes, 4096);
    atomic_store(&th->last_start_us, (int64_t)1700000000 * 1000000);
    atomic_store(&th->last_dur_us, -1);
    atomic_store(&th->dur_sum_us, 12345);
    sb_text_put(th->client, SB_CLIENT_WORDS, "192.0.2.7", 9);
    sb_text_put(th->vhost, SB_VHOST_WORDS, "www.example.org:80", 18);
    const char *req = "GET /a/very/long/path/that/goes/on/and/on/past/sixty-three/bytes HTTP/1.1";
    sb_text_put(th->request, SB_REQUEST_WORDS, req, strlen(req));
    atomic_store(&sb_server_thread(srv, r_cur1, 0)->bytes, 100);
    atomic_store(&sb_server_thread(srv, r_cur1, THREADS)->bytes, 7);   /* the listener */

    take(2, 4, THREADS, 1);
    const struct sbview_proc *p = proc_at(1);
    ck_assert_int_eq(p->index, r_cur1);
    const struct sbview_thread *t = &p->threads[1];
    ck_assert_int_eq(t->mode, 'W');
    ck_assert_uint_eq(t->requests, 11);
    ck_assert_uint_eq(t->bytes, 4096);
    ck_assert_int_eq(t->last_start_us, (int64_t)1700000000 * 1000000);
    ck_assert_int_eq(t->last_dur_us, -1);
    ck_assert_uint_eq(t->dur_sum_us, 12345);
    ck_assert_str_eq(t->client, "192.0.2.7");
    ck_assert_str_eq(t->vhost, "www.example.org:80");
    ck_assert_uint_eq(strlen(t->request), 63);
    ck_assert_int_eq(strncmp(t->request, req, 63), 0);
    ck_assert_uint_eq(p->bytes, 4096 + 100 + 7);
    ck_assert_str_eq(p->threads[0].client, "");

    take(2, 4, THREADS, 0);
    t = &proc_at(1)->threads[1];
    ck_assert_int_eq(t->mode, 'W');
    ck_assert_uint_eq(t->requests, 11);
    ck_assert_uint_eq(t->bytes, 0);
    ck_assert_int_eq(t->last_dur_us, 0);
    ck_assert_str_eq(t->client, "");
    ck_assert_str_eq(t->request, "");
    ck_assert_uint_eq(proc_at(1)->bytes, 0);
}
END_TEST

/* An empty server: no process, zero totals; sbview_free leaves the view
 * empty and may be called again. */
START_TEST(test_take_empty)
{
    srv = sb_server_create(2, 2);
    ck_assert_ptr_nonnull(srv);
    take(1, 2, 2, 1);
    ck_assert_int_eq(v.n_procs, 0);
    ck_assert_int_eq(v.processes, 0);
    ck_assert_int_eq(v.busy + v.idle + v.graceful, 0);
    ck_assert_uint_eq(v.requests, 0);
    char *g = sbview_grid(&v);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g, "....");
    free(g);
    sbview_free(&v);
    ck_assert_ptr_null(v.procs);
    ck_assert_int_eq(v.n_procs, 0);
    sbview_free(&v);
    have_view = 0;
}
END_TEST

/* ---- grid ------------------------------------------------------------------- */

/* ServerLimit 4 x 4 places: slot 0, 1, 2 at their offsets (a STARTING
 * child's 2 threads 'S', the rest of its row '.'), slot 3 empty ('.': its
 * record is not forked yet), then generation 1's three threads and
 * generation 0's two, in the order of the processes. */
START_TEST(test_grid)
{
    build();
    take(2, 4, THREADS, 0);
    char *g = sbview_grid(&v);
    ck_assert_ptr_nonnull(g);
    /* the old generation's first child takes the free slot 3; the second
     * finds none and goes at the end */
    ck_assert_uint_eq(strlen(g), 4 * 4 + 2);
    ck_assert_str_eq(g, "__RC" "_WK." "SS.." "G..." "GG");
    free(g);
}
END_TEST

/* A reader with a larger ServerLimit / ThreadsPerChild: rows as wide as
 * its ThreadsPerChild, as many as its ServerLimit, '.' beyond each
 * child's threads. */
START_TEST(test_grid_reader_shape)
{
    build();
    take(2, 5, 6, 0);
    char *g = sbview_grid(&v);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(strlen(g), 5 * 6);  /* both old children fit free slots */
    ck_assert_str_eq(g, "__RC.." "_WK..." "SS...." "G....." "GG....");
    free(g);
}
END_TEST

/* A reader of a newer generation than any child: every child is an old
 * one; those that fit a slot (2 threads) take the free slots, the others
 * go after the ServerLimit x ThreadsPerChild places. */
START_TEST(test_grid_all_old)
{
    build();
    take(3, 2, 2, 0);
    ck_assert_int_eq(v.generation, 3);
    char *g = sbview_grid(&v);
    ck_assert_ptr_nonnull(g);
    ck_assert_str_eq(g, "SS" "GG" "__RC" "_WK." "G..");
    free(g);
}
END_TEST

/* ---- tbuf ------------------------------------------------------------------- */

static void tb_free(struct tbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

START_TEST(test_tb_html)
{
    struct tbuf b = { 0 };
    tb_html(&b, "");
    ck_assert_uint_eq(b.len, 0);
    tb_html(&b, "<a href=\"x?a=1&b=2\">it's</a> > \xc3\xa9");
    ck_assert_str_eq(b.p, "&lt;a href=&quot;x?a=1&amp;b=2&quot;&gt;it's&lt;/a&gt; &gt; \xc3\xa9");
    ck_assert_uint_eq(b.len, strlen(b.p));
    ck_assert_int_eq(b.failed, 0);
    tb_free(&b);
    tb_html(&b, "&&&");
    ck_assert_str_eq(b.p, "&amp;&amp;&amp;");
    tb_free(&b);
}
END_TEST

START_TEST(test_tb_json)
{
    struct tbuf b = { 0 };
    tb_puts(&b, "\"");
    tb_json(&b, "q\"b\\s/\n\r\t\x01\x1f\x7f \xc3\xa9~\xff\xc3(");
    tb_puts(&b, "\"");
    /* valid UTF-8 (é) stays as it is; stray bytes become \u00XX */
    ck_assert_str_eq(b.p, "\"q\\\"b\\\\s/\\u000a\\u000d\\u0009\\u0001\\u001f\\u007f "
                          "\xc3\xa9~\\u00ff\\u00c3(\"");
    ck_assert_msg(json_valid(b.p, b.len), "not JSON: %s", b.p);
    tb_free(&b);
    /* Every byte value: still one valid JSON string. */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    tb_puts(&b, "\"");
    tb_json(&b, all);
    tb_puts(&b, "\"");
    ck_assert_msg(json_valid(b.p, b.len), "not JSON: %s", b.p);
    tb_free(&b);
}
END_TEST

/* tb_printf past the first 4096 bytes: one 5000-byte piece into an empty
 * buffer, then many small ones; the text is whole and NUL-terminated. */
START_TEST(test_tb_printf_growth)
{
    struct tbuf b = { 0 };
    char big[5001];
    memset(big, 'x', 5000);
    big[5000] = '\0';
    tb_printf(&b, "%s", big);
    ck_assert_uint_eq(b.len, 5000);
    ck_assert_uint_ge(b.cap, 5001);
    ck_assert_str_eq(b.p, big);
    for (int i = 0; i < 1000; i++)
        tb_printf(&b, "[%04d]", i);
    ck_assert_uint_eq(b.len, 5000 + 6 * 1000);
    ck_assert_uint_ge(b.cap, b.len + 1);
    ck_assert_uint_eq(strlen(b.p), b.len);
    ck_assert_int_eq(memcmp(b.p + 5000, "[0000][0001]", 12), 0);
    ck_assert_int_eq(memcmp(b.p + b.len - 6, "[0999]", 6), 0);
    ck_assert_int_eq(b.failed, 0);
    tb_free(&b);

    /* Growth at the edge: 4095 bytes fit the first 4096 with the NUL, the
     * 4096th makes it grow. */
    char fill[4096];
    memset(fill, 'y', sizeof fill);
    tb_put(&b, fill, 4095);
    ck_assert_uint_eq(b.cap, 4096);
    tb_printf(&b, "%c", 'z');
    ck_assert_uint_gt(b.cap, 4096);
    ck_assert_uint_eq(b.len, 4096);
    ck_assert_int_eq(b.p[4095], 'z');
    ck_assert_int_eq(b.p[4096], '\0');
    tb_printf(&b, "%s=%d;%s", "n", -42, "");
    ck_assert_str_eq(b.p + 4096, "n=-42;");
    tb_printf(&b, "%s", "");
    ck_assert_uint_eq(b.len, 4102);
    tb_free(&b);
}
END_TEST

/* A buffer that failed (out of memory) takes nothing more. */
START_TEST(test_tb_failed_sticks)
{
    struct tbuf b = { 0 };
    tb_puts(&b, "abc");
    b.failed = 1;
    tb_puts(&b, "def");
    tb_printf(&b, "%d", 5);
    tb_html(&b, "<");
    tb_json(&b, "\n");
    ck_assert_uint_eq(b.len, 3);
    ck_assert_str_eq(b.p, "abc");
    tb_free(&b);
}
END_TEST

Suite *sbview_suite(void)
{
    Suite *s = suite_create("sbview");
    TCase *tc = tcase_create("take");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_take_header);
    tcase_add_test(tc, test_take_generation);
    tcase_add_test(tc, test_take_process_order);
    tcase_add_test(tc, test_take_thread_modes);
    tcase_add_test(tc, test_take_conns);
    tcase_add_test(tc, test_take_requests);
    tcase_add_test(tc, test_take_thread_count_clamped);
    tcase_add_test(tc, test_take_extended);
    tcase_add_test(tc, test_take_empty);
    suite_add_tcase(s, tc);

    tc = tcase_create("grid");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_grid);
    tcase_add_test(tc, test_grid_reader_shape);
    tcase_add_test(tc, test_grid_all_old);
    suite_add_tcase(s, tc);

    tc = tcase_create("tbuf");
    tcase_add_test(tc, test_tb_html);
    tcase_add_test(tc, test_tb_json);
    tcase_add_test(tc, test_tb_printf_growth);
    tcase_add_test(tc, test_tb_failed_sticks);
    suite_add_tcase(s, tc);
    return s;
}
