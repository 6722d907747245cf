/* status.c: the "server-status" handler (Apache's mod_status): the
 * scoreboard as an HTML page, as Apache 2.4's machine-readable `?auto`
 * text (same keys, order and number formats, so apache_exporter, collectd
 * and other consumers work unchanged), and as JSON (`?json`).
 *
 * Runs on the listener thread in MPM event (`fast`: it only reads shared
 * memory and /proc) and on a handler thread in MPM worker (`handle`). */
#include "config.h"

#include "mpmd/modules/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/core/scoreboard.h"
#include "mpmd/core/version.h"
#include "mpmd/modules/sbview.h"

#ifndef MPMD_BUILD_DATE
#define MPMD_BUILD_DATE "unknown"
#endif

enum status_format { STATUS_HTML, STATUS_AUTO, STATUS_JSON };

struct status_query {
    enum status_format format;
    int refresh;                   /* seconds, 0: none */
    int notable;
};

/* Apache looks for the words anywhere in the raw query (mod_status.c):
 * "auto", "notable", "refresh" with an optional "=N" (10 when missing,
 * zero or not a number).  "json" is mpmd's. */
static struct status_query parse_query(const char *q, size_t len)
{
    struct status_query sq = { STATUS_HTML, 0, 0 };
    char buf[256];
    if (!q || len == 0)
        return sq;
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, q, len);
    buf[len] = '\0';
    if (strstr(buf, "json"))
        sq.format = STATUS_JSON;
    else if (strstr(buf, "auto"))
        sq.format = STATUS_AUTO;
    sq.notable = strstr(buf, "notable") != NULL;
    const char *r = strstr(buf, "refresh");
    if (r) {
        sq.refresh = 10;
        if (r[7] == '=') {
            long n = strtol(r + 8, NULL, 10);
            if (n > 0 && n <= 86400)
                sq.refresh = (int)n;
        }
    }
    return sq;
}

/* ---- Apache's number formats ------------------------------------------- */

/* APR's %g (apr_gcvt with 6 digits, as ap_rprintf prints): no leading
 * zero (".24"), six significant digits with trailing zeros cut, fixed
 * notation unless more than four zeros would be implied or the number
 * is below 1e-4, exponents unpadded ("1.e+6"). */
static void apr_g(char *out, size_t size, double v)
{
    char digits[32], *p = out, *end = out + size - 1;
    int neg = v < 0;
    if (neg)
        v = -v;
    if (v == 0) {
        snprintf(out, size, "0");
        return;
    }
    snprintf(digits, sizeof digits, "%.5e", v);      /* d.ddddde[+-]XX */
    char d[6];
    d[0] = digits[0];
    memcpy(d + 1, digits + 2, 5);
    int decpt = atoi(strchr(digits, 'e') + 1) + 1;
    int nd = 6;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
#define PUT(c) do { if (p < end) *p++ = (c); } while (0)
    if (neg)
        PUT('-');
    if ((decpt >= 0 && decpt - nd > 4) || (decpt < 0 && decpt < -3)) {
        decpt--;
        PUT(d[0]);
        PUT('.');
        for (int i = 1; i < nd; i++)
            PUT(d[i]);
        PUT('e');
        PUT(decpt < 0 ? '-' : '+');
        char e[16];
        snprintf(e, sizeof e, "%d", decpt < 0 ? -decpt : decpt);
        for (char *x = e; *x; x++)
            PUT(*x);
    } else {
        if (decpt <= 0) {
            PUT('.');
            while (decpt < 0) {
                decpt++;
                PUT('0');
            }
        }
        for (int i = 1; i <= nd; i++) {
            PUT(d[i - 1]);
            if (i == decpt)
                PUT('.');
        }
        if (nd < decpt) {
            while (nd++ < decpt)
                PUT('0');
            PUT('.');
        }
        if (p > out && p[-1] == '.')
            p--;
    }
#undef PUT
    *p = '\0';
}

static void tb_g(struct tbuf *b, double v)
{
    char s[48];
    apr_g(s, sizeof s, v);
    tb_puts(b, s);
}

/* mod_status's show_time: " 1 day 2 hours 3 minutes 4 seconds", zero
 * parts left out. */
