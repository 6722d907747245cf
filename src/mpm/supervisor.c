/* supervisor.c: the supervisor process (see supervisor.h).
 *
 * One thread.  Signals are blocked and taken synchronously with
 * sigtimedwait() in the main loop, so there are no asynchronous handlers
 * and no flags to race on: the loop wakes at once for a signal, or every
 * second for maintenance (reap, respawn, spare-thread scaling).
 *
 * Generations: each (re)start loads a config and makes a scoreboard; the
 * children forked from it belong to that generation.  A restart makes a
 * new generation at once on the same listening sockets and tells the old
 * children to stop (gracefully for USR1, now for HUP); old children keep
 * writing their own copy of the old scoreboard, so they never take slots
 * from the new generation (Apache's "scoreboard is full" cannot happen).
 * A config that fails to load leaves the running generation alone.
 *
 * Each generation's scoreboard stays mapped while any of its children
 * lives (each struct kid holds a copy of its board's mapping; the last
 * one reaped unmaps it), so the supervisor can see old children stop.
 *
 * Each child gets a control pipe; a byte on it (child.h CONTROL_*) or
 * its closing is how the supervisor asks a child to stop.
 *
 * Readiness: a generation is ready once StartServers of its children
 * accept and no older child still does.  The main loop polls for that
 * (every 20 ms while waiting, bounded by READY_WAIT_SECONDS), then tells
 * systemd READY=1 and writes "generation N ready reload R" to the state
 * file next to the PidFile (PidFile.state; mpmd -k graceful-wait reads
 * it).  The loop also sends systemd a STATUS= summary every few seconds
 * and, with WatchdogSec=, WATCHDOG=1: a wedged loop trips the watchdog.
 * Without libsystemd the sd_* calls do nothing; the state file remains. */
#include "config.h"

#include "mpmd/mpm/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/mpm/bind.h"
#include "mpmd/mpm/child.h"
#include "mpmd/mpm/listener.h"
#include "mpmd/mpm/upgrade.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/tls_io.h"
#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/mime.h"
#include "mpmd/core/scoreboard.h"
#include "mpmd/core/sd.h"

#define QUICK_DEATH_SECONDS 2     /* a child dying this soon counts as failing */
#define MAX_RESPAWN_DELAY 60
#define MAX_SPAWN_RATE 32         /* Apache's MAX_SPAWN_RATE */
#define DEFAULT_STOP_GRACE 5      /* TERM/HUP when GracefulShutdownTimeout is 0 */
#define READY_WAIT_SECONDS 20     /* a generation not accepting by then is reported anyway */
#define READY_POLL_USEC 20000     /* main-loop tick while waiting for readiness */
#define STATUS_USEC 3000000       /* STATUS= summary to systemd this often */
#define LOOP_USEC 1000000         /* main-loop tick otherwise (maintenance) */
#define EOF_EXIT_USEC 2000000     /* a new binary that closed its stderr: exit by then */

struct kid {
    pid_t pid;                    /* 0: entry free */
    int ctl;                      /* write end of the control pipe, or -1 */
    int slot;                     /* scoreboard slot in its generation */
    int generation;
    time_t started;
    time_t kill_at;               /* when told to stop with a deadline: SIGKILL then */
    int told;                     /* the control byte sent, or 0 */
    int proc;                     /* its record in the server's scoreboard */
    struct scoreboard sb;         /* its generation's board (shared mapping, see top) */
};

struct supervisor {
    const char *conf_path;
    const char *server_root;
    const char *exe;              /* the program as started, made absolute; NULL: $PATH */
    char *const *argv;            /* its arguments, for an upgrade */
    struct upgrade up;            /* a new binary starting (SIGUSR2); up.pid 0: none */
    int oldbin;                   /* PidFile renamed PidFile.oldbin for an upgrade */
    int report;                   /* started by an upgrade: its report channel until
                                   * ready, else -1 (upgrade.h) */
    pid_t successor;              /* the new binary that took over; we retire */
    pid_t predecessor;            /* started by an upgrade: the old supervisor, else 0 */
    struct config *cfg;           /* the current generation's */
    struct logger log;
    struct mime_table *mime;
    struct socket_set socks;
    struct scoreboard sb;         /* the current generation's */
    struct sb_server *srv;        /* the server's record, for its whole life */
    struct tls_keys *tls_keys;    /* session-ticket keys, shared with every child of
                                   * every generation; made at the first TLS config */
    int srv_server_limit;         /* ServerLimit and ThreadsPerChild it was sized for */
    int srv_threads;
    struct kid *kids;             /* every generation's children */
    int n_kids;                   /* entries in use or free */
    int generation;
    int stopping;                 /* 0, or the signal that stops us */
    int spawn_rate;               /* children forked per second while short of idle threads */
    int quick_deaths;             /* consecutive children that died at once */
    time_t next_spawn;            /* back-off: no fork before this time */
    int warned_max_workers;
    int fail_errno;               /* why start-up failed, for systemd's ERRNO= */
    int reloads;                  /* restart signals handled (state file) */
    int ready_gen;                /* last generation announced ready */
    time_t ready_deadline;        /* announce the current one by then regardless */
    uint64_t watchdog_usec;       /* WatchdogSec= in µs, 0: off */
    uint64_t last_ping;           /* µs, CLOCK_MONOTONIC: last WATCHDOG=1 */
    uint64_t last_maintenance;    /* µs: last maintain_children from the loop */
    uint64_t next_status;         /* µs: next STATUS= */
    int status_gen;               /* generation the request-rate baseline is from */
    uint64_t status_requests;     /* total requests at the baseline */
    uint64_t status_at;           /* µs: time of the baseline */
};

static time_t now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

/* CLOCK_MONOTONIC in microseconds (systemd's MONOTONIC_USEC= clock). */
static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- pid file ------------------------------------------------------- */

