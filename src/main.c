/* main.c: command line (-f -d -t -S -V -k -D -M -5 -h), then the supervisor.
 *
 * Runs in the process the operator started, before anything is bound. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/mpm/supervisor.h"
#include "mpmd/core/version.h"

#define DEFAULT_CONFIG MPMD_SYSCONFDIR "/mpmd/server.conf"
#define GRACEFUL_WAIT_SECONDS 30  /* -k graceful-wait gives up after this */
#define UPGRADE_WAIT_MARGIN 10    /* -k upgrade waits UpgradeTimeout and this */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mpmd [-f FILE] [-d SERVERROOT] [-t] [-S] [-V] [-M] [-5 TEMPLATE]\n"
            "            [-k graceful|graceful-wait|restart|stop|graceful-stop|upgrade]\n"
            "  -f FILE        configuration file (default %s)\n"
            "  -d DIR         ServerRoot: relative paths in FILE resolve against DIR\n"
            "  -t             check the configuration and exit (Syntax OK / FILE:LINE: error)\n"
            "  -V             print version and compiled-in settings\n"
            "  -k SIGNAL      signal the running server named by PidFile; graceful-wait:\n"
            "                 graceful, then wait until the new generation accepts (exit 0)\n"
            "                 or the restart failed (exit 1), at most %d s; upgrade:\n"
            "                 start the binary on disk on the running server's sockets,\n"
            "                 exit 0 once it serves (the old one then stops gracefully),\n"
            "                 1 with the reason when it failed (the old one serves on)\n"
            "  -D FOREGROUND  accepted for Apache compatibility (mpmd never detaches)\n"
            "  -D DUMP_INCLUDES  with -t: list the files read (Include), as apachectl does\n"
            "  -S             (-t -D DUMP_VHOSTS) check, then print the virtual hosts\n"
            "  -M             print the directive reference in Markdown (docs/directives.md)\n"
            "  -5 TEMPLATE    print mpmd.conf(5): TEMPLATE (docs/mpmd.conf.5.in) with its\n"
            "                 directive lists generated\n"
            "  -h             this help\n",
            DEFAULT_CONFIG, GRACEFUL_WAIT_SECONDS);
}

static void print_version(void)
{
    printf("Server version: %s\n", MPMD_SERVER_TOKEN);
    printf("Server MPMs:    event (default), worker\n");
#ifdef HAVE_SYSTEMD
    printf("systemd:        yes (sd_notify, socket activation)\n");
#else
    printf("systemd:        no (built --without-systemd)\n");
#endif
    printf("Default config: %s\n", DEFAULT_CONFIG);
    printf("ServerRoot:     %s\n\nDirectives and defaults:\n", MPMD_PREFIX);
    config_print_defaults(stdout);
}

/* mpmd -5 TEMPLATE: mpmd.conf(5) on standard output (make update-directives). */
static int print_man(const char *template)
{
    FILE *in = fopen(template, "re");
    if (in == NULL) {
        fprintf(stderr, "mpmd: -5 %s: %s\n", template, strerror(errno));
        return 1;
    }
    int status = config_print_man(stdout, in);
    if (status == -1)
        fprintf(stderr, "mpmd: -5 %s: %s\n", template, strerror(errno));
    fclose(in);
    return status == -1;
}

/* mpmd -t [-D DUMP_INCLUDES]: load FILE, say what is wrong or Syntax OK. */
static int check_config(const char *file, const char *root, int dump_includes,
                        int dump_vhosts)
{
    char err[1024];
    struct config *cfg = config_load(file, root, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (dump_vhosts)
        config_print_vhosts(cfg, stdout);
    if (dump_includes)
        config_print_includes(cfg, stdout);
    fflush(stdout);
    config_free(cfg);
    fprintf(stderr, "Syntax OK\n");
    return 0;
}

static int signal_from_name(const char *name)
{
    static const struct { const char *name; int sig; } map[] = {
        { "graceful", SIGUSR1 }, { "graceful-wait", SIGUSR1 }, { "restart", SIGHUP },
        { "stop", SIGTERM },     { "graceful-stop", SIGWINCH }, { "upgrade", SIGUSR2 },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0)
            return map[i].sig;
    return 0;
}

/* What the supervisor wrote to PidFile.state ("generation N WHAT reload R..."). */
struct server_state {
    int generation;
    int reload;
    char what[16];
    char line[512];
};

static int read_state(const char *pid_file, struct server_state *st)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s.state", pid_file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    int ok = fgets(st->line, sizeof st->line, f) != NULL &&
             sscanf(st->line, "generation %d %15s reload %d", &st->generation, st->what,
                    &st->reload) == 3;
    fclose(f);
    return ok ? 0 : -1;
}

