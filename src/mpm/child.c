/* child.c: a child process from fork to exit (see child.h).
 *
 * The supervisor forks and calls child_main.  The main thread becomes the
 * listener thread after starting the handler pool; stopping is decided
 * here (child_begin_stop) and carried out by the listener and handlers. */
#include "config.h"

#include "mpmd/mpm/child.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>

#include "mpmd/http/conn.h"
#include "mpmd/modules/filecache.h"

/* Children leave restart/stop signals to the supervisor (which talks to
 * them over the control pipe); SIGTERM alone means "stop now". */
static void child_reset_signals(void)
{
    sigset_t none;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* setgid/initgroups/setuid to Group/User when started as root. */
static int child_drop_privileges(struct child *c)
{
    const struct config *cfg = c->cfg;
    if (geteuid() != 0 || (!cfg->user && !cfg->group))
        return 0;
    struct passwd *pw = cfg->user ? getpwnam(cfg->user) : NULL;
    struct group *gr = cfg->group ? getgrnam(cfg->group) : NULL;
    gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getgid();
    if ((cfg->user && !pw) || (cfg->group && !gr)) {
        log_msg(c->log, LOGL_ERROR, "User %s / Group %s not found", cfg->user ? cfg->user : "-",
                cfg->group ? cfg->group : "-");
        return -1;
    }
    if (setgid(gid) == -1 || (pw ? initgroups(pw->pw_name, gid) : setgroups(0, NULL)) == -1 ||
        (pw && setuid(pw->pw_uid) == -1)) {
        log_msg(c->log, LOGL_ERROR, "cannot switch to User %s / Group %s: %s",
                cfg->user ? cfg->user : "-", cfg->group ? cfg->group : "-", strerror(errno));
        return -1;
    }
    if (pw && (setuid(0) != -1 || getuid() == 0)) {
        log_msg(c->log, LOGL_ERROR, "privileges were not dropped: still root after setuid");
        return -1;
    }
    return 0;
}

static void child_idle_handler(void *arg)
{
    listener_wake_accept(arg);
}

/* Each handler's per-child state (handler.h's child_init). */
static int child_init_handlers(struct child *c)
{
    for (int i = 0; mpmd_handlers[i]; i++) {
        char err[256] = "";
        if (mpmd_handlers[i]->child_init == NULL)
            continue;
        c->env.state[i] = mpmd_handlers[i]->child_init(&c->env, err, sizeof err);
        if (c->env.state[i] == NULL) {
            log_msg(c->log, LOGL_ERROR, "child: %s: %s", mpmd_handlers[i]->name,
                    err[0] ? err : "cannot start");
            return -1;
        }
    }
    return 0;
}

static void child_exit_handlers(struct child *c)
{
    for (int i = 0; mpmd_handlers[i]; i++)
        if (c->env.state[i] && mpmd_handlers[i]->child_exit) {
            mpmd_handlers[i]->child_exit(c->env.state[i]);
            c->env.state[i] = NULL;
        }
}

static int child_setup(struct child *c)
{
    c->limits.line = (uint32_t)c->cfg->limit_request_line;
    c->limits.field_size = (uint32_t)c->cfg->limit_request_field_size;
    c->limits.fields = (uint32_t)c->cfg->limit_request_fields;
    c->limits.body = (uint64_t)c->cfg->limit_request_body;
    atomic_store(&c->stopping, CHILD_RUNNING);
    atomic_store(&c->accepted, 0);
    if (c->cfg->file_cache_size > 0) {
        c->cache = filecache_new((size_t)c->cfg->file_cache_size,
                                 (size_t)c->cfg->file_cache_max_file, c->cfg->file_cache_valid);
        if (!c->cache) {
            log_msg(c->log, LOGL_ERROR, "child: out of memory for the file cache");
            return -1;
        }
    }
    c->env = (struct handler_env){ .cfg = c->cfg, .mime = c->mime, .cache = c->cache,
                                   .log = c->log, .scoreboard = c->sb->srv,
                                   .counters = &c->proc->c, .generation = c->generation };
    if (child_init_handlers(c) == -1)
        return -1;
    if (pipe2(c->stop_pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
        log_msg(c->log, LOGL_ERROR, "child: pipe: %s", strerror(errno));
        return -1;
    }
    if (evthread_use_pthreads() == -1 || workq_init(&c->q, child_idle_handler, c) == -1) {
        log_msg(c->log, LOGL_ERROR, "child: cannot set up threads for libevent");
        return -1;
    }
    c->q.len_gauge = &c->proc->queued;
    return listener_init(c);
}

/* C's state, in its generation's slot (the supervisor's maintenance) and
 * in its server-wide record (status, metrics). */
static void child_set_state(struct child *c, enum sb_child_state st)
{
    atomic_store(&scoreboard_child(c->sb, c->slot)->state, st);
    atomic_store(&c->proc->state, st);
}

int child_main(struct child *c)
{
    struct sb_child *slot = scoreboard_child(c->sb, c->slot);
    int status = 1;
    c->stop_pipe[0] = c->stop_pipe[1] = -1;
    child_reset_signals();
    atomic_store(&slot->pid, getpid());
    atomic_store(&slot->generation, c->generation);
    atomic_store(&slot->conns_open, 0);
    atomic_store(&slot->connections, 0);
    atomic_store(&slot->state, SB_CHILD_STARTING);
    c->listener_rec = sb_server_thread(c->sb->srv, (int)(c->proc - c->sb->srv->procs),
                                       c->sb->srv->threads_per_proc);
    c->pid = getpid();
    atomic_store(&c->proc->pid, c->pid);
    atomic_store(&c->proc->threads, c->cfg->threads_per_child);
    if (child_drop_privileges(c) == -1 || child_setup(c) == -1)
        goto out;
    if (pool_start(&c->pool, c, c->cfg->threads_per_child) == -1) {
        log_msg(c->log, LOGL_ERROR, "child: cannot start %d handler threads: %s",
                c->cfg->threads_per_child, strerror(errno));
        goto out;
    }
    child_set_state(c, SB_CHILD_READY);
    status = listener_run(c) == 0 ? 0 : 1;
    workq_close(&c->q);
    pool_join(&c->pool);
    conn_close_registered(c->lst.base); /* handed back after the loop ended */
out:
    atomic_store(&slot->state, SB_CHILD_FREE);
    listener_free(c);
    child_exit_handlers(c);
    workq_destroy(&c->q);
    if (c->cache)
        filecache_free(c->cache);
    for (int i = 0; i < 2; i++)
        if (c->stop_pipe[i] > 2)
            close(c->stop_pipe[i]);
    return status;
}

void child_begin_stop(struct child *c, enum child_stop how, int drain)
{
    if ((int)how <= atomic_load(&c->stopping))
        return;
    atomic_store(&c->stopping, how);
    child_set_state(c, SB_CHILD_STOPPING);
    if (drain && how == CHILD_GRACEFUL)
        listener_drain_then_stop(c);
    else
        listener_stop_accepting(c);
    if (how == CHILD_IMMEDIATE) {
        /* Wake handler threads waiting on their connections (MPM worker). */
        if (write(c->stop_pipe[1], "x", 1) == -1 && errno != EAGAIN)
            log_msg(c->log, LOGL_WARN, "child: cannot signal the stop pipe: %s", strerror(errno));
        conn_close_registered(c->lst.base);
        workq_close(&c->q);
        event_base_loopbreak(c->lst.base);
    } else if (child_conns_open(c) == 0 && !c->lst.draining) {
        event_base_loopbreak(c->lst.base);
    }
    /* Graceful: idle keep-alive connections stay open.  Closing one races
     * with a request the client may be sending on it right now (the client
     * would see a reset); instead its next response carries
     * "Connection: close", or KeepAliveTimeout ends it. */
}

void child_conn_opened(struct child *c)
{
    atomic_fetch_add(&scoreboard_child(c->sb, c->slot)->conns_open, 1);
}

int child_conns_open(const struct child *c)
{
    return atomic_load(&scoreboard_child(c->sb, c->slot)->conns_open);
}

void child_conn_closed(struct child *c)
{
    int left = atomic_fetch_sub(&scoreboard_child(c->sb, c->slot)->conns_open, 1) - 1;
    if (left == 0 && atomic_load(&c->stopping) != CHILD_RUNNING)
        event_active(c->lst.drained_ev, EV_READ, 1);
}