static int pidfile_write(const struct config *cfg)
{
    if (!cfg->pid_file)
        return 0;
    FILE *f = fopen(cfg->pid_file, "we");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) == EOF) {
        fprintf(stderr, "%s: PidFile %s: cannot write: %s\n", cfg->file, cfg->pid_file,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* CFG's PidFile, or PidFile.oldbin (OLDBIN: an upgrade is under way),
 * followed by SUFFIX, into BUF.  Returns 0, or -1: no PidFile, too long. */
static int pid_path(const struct config *cfg, int oldbin, const char *suffix, char *buf,
                    size_t size)
{
    if (!cfg || !cfg->pid_file)
        return -1;
    int n = snprintf(buf, size, "%s%s%s", cfg->pid_file, oldbin ? ".oldbin" : "", suffix);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void pidfile_remove(const struct config *cfg, int oldbin)
{
    char path[PATH_MAX];
    if (pid_path(cfg, oldbin, "", path, sizeof path) == 0)
        unlink(path);
    if (pid_path(cfg, oldbin, ".state", path, sizeof path) == 0)
        unlink(path);
}

/* An upgrade begins (OLDBIN 1: PidFile and its state file become
 * PidFile.oldbin and PidFile.oldbin.state, as nginx's nginx.pid.oldbin,
 * so the new binary writes its own) or failed (0: back again).  Returns
 * 0, or -1 with errno from rename. */
static int pidfile_rename(const struct config *cfg, int oldbin)
{
    char cur[PATH_MAX], old[PATH_MAX], cur_st[PATH_MAX], old_st[PATH_MAX];
    if (pid_path(cfg, 0, "", cur, sizeof cur) == -1 ||
        pid_path(cfg, 1, "", old, sizeof old) == -1 ||
        pid_path(cfg, 0, ".state", cur_st, sizeof cur_st) == -1 ||
        pid_path(cfg, 1, ".state", old_st, sizeof old_st) == -1)
        return 0;
    if (oldbin ? rename(cur, old) == -1 : rename(old, cur) == -1)
        return -1;
    if (oldbin)
        rename(cur_st, old_st);
    else
        unlink(old_st);          /* the caller writes PidFile.state afresh */
    return 0;
}

/* PidFile.state: "generation N WHAT reload R[: DETAIL]", replaced
 * atomically (mpmd -k graceful-wait and -k upgrade poll it); during an
 * upgrade PidFile.oldbin.state.  WHAT: starting, reloading, ready, failed,
 * stopping, upgrading, upgraded. */
static void state_write(const struct supervisor *s, const char *what, const char *detail)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (pid_path(s->cfg, s->oldbin, ".state", path, sizeof path) == -1 ||
        pid_path(s->cfg, s->oldbin, ".state.tmp", tmp, sizeof tmp) == -1)
        return;
    FILE *f = fopen(tmp, "we");
    int ok = f && fprintf(f, "generation %d %s reload %d%s", s->generation, what, s->reloads,
                          detail ? ": " : "") >= 0;
    for (const char *p = detail; ok && p && *p; p++)    /* keep it one line */
        ok = fputc(*p == '\n' ? ' ' : *p, f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    if (f && fclose(f) == EOF)
        ok = 0;
    if (!ok || rename(tmp, path) == -1) {
        log_msg(&s->log, LOGL_WARN, "cannot write the state file %s: %s", path, strerror(errno));
        unlink(tmp);
    }
}

/* ---- children ------------------------------------------------------ */

static void upgrade_reaped(struct supervisor *s, int status);

static struct kid *kid_entry(struct supervisor *s)
{
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid == 0)
            return &s->kids[i];
    struct kid *k = realloc(s->kids, (size_t)(s->n_kids + 8) * sizeof *k);
    if (!k)
        return NULL;
    s->kids = k;
    for (int i = s->n_kids; i < s->n_kids + 8; i++)
        s->kids[i] = (struct kid){ .pid = 0, .ctl = -1 };
    s->n_kids += 8;
    return &s->kids[s->n_kids - 8];
}

static int is_current(const struct supervisor *s, const struct kid *k)
{
    return k->pid && k->generation == s->generation;
}

/* A current-generation child that is not on its way out. */
static int is_active(const struct supervisor *s, const struct kid *k)
{
    if (!is_current(s, k) || k->told)
        return 0;
    int st = atomic_load(&scoreboard_child(&s->sb, k->slot)->state);
    return st != SB_CHILD_STOPPING;
}

static int free_slot(const struct supervisor *s)
{
    for (int slot = 0; slot < s->cfg->server_limit; slot++) {
        int used = 0;
        for (int i = 0; i < s->n_kids && !used; i++)
            used = is_current(s, &s->kids[i]) && s->kids[i].slot == slot;
        if (!used)
            return slot;
    }
    return -1;
}

/* In the new child: close what belongs to the supervisor and run. */
static void run_child(struct supervisor *s, int slot, int ctl_read)
{
    int fds[CONFIG_MAX_LISTEN];
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid && s->kids[i].ctl != -1)
            close(s->kids[i].ctl);
    if (s->up.report != -1)
        close(s->up.report);
    if (s->report != -1)
        close(s->report);
    struct child c = {
        .cfg = s->cfg, .log = &s->log, .mime = s->mime, .sb = &s->sb, .slot = slot,
        .proc = scoreboard_proc(&s->sb, slot),
        .generation = s->generation, .control_fd = ctl_read,
        .listen_fds = fds, .n_listen = socket_set_fds(&s->socks, fds),
    };
    atomic_store(&scoreboard_child(&s->sb, slot)->state, SB_CHILD_STARTING);
    int status = child_main(&c);
    close(ctl_read);
    _exit(status);
}

/* A record in the server's scoreboard for a child in SLOT, or -1
 * (logged once per second at most: old generations hold them all). */
static int claim_record(struct supervisor *s, int slot)
{
    int proc = sb_server_claim(s->srv, s->generation, slot);
    if (proc < 0)
        log_msg(&s->log, LOGL_ERROR, "cannot start a child: all %d scoreboard records are held "
                "by children of earlier generations still finishing (sized for ServerLimit %d "
                "at start)", s->srv->n_procs, s->srv_server_limit);
    return proc;
}

static int spawn_child(struct supervisor *s)
{
    int slot = free_slot(s), p[2];
    struct kid *k = slot < 0 ? NULL : kid_entry(s);
    if (!k)
        return -1;
    int proc = claim_record(s, slot);
    if (proc < 0)
        return -1;
    if (pipe2(p, O_CLOEXEC) == -1) {
        log_msg(&s->log, LOGL_ERROR, "cannot create a control pipe: %s", strerror(errno));
        sb_server_release(s->srv, proc);
        return -1;
    }
    /* Mark the slot before fork so maintenance counts the child at once. */
    atomic_store(&scoreboard_child(&s->sb, slot)->proc, proc);
    atomic_store(&scoreboard_child(&s->sb, slot)->state, SB_CHILD_STARTING);
    pid_t pid = fork();
    if (pid == -1) {
        log_msg(&s->log, LOGL_ERROR, "fork failed: %s", strerror(errno));
        atomic_store(&scoreboard_child(&s->sb, slot)->state, SB_CHILD_FREE);
        atomic_store(&scoreboard_child(&s->sb, slot)->proc, -1);
        sb_server_release(s->srv, proc);
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[1]);
        run_child(s, slot, p[0]);
    }
    close(p[0]);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    atomic_store(&s->srv->procs[proc].pid, pid);
    atomic_fetch_add(&s->srv->children_started, 1);
    *k = (struct kid){ .pid = pid, .ctl = p[1], .slot = slot, .generation = s->generation,
                       .started = now_s(), .proc = proc, .sb = s->sb };
    return 0;
}

