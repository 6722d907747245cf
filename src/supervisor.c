/* supervisor.c: the supervisor process (see supervisor.h).
 *
 * One thread.  Signals are blocked and taken synchronously with
 * sigtimedwait() in the main loop, so there are no asynchronous handlers
 * and no flags to race on: the loop wakes at once for a signal, or every
 * second for maintenance (reap, respawn).
 *
 * Each child gets a scoreboard slot (its index in kids[]) and the write
 * end of a control pipe; closing or writing that pipe is how the
 * supervisor asks a child to stop (Apache's "pipe of death"). */
#include "config.h"

#include "mpmd/supervisor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/child.h"
#include "mpmd/config.h"
#include "mpmd/log.h"
#include "mpmd/mime.h"
#include "mpmd/scoreboard.h"
#include "mpmd/sd.h"

#define LISTEN_BACKLOG 511        /* Apache's ListenBacklog default */
#define STOP_GRACE_SECONDS 5      /* SIGTERM: then SIGKILL what is left */
#define QUICK_DEATH_SECONDS 2     /* a child dying this soon counts as failing */
#define MAX_RESPAWN_DELAY 60

struct kid {
    pid_t pid;                    /* 0: slot free */
    int ctl;                      /* write end of the control pipe */
    time_t started;
};

struct supervisor {
    const char *conf_path;
    const char *server_root;
    struct config *cfg;
    struct logger log;
    struct mime_table *mime;
    int listen_fds[CONFIG_MAX_LISTEN];
    int n_listen;
    struct scoreboard sb;
    struct kid *kids;             /* cfg->server_limit entries */
    int generation;
    int stopping;                 /* 0, or the signal that stops us */
    int quick_deaths;             /* consecutive children that died at once */
    time_t next_spawn;            /* back-off: no fork before this time */
};

/* ---- listening sockets ------------------------------------------- */

static int bind_one(const char *file, const struct listen_spec *ls, char *err, size_t errlen)
{
    int fam = ls->addr.ss_family, one = 1;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd == -1)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1)
        goto fail;
    if (fam == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ls->addr;
        int v6only = !IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) == -1)
            goto fail;
    }
    if (bind(fd, (const struct sockaddr *)&ls->addr, ls->addrlen) == -1 ||
        listen(fd, LISTEN_BACKLOG) == -1)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "%s:%d: Listen: cannot listen on %s: %s", file, ls->line, ls->text,
             strerror(errno));
    if (fd != -1)
        close(fd);
    return -1;
}

static int bind_all(struct supervisor *s)
{
    char err[512];
    for (int i = 0; i < s->cfg->n_listen; i++) {
        const struct listen_spec *ls = &s->cfg->listen[i];
        int fd = bind_one(s->cfg->file, ls, err, sizeof err);
        if (fd == -1) {
            fprintf(stderr, "%s\n", err);
            return -1;
        }
        s->listen_fds[s->n_listen++] = fd;
    }
    return 0;
}

/* ---- pid file ------------------------------------------------------- */