static void tb_uptime(struct tbuf *b, long t)
{
    long secs = t % 60, mins = (t / 60) % 60, hrs = (t / 3600) % 24, days = t / 86400;
    if (days)
        tb_printf(b, " %ld day%s", days, days == 1 ? "" : "s");
    if (hrs)
        tb_printf(b, " %ld hour%s", hrs, hrs == 1 ? "" : "s");
    if (mins)
        tb_printf(b, " %ld minute%s", mins, mins == 1 ? "" : "s");
    if (secs)
        tb_printf(b, " %ld second%s", secs, secs == 1 ? "" : "s");
}

/* "Saturday, 05-Dec-2026 02:54:28 UTC": Apache's DEFAULT_TIME_FORMAT, local time. */
static void tb_time(struct tbuf *b, time_t t)
{
    struct tm tm;
    char s[96];
    localtime_r(&t, &tm);
    strftime(s, sizeof s, "%A, %d-%b-%Y %H:%M:%S %Z", &tm);
    tb_puts(b, s);
}

/* format_byte_out / format_kbyte_out of mod_status.c. */
static void tb_bytes(struct tbuf *b, double bytes)
{
    if (bytes < 5 * 1024)
        tb_printf(b, "%d B", (int)bytes);
    else if (bytes < 1024.0 * 1024 / 2)
        tb_printf(b, "%.1f kB", bytes / 1024);
    else if (bytes < 1024.0 * 1024 * 1024 / 2)
        tb_printf(b, "%.1f MB", bytes / (1024.0 * 1024));
    else
        tb_printf(b, "%.1f GB", bytes / (1024.0 * 1024 * 1024));
}

static void tb_kbytes(struct tbuf *b, uint64_t kb)
{
    if (kb < 1024)
        tb_printf(b, "%d kB", (int)kb);
    else if (kb < 1048576)
        tb_printf(b, "%.1f MB", (double)kb / 1024);
    else
        tb_printf(b, "%.1f GB", (double)kb / 1048576);
}

/* ---- what every format shows ------------------------------------------- */

struct status_facts {
    const char *host;              /* the name the client asked for, no port */
    char via[64];                  /* the address it connected to, or "" */
    const char *mpm;
    long uptime;                   /* seconds since the last (re)start */
    double load[3];
    uint64_t accesses, kbytes, duration_ms;
    double cpu_user, cpu_sys, cpu_cuser, cpu_csys;   /* seconds, live children */
    int extended;
};

/* utime, stime, cutime, cstime of process PID in clock ticks, added to T. */
static void add_proc_cpu(pid_t pid, double t[4])
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');    /* the command name may hold spaces */
    unsigned long long v[4];
    /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime cutime cstime */
    if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu",
                    &v[0], &v[1], &v[2], &v[3]) == 4)
        for (int i = 0; i < 4; i++)
            t[i] += (double)v[i];
}

static void gather_facts(struct status_facts *f, const struct sbview *v, const struct req_ctx *rq)
{
    const struct config *cfg = rq->env->cfg;
    memset(f, 0, sizeof *f);
    f->mpm = cfg->mpm == MPM_WORKER ? "worker" : "event";
    f->extended = cfg->extended_status;
    f->uptime = (long)(v->now_us / 1000000 - v->restart_time);
    if (f->uptime < 0)
        f->uptime = 0;
    if (getloadavg(f->load, 3) != 3)
        f->load[0] = f->load[1] = f->load[2] = -1;
    f->accesses = v->requests;
    f->kbytes = atomic_load(&v->totals.body_bytes) / 1024;
    f->duration_ms = atomic_load(&v->totals.duration_us) / 1000;
    double ticks[4] = { 0, 0, 0, 0 }, hz = (double)sysconf(_SC_CLK_TCK);
    for (int i = 0; i < v->n_procs; i++)
        add_proc_cpu(v->procs[i].pid, ticks);
    if (hz <= 0)
        hz = 100;
    f->cpu_user = ticks[0] / hz;
    f->cpu_sys = ticks[1] / hz;
    f->cpu_cuser = ticks[2] / hz;
    f->cpu_csys = ticks[3] / hz;
}

/* ---- ?auto ------------------------------------------------------------- */