/* Ask K to stop with control byte MSG; GRACE > 0 sets a SIGKILL deadline. */
static void tell_kid(struct supervisor *s, struct kid *k, char msg, int grace)
{
    if (k->told == CONTROL_STOP || (k->told && msg != CONTROL_STOP))
        return;
    /* EPIPE: the child is already on its way out (e.g. its own SIGTERM). */
    if (k->ctl != -1 && write(k->ctl, &msg, 1) == -1 && errno != EAGAIN && errno != EPIPE)
        log_msg(&s->log, LOGL_WARN, "cannot reach child %ld: %s", (long)k->pid, strerror(errno));
    k->told = msg;
    k->kill_at = grace > 0 ? now_s() + grace : 0;
}

/* Tell every child (of generation GEN, or all when GEN is 0). */
static void tell_kids(struct supervisor *s, int gen, char msg, int grace)
{
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid && (gen == 0 || s->kids[i].generation == gen))
            tell_kid(s, &s->kids[i], msg, grace);
}

static void kill_overdue(struct supervisor *s)
{
    time_t now = now_s();
    for (int i = 0; i < s->n_kids; i++) {
        struct kid *k = &s->kids[i];
        if (k->pid && k->kill_at && now >= k->kill_at) {
            log_msg(&s->log, LOGL_WARN, "child %ld did not finish in time; killing it",
                    (long)k->pid);
            kill(k->pid, SIGKILL);
            k->kill_at = 0;
        }
    }
}

static void note_child_exit(struct supervisor *s, struct kid *k, int status)
{
    time_t lived = now_s() - k->started;
    int expected = s->stopping || k->told || k->generation != s->generation;
    if (WIFSIGNALED(status))
        log_msg(&s->log, expected ? LOGL_INFO : LOGL_ERROR, "child %ld exited: signal %d (%s)",
                (long)k->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        log_msg(&s->log, LOGL_ERROR, "child %ld exited with status %d", (long)k->pid,
                WEXITSTATUS(status));
    int failed = WIFSIGNALED(status) ? WTERMSIG(status) != SIGKILL : WEXITSTATUS(status) != 0;
    if (WIFSIGNALED(status) ? WTERMSIG(status) != SIGKILL || !expected : failed)
        atomic_fetch_add(&s->srv->child_crashes, 1);
    if (expected)
        return;
    if (lived < QUICK_DEATH_SECONDS && failed) {
        int delay = 1 << (s->quick_deaths < 6 ? s->quick_deaths : 6);
        if (delay > MAX_RESPAWN_DELAY)
            delay = MAX_RESPAWN_DELAY;
        s->quick_deaths++;
        s->next_spawn = now_s() + delay;
        log_msg(&s->log, LOGL_ERROR,
                "child %ld died %lds after start (%d in a row); next start in %ds -- see the "
                "lines above for the cause", (long)k->pid, (long)lived, s->quick_deaths, delay);
    } else if (lived >= QUICK_DEATH_SECONDS) {
        s->quick_deaths = 0;
    }
}

static int generation_has_kids(const struct supervisor *s, int gen)
{
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].pid && s->kids[i].generation == gen)
            return 1;
    return 0;
}

static void forget_kid(struct supervisor *s, struct kid *k)
{
    struct scoreboard sb = k->sb;
    int gen = k->generation, current = is_current(s, k);
    if (k->ctl != -1)
        close(k->ctl);
    atomic_store(&scoreboard_child(&sb, k->slot)->proc, -1);
    sb_server_release(s->srv, k->proc);
    if (current)
        atomic_store(&scoreboard_child(&s->sb, k->slot)->state, SB_CHILD_FREE);
    *k = (struct kid){ .pid = 0, .ctl = -1 };
    if (!current && !generation_has_kids(s, gen))
        scoreboard_destroy(&sb);  /* the last child of a past generation */
}

static void reap_children(struct supervisor *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int found = 0;
        for (int i = 0; i < s->n_kids && !found; i++) {
            struct kid *k = &s->kids[i];
            if (k->pid != pid)
                continue;
            note_child_exit(s, k, status);
            forget_kid(s, k);
            found = 1;
        }
        if (!found && pid == s->up.pid)
            upgrade_reaped(s, status);
        else if (!found)
            log_piped_exited(&s->log, pid);  /* a piped log's program: start it again */
    }
}

static int count_kids(const struct supervisor *s, int (*pred)(const struct supervisor *,
                                                              const struct kid *))
{
    int n = 0;
    for (int i = 0; i < s->n_kids; i++)
        n += pred(s, &s->kids[i]);
    return n;
}

static int any_kid(const struct supervisor *s, const struct kid *k)
{
    (void)s;
    return k->pid != 0;
}

/* Idle handler threads of the active children; a child still starting
 * counts as all idle (it will be). */