static int pidfile_write(struct supervisor *s)
{
    if (!s->cfg->pid_file)
        return 0;
    FILE *f = fopen(s->cfg->pid_file, "we");
    if (!f || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) == EOF) {
        fprintf(stderr, "%s: PidFile %s: cannot write: %s\n", s->cfg->file, s->cfg->pid_file,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void pidfile_remove(struct supervisor *s)
{
    if (s->cfg && s->cfg->pid_file)
        unlink(s->cfg->pid_file);
}

/* ---- children ------------------------------------------------------ */

static int count_kids(const struct supervisor *s)
{
    int n = 0;
    for (int i = 0; i < s->cfg->server_limit; i++)
        n += s->kids[i].pid != 0;
    return n;
}

static int free_slot(const struct supervisor *s)
{
    for (int i = 0; i < s->cfg->server_limit; i++)
        if (s->kids[i].pid == 0)
            return i;
    return -1;
}

/* In the new child: close what belongs to the supervisor and run. */
static void run_child(struct supervisor *s, int slot, int ctl_read)
{
    for (int i = 0; i < s->cfg->server_limit; i++)
        if (s->kids[i].pid && s->kids[i].ctl != -1)
            close(s->kids[i].ctl);
    struct child c = {
        .cfg = s->cfg, .log = &s->log, .mime = s->mime, .sb = &s->sb, .slot = slot,
        .generation = s->generation, .control_fd = ctl_read,
        .listen_fds = s->listen_fds, .n_listen = s->n_listen,
    };
    int status = child_main(&c);
    close(ctl_read);
    _exit(status);
}

static int spawn_child(struct supervisor *s)
{
    int slot = free_slot(s), p[2];
    if (slot < 0)
        return -1;
    if (pipe2(p, O_CLOEXEC) == -1) {
        log_msg(&s->log, LOGL_ERROR, "cannot create a control pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == -1) {
        log_msg(&s->log, LOGL_ERROR, "fork failed: %s", strerror(errno));
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
    s->kids[slot] = (struct kid){ .pid = pid, .ctl = p[1], .started = time(NULL) };
    return 0;
}

static void tell_kids(struct supervisor *s, char msg)
{
    for (int i = 0; i < s->cfg->server_limit; i++)
        if (s->kids[i].pid && s->kids[i].ctl != -1 && write(s->kids[i].ctl, &msg, 1) == -1)
            log_msg(&s->log, LOGL_WARN, "cannot reach child %ld: %s", (long)s->kids[i].pid,
                    strerror(errno));
}

static void note_child_exit(struct supervisor *s, struct kid *k, int status)
{
    time_t lived = time(NULL) - k->started;
    if (WIFSIGNALED(status))
        log_msg(&s->log, s->stopping ? LOGL_INFO : LOGL_ERROR, "child %ld exited: signal %d (%s)",
                (long)k->pid, WTERMSIG(status), strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        log_msg(&s->log, LOGL_ERROR, "child %ld exited with status %d", (long)k->pid,
                WEXITSTATUS(status));
    if (s->stopping)
        return;
    if (lived < QUICK_DEATH_SECONDS && (WIFSIGNALED(status) ? WTERMSIG(status) != SIGKILL
                                                           : WEXITSTATUS(status) != 0)) {
        int delay = 1 << (s->quick_deaths < 6 ? s->quick_deaths : 6);
        if (delay > MAX_RESPAWN_DELAY)
            delay = MAX_RESPAWN_DELAY;
        s->quick_deaths++;
        s->next_spawn = time(NULL) + delay;
        log_msg(&s->log, LOGL_ERROR,
                "child %ld died %lds after start (%d in a row); next start in %ds -- see the "
                "lines above for the cause", (long)k->pid, (long)lived, s->quick_deaths, delay);
    } else {
        s->quick_deaths = 0;
    }
}

static void reap_children(struct supervisor *s)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < s->cfg->server_limit; i++) {
            struct kid *k = &s->kids[i];
            if (k->pid != pid)
                continue;
            note_child_exit(s, k, status);
            close(k->ctl);
            *k = (struct kid){ .pid = 0, .ctl = -1 };
            atomic_store(&scoreboard_child(&s->sb, i)->state, SB_CHILD_FREE);
            break;
        }
    }
}

/* Keep StartServers children running (spare-thread scaling comes with
 * the scoreboard maintenance in a later step). */
static void maintain_children(struct supervisor *s)
{
    if (s->stopping || time(NULL) < s->next_spawn)
        return;
    while (count_kids(s) < s->cfg->start_servers)
        if (spawn_child(s) == -1)
            break;
}

/* ---- stopping ------------------------------------------------------- */

static void wait_for_kids(struct supervisor *s, int grace_seconds)
{
    time_t deadline = time(NULL) + grace_seconds;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    while (count_kids(s) > 0) {
        if (grace_seconds > 0 && time(NULL) >= deadline) {
            for (int i = 0; i < s->cfg->server_limit; i++)
                if (s->kids[i].pid) {
                    log_msg(&s->log, LOGL_WARN, "child %ld still running after %ds; killing it",
                            (long)s->kids[i].pid, grace_seconds);
                    kill(s->kids[i].pid, SIGKILL);
                }
            grace_seconds = 0;
        }
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 100 * 1000 * 1000 };
        sigtimedwait(&set, NULL, &ts);
        reap_children(s);
    }
}

static void handle_signal(struct supervisor *s, int sig)
{
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        log_msg(&s->log, LOGL_NOTICE, "caught %s, shutting down", strsignal(sig));
        s->stopping = sig;
        break;
    case SIGWINCH:
        log_msg(&s->log, LOGL_NOTICE, "caught SIGWINCH, shutting down gracefully");
        s->stopping = sig;
        break;
    case SIGHUP:
    case SIGUSR1:
        log_msg(&s->log, LOGL_WARN, "caught %s: restart is not implemented yet; ignored",
                sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
        break;
    default:
        break;
    }
}

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGWINCH, SIGCHLD };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(set, sigs[i]);
    sigprocmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void main_loop(struct supervisor *s, const sigset_t *set)
{
    while (!s->stopping) {
        struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            handle_signal(s, sig);
        reap_children(s);
        maintain_children(s);
    }
}

