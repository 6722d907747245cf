/* sbview.c: a reading of the server's scoreboard for server-status and
 * metrics (see sbview.h).  Runs on whichever thread answers the request;
 * it only reads shared memory. */
#include "config.h"

#include "mpmd/modules/sbview.h"

#include "mpmd/core/config.h"
#include "mpmd/core/logformat.h"
#include "mpmd/http/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char thread_mode(int proc_state, int thread_state)
{
    if (proc_state == SB_CHILD_STARTING)
        return 'S';
    int busy = thread_state != SB_THREAD_DEAD && thread_state != SB_THREAD_READY;
    if (proc_state == SB_CHILD_STOPPING)
        return busy ? 'G' : '.';
    switch (thread_state) {
    case SB_THREAD_READY: return '_';
    case SB_THREAD_READING: return 'R';
    case SB_THREAD_WRITING: return 'W';
    case SB_THREAD_KEEPALIVE: return 'K';
    case SB_THREAD_CLOSING: return 'C';
    default: return '.';
    }
}

static void read_thread(struct sbview_thread *out, const struct sb_thread *th, int proc_state,
                        int extended)
{
    out->mode = thread_mode(proc_state, atomic_load_explicit(&th->state, memory_order_relaxed));
    out->requests = atomic_load_explicit(&th->requests, memory_order_relaxed);
    if (!extended)
        return;
    out->bytes = atomic_load_explicit(&th->bytes, memory_order_relaxed);
    out->last_start_us = atomic_load_explicit(&th->last_start_us, memory_order_relaxed);
    out->last_dur_us = atomic_load_explicit(&th->last_dur_us, memory_order_relaxed);
    out->dur_sum_us = atomic_load_explicit(&th->dur_sum_us, memory_order_relaxed);
    sb_text_get(th->client, SB_CLIENT_WORDS, out->client);
    sb_text_get(th->vhost, SB_VHOST_WORDS, out->vhost);
    sb_text_get(th->request, SB_REQUEST_WORDS, out->request);
}

static int read_proc(struct sbview_proc *out, const struct sb_server *srv, int i, int extended)
{
    const struct sb_proc *p = &srv->procs[i];
    out->index = i;
    out->pid = atomic_load_explicit(&p->pid, memory_order_relaxed);
    out->generation = atomic_load_explicit(&p->generation, memory_order_relaxed);
    out->slot = atomic_load_explicit(&p->slot, memory_order_relaxed);
    out->state = atomic_load_explicit(&p->state, memory_order_relaxed);
    out->started = atomic_load_explicit(&p->started, memory_order_relaxed);
    out->queued = atomic_load_explicit(&p->queued, memory_order_relaxed);
    out->conns_total = 0;
    for (int s = 0; s < SB_CONN_STATES; s++) {
        out->conns[s] = atomic_load_explicit(&p->conns[s], memory_order_relaxed);
        if (out->conns[s] < 0)
            out->conns[s] = 0;      /* a state change half seen */
        out->conns_total += out->conns[s];
    }
    int n = atomic_load_explicit(&p->threads, memory_order_relaxed);
    if (n < 0 || n > srv->threads_per_proc)
        n = srv->threads_per_proc;
    out->n_threads = n;
    out->threads = calloc((size_t)n + 1, sizeof *out->threads);
    if (!out->threads)
        return -1;
    for (int t = 0; t <= n; t++) {
        struct sbview_thread *vt = &out->threads[t];
        read_thread(vt, sb_server_thread(srv, i, t == n ? srv->threads_per_proc : t), out->state,
                    extended);
        out->requests += vt->requests;
        out->bytes += vt->bytes;
        if (t == n)
            break;                  /* the listener is no handler thread */
        if (vt->mode == '_')
            out->idle++;
        else if (vt->mode == 'G')
            out->graceful++;
        else if (vt->mode != '.' && vt->mode != 'S')
            out->busy++;
    }
    return 0;
}

/* Current generation first, by slot; then older ones by generation. */
static int proc_order(const void *a, const void *b)
{
    const struct sbview_proc *x = a, *y = b;
    if (x->generation != y->generation)
        return x->generation > y->generation ? -1 : 1;
    return x->slot - y->slot;
}

static void add_proc_totals(struct sbview *v, const struct sbview_proc *p)
{
    v->processes++;
    v->stopping += p->state == SB_CHILD_STOPPING;
    v->busy += p->busy;
    v->idle += p->idle;
    v->graceful += p->graceful;
    v->queued += p->queued;
    v->conns_total += p->conns_total;
    for (int s = 0; s < SB_CONN_STATES; s++)
        v->conns[s] += p->conns[s];
}