static int idle_threads(const struct supervisor *s)
{
    int idle = 0;
    for (int i = 0; i < s->n_kids; i++) {
        const struct kid *k = &s->kids[i];
        if (!is_active(s, k))
            continue;
        int st = atomic_load(&scoreboard_child(&s->sb, k->slot)->state);
        idle += st == SB_CHILD_STARTING
                    ? s->cfg->threads_per_child
                    : scoreboard_count_threads(&s->sb, k->slot, SB_THREAD_READY);
    }
    return idle;
}

/* The most recently started active child (the one to retire first). */
static struct kid *newest_active(struct supervisor *s)
{
    struct kid *best = NULL;
    for (int i = 0; i < s->n_kids; i++)
        if (is_active(s, &s->kids[i]) && (!best || s->kids[i].started >= best->started))
            best = &s->kids[i];
    return best;
}

/* Once a second (Apache's perform_idle_server_maintenance): keep at
 * least StartServers children; fork more, 1, 2, 4 ... 32 a second, while
 * fewer than MinSpareThreads handler threads are idle; retire one child
 * a second while more than MaxSpareThreads are idle. */
static void maintain_children(struct supervisor *s)
{
    const struct config *cfg = s->cfg;
    if (s->stopping || now_s() < s->next_spawn)
        return;
    int active = count_kids(s, is_active);
    int max_children = cfg->max_request_workers / cfg->threads_per_child;
    if (max_children > cfg->server_limit)
        max_children = cfg->server_limit;
    int idle = idle_threads(s);
    int want = 0;
    if (active < cfg->start_servers)
        want = cfg->start_servers - active;
    else if (idle < cfg->min_spare_threads)
        want = s->spawn_rate;
    if (active + want > max_children) {
        if (idle < cfg->min_spare_threads && !s->warned_max_workers) {
            log_msg(&s->log, LOGL_WARN, "server reached MaxRequestWorkers (%d); consider "
                    "raising it (and ServerLimit)", cfg->max_request_workers);
            s->warned_max_workers = 1;
        }
        want = max_children - active;
    }
    for (int i = 0; i < want; i++)
        if (spawn_child(s) == -1)
            break;
    /* Double the rate only for a shortage of idle threads, not for the
     * StartServers top-up (after a restart or a crash). */
    if (want > 0 && active >= cfg->start_servers && idle < cfg->min_spare_threads &&
        s->spawn_rate < MAX_SPAWN_RATE)
        s->spawn_rate *= 2;
    else if (want == 0)
        s->spawn_rate = 1;
    if (want == 0 && idle > cfg->max_spare_threads && active > cfg->start_servers) {
        struct kid *k = newest_active(s);
        if (k)
            tell_kid(s, k, CONTROL_GRACEFUL, cfg->graceful_shutdown_timeout);
    }
}

/* ---- generations ---------------------------------------------------- */

/* Socket-activated: say which Listens got a socket of mpmd's own. */
static void log_own_sockets(const struct supervisor *s)
{
    if (s->socks.n_passed == 0)
        return;
    for (int i = 0; i < s->socks.n; i++) {
        const struct bound_socket *b = &s->socks.s[i];
        if (b->origin == SOCKET_BOUND)
            log_msg(&s->log, LOGL_WARN, "%s:%d: Listen %s: no socket from systemd matches; "
                    "bound it (not socket-activated)", b->spec.file, b->spec.line, b->spec.text);
    }
}

/* The server's scoreboard record: made at the first start, sized for
 * three generations of ServerLimit children (a restart during a graceful
 * one's drain) and for at least 64 threads per child.  Like Apache's
 * ServerLimit and ThreadLimit, what it was sized for cannot grow on a
 * restart: such a config is refused and the running generation stays. */
static int check_server_record(struct supervisor *s, const struct config *cfg, char *err,
                               size_t errlen)
{
    if (!s->srv) {
        int threads = cfg->threads_per_child > 64 ? cfg->threads_per_child : 64;
        s->srv = sb_server_create(3 * cfg->server_limit + 16, threads);
        if (!s->srv) {
            snprintf(err, errlen, "%s: cannot create the scoreboard: %s", cfg->file,
                     strerror(errno));
            return -1;
        }
        s->srv_server_limit = cfg->server_limit;
        s->srv_threads = threads;
        return 0;
    }
    if (cfg->server_limit > s->srv_server_limit) {
        snprintf(err, errlen, "%s: ServerLimit %d is more than the %d the server started with; "
                 "a restart cannot raise it (stop and start the server)", cfg->file,
                 cfg->server_limit, s->srv_server_limit);
        return -1;
    }
    if (cfg->threads_per_child > s->srv_threads) {
        snprintf(err, errlen, "%s: ThreadsPerChild %d is more than the %d the server started "
                 "with room for; a restart cannot raise it (stop and start the server)",
                 cfg->file, cfg->threads_per_child, s->srv_threads);
        return -1;
    }
    return 0;
}

/* Whether any Listen of CFG speaks TLS. */
static int config_has_tls(const struct config *cfg)
{
    for (int i = 0; i < cfg->n_listen; i++)
        if (cfg->listen[i].tls)
            return 1;
    return 0;
}

/* Session tickets: one set of keys for the server's whole life, so a
 * client resumes on any child, of this generation or the next. */
static int use_ticket_keys(struct supervisor *s, struct config *cfg, char *err, size_t errlen)
{
    if (!config_has_tls(cfg))
        return 0;
    if (!s->tls_keys && !(s->tls_keys = tls_keys_create())) {
        snprintf(err, errlen, "%s: cannot make the TLS session-ticket keys: %s", cfg->file,
                 strerror(errno));
        return -1;
    }
    tls_use_keys(cfg, s->tls_keys);
    return 0;
}

/* The ticket key's age, checked on the maintenance tick. */
static void rotate_ticket_keys(struct supervisor *s)
{
    const struct tls_conf *t = tls_site_conf(s->cfg);
    int lifetime = t && t->ticket_lifetime > 0 ? t->ticket_lifetime : TLS_TICKET_LIFETIME_DEFAULT;
    if (tls_keys_rotate(s->tls_keys, lifetime, (int64_t)now_s()))
        log_msg(&s->log, LOGL_INFO, "TLS session-ticket key rotated (SSLSessionTicketKeyLifetime "
                "%d s); the previous key still resumes", lifetime);
}