static void write_auto(struct tbuf *b, const struct status_facts *f, const struct sbview *v)
{
    tb_printf(b, "%s\n", f->host);
    tb_printf(b, "ServerVersion: %s\nServerMPM: %s\nServer Built: %s\n", MPMD_SERVER_TOKEN,
              f->mpm, MPMD_BUILD_DATE);
    tb_puts(b, "CurrentTime: ");
    tb_time(b, (time_t)(v->now_us / 1000000));
    tb_puts(b, "\nRestartTime: ");
    tb_time(b, (time_t)v->restart_time);
    tb_printf(b, "\nParentServerConfigGeneration: %d\nParentServerMPMGeneration: %d\n",
              v->generation, v->generation - 1);
    tb_printf(b, "ServerUptimeSeconds: %ld\nServerUptime:", f->uptime);
    tb_uptime(b, f->uptime);
    tb_printf(b, "\nLoad1: %.2f\nLoad5: %.2f\nLoad15: %.2f\n", f->load[0], f->load[1], f->load[2]);
    if (f->extended) {
        tb_printf(b, "Total Accesses: %llu\nTotal kBytes: %llu\nTotal Duration: %llu\n",
                  (unsigned long long)f->accesses, (unsigned long long)f->kbytes,
                  (unsigned long long)f->duration_ms);
        tb_puts(b, "CPUUser: ");
        tb_g(b, f->cpu_user);
        tb_puts(b, "\nCPUSystem: ");
        tb_g(b, f->cpu_sys);
        tb_puts(b, "\nCPUChildrenUser: ");
        tb_g(b, f->cpu_cuser);
        tb_puts(b, "\nCPUChildrenSystem: ");
        tb_g(b, f->cpu_csys);
        tb_puts(b, "\n");
        double cpu = f->cpu_user + f->cpu_sys + f->cpu_cuser + f->cpu_csys;
        if (cpu > 0 && f->uptime > 0) {
            tb_puts(b, "CPULoad: ");
            tb_g(b, cpu / (double)f->uptime * 100.);
            tb_puts(b, "\n");
        }
        tb_printf(b, "Uptime: %ld\n", f->uptime);
        if (f->uptime > 0) {
            tb_puts(b, "ReqPerSec: ");
            tb_g(b, (float)f->accesses / (float)f->uptime);
            tb_puts(b, "\nBytesPerSec: ");
            tb_g(b, 1024 * (float)f->kbytes / (float)f->uptime);
            tb_puts(b, "\n");
        }
        if (f->accesses > 0) {
            tb_puts(b, "BytesPerReq: ");
            tb_g(b, 1024 * (float)f->kbytes / (float)f->accesses);
            tb_puts(b, "\nDurationPerReq: ");
            tb_g(b, (float)f->duration_ms / (float)f->accesses);
            tb_puts(b, "\n");
        }
    }
    tb_printf(b, "BusyWorkers: %d\nGracefulWorkers: %d\nIdleWorkers: %d\n", v->busy, v->graceful,
              v->idle);
    tb_printf(b, "Processes: %d\nStopping: %d\nConnsTotal: %d\nConnsAsyncWaitIO: %d\n"
              "ConnsAsyncWriting: %d\nConnsAsyncKeepAlive: %d\nConnsAsyncClosing: %d\n",
              v->processes, v->stopping, v->conns_total,
              v->conns[SB_CONN_SUSPENDED] + v->conns[SB_CONN_TUNNEL], v->conns[SB_CONN_WRITING],
              v->conns[SB_CONN_KEEPALIVE], v->conns[SB_CONN_LINGERING]);
    char *grid = sbview_grid(v);
    tb_printf(b, "Scoreboard: %s\n", grid ? grid : "");
    free(grid);
}

/* ---- HTML -------------------------------------------------------------- */

static const char legend[] =
    "<p>Scoreboard Key:<br />\n"
    "\"<b><code>_</code></b>\" Waiting for Connection, \n"
    "\"<b><code>S</code></b>\" Starting up, \n"
    "\"<b><code>R</code></b>\" Reading Request,<br />\n"
    "\"<b><code>W</code></b>\" Sending Reply, \n"
    "\"<b><code>K</code></b>\" Keepalive (read), \n"
    "\"<b><code>D</code></b>\" DNS Lookup,<br />\n"
    "\"<b><code>C</code></b>\" Closing connection, \n"
    "\"<b><code>L</code></b>\" Logging, \n"
    "\"<b><code>G</code></b>\" Gracefully finishing,<br /> \n"
    "\"<b><code>I</code></b>\" Idle cleanup of worker, \n"
    "\"<b><code>.</code></b>\" Open slot with no current process<br />\n"
    "</p>\n";