/* ---- start-up and tear-down ------------------------------------------ */

static int supervisor_start(struct supervisor *s)
{
    char err[1024];
    s->cfg = config_load(s->conf_path, s->server_root, err, sizeof err);
    if (!s->cfg) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (log_open(&s->log, s->cfg, err, sizeof err) == -1) {
        fprintf(stderr, "%s: %s\n", s->cfg->file, err);
        return -1;
    }
    if (s->log.error_fd == 2 && sd_stderr_is_journal())
        s->log.journal_prefix = 1;
    s->mime = mime_load(NULL);
    s->kids = calloc((size_t)s->cfg->server_limit, sizeof *s->kids);
    if (!s->mime || !s->kids ||
        scoreboard_create(&s->sb, s->cfg->server_limit, s->cfg->threads_per_child) == -1) {
        fprintf(stderr, "mpmd: out of memory at start-up\n");
        return -1;
    }
    if (bind_all(s) == -1 || pidfile_write(s) == -1)
        return -1;
    return 0;
}

static void supervisor_free(struct supervisor *s)
{
    for (int i = 0; i < s->n_listen; i++)
        close(s->listen_fds[i]);
    pidfile_remove(s);
    scoreboard_destroy(&s->sb);
    free(s->kids);
    mime_free(s->mime);
    log_close(&s->log);
    config_free(s->cfg);
}

int supervisor_run(const char *conf_path, const char *server_root)
{
    struct supervisor s = { .conf_path = conf_path, .server_root = server_root, .generation = 1 };
    sigset_t set;
    log_init_stderr(&s.log, LOGL_WARN);
    block_signals(&set);
    if (supervisor_start(&s) == -1) {
        sd_notify_state("ERRNO=22");
        supervisor_free(&s);
        return 1;
    }
    for (int i = 0; i < s.cfg->server_limit; i++)
        s.kids[i].ctl = -1;
    log_msg(&s.log, LOGL_NOTICE, "mpmd started: %d listening socket(s), MPM %s, %d children x %d threads",
            s.n_listen, s.cfg->mpm == MPM_WORKER ? "worker" : "event", s.cfg->start_servers,
            s.cfg->threads_per_child);
    maintain_children(&s);
    sd_notify_state("READY=1");
    main_loop(&s, &set);
    sd_notify_state("STOPPING=1");
    tell_kids(&s, s.stopping == SIGWINCH ? CONTROL_GRACEFUL : CONTROL_STOP);
    wait_for_kids(&s, s.stopping == SIGWINCH ? 0 : STOP_GRACE_SECONDS);
    log_msg(&s.log, LOGL_NOTICE, "mpmd stopped");
    supervisor_free(&s);
    return 0;
}
