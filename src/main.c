/* main.c: command line (-f -d -t -V -k -D -h), then the supervisor.
 *
 * Runs in the process the operator started, before anything is bound. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpmd/config.h"
#include "mpmd/supervisor.h"
#include "version.h"

#define DEFAULT_CONFIG MPMD_SYSCONFDIR "/mpmd/server.conf"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mpmd [-f FILE] [-d SERVERROOT] [-t] [-V] [-k graceful|restart|stop|graceful-stop]\n"
            "  -f FILE        configuration file (default %s)\n"
            "  -d DIR         ServerRoot: relative paths in FILE resolve against DIR\n"
            "  -t             check the configuration and exit (Syntax OK / FILE:LINE: error)\n"
            "  -V             print version and compiled-in settings\n"
            "  -k SIGNAL      signal the running server named by PidFile\n"
            "  -D FOREGROUND  accepted for Apache compatibility (mpmd never detaches)\n"
            "  -M             print the directive reference in Markdown (docs/directives.md)\n"
            "  -h             this help\n",
            DEFAULT_CONFIG);
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

static int check_config(const char *file, const char *root)
{
    char err[1024];
    struct config *cfg = config_load(file, root, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    config_free(cfg);
    fprintf(stderr, "Syntax OK\n");
    return 0;
}

static int signal_from_name(const char *name)
{
    static const struct { const char *name; int sig; } map[] = {
        { "graceful", SIGUSR1 }, { "restart", SIGHUP },
        { "stop", SIGTERM },     { "graceful-stop", SIGWINCH },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0)
            return map[i].sig;
    return 0;
}

/* mpmd -k: read PidFile from the configuration and signal that pid. */
static int signal_server(const char *file, const char *root, const char *what)
{
    char err[1024];
    int sig = signal_from_name(what);
    if (!sig) {
        fprintf(stderr, "mpmd: -k %s: expected graceful, restart, stop or graceful-stop\n", what);
        return 1;
    }
    struct config *cfg = config_load(file, root, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    long pid = 0;
    FILE *f = cfg->pid_file ? fopen(cfg->pid_file, "re") : NULL;
    int ok = f && fscanf(f, "%ld", &pid) == 1 && pid > 1;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "mpmd: -k %s: no running server (PidFile %s: %s)\n", what,
                cfg->pid_file ? cfg->pid_file : "not set", f ? "no pid in it" : strerror(errno));
        config_free(cfg);
        return 1;
    }
    config_free(cfg);
    if (kill((pid_t)pid, sig) == -1) {
        fprintf(stderr, "mpmd: -k %s: cannot signal pid %ld: %s\n", what, pid, strerror(errno));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *file = DEFAULT_CONFIG, *root = NULL, *ksig = NULL;
    int test = 0, opt;
    while ((opt = getopt(argc, argv, "f:d:tVk:D:Mh")) != -1) {
        switch (opt) {
        case 'f': file = optarg; break;
        case 'd': root = optarg; break;
        case 't': test = 1; break;
        case 'V': print_version(); return 0;
        case 'k': ksig = optarg; break;
        case 'D': break;
        case 'M': config_print_reference_md(stdout); return 0;
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
        return check_config(file, root);
    if (ksig)
        return signal_server(file, root, ksig);
    return supervisor_run(file, root);
}