static const char worker_key[] =
    "</table>\n <hr /> <table>\n"
    " <tr><th>Srv</th><td>Child Server number - generation</td></tr>\n"
    " <tr><th>PID</th><td>OS process ID</td></tr>\n"
    " <tr><th>Acc</th><td>Number of accesses this connection / this child / this slot</td></tr>\n"
    " <tr><th>M</th><td>Mode of operation</td></tr>\n"
    "<tr><th>CPU</th><td>CPU usage, number of seconds</td></tr>\n"
    "<tr><th>SS</th><td>Seconds since beginning of most recent request</td></tr>\n"
    " <tr><th>Req</th><td>Milliseconds required to process most recent request</td></tr>\n"
    " <tr><th>Dur</th><td>Sum of milliseconds required to process all requests</td></tr>\n"
    " <tr><th>Conn</th><td>Kilobytes transferred this connection</td></tr>\n"
    " <tr><th>Child</th><td>Megabytes transferred this child</td></tr>\n"
    " <tr><th>Slot</th><td>Total megabytes transferred this slot</td></tr>\n"
    " </table>\n";

static void html_summary(struct tbuf *b, const struct status_facts *f, const struct sbview *v)
{
    tb_printf(b, "<dl><dt>Server Version: %s</dt>\n<dt>Server MPM: %s</dt>\n"
              "<dt>Server Built: %s\n</dt></dl><hr /><dl>\n", MPMD_SERVER_TOKEN, f->mpm,
              MPMD_BUILD_DATE);
    tb_puts(b, "<dt>Current Time: ");
    tb_time(b, (time_t)(v->now_us / 1000000));
    tb_puts(b, "</dt>\n<dt>Restart Time: ");
    tb_time(b, (time_t)v->restart_time);
    tb_printf(b, "</dt>\n<dt>Parent Server Config. Generation: %d</dt>\n"
              "<dt>Parent Server MPM Generation: %d</dt>\n<dt>Server uptime: ", v->generation,
              v->generation - 1);
    tb_uptime(b, f->uptime);
    tb_printf(b, "</dt>\n<dt>Server load: %.2f %.2f %.2f</dt>\n", f->load[0], f->load[1],
              f->load[2]);
    if (f->extended) {
        tb_printf(b, "<dt>Total accesses: %llu - Total Traffic: ", (unsigned long long)f->accesses);
        tb_kbytes(b, f->kbytes);
        tb_printf(b, " - Total Duration: %llu</dt>\n<dt>CPU Usage: u",
                  (unsigned long long)f->duration_ms);
        tb_g(b, f->cpu_user);
        tb_puts(b, " s");
        tb_g(b, f->cpu_sys);
        tb_puts(b, " cu");
        tb_g(b, f->cpu_cuser);
        tb_puts(b, " cs");
        tb_g(b, f->cpu_csys);
        double cpu = f->cpu_user + f->cpu_sys + f->cpu_cuser + f->cpu_csys;
        if (cpu > 0 && f->uptime > 0)
            tb_printf(b, " - %.3g%% CPU load", cpu / (double)f->uptime * 100.);
        tb_puts(b, "</dt>\n<dt>");
        if (f->uptime > 0) {
            tb_printf(b, "%.3g requests/sec - ", (float)f->accesses / (float)f->uptime);
            tb_bytes(b, 1024 * (float)f->kbytes / (float)f->uptime);
            tb_puts(b, "/second");
        }
        if (f->accesses > 0) {
            if (f->uptime > 0)
                tb_puts(b, " - ");
            tb_bytes(b, 1024 * (float)f->kbytes / (float)f->accesses);
            tb_puts(b, "/request - ");
            tb_g(b, (float)f->duration_ms / (float)f->accesses);
            tb_puts(b, " ms/request");
        }
        tb_puts(b, "</dt>\n");
    }
    tb_printf(b, "<dt>%d requests currently being processed, %d workers gracefully restarting, "
              "%d idle workers</dt>\n</dl>\n", v->busy, v->graceful, v->idle);
}

static const char *const state_names[] = { "free", "starting", "ready", "stopping" };

/* Apache's per-process table, with mpmd's reading, accesses, generation
 * and state columns at the end. */