/* The pid in file PATH (PidFile, PidFile.oldbin), or -1; WHY (if not
 * NULL) then says what was wrong. */
static long read_pid(const char *path, const char **why)
{
    long pid = 0;
    FILE *f = fopen(path, "re");
    int ok = f && fscanf(f, "%ld", &pid) == 1 && pid > 1;
    if (why)
        *why = f ? "no pid in it" : strerror(errno);
    if (f)
        fclose(f);
    return ok ? pid : -1;
}

/* Whether process PID exists (and is not a zombie: that one is gone). */
static int pid_alive(long pid)
{
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    int alive = f && fgets(stat, sizeof stat, f) != NULL;
    const char *paren = alive ? strrchr(stat, ')') : NULL;
    if (f)
        fclose(f);
    if (!f)
        return kill((pid_t)pid, 0) == 0 || errno == EPERM;
    return alive && paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

/* The pid in CFG's PidFile, or -1 (reported). */
static long read_server_pid(const struct config *cfg, const char *what)
{
    const char *why = "";
    long pid = cfg->pid_file ? read_pid(cfg->pid_file, &why) : -1;
    if (pid <= 0) {
        fprintf(stderr, "mpmd: -k %s: no running server (PidFile %s: %s)\n", what,
                cfg->pid_file ? cfg->pid_file : "not set", why);
        return -1;
    }
    return pid;
}

/* -k upgrade, before the signal: an earlier upgrade's old supervisor
 * still running (PidFile.oldbin names it) means one is under way. */
static int upgrade_under_way(const char *pid_file)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s.oldbin", pid_file) >= (int)sizeof path)
        return 0;
    long old = read_pid(path, NULL);
    if (old <= 0 || !pid_alive(old))
        return 0;
    fprintf(stderr, "mpmd: -k upgrade: an upgrade is already under way: the old server "
            "(pid %ld, %s) has not finished; try again once it has exited\n", old, path);
    return 1;
}

/* What -k graceful-wait and -k upgrade wait on after the signal: the
 * server PID, which had numbered its restarts up to BEFORE. */
struct wait_target {
    const char *what;            /* "graceful-wait" or "upgrade" */
    const char *pid_file;
    long pid;
    int before;
};

/* -k graceful-wait, one poll: 0 the restart numbered above BEFORE is
 * ready, 1 it failed or the server went away (said on stderr), -1 not yet. */
static int reload_outcome(const struct wait_target *w)
{
    struct server_state st;
    if (read_state(w->pid_file, &st) == 0 && st.reload > w->before) {
        if (strcmp(st.what, "ready") == 0)
            return 0;
        if (strcmp(st.what, "failed") == 0 || strcmp(st.what, "stopping") == 0) {
            const char *detail = strstr(st.line, ": ");
            fprintf(stderr, "mpmd: -k graceful-wait: %s%s", strcmp(st.what, "failed") == 0
                    ? "the graceful restart failed" : "the server is stopping",
                    detail ? detail : "\n");
            return 1;
        }
    }
    if (!pid_alive(w->pid) || access(w->pid_file, F_OK) == -1) {
        fprintf(stderr, "mpmd: -k graceful-wait: the server (pid %ld) exited\n", w->pid);
        return 1;
    }
    return -1;
}

/* -k upgrade, one poll: 0 the new binary serves (PidFile names another
 * live pid whose state file says ready), 1 the upgrade failed (PidFile
 * names the old pid again and its state says failed after BEFORE) or the
 * old server exited with no new one serving, -1 not yet. */
static int upgrade_outcome(const struct wait_target *w)
{
    struct server_state st;
    int old_alive = pid_alive(w->pid);      /* before the files: it may hand over now */
    long now = read_pid(w->pid_file, NULL);
    int have_state = now > 0 && read_state(w->pid_file, &st) == 0;
    if (have_state && now != w->pid && strcmp(st.what, "ready") == 0 && pid_alive(now)) {
        printf("mpmd: -k upgrade: pid %ld serves; pid %ld finishes its requests and exits\n",
               now, w->pid);
        return 0;
    }
    if (have_state && now == w->pid && st.reload > w->before &&
        strcmp(st.what, "failed") == 0) {
        const char *detail = strstr(st.line, ": ");
        fprintf(stderr, "mpmd: -k upgrade: %s", detail ? detail + 2 : "failed\n");
        return 1;
    }
    if (!old_alive) {
        fprintf(stderr, "mpmd: -k upgrade: the server (pid %ld) exited and no new one "
                "serves (see the error log)\n", w->pid);
        return 1;
    }
    return -1;
}