/* Load the config file into a new generation.  On any error, log it
 * (FILE:LINE ...), leave the running generation untouched, set
 * s->fail_errno, return -1. */
static int new_generation(struct supervisor *s, char *err, size_t errlen)
{
    struct config *cfg = config_load(s->conf_path, s->server_root, err, errlen);
    struct logger lg;
    struct scoreboard sb;
    struct socket_set dropped;
    s->fail_errno = EINVAL;
    if (!cfg)
        return -1;
    if (check_server_record(s, cfg, err, errlen) == -1)
        goto fail_cfg;
    if (use_ticket_keys(s, cfg, err, errlen) == -1)
        goto fail_cfg;
    tls_io_prepare(cfg);          /* SNI: a site's certificate by the name asked for */
    if (log_open(&lg, cfg, err, errlen) == -1)
        goto fail_cfg;
    if (scoreboard_create(&sb, cfg->server_limit, cfg->threads_per_child, s->srv) == -1) {
        snprintf(err, errlen, "%s: cannot create the scoreboard: %s", cfg->file, strerror(errno));
        goto fail_log;
    }
    struct mime_table *mime = mime_load(cfg->types_config);
    if (!mime) {
        snprintf(err, errlen, "%s: out of memory loading TypesConfig", cfg->file);
        s->fail_errno = ENOMEM;
        goto fail_sb;
    }
    if (socket_set_update(&s->socks, cfg, &dropped, err, errlen) == -1) {
        s->fail_errno = errno ? errno : EINVAL;
        mime_free(mime);
        goto fail_sb;
    }
    mime_free(s->mime);           /* children have their own copies */
    s->mime = mime;
    socket_set_close(&dropped);  /* old children hold their own copies */
    if (s->cfg && s->cfg->pid_file && (!cfg->pid_file || strcmp(cfg->pid_file, s->cfg->pid_file)))
        pidfile_remove(s->cfg, 0);
    log_close(&s->log);
    s->log = lg;
    if (!generation_has_kids(s, s->generation))
        scoreboard_destroy(&s->sb);   /* else its children keep it (see top) */
    s->sb = sb;
    config_free(s->cfg);
    s->cfg = cfg;
    s->generation++;
    atomic_store(&s->srv->server_limit, cfg->server_limit);
    atomic_store(&s->srv->threads_per_child, cfg->threads_per_child);
    atomic_store(&s->srv->generation, s->generation);
    if (s->generation > 1)
        atomic_fetch_add(&s->srv->restarts, 1);
    atomic_store(&s->srv->restart_time, (int64_t)time(NULL));
    s->warned_max_workers = 0;
    s->ready_deadline = now_s() + READY_WAIT_SECONDS;
    pidfile_write(cfg);
    log_own_sockets(s);
    return 0;
fail_sb:
    scoreboard_destroy(&sb);
fail_log:
    log_close(&lg);
fail_cfg:
    config_free(cfg);
    return -1;
}

static int stop_grace(const struct supervisor *s)
{
    return s->cfg->graceful_shutdown_timeout > 0 ? s->cfg->graceful_shutdown_timeout
                                                 : DEFAULT_STOP_GRACE;
}

/* SIGUSR1 (graceful) or SIGHUP (restart): new generation first, on the
 * same sockets, then the old one is told to stop.  READY=1 follows from
 * the main loop once the new generation accepts (check_ready). */