static void html_processes(struct tbuf *b, const struct sbview *v)
{
    tb_puts(b, "\n\n<table rules=\"all\" cellpadding=\"1%\">\n"
            "<tr><th rowspan=\"2\">Slot</th><th rowspan=\"2\">PID</th><th rowspan=\"2\">Stopping"
            "</th><th colspan=\"2\">Connections</th>\n<th colspan=\"3\">Threads</th>"
            "<th colspan=\"5\">Async connections</th><th rowspan=\"2\">Accesses</th>"
            "<th rowspan=\"2\">Generation</th><th rowspan=\"2\">State</th></tr>\n"
            "<tr><th>total</th><th>accepting</th><th>busy</th><th>graceful</th><th>idle</th>"
            "<th>reading</th><th>wait-io</th><th>writing</th><th>keep-alive</th><th>closing</th>"
            "</tr>\n");
    uint64_t acc = 0;
    for (int i = 0; i < v->n_procs; i++) {
        const struct sbview_proc *p = &v->procs[i];
        int stopping = p->state == SB_CHILD_STOPPING;
        acc += p->requests;
        tb_printf(b, "<tr><td>%d</td><td>%ld</td><td>%s%s</td><td>%d</td><td>%s</td><td>%d</td>"
                  "<td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>"
                  "<td>%llu</td><td>%d</td><td>%s</td></tr>\n",
                  p->slot, (long)p->pid, stopping ? "yes" : "no",
                  p->generation != v->generation ? " (old gen)" : "", p->conns_total,
                  p->state == SB_CHILD_READY ? "yes" : "no", p->busy, p->graceful, p->idle,
                  p->conns[SB_CONN_READING], p->conns[SB_CONN_SUSPENDED] + p->conns[SB_CONN_TUNNEL],
                  p->conns[SB_CONN_WRITING], p->conns[SB_CONN_KEEPALIVE],
                  p->conns[SB_CONN_LINGERING], (unsigned long long)p->requests, p->generation,
                  state_names[p->state >= 0 && p->state < 4 ? p->state : 0]);
    }
    tb_printf(b, "<tr><td>Sum</td><td>%d</td><td>%d</td><td>%d</td><td>&nbsp;</td><td>%d</td>"
              "<td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td>"
              "<td>%llu</td><td>&nbsp;</td><td>&nbsp;</td></tr>\n</table>\n",
              v->processes, v->stopping, v->conns_total, v->busy, v->graceful, v->idle,
              v->conns[SB_CONN_READING], v->conns[SB_CONN_SUSPENDED] + v->conns[SB_CONN_TUNNEL],
              v->conns[SB_CONN_WRITING], v->conns[SB_CONN_KEEPALIVE],
              v->conns[SB_CONN_LINGERING], (unsigned long long)acc);
}

static void html_grid(struct tbuf *b, const struct sbview *v)
{
    char *grid = sbview_grid(v);
    tb_puts(b, "<pre>");
    for (size_t i = 0; grid && grid[i]; i++) {
        tb_put(b, &grid[i], 1);
        if (i % 64 == 63)
            tb_puts(b, "\n");
    }
    tb_puts(b, "</pre>\n");
    free(grid);
    tb_puts(b, legend);
}

static const char *mode_html(char m)
{
    switch (m) {
    case 'S': return "<b>S</b>";
    case 'R': return "<b>R</b>";
    case 'W': return "<b>W</b>";
    case 'K': return "<b>K</b>";
    case 'C': return "<b>C</b>";
    case '_': return "_";
    case 'G': return "G";
    default: return ".";
    }
}

/* Whether thread T of P (T == n_threads: the listener) gets a row or a
 * paragraph: it has answered something, or is busy now. */
static int thread_listed(const struct sbview_proc *p, int t)
{
    const struct sbview_thread *th = &p->threads[t];
    return th->requests > 0 || (t < p->n_threads && th->mode != '_' && th->mode != '.');
}

/* Seconds since TH's last request began (SS); that request's ms (Req). */
static void thread_times(const struct sbview *v, const struct sbview_thread *th, long *ss,
                         long *req)
{
    *ss = th->last_start_us ? (long)((v->now_us - th->last_start_us) / 1000000) : 0;
    *req = th->last_dur_us > 0 ? (long)(th->last_dur_us / 1000) : 0;
}

/* One row of the ExtendedStatus table: thread T of P (T == n_threads: its
 * listener, shown as Srv "slot-gen L"). */