int sbview_take(struct sbview *v, const struct sb_server *srv, int generation, int server_limit,
                int threads, int extended)
{
    memset(v, 0, sizeof *v);
    v->now_us = realtime_us();
    v->start_time = atomic_load(&srv->start_time);
    v->restart_time = atomic_load(&srv->restart_time);
    v->generation = atomic_load(&srv->generation);
    if (v->generation < generation)
        v->generation = generation;
    v->restarts = atomic_load(&srv->restarts);
    v->child_crashes = atomic_load(&srv->child_crashes);
    v->children_started = atomic_load(&srv->children_started);
    /* The grid follows the current generation's configuration (the reader
     * may be an old child still finishing). */
    v->server_limit = atomic_load(&srv->server_limit);
    v->threads_per_child = atomic_load(&srv->threads_per_child);
    if (v->server_limit <= 0 || v->threads_per_child <= 0 || generation >= v->generation) {
        v->server_limit = server_limit;
        v->threads_per_child = threads;
    }
    sb_server_totals(srv, &v->totals);
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            v->requests += atomic_load_explicit(&v->totals.requests[m][s], memory_order_relaxed);
    v->procs = calloc((size_t)srv->n_procs, sizeof *v->procs);
    if (!v->procs)
        return -1;
    for (int i = 0; i < srv->n_procs; i++) {
        pid_t pid = atomic_load_explicit(&srv->procs[i].pid, memory_order_relaxed);
        int st = atomic_load_explicit(&srv->procs[i].state, memory_order_relaxed);
        if (pid <= 0 || st == SB_CHILD_FREE)
            continue;
        struct sbview_proc *p = &v->procs[v->n_procs];
        if (read_proc(p, srv, i, extended) == -1) {
            sbview_free(v);
            return -1;
        }
        v->n_procs++;
        add_proc_totals(v, p);
    }
    qsort(v->procs, (size_t)v->n_procs, sizeof *v->procs, proc_order);
    return 0;
}

void sbview_free(struct sbview *v)
{
    for (int i = 0; i < v->n_procs; i++)
        free(v->procs[i].threads);
    free(v->procs);
    v->procs = NULL;
    v->n_procs = 0;
}

/* The current generation's child in SLOT, if any. */
static int slot_taken(const struct sbview *v, int slot)
{
    for (int i = 0; i < v->n_procs; i++)
        if (v->procs[i].generation == v->generation && v->procs[i].slot == slot)
            return 1;
    return 0;
}

char *sbview_grid(const struct sbview *v)
{
    size_t per = (size_t)v->threads_per_child, n = (size_t)v->server_limit * per, most = n;
    for (int i = 0; i < v->n_procs; i++)
        if (v->procs[i].generation != v->generation)
            most += (size_t)v->procs[i].n_threads;
    char *g = malloc(most + 1);
    if (!g)
        return NULL;
    memset(g, '.', most);
    /* Children of older generations still finishing take slots the current
     * one leaves free, as in Apache, so the line keeps its length; one
     * with more threads than a slot holds, or finding none free, adds
     * places at the end. */
    int next_free = 0;
    size_t end = n;
    for (int i = 0; i < v->n_procs; i++) {
        const struct sbview_proc *p = &v->procs[i];
        char *at;
        if (p->generation == v->generation) {
            if (p->slot < 0 || p->slot >= v->server_limit)
                continue;
            at = g + (size_t)p->slot * per;
        } else {
            while (next_free < v->server_limit && slot_taken(v, next_free))
                next_free++;
            if (next_free < v->server_limit && (size_t)p->n_threads <= per) {
                at = g + (size_t)next_free++ * per;
            } else {
                at = g + end;
                end += (size_t)p->n_threads;
            }
        }
        for (int t = 0; t < p->n_threads && (size_t)t < (p->generation == v->generation ? per
                                                             : (size_t)p->n_threads); t++)
            at[t] = p->threads[t].mode;
    }
    g[end] = '\0';
    return g;
}

/* ---- text buffers ------------------------------------------------------ */

static int tb_reserve(struct tbuf *b, size_t n)
{
    if (b->failed)
        return -1;
    if (b->len + n + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void tb_put(struct tbuf *b, const char *s, size_t n)
{
    if (tb_reserve(b, n) == -1)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void tb_puts(struct tbuf *b, const char *s)
{
    tb_put(b, s, strlen(s));
}

void tb_printf(struct tbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || tb_reserve(b, (size_t)n) == -1)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tb_html(struct tbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': tb_puts(b, "&amp;"); break;
        case '<': tb_puts(b, "&lt;"); break;
        case '>': tb_puts(b, "&gt;"); break;
        case '"': tb_puts(b, "&quot;"); break;
        default: tb_put(b, s, 1);
        }
    }
}

void tb_json(struct tbuf *b, const char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        size_t n = c >= 0x80 ? logformat_utf8_char((const unsigned char *)s, strnlen(s, 4)) : 1;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            tb_put(b, e, 2);
        } else if (c < 0x20 || c == 0x7f || n == 0) {
            tb_printf(b, "\\u%04x", c);   /* a stray byte: kept visible, still JSON */
            n = 1;
        } else {
            tb_put(b, s, n);
        }
        s += n;
    }
}

/* ---- answering with a view --------------------------------------------- */

int sbview_for_request(struct sbview *v, const struct req_ctx *rq, struct reply *rp,
                       int extended)
{
    const struct config *cfg = rq->env->cfg;
    if (rq->method != HTTP_GET && rq->method != HTTP_HEAD) {
        reply_error(rp, rq->date, 405);
        response_head_add(&rp->out.head, "Allow", "GET, HEAD", 9);
        return -1;
    }
    if (sbview_take(v, rq->env->scoreboard, rq->env->generation, cfg->server_limit,
                    cfg->threads_per_child, extended) == -1) {
        reply_error(rp, rq->date, 500);
        return -1;
    }
    return 0;
}

static void release_text(void *a, void *b)
{
    (void)b;
    free(a);
}

int sbview_reply(const struct req_ctx *rq, struct reply *rp, struct tbuf *b, const char *type)
{
    if (b->failed) {
        free(b->p);
        reply_error(rp, rq->date, 500);
        return HANDLER_DONE;
    }
    reply_text(rp, rq->date, 200, type, b->p, b->len);
    response_head_add(&rp->out.head, "Cache-Control", "no-cache", 8);
    rp->out.release = release_text;
    rp->out.release_a = b->p;
    return HANDLER_DONE;
}