static void restart(struct supervisor *s, int graceful)
{
    char err[1024];
    int old = s->generation;
    s->reloads++;
    sd_notify_statef("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)now_us());
    state_write(s, "reloading", NULL);
    if (new_generation(s, err, sizeof err) == -1) {
        log_msg(&s->log, LOGL_ERROR, "%s failed, still serving the old configuration: %s",
                graceful ? "graceful restart" : "restart", err);
        sd_notify_statef("READY=1\nSTATUS=reload failed; still serving the old configuration: "
                         "%.900s", err);
        state_write(s, "failed", err);
        return;
    }
    log_msg(&s->log, LOGL_NOTICE, "%s: generation %d", graceful ? "graceful restart" : "restart",
            s->generation);
    s->spawn_rate = 1;
    s->next_spawn = 0;
    maintain_children(s);
    if (graceful)
        tell_kids(s, old, CONTROL_GRACEFUL, s->cfg->graceful_shutdown_timeout);
    else
        tell_kids(s, old, CONTROL_STOP, stop_grace(s));
}

/* ---- readiness, status and the watchdog -------------------------------- */

/* How many children of the current generation should be accepting. */
static int wanted_children(const struct supervisor *s)
{
    int max_children = s->cfg->max_request_workers / s->cfg->threads_per_child;
    if (max_children > s->cfg->server_limit)
        max_children = s->cfg->server_limit;
    return s->cfg->start_servers < max_children ? s->cfg->start_servers : max_children;
}

/* Children accepting: of the current generation (CURRENT 1), or of older
 * ones (0: starting or accepting, i.e. not yet stopping). */
static int accepting_children(const struct supervisor *s, int current)
{
    int n = 0;
    for (int i = 0; i < s->n_kids; i++) {
        const struct kid *k = &s->kids[i];
        if (!k->pid || is_current(s, k) != current)
            continue;
        int st = atomic_load(&scoreboard_child(&k->sb, k->slot)->state);
        n += current ? st == SB_CHILD_READY && !k->told
                     : st == SB_CHILD_READY || st == SB_CHILD_STARTING;
    }
    return n;
}

/* "3 children; Total requests: 42; Idle/Busy workers 11/1; Requests/sec: 2.5"
 * over the current generation (requests: each thread's plus those the
 * listeners answered themselves).  Advances the request-rate baseline. */
static void status_line(struct supervisor *s, char *buf, size_t size)
{
    uint64_t total = 0, now = now_us();
    int idle = 0, busy = 0;
    for (int slot = 0; slot < s->sb.server_limit; slot++)
        for (int t = 0; t <= s->sb.threads_per_child; t++) {
            const struct sb_thread *th = scoreboard_thread(&s->sb, slot,
                                                           t < s->sb.threads_per_child ? t
                                                           : s->srv->threads_per_proc);
            total += th ? atomic_load(&th->requests) : 0;
        }
    for (int i = 0; i < s->n_kids; i++) {
        if (!is_active(s, &s->kids[i]))
            continue;
        int ready = scoreboard_count_threads(&s->sb, s->kids[i].slot, SB_THREAD_READY);
        int dead = scoreboard_count_threads(&s->sb, s->kids[i].slot, SB_THREAD_DEAD);
        idle += ready;
        busy += s->cfg->threads_per_child - ready - dead;
    }
    if (s->status_gen != s->generation || total < s->status_requests) {
        s->status_gen = s->generation;
        s->status_requests = 0;
        s->status_at = now;
    }
    double secs = (double)(now - s->status_at) / 1e6;
    double rate = secs > 0.05 ? (double)(total - s->status_requests) / secs : 0.0;
    snprintf(buf, size, "%d children; Total requests: %llu; Idle/Busy workers %d/%d; "
             "Requests/sec: %.3g", count_kids(s, is_active), (unsigned long long)total, idle,
             busy, rate);
    s->status_requests = total;
    s->status_at = now;
}

/* Announce the current generation once StartServers of its children
 * accept and no older child still does, or once READY_WAIT_SECONDS have
 * passed (then logged, and the state file says failed). */
static void check_ready(struct supervisor *s)
{
    char status[256], why[160];
    if (s->ready_gen == s->generation)
        return;
    int want = wanted_children(s), have = accepting_children(s, 1);
    int old = accepting_children(s, 0), late = now_s() >= s->ready_deadline;
    if ((have < want || old > 0) && !late)
        return;
    s->ready_gen = s->generation;
    s->next_status = now_us() + STATUS_USEC;
    status_line(s, status, sizeof status);
    if (have < want || old > 0) {
        snprintf(why, sizeof why, "generation %d: %d of %d children accepting, %d old ones "
                 "still accepting, after %d s", s->generation, have, want, old,
                 READY_WAIT_SECONDS);
        log_msg(&s->log, LOGL_ERROR, "%s; reporting ready anyway -- see the lines above", why);
        upgrade_report(&s->report, why);  /* not ready: the old binary stops us */
        sd_notify_statef("READY=1\nSTATUS=degraded: %s", why);
        state_write(s, "failed", why);
        return;
    }
    upgrade_report(&s->report, NULL);    /* before the state file: see mpmd -k upgrade */
    if (s->generation == 1 && (sd_need_mainpid() || s->predecessor))
        sd_notify_statef("READY=1\nSTATUS=%s\nMAINPID=%ld", status, (long)getpid());
    else
        sd_notify_statef("READY=1\nSTATUS=%s", status);
    state_write(s, "ready", NULL);
}

/* STATUS= every STATUS_USEC once the current generation is ready. */
static void report_status(struct supervisor *s)
{
    char status[256];
    uint64_t now = now_us();
    if (s->ready_gen != s->generation || now < s->next_status)
        return;
    s->next_status = now + STATUS_USEC;
    status_line(s, status, sizeof status);
    sd_notify_statef("STATUS=%s", status);
}

/* WATCHDOG=1 at a quarter of WatchdogSec= (systemd asks for half). */
static void watchdog_ping(struct supervisor *s)
{
    uint64_t now = now_us();
    if (s->watchdog_usec == 0 || now - s->last_ping < s->watchdog_usec / 4)
        return;
    sd_notify_state("WATCHDOG=1");
    s->last_ping = now;
}

/* ---- upgrade: a new binary on our sockets (upgrade.h) ------------------ */

/* The upgrade failed for REASON: this binary carries on, PidFile names
 * it again, and the state file says why (mpmd -k upgrade prints it). */
static void upgrade_failed(struct supervisor *s, const char *reason)
{
    char detail[1100];
    snprintf(detail, sizeof detail, "upgrade failed: %s", reason);
    log_msg(&s->log, LOGL_ERROR, "%s; still serving with this binary (pid %ld)", detail,
            (long)getpid());
    if (s->oldbin) {
        s->oldbin = 0;
        state_write(s, "failed", detail);   /* before PidFile names us again */
        if (pidfile_rename(s->cfg, 0) == -1)
            log_msg(&s->log, LOGL_WARN, "cannot rename %s.oldbin back to %s: %s",
                    s->cfg->pid_file, s->cfg->pid_file, strerror(errno));
    } else {
        state_write(s, "failed", detail);
    }
    sd_notify_statef("STATUS=%.900s; still serving", detail);
    upgrade_clear(&s->up);
}

/* Why a SIGUSR2 cannot start an upgrade now, or NULL. */
static const char *upgrade_refusal(const struct supervisor *s)
{
    if (s->up.pid)
        return "an upgrade is already under way";
    if (s->report != -1)
        return "this supervisor is itself a new binary that has not reported ready yet";
    return NULL;
}

/* SIGUSR2: run the program as started, with our arguments, on our
 * sockets.  This supervisor serves on until it reports ready
 * (upgrade_check) or fails (upgrade_reaped). */
static void upgrade_begin(struct supervisor *s)
{
    char names[CONFIG_MAX_LISTEN * (SD_NAME_MAX + 1)], err[1024];
    int fds[CONFIG_MAX_LISTEN], n;
    const char *refused = upgrade_refusal(s);
    if (refused) {
        log_msg(&s->log, LOGL_WARN, "SIGUSR2 ignored: %s (new binary pid %ld)", refused,
                (long)(s->up.pid ? s->up.pid : getpid()));
        return;
    }
    s->reloads++;
    n = socket_set_handoff(&s->socks, fds, names, sizeof names);
    if (pidfile_rename(s->cfg, 1) == -1)
        log_msg(&s->log, LOGL_WARN, "upgrade: cannot rename PidFile %s to %s.oldbin: %s",
                s->cfg->pid_file, s->cfg->pid_file, strerror(errno));
    s->oldbin = 1;
    state_write(s, "upgrading", NULL);
    if (n == -1)
        snprintf(err, sizeof err, "the listening sockets' names are too long to pass on");
    if (n == -1 || upgrade_start(&s->up, s->exe, s->argv, fds, n, names,
                                 s->cfg->upgrade_timeout, now_us(), err, sizeof err) == -1) {
        upgrade_failed(s, err);
        return;
    }
    log_msg(&s->log, LOGL_NOTICE, "upgrade: started %s as pid %ld on %d listening socket(s); "
            "serving until it reports ready (UpgradeTimeout %d s)", s->exe ? s->exe : s->argv[0],
            (long)s->up.pid, n, s->cfg->upgrade_timeout);
    sd_notify_statef("STATUS=upgrading: new binary pid %ld starting", (long)s->up.pid);
}

/* The new binary reported ready: it serves; we hand over and retire. */
static void upgrade_commit(struct supervisor *s)
{
    char detail[64];
    s->successor = s->up.pid;
    close(s->up.report);
    s->up.report = -1;
    log_msg(&s->log, LOGL_NOTICE, "upgrade: new binary (pid %ld) is ready; this supervisor "
            "(pid %ld) stops gracefully", (long)s->successor, (long)getpid());
    snprintf(detail, sizeof detail, "new master pid %ld", (long)s->successor);
    state_write(s, "upgraded", detail);
    /* Accepted from the main pid whatever NotifyAccess= says. */
    sd_notify_statef("MAINPID=%ld\nSTATUS=upgraded: pid %ld serves; pid %ld finishing",
                     (long)s->successor, (long)s->successor, (long)getpid());
    s->stopping = SIGUSR2;
}

/* Each loop turn while an upgrade is under way: read its report, stop it
 * past UpgradeTimeout (or soon after it closed the pipe without a word),
 * SIGKILL it UPGRADE_KILL_GRACE seconds after that. */
static void upgrade_check(struct supervisor *s)
{
    char why[160];
    uint64_t now = now_us();
    if (!s->up.pid || s->successor)
        return;
    if (upgrade_read(&s->up)) {
        upgrade_commit(s);
        return;
    }
    if (s->up.eof && s->up.deadline > now + EOF_EXIT_USEC)
        s->up.deadline = now + EOF_EXIT_USEC;  /* time to exit with a status of its own */
    if (!s->up.kill_at && now >= s->up.deadline) {
        if (s->up.eof)
            snprintf(why, sizeof why, "closed its stderr without reporting ready");
        else
            snprintf(why, sizeof why, "did not report ready within UpgradeTimeout (%d s)",
                     s->cfg->upgrade_timeout);
        log_msg(&s->log, LOGL_WARN, "upgrade: new binary (pid %ld) %s; stopping it",
                (long)s->up.pid, why);
        upgrade_stop(&s->up, why, now);
    } else if (s->up.kill_at && now >= s->up.kill_at && !s->up.killed) {
        log_msg(&s->log, LOGL_WARN, "upgrade: new binary (pid %ld) did not stop in %d s; "
                "killing it", (long)s->up.pid, UPGRADE_KILL_GRACE);
        kill(s->up.pid, SIGKILL);
        s->up.killed = 1;
    }
}

/* The new binary exited: the upgrade failed (or, after it took over, the
 * server we handed over to is gone: say so, and finish retiring). */
static void upgrade_reaped(struct supervisor *s, int status)
{
    char reason[1024];
    if (s->successor) {
        log_msg(&s->log, LOGL_ERROR, "the new binary (pid %ld) that took over exited (wait "
                "status %d); nothing serves once this supervisor is done", (long)s->successor,
                status);
        s->up.pid = 0;
        return;
    }
    upgrade_read(&s->up);
    upgrade_reason(&s->up, status, reason, sizeof reason);
    upgrade_failed(s, reason);
}

/* ---- signals and the loop ---------------------------------------------- */

static void handle_signal(struct supervisor *s, int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        log_msg(&s->log, LOGL_NOTICE, "caught %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        s->stopping = sig;
        break;
    case SIGWINCH:
        log_msg(&s->log, LOGL_NOTICE, "caught SIGWINCH, shutting down gracefully");
        s->stopping = sig;
        break;
    case SIGHUP:
    case SIGUSR1:
        if (s->up.pid)
            log_msg(&s->log, LOGL_WARN, "%s ignored: an upgrade is under way (new binary pid "
                    "%ld); signal the server PidFile names once it is done",
                    sig == SIGHUP ? "SIGHUP" : "SIGUSR1", (long)s->up.pid);
        else
            restart(s, sig == SIGUSR1);
        break;
    case SIGUSR2:
        upgrade_begin(s);
        break;
    default:
        break;
    }
}

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(set, sigs[i]);
    sigprocmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* How long the loop may sleep: a second, until the next WATCHDOG=1 is due
 * with the watchdog on, READY_POLL_USEC while a generation is not yet
 * announced. */
static struct timespec loop_timeout(const struct supervisor *s)
{
    uint64_t usec = LOOP_USEC, now = now_us();
    if (s->watchdog_usec > 0) {
        uint64_t due = s->last_ping + s->watchdog_usec / 4;
        uint64_t left = due > now ? due - now : 1000;
        if (left < usec)
            usec = left;
    }
    if ((s->ready_gen != s->generation || s->up.pid) && usec > READY_POLL_USEC)
        usec = READY_POLL_USEC;
    return (struct timespec){ .tv_sec = (time_t)(usec / 1000000),
                              .tv_nsec = (long)(usec % 1000000) * 1000 };
}

static void main_loop(struct supervisor *s, const sigset_t *set)
{
    while (!s->stopping) {
        struct timespec ts = loop_timeout(s);
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            handle_signal(s, sig);
        reap_children(s);
        kill_overdue(s);
        /* Maintenance stays once a second (spawn rates are per second),
         * and after every signal, however often the loop wakes. */
        if (sig > 0 || now_us() - s->last_maintenance >= LOOP_USEC) {
            maintain_children(s);
            rotate_ticket_keys(s);
            s->last_maintenance = now_us();
        }
        check_ready(s);
        upgrade_check(s);
        report_status(s);
        watchdog_ping(s);
    }
}

/* Tell every child to stop, as s->stopping says.  Graceful stop (WINCH)
 * first keeps new connections out and lets the children drain the
 * backlog, so no connection the kernel accepted is reset (sockets systemd
 * passed get no filter: systemd keeps them, and the next start serves
 * what queues), then closes the sockets, so later connections are
 * refused rather than left waiting; TERM/INT stop now.  Retiring after
 * an upgrade (USR2), the new binary accepts on the same sockets: no
 * filter, no STOPPING=1 (the service goes on), children stop as in a
 * graceful restart. */
static void begin_stop(struct supervisor *s)
{
    if (s->stopping == SIGUSR2) {
        tell_kids(s, 0, CONTROL_GRACEFUL, s->cfg->graceful_shutdown_timeout);
        return;
    }
    sd_notify_state("STOPPING=1");
    state_write(s, "stopping", NULL);
    if (s->stopping == SIGWINCH) {
        /* No filter while a new binary starts on the same sockets (it
         * serves on).  Kernels may want CAP_NET_ADMIN for one, which the
         * shipped unit does not grant: then stop as nginx does. */
        if (s->up.pid == 0 && socket_set_refuse_new(&s->socks) > 0)
            log_msg(&s->log, LOGL_NOTICE, "graceful stop: cannot hold new connections back "
                    "(SO_ATTACH_FILTER: %s%s); the listening sockets close after the %d ms "
                    "drain, and a connection arriving in it may be reset", strerror(errno),
                    errno == EPERM ? "; this kernel wants CAP_NET_ADMIN" : "",
                    LISTENER_DRAIN_MS);
        tell_kids(s, 0, CONTROL_DRAIN, s->cfg->graceful_shutdown_timeout);
        /* The children take what is queued, then close their copies
         * (listener.c); ours go now.  Once theirs have, a new connection
         * is refused at once -- a balancer tries another server -- instead
         * of waiting for a socket nobody accepts on until the last
         * download ends.  Sockets systemd passed stay open in systemd. */
        socket_set_close(&s->socks);
    } else {
        tell_kids(s, 0, CONTROL_STOP, stop_grace(s));
    }
}

/* Stop every child (begin_stop) and wait for them; TERM/INT during a
 * graceful stop hurries it. */
static void shut_down(struct supervisor *s, const sigset_t *set)
{
    int graceful = s->stopping == SIGWINCH || s->stopping == SIGUSR2;
    if (s->up.pid && !s->successor)
        log_msg(&s->log, LOGL_NOTICE, "stopping during an upgrade: the new binary (pid %ld) "
                "carries on by itself", (long)s->up.pid);
    begin_stop(s);
    while (count_kids(s, any_kid) > 0) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 200 * 1000 * 1000 };
        int sig = sigtimedwait(set, NULL, &ts);
        if ((sig == SIGTERM || sig == SIGINT) && graceful) {
            graceful = 0;       /* a stop during a graceful stop hurries it */
            tell_kids(s, 0, CONTROL_STOP, stop_grace(s));
        }
        reap_children(s);
        kill_overdue(s);
    }
}