static void html_worker_row(struct tbuf *b, const struct sbview *v, const struct sbview_proc *p,
                            int t)
{
    const struct sbview_thread *th = &p->threads[t];
    long ss, req;
    thread_times(v, th, &ss, &req);
    tb_printf(b, "<tr><td><b>%d-%d%s</b></td><td>%ld</td><td>0/%llu/%llu</td><td>%s\n</td>"
              "<td>0.00</td><td>%ld</td><td>%ld</td><td>%llu\n</td><td>0.0</td><td>%.2f</td>"
              "<td>%.2f\n</td><td>",
              p->slot, p->generation - 1, t == p->n_threads ? " L" : "", (long)p->pid,
              (unsigned long long)p->requests, (unsigned long long)th->requests,
              t == p->n_threads ? "&nbsp;" : mode_html(th->mode), ss, req,
              (unsigned long long)(th->dur_sum_us / 1000), (double)p->bytes / 1048576.0,
              (double)th->bytes / 1048576.0);
    tb_html(b, th->client);
    tb_puts(b, "</td><td>http/1.1</td><td nowrap>");
    tb_html(b, th->vhost);
    tb_puts(b, "</td><td nowrap>");
    tb_html(b, th->request);
    tb_puts(b, "</td></tr>\n\n");
}

static void html_workers(struct tbuf *b, const struct sbview *v)
{
    tb_puts(b, "\n\n<table border=\"0\"><tr><th>Srv</th><th>PID</th><th>Acc</th><th>M</th>"
            "<th>CPU\n</th><th>SS</th><th>Req</th><th>Dur</th><th>Conn</th><th>Child</th>"
            "<th>Slot</th><th>Client</th><th>Protocol</th><th>VHost</th><th>Request</th></tr>"
            "\n\n");
    for (int i = 0; i < v->n_procs; i++) {
        const struct sbview_proc *p = &v->procs[i];
        for (int t = 0; t <= p->n_threads; t++)
            if (thread_listed(p, t))
                html_worker_row(b, v, p, t);
    }
    tb_puts(b, worker_key);
}

static const char *mode_word(char m)
{
    switch (m) {
    case 'S': return "Starting";
    case 'R': return "<b>Read</b>";
    case 'W': return "<b>Write</b>";
    case 'K': return "<b>Keepalive</b>";
    case 'C': return "<b>Closing</b>";
    case '_': return "Ready";
    case 'G': return "Graceful";
    default: return "Dead";
    }
}

/* ?notable: Apache's "Server Details", a paragraph per thread instead of
 * the table (for narrow screens and text browsers). */
static void html_details(struct tbuf *b, const struct sbview *v)
{
    tb_puts(b, "<hr /><h2>Server Details</h2>\n\n");
    for (int i = 0; i < v->n_procs; i++) {
        const struct sbview_proc *p = &v->procs[i];
        for (int t = 0; t <= p->n_threads; t++) {
            const struct sbview_thread *th = &p->threads[t];
            long ss, req;
            if (!thread_listed(p, t))
                continue;
            thread_times(v, th, &ss, &req);
            tb_printf(b, "<b>Server %d-%d%s</b> (%ld): 0|%llu|%llu [%s] u0 s0 cu0 cs0\n"
                      " %ld %ld %llu(0 B|", p->slot, p->generation - 1,
                      t == p->n_threads ? " L" : "", (long)p->pid,
                      (unsigned long long)p->requests, (unsigned long long)th->requests,
                      t == p->n_threads ? "Listener" : mode_word(th->mode), ss, req,
                      (unsigned long long)(th->dur_sum_us / 1000));
            tb_bytes(b, (double)p->bytes);
            tb_puts(b, "|");
            tb_bytes(b, (double)th->bytes);
            tb_puts(b, ")\n <i>");
            tb_html(b, th->client);
            tb_puts(b, " {");
            tb_html(b, th->request);
            tb_puts(b, "}</i> <i>(http/1.1)</i> <b>[");
            tb_html(b, th->vhost);
            tb_puts(b, "]</b><br />\n\n");
        }
    }
}