/* Poll OUTCOME every 20 ms until it says 0 or 1, at most SECONDS. */
static int wait_for_outcome(const struct wait_target *w, int seconds,
                            int (*outcome)(const struct wait_target *))
{
    struct timespec tick = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
    for (int i = 0; i < seconds * 50; i++) {
        int result = outcome(w);
        if (result != -1)
            return result;
        nanosleep(&tick, NULL);
    }
    fprintf(stderr, "mpmd: -k %s: no outcome from pid %ld within %d s (see its error log)\n",
            w->what, w->pid, seconds);
    return 1;
}

/* mpmd -k: read PidFile from the configuration and signal that pid. */
static int signal_server(const char *file, const char *root, const char *what)
{
    char err[1024];
    struct server_state before = { .reload = -1 };
    int sig = signal_from_name(what), status = 1;
    if (!sig) {
        fprintf(stderr, "mpmd: -k %s: expected graceful, graceful-wait, restart, stop, "
                "graceful-stop or upgrade\n", what);
        return 1;
    }
    struct config *cfg = config_load(file, root, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int wait = strcmp(what, "graceful-wait") == 0, upgrade = sig == SIGUSR2;
    long pid = upgrade && cfg->pid_file && upgrade_under_way(cfg->pid_file)
                   ? -1 : read_server_pid(cfg, what);
    if (pid > 0 && (wait || upgrade) && read_state(cfg->pid_file, &before) == -1)
        before.reload = -1;
    if (pid > 0 && kill((pid_t)pid, sig) == -1)
        fprintf(stderr, "mpmd: -k %s: cannot signal pid %ld: %s\n", what, pid, strerror(errno));
    else if (pid > 0 && (wait || upgrade)) {
        struct wait_target w = { what, cfg->pid_file, pid, before.reload };
        status = upgrade ? wait_for_outcome(&w, cfg->upgrade_timeout + UPGRADE_WAIT_MARGIN,
                                            upgrade_outcome)
                         : wait_for_outcome(&w, GRACEFUL_WAIT_SECONDS, reload_outcome);
    } else if (pid > 0)
        status = 0;
    config_free(cfg);
    return status;
}

/* The supervisor, told how to run this program again for an upgrade:
 * ARGV[0] made absolute now (nginx re-runs the path it was started as,
 * so a binary replaced on disk is the one an upgrade starts); a bare name
 * is searched in $PATH then, as the shell did now. */
static int run_server(const char *file, const char *root, char **argv)
{
    char cwd[PATH_MAX], exe[PATH_MAX * 2];
    const char *path = NULL;
    if (argv[0][0] == '/')
        path = argv[0];
    else if (strchr(argv[0], '/') && getcwd(cwd, sizeof cwd) &&
             snprintf(exe, sizeof exe, "%s/%s", cwd, argv[0]) < (int)sizeof exe)
        path = exe;
    return supervisor_run(file, root, path, argv);
}

int main(int argc, char **argv)
{
    const char *file = DEFAULT_CONFIG, *root = NULL, *ksig = NULL;
    int test = 0, dump_includes = 0, dump_vhosts = 0, opt;
    while ((opt = getopt(argc, argv, "f:d:tSVk:D:M5:h")) != -1) {
        switch (opt) {
        case 'f': file = optarg; break;
        case 'd': root = optarg; break;
        case 't': test = 1; break;
        case 'V': print_version(); return 0;
        case 'k': ksig = optarg; break;
        case 'D':
            dump_includes |= strcmp(optarg, "DUMP_INCLUDES") == 0;
            dump_vhosts |= strcmp(optarg, "DUMP_VHOSTS") == 0;
            break;
        case 'S': test = dump_vhosts = 1; break;
        case 'M': config_print_reference_md(stdout); return 0;
        case '5': return print_man(optarg);
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mpmd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    if (test)
        return check_config(file, root, dump_includes, dump_vhosts);
    if (ksig)
        return signal_server(file, root, ksig);
    return run_server(file, root, argv);
}