/* ---- start-up and tear-down ------------------------------------------ */

static int supervisor_start(struct supervisor *s)
{
    char err[1024];
    s->report = upgrade_take_report();
    s->predecessor = s->report != -1 ? getppid() : 0;
    if (socket_set_adopt(&s->socks, err, sizeof err) == -1) {
        s->fail_errno = EINVAL;
        goto fail;
    }
    if (new_generation(s, err, sizeof err) == -1)
        goto fail;
    s->watchdog_usec = sd_watchdog_usec();
    s->last_ping = now_us();
    state_write(s, "starting", NULL);
    return 0;
fail:
    fprintf(stderr, "%s\n", err);
    upgrade_report(&s->report, err);
    sd_notify_statef("STATUS=%.900s\nERRNO=%d", err, s->fail_errno);
    return -1;
}

static void supervisor_free(struct supervisor *s)
{
    socket_set_close(&s->socks);
    pidfile_remove(s->cfg, s->oldbin);  /* .oldbin: PidFile is the new binary's */
    upgrade_clear(&s->up);
    if (s->report != -1)
        close(s->report);
    scoreboard_destroy(&s->sb);
    sb_server_destroy(s->srv);
    s->srv = NULL;
    tls_keys_destroy(s->tls_keys);
    s->tls_keys = NULL;
    for (int i = 0; i < s->n_kids; i++)
        if (s->kids[i].ctl != -1)
            close(s->kids[i].ctl);
    free(s->kids);
    mime_free(s->mime);
    log_close(&s->log);
    config_free(s->cfg);
}