static void html_pid_key(struct tbuf *b, const struct sbview *v)
{
    int k = 0;
    tb_puts(b, "PID Key: <br />\n<pre>\n");
    for (int i = 0; i < v->n_procs; i++)
        for (int t = 0; t < v->procs[i].n_threads; t++) {
            char m = v->procs[i].threads[t].mode;
            if (m == '.')
                continue;
            tb_printf(b, "   %ld in state: %c ", (long)v->procs[i].pid, m);
            tb_puts(b, ++k % 3 == 0 ? "\n" : ",");
        }
    tb_puts(b, "\n</pre>\n<hr />To obtain a full report with current status information you "
            "need to use the <code>ExtendedStatus On</code> directive.\n");
}

static void write_html(struct tbuf *b, const struct status_facts *f, const struct sbview *v,
                       int notable)
{
    tb_puts(b, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" "
            "\"http://www.w3.org/TR/html4/strict.dtd\">\n<html><head>\n"
            "<title>mpmd Status</title>\n</head><body>\n<h1>mpmd Server Status for ");
    tb_html(b, f->host);
    if (f->via[0]) {
        tb_puts(b, " (via ");
        tb_html(b, f->via);
        tb_puts(b, ")");
    }
    tb_puts(b, "</h1>\n\n");
    html_summary(b, f, v);
    html_processes(b, v);
    html_grid(b, v);
    if (f->extended && notable)
        html_details(b, v);
    else if (f->extended)
        html_workers(b, v);
    else
        html_pid_key(b, v);
    tb_puts(b, "</body></html>\n");
}

/* ---- ?json ------------------------------------------------------------- */

static void json_conns(struct tbuf *b, const int *conns, int total)
{
    tb_printf(b, "{\"total\": %d, \"reading\": %d, \"keepalive\": %d, \"handling\": %d, "
              "\"writing\": %d, \"lingering\": %d, \"tunnel\": %d, \"waiting_upstream\": %d}",
              total, conns[SB_CONN_READING], conns[SB_CONN_KEEPALIVE], conns[SB_CONN_HANDLING],
              conns[SB_CONN_WRITING], conns[SB_CONN_LINGERING], conns[SB_CONN_TUNNEL],
              conns[SB_CONN_SUSPENDED]);
}


static void json_thread(struct tbuf *b, const struct sbview_thread *th, int listener)
{
    tb_printf(b, "{\"mode\": \"%c\", \"listener\": %s, \"requests\": %llu, \"bytes\": %llu, "
              "\"duration_ms\": %llu, \"last_start\": %.6f, \"last_duration_ms\": %.3f, "
              "\"client\": \"", listener ? '-' : th->mode, listener ? "true" : "false",
              (unsigned long long)th->requests, (unsigned long long)th->bytes,
              (unsigned long long)(th->dur_sum_us / 1000), (double)th->last_start_us / 1e6,
              th->last_dur_us < 0 ? -1.0 : (double)th->last_dur_us / 1000.0);
    tb_json(b, th->client);
    tb_puts(b, "\", \"vhost\": \"");
    tb_json(b, th->vhost);
    tb_puts(b, "\", \"request\": \"");
    tb_json(b, th->request);
    tb_puts(b, "\"}");
}

static void json_process(struct tbuf *b, const struct sbview *v, const struct sbview_proc *p,
                         int extended)
{
    tb_printf(b, "{\"slot\": %d, \"pid\": %ld, \"generation\": %d, \"state\": \"%s\", "
              "\"old_generation\": %s, \"started\": %lld, \"accesses\": %llu, \"queued\": %d, "
              "\"threads\": {\"busy\": %d, \"idle\": %d, \"graceful\": %d}, \"connections\": ",
              p->slot, (long)p->pid, p->generation,
              state_names[p->state >= 0 && p->state < 4 ? p->state : 0],
              p->generation != v->generation ? "true" : "false", (long long)p->started,
              (unsigned long long)p->requests, p->queued, p->busy, p->idle, p->graceful);
    json_conns(b, p->conns, p->conns_total);
    if (extended) {
        tb_puts(b, ", \"workers\": [");
        for (int t = 0; t <= p->n_threads; t++) {
            tb_puts(b, t ? ", " : "");
            json_thread(b, &p->threads[t], t == p->n_threads);
        }
        tb_puts(b, "]");
    }
    tb_puts(b, "}");
}

