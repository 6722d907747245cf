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

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mpmd [-f FILE] [-d SERVERROOT] [-t] [-S] [-V] [-M] [-5 TEMPLATE]\n"
            "            [-k graceful|graceful-wait|restart|stop|graceful-stop]\n"
            "  -f FILE        configuration file (default %s)\n"
            "  -d DIR         ServerRoot: relative paths in FILE resolve against DIR\n"
            "  -t             check the configuration and exit (Syntax OK / FILE:LINE: error)\n"
            "  -V             print version and compiled-in settings\n"
            "  -k SIGNAL      signal the running server named by PidFile; graceful-wait:\n"
            "                 graceful, then wait until the new generation accepts (exit 0)\n"
            "                 or the restart failed (exit 1), at most %d s\n"
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
        { "stop", SIGTERM },     { "graceful-stop", SIGWINCH },
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

/* -k graceful-wait, after the signal: poll the state file until the
 * restart numbered above BEFORE is reported ready (0) or failed (1). */
static int wait_for_reload(const char *pid_file, long pid, int before)
{
    struct server_state st;
    struct timespec tick = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
    for (int i = 0; i < GRACEFUL_WAIT_SECONDS * 50; i++) {
        if (read_state(pid_file, &st) == 0 && st.reload > before) {
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
        if ((kill((pid_t)pid, 0) == -1 && errno == ESRCH) || access(pid_file, F_OK) == -1) {
            fprintf(stderr, "mpmd: -k graceful-wait: the server (pid %ld) exited\n", pid);
            return 1;
        }
        nanosleep(&tick, NULL);
    }
    fprintf(stderr, "mpmd: -k graceful-wait: pid %ld did not report the new generation ready "
            "within %d s (see its error log)\n", pid, GRACEFUL_WAIT_SECONDS);
    return 1;
}

/* The pid in CFG's PidFile, or -1 (reported). */
static long read_server_pid(const struct config *cfg, const char *what)
{
    long pid = 0;
    FILE *f = cfg->pid_file ? fopen(cfg->pid_file, "re") : NULL;
    int ok = f && fscanf(f, "%ld", &pid) == 1 && pid > 1;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "mpmd: -k %s: no running server (PidFile %s: %s)\n", what,
                cfg->pid_file ? cfg->pid_file : "not set", f ? "no pid in it" : strerror(errno));
        return -1;
    }
    return pid;
}

/* mpmd -k: read PidFile from the configuration and signal that pid. */
static int signal_server(const char *file, const char *root, const char *what)
{
    char err[1024];
    struct server_state before = { .reload = -1 };
    int sig = signal_from_name(what), status = 1;
    if (!sig) {
        fprintf(stderr, "mpmd: -k %s: expected graceful, graceful-wait, restart, stop or "
                "graceful-stop\n", what);
        return 1;
    }
    struct config *cfg = config_load(file, root, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    long pid = read_server_pid(cfg, what);
    int wait = strcmp(what, "graceful-wait") == 0;
    if (pid > 0 && wait && read_state(cfg->pid_file, &before) == -1)
        before.reload = -1;
    if (pid > 0 && kill((pid_t)pid, sig) == -1)
        fprintf(stderr, "mpmd: -k %s: cannot signal pid %ld: %s\n", what, pid, strerror(errno));
    else if (pid > 0)
        status = wait ? wait_for_reload(cfg->pid_file, pid, before.reload) : 0;
    config_free(cfg);
    return status;
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
    return supervisor_run(file, root);
}
