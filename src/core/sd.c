/* sd.c: systemd notification, watchdog, socket activation and journal
 * detection (see sd.h).  Supervisor only.  Built without libsystemd the
 * notification and watchdog calls are stubs that report "not under
 * systemd"; the sockets passed in LISTEN_FDS are read by hand (the
 * protocol of sd_listen_fds(3)), so socket activation and mpmd -k upgrade
 * work in both builds. */
#include "config.h"

#include "mpmd/core/sd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

int sd_notify_state(const char *state)
{
#ifdef HAVE_SYSTEMD
    return sd_notify(0, state);
#else
    (void)state;
    return 0;
#endif
}

int sd_notify_statef(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return n < 0 ? -EINVAL : sd_notify_state(buf);
}

uint64_t sd_watchdog_usec(void)
{
#ifdef HAVE_SYSTEMD
    uint64_t usec = 0;
    return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
#else
    return 0;
#endif
}

int sd_need_mainpid(void)
{
#ifdef HAVE_SYSTEMD
    const char *e = getenv("SYSTEMD_EXEC_PID");
    char *end;
    long pid = e ? strtol(e, &end, 10) : 0;
    return e && *e && *end == '\0' && pid > 0 && (pid_t)pid != getpid();
#else
    return 0;
#endif
}

#ifdef HAVE_SYSTEMD
/* sd_listen_fds_with_names(3), unsetting the variables. */
static int listen_fds(char ***names)
{
    return sd_listen_fds_with_names(1, names);
}

/* Whether FD is an IPv4/IPv6 stream socket that is listening (LISTENING
 * 1) or not (0). */
static int is_tcp_socket(int fd, int listening)
{
    return sd_is_socket_inet(fd, 0, SOCK_STREAM, listening, 0) > 0;
}
#else
/* NAMES ("a:b:c") as N strings; "unknown" each when NAMES is NULL, as
 * libsystemd says.  Returns 0, or -EINVAL when the count differs. */
static int split_names(const char *names, int n, char ***out)
{
    char **v = calloc((size_t)n + 1, sizeof *v);
    const char *p = names;
    int i = 0;
    for (; v && i < n && (!names || p); i++) {
        const char *colon = names ? strchr(p, ':') : NULL;
        size_t len = names ? (colon ? (size_t)(colon - p) : strlen(p)) : 7;
        if (!(v[i] = strndup(names ? p : "unknown", len)))
            break;
        p = colon ? colon + 1 : NULL;
    }
    if (v && i == n && (!names || !p)) {
        *out = v;
        return 0;
    }
    for (int j = 0; v && v[j]; j++)
        free(v[j]);
    free(v);
    return v ? -EINVAL : -ENOMEM;
}

/* sd_listen_fds_with_names(3)'s protocol by hand: LISTEN_PID must be
 * ours; LISTEN_FDS sockets from fd 3, made close-on-exec; the variables
 * unset.  Returns how many, or -errno. */
static int listen_fds(char ***names)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    char *end = NULL;
    long n = 0;
    *names = NULL;
    if (pid && fds && strtol(pid, &end, 10) == (long)getpid() && *end == '\0') {
        n = strtol(fds, &end, 10);
        n = *fds && *end == '\0' && n >= 0 && n <= 4096 ? n : -EINVAL;
    }
    for (long i = 0; i < n; i++)
        if (fcntl(3 + (int)i, F_SETFD, FD_CLOEXEC) == -1)
            n = -errno;
    if (n > 0) {
        int r = split_names(getenv("LISTEN_FDNAMES"), (int)n, names);
        n = r < 0 ? r : n;
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return (int)n;
}

static int is_tcp_socket(int fd, int listening)
{
    int type = 0, domain = 0, accepting = 0;
    socklen_t a = sizeof type, b = sizeof domain, c = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &a) == -1 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &b) == -1 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &c) == -1)
        return 0;
    return type == SOCK_STREAM && (domain == AF_INET || domain == AF_INET6) &&
           !accepting == !listening;
}
#endif

/* Check that FD is a listening TCP socket; say why not in ERR. */
static int check_passed_socket(int fd, const char *name, char *err, size_t errlen)
{
    if (is_tcp_socket(fd, 1))
        return 0;
    if (is_tcp_socket(fd, 0))
        snprintf(err, errlen, "systemd passed a connected socket (fd %d, name \"%s\"): the "
                 "socket unit has Accept=yes, which starts one server per connection; mpmd "
                 "needs Accept=no (the default) to accept connections itself", fd, name);
    else
        snprintf(err, errlen, "systemd passed fd %d (name \"%s\"), which is not a listening "
                 "TCP socket: mpmd takes ListenStream= sockets (IPv4/IPv6) only", fd, name);
    return -1;
}

int sd_take_listen_sockets(struct sd_socket *out, int max, char *err, size_t errlen)
{
    char **names = NULL;
    int n = listen_fds(&names), status = n;
    if (n < 0) {
        snprintf(err, errlen, "cannot take the sockets systemd passed (LISTEN_FDS): %s",
                 strerror(-n));
        return -1;
    }
    if (n > max) {
        snprintf(err, errlen, "systemd passed %d sockets; mpmd takes at most %d", n, max);
        status = -1;
    }
    for (int i = 0; i < n && status != -1; i++) {
        const char *name = names && names[i] ? names[i] : "";
        out[i].fd = 3 + i;        /* SD_LISTEN_FDS_START */
        snprintf(out[i].name, sizeof out[i].name, "%s", name);
        if (check_passed_socket(out[i].fd, name, err, errlen) == -1)
            status = -1;
    }
    for (int i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    return status;
}

int sd_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) == -1)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