static void write_json(struct tbuf *b, const struct status_facts *f, const struct sbview *v)
{
    tb_puts(b, "{\"server\": {\"name\": \"");
    tb_json(b, f->host);
    tb_printf(b, "\", \"version\": \"%s\", \"mpm\": \"%s\", \"built\": \"%s\", "
              "\"current_time\": %lld, \"start_time\": %lld, \"restart_time\": %lld, "
              "\"uptime_seconds\": %ld, \"config_generation\": %d, \"restarts\": %llu, "
              "\"child_crashes\": %llu, \"children_started\": %llu, \"load\": [%.2f, %.2f, %.2f], "
              "\"extended_status\": %s},\n",
              PACKAGE_VERSION, f->mpm, MPMD_BUILD_DATE, (long long)(v->now_us / 1000000),
              (long long)v->start_time, (long long)v->restart_time, f->uptime, v->generation,
              (unsigned long long)v->restarts, (unsigned long long)v->child_crashes,
              (unsigned long long)v->children_started, f->load[0], f->load[1], f->load[2],
              f->extended ? "true" : "false");
    tb_printf(b, " \"totals\": {\"accesses\": %llu, \"bytes\": %llu, \"duration_ms\": %llu, "
              "\"connections_accepted\": %llu, \"cpu\": {\"user\": %.2f, \"system\": %.2f, "
              "\"children_user\": %.2f, \"children_system\": %.2f}},\n",
              (unsigned long long)f->accesses,
              (unsigned long long)atomic_load(&v->totals.body_bytes),
              (unsigned long long)f->duration_ms,
              (unsigned long long)atomic_load(&v->totals.connections), f->cpu_user, f->cpu_sys,
              f->cpu_cuser, f->cpu_csys);
    tb_printf(b, " \"workers\": {\"busy\": %d, \"idle\": %d, \"graceful\": %d},\n"
              " \"processes\": {\"total\": %d, \"stopping\": %d},\n \"connections\": ",
              v->busy, v->idle, v->graceful, v->processes, v->stopping);
    json_conns(b, v->conns, v->conns_total);
    char *grid = sbview_grid(v);
    tb_printf(b, ",\n \"scoreboard\": \"%s\",\n \"children\": [", grid ? grid : "");
    free(grid);
    for (int i = 0; i < v->n_procs; i++) {
        tb_puts(b, i ? ",\n  " : "\n  ");
        json_process(b, v, &v->procs[i], f->extended);
    }
    tb_puts(b, "]}\n");
}

/* ---- the handler ------------------------------------------------------- */

/* The query string: after a local redirect its own, else the request's. */
static struct status_query request_query(const struct req_ctx *rq)
{
    size_t qlen;
    const char *query = handler_query(rq, &qlen);
    return parse_query(query, qlen);
}

static int status_answer(const struct req_ctx *rq, struct reply *rp)
{
    static const char *const types[] = { "text/html; charset=ISO-8859-1",
                                         "text/plain; charset=ISO-8859-1",
                                         "application/json" };
    struct status_query sq = request_query(rq);
    struct sbview v;
    struct tbuf b = { 0 };
    struct status_facts f;
    char host[256];
    size_t hlen;
    if (sbview_for_request(&v, rq, rp, rq->env->cfg->extended_status) == -1)
        return HANDLER_DONE;
    gather_facts(&f, &v, rq);
    f.host = http_request_host_name(rq->req, host, sizeof host, &hlen);
    if (!f.host)
        f.host = rq->site->server_name ? rq->site->server_name : "localhost";
    struct sockaddr_storage local;
    if (sq.format == STATUS_HTML && handler_local_addr(rq, &local) == 0)
        handler_addr_text((struct sockaddr *)&local, f.via, sizeof f.via, NULL);
    if (sq.format == STATUS_AUTO)
        write_auto(&b, &f, &v);
    else if (sq.format == STATUS_JSON)
        write_json(&b, &f, &v);
    else
        write_html(&b, &f, &v, sq.notable);
    sbview_free(&v);
    int r = sbview_reply(rq, rp, &b, types[sq.format]);
    if (sq.refresh && rp->status == 200)
        response_head_add_num(&rp->out.head, "Refresh", sq.refresh);
    return r;
}

const struct conf_module status_conf_module = {
    .name = "status",
    .handler = "server-status",
};

/* Memory, shared memory and /proc only: the same function on the listener
 * (MPM event) and on a handler thread (MPM worker). */
const struct handler status_handler = {
    .name = "server-status",
    .conf = &status_conf_module,
    .fast = status_answer,
    .handle = status_answer,
};
