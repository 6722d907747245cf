/* metrics.c: the "metrics" handler: the scoreboard in Prometheus' text
 * exposition format 0.0.4, under `mpmd_` names (units in the names,
 * counters ending in _total), checked by promtool's linter.
 *
 * Counters come from the server's scoreboard record, so they add up every
 * child, live or exited, and survive graceful restarts.  Labels are
 * bounded: method classes, status classes, connection and child states,
 * and the pid of each live child.
 *
 * Runs on the listener thread in MPM event (`fast`: memory only) and on a
 * handler thread in MPM worker (`handle`). */
#include "config.h"

#include "mpmd/modules/status.h"

#include <stdlib.h>
#include <string.h>

#include "mpmd/core/config.h"
#include "mpmd/core/scoreboard.h"
#include "mpmd/modules/sbview.h"

static const char *const method_names[SB_METHODS] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other",
};

static const char *const conn_state_names[SB_CONN_STATES] = {
    "reading", "keepalive", "handling", "writing", "lingering", "tunnel", "waiting_upstream",
};

static void family(struct tbuf *b, const char *name, const char *type, const char *help)
{
    tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit((_Atomic uint64_t *)v, memory_order_relaxed);
}

static void write_requests(struct tbuf *b, const struct sb_counters *t)
{
    family(b, "mpmd_http_requests_total", "counter",
           "HTTP requests answered, by method and status class.");
    for (int m = 0; m < SB_METHODS; m++)
        for (int s = 0; s < SB_STATUS_CLASSES; s++)
            tb_printf(b, "mpmd_http_requests_total{method=\"%s\",code=\"%dxx\"} %llu\n",
                      method_names[m], s + 1, (unsigned long long)load(&t->requests[m][s]));
    family(b, "mpmd_http_response_body_bytes_total", "counter",
           "Bytes of response bodies sent.");
    tb_printf(b, "mpmd_http_response_body_bytes_total %llu\n",
              (unsigned long long)load(&t->body_bytes));
    family(b, "mpmd_http_request_duration_seconds", "histogram",
           "Time from a request's first byte to the end of its response.");
    uint64_t cum = 0;
    for (int i = 0; i < SB_DURATION_BUCKETS; i++) {
        cum += load(&t->duration_bucket[i]);
        if (i == SB_DURATION_BUCKETS - 1)
            tb_printf(b, "mpmd_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cum);
        else
            tb_printf(b, "mpmd_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                      (double)sb_duration_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    tb_printf(b, "mpmd_http_request_duration_seconds_sum %.6f\n",
              (double)load(&t->duration_us) / 1e6);
    tb_printf(b, "mpmd_http_request_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void write_connections(struct tbuf *b, const struct sbview *v)
{
    const struct sb_counters *t = &v->totals;
    family(b, "mpmd_connections_accepted_total", "counter", "Client connections accepted.");
    tb_printf(b, "mpmd_connections_accepted_total %llu\n",
              (unsigned long long)load(&t->connections));
    family(b, "mpmd_connections", "gauge", "Client connections open now, by what they wait for.");
    for (int s = 0; s < SB_CONN_STATES; s++)
        tb_printf(b, "mpmd_connections{state=\"%s\"} %d\n", conn_state_names[s], v->conns[s]);
    family(b, "mpmd_connection_register_failures_total", "counter",
           "Connections closed because the event loop could not register them.");
    tb_printf(b, "mpmd_connection_register_failures_total %llu\n",
              (unsigned long long)load(&t->arm_failures));
}

static void write_children(struct tbuf *b, const struct sbview *v)
{
    family(b, "mpmd_handler_threads", "gauge", "Handler threads of each live child, by state.");
    for (int i = 0; i < v->n_procs; i++) {
        const struct sbview_proc *p = &v->procs[i];
        tb_printf(b, "mpmd_handler_threads{pid=\"%ld\",state=\"busy\"} %d\n"
                  "mpmd_handler_threads{pid=\"%ld\",state=\"idle\"} %d\n"
                  "mpmd_handler_threads{pid=\"%ld\",state=\"graceful\"} %d\n",
                  (long)p->pid, p->busy, (long)p->pid, p->idle, (long)p->pid, p->graceful);
    }
    family(b, "mpmd_work_queue_length", "gauge",
           "Requests of each live child waiting for a handler thread.");
    for (int i = 0; i < v->n_procs; i++)
        tb_printf(b, "mpmd_work_queue_length{pid=\"%ld\"} %d\n", (long)v->procs[i].pid,
                  v->procs[i].queued);
    family(b, "mpmd_children", "gauge", "Child processes, by state and generation.");
    static const char *const states[] = { "free", "starting", "ready", "stopping" };
    for (int st = 1; st < 4; st++) {
        int gens[8], counts[8], n = 0;
        for (int i = 0; i < v->n_procs; i++) {
            if (v->procs[i].state != st)
                continue;
            int k = 0;
            while (k < n && gens[k] != v->procs[i].generation)
                k++;
            if (k == n && n < 8) {
                gens[n] = v->procs[i].generation;
                counts[n++] = 0;
            }
            if (k < n)
                counts[k]++;
        }
        for (int k = 0; k < n; k++)
            tb_printf(b, "mpmd_children{state=\"%s\",generation=\"%d\"} %d\n", states[st],
                      gens[k], counts[k]);
    }
    family(b, "mpmd_children_started_total", "counter", "Child processes started.");
    tb_printf(b, "mpmd_children_started_total %llu\n", (unsigned long long)v->children_started);
    family(b, "mpmd_child_crashes_total", "counter",
           "Child processes that died of a signal or exited with an error unasked.");
    tb_printf(b, "mpmd_child_crashes_total %llu\n", (unsigned long long)v->child_crashes);
    family(b, "mpmd_restarts_total", "counter", "Graceful and full restarts since start.");
    tb_printf(b, "mpmd_restarts_total %llu\n", (unsigned long long)v->restarts);
    family(b, "mpmd_config_generation", "gauge", "The configuration generation serving now.");
    tb_printf(b, "mpmd_config_generation %d\n", v->generation);
}

static void write_server(struct tbuf *b, const struct sbview *v, const struct config *cfg)
{
    family(b, "mpmd_build_info", "gauge", "mpmd's version and MPM; always 1.");
    tb_printf(b, "mpmd_build_info{version=\"%s\",mpm=\"%s\"} 1\n", PACKAGE_VERSION,
              cfg->mpm == MPM_WORKER ? "worker" : "event");
    family(b, "mpmd_start_time_seconds", "gauge", "When the server started, in Unix time.");
    tb_printf(b, "mpmd_start_time_seconds %lld\n", (long long)v->start_time);
    family(b, "mpmd_restart_time_seconds", "gauge",
           "When the server last started or restarted, in Unix time.");
    tb_printf(b, "mpmd_restart_time_seconds %lld\n", (long long)v->restart_time);
    family(b, "mpmd_file_cache_hits_total", "counter", "Requests answered from the file cache.");
    tb_printf(b, "mpmd_file_cache_hits_total %llu\n",
              (unsigned long long)load(&v->totals.cache_hits));
    family(b, "mpmd_file_cache_misses_total", "counter",
           "Static-file requests the file cache could not answer.");
    tb_printf(b, "mpmd_file_cache_misses_total %llu\n",
              (unsigned long long)load(&v->totals.cache_misses));
}

/* A label value: \\, \" and newlines escaped (the text format's rule). */
static void label_value(struct tbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            tb_put(b, "\\", 1);
        if (*s == '\n')
            tb_puts(b, "\\n");
        else
            tb_put(b, s, 1);
    }
}

/* The upstreams every child proxied to (one record each, shared). */
static void write_upstreams(struct tbuf *b, const struct sb_server *srv)
{
    static const char *const fams[][3] = {
        {"mpmd_upstream_requests_total", "counter", "Requests proxied to each upstream."},
        {"mpmd_upstream_responses_total", "counter",
         "Answers each upstream gave, by status class."},
        {"mpmd_upstream_failures_total", "counter",
         "Requests mpmd answered itself because the upstream failed: 502 (refused, reset, "
         "malformed), 503 (busy or in its retry time), 504 (timed out)."},
        {"mpmd_upstream_request_duration_seconds", "histogram",
         "Time from a proxied request's first byte to its answer."},
    };
    for (int f = 0; f < 4; f++) {
        family(b, fams[f][0], fams[f][1], fams[f][2]);
        for (int i = 0; i < SB_UPSTREAMS; i++) {
            const struct sb_upstream *u = &srv->upstreams[i];
            if (atomic_load(&u->state) != SB_UPSTREAM_USED)
                continue;
            char name[SB_UPSTREAM_NAME_WORDS * 8 + 1];
            sb_text_get(u->name, SB_UPSTREAM_NAME_WORDS, name);
            struct tbuf lv = { 0 };
            label_value(&lv, name);
            const char *l = lv.p ? lv.p : "";
            if (f == 0) {
                tb_printf(b, "%s{upstream=\"%s\"} %llu\n", fams[f][0], l,
                          (unsigned long long)load(&u->requests));
            } else if (f == 1) {
                for (int s = 0; s < SB_STATUS_CLASSES; s++)
                    tb_printf(b, "%s{upstream=\"%s\",code=\"%dxx\"} %llu\n", fams[f][0], l,
                              s + 1, (unsigned long long)load(&u->responses[s]));
            } else if (f == 2) {
                for (int s = 0; s < 3; s++)
                    tb_printf(b, "%s{upstream=\"%s\",code=\"%d\"} %llu\n", fams[f][0], l,
                              502 + s, (unsigned long long)load(&u->failures[s]));
            } else {
                uint64_t cum = 0;
                for (int k = 0; k < SB_DURATION_BUCKETS; k++) {
                    cum += load(&u->duration_bucket[k]);
                    if (k == SB_DURATION_BUCKETS - 1)
                        tb_printf(b, "%s_bucket{upstream=\"%s\",le=\"+Inf\"} %llu\n",
                                  fams[f][0], l, (unsigned long long)cum);
                    else
                        tb_printf(b, "%s_bucket{upstream=\"%s\",le=\"%g\"} %llu\n", fams[f][0], l,
                                  (double)sb_duration_bounds_us[k] / 1e6, (unsigned long long)cum);
                }
                tb_printf(b, "%s_sum{upstream=\"%s\"} %.6f\n%s_count{upstream=\"%s\"} %llu\n",
                          fams[f][0], l, (double)load(&u->duration_us) / 1e6, fams[f][0], l,
                          (unsigned long long)cum);
            }
            free(lv.p);
        }
    }
}

static int metrics_answer(const struct req_ctx *rq, struct reply *rp)
{
    struct sbview v;
    struct tbuf b = { 0 };
    if (sbview_for_request(&v, rq, rp, 0) == -1)
        return HANDLER_DONE;
    write_server(&b, &v, rq->env->cfg);
    write_requests(&b, &v.totals);
    write_connections(&b, &v);
    write_children(&b, &v);
    write_upstreams(&b, rq->env->scoreboard);
    sbview_free(&v);
    return sbview_reply(rq, rp, &b, "text/plain; version=0.0.4; charset=utf-8");
}

const struct conf_module metrics_conf_module = {
    .name = "metrics",
    .handler = "metrics",
};

/* Memory and shared memory only: the same function on the listener
 * (MPM event) and on a handler thread (MPM worker). */
const struct handler metrics_handler = {
    .name = "metrics",
    .conf = &metrics_conf_module,
    .fast = metrics_answer,
    .handle = metrics_answer,
};