int supervisor_run(const char *conf_path, const char *server_root, const char *exe,
                   char *const argv[])
{
    struct supervisor s = { .conf_path = conf_path, .server_root = server_root, .exe = exe,
                            .argv = argv, .up = { .report = -1 }, .report = -1,
                            .spawn_rate = 1 };
    sigset_t set;
    log_init_stderr(&s.log, LOGL_WARN);
    block_signals(&set);
    if (supervisor_start(&s) == -1) {
        supervisor_free(&s);
        return 1;
    }
    log_msg(&s.log, LOGL_NOTICE, "mpmd started: %d listening socket(s) (%d from systemd), MPM %s, "
            "%d children x %d threads", s.socks.n, s.socks.n_passed,
            s.cfg->mpm == MPM_WORKER ? "worker" : "event", s.cfg->start_servers,
            s.cfg->threads_per_child);
    if (s.predecessor)
        log_msg(&s.log, LOGL_NOTICE, "upgrade: taking over from pid %ld on its sockets",
                (long)s.predecessor);
    if (config_has_tls(s.cfg))
        log_msg(&s.log, LOGL_NOTICE, tls_kernel_available()
                ? "kTLS: available (static files over TLS are sent with SSL_sendfile)"
                : "kTLS: not available (no /proc/net/tls_stat: load the tls module); "
                  "files over TLS are read and encrypted in user space");
    maintain_children(&s);
    s.last_maintenance = now_us();
    main_loop(&s, &set);
    shut_down(&s, &set);
    if (s.successor)
        log_msg(&s.log, LOGL_NOTICE, "mpmd stopped; pid %ld serves", (long)s.successor);
    else
        log_msg(&s.log, LOGL_NOTICE, "mpmd stopped");
    supervisor_free(&s);
    return 0;
}
