/* sd.c: systemd notification, watchdog, socket activation and journal
 * detection (see sd.h).  Supervisor only.  Built without libsystemd every
 * function is a stub that reports "not under systemd". */
#include "config.h"

#include "mpmd/core/sd.h"

#include <errno.h>
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
/* Check that FD is a listening TCP socket; say why not in ERR. */
static int check_passed_socket(int fd, const char *name, char *err, size_t errlen)
{
    if (sd_is_socket_inet(fd, 0, SOCK_STREAM, 1, 0) > 0)
        return 0;
    if (sd_is_socket_inet(fd, 0, SOCK_STREAM, 0, 0) > 0)
        snprintf(err, errlen, "systemd passed a connected socket (fd %d, name \"%s\"): the "
                 "socket unit has Accept=yes, which starts one server per connection; mpmd "
                 "needs Accept=no (the default) to accept connections itself", fd, name);
    else
        snprintf(err, errlen, "systemd passed fd %d (name \"%s\"), which is not a listening "
                 "TCP socket: mpmd takes ListenStream= sockets (IPv4/IPv6) only", fd, name);
    return -1;
}
#endif

int sd_take_listen_sockets(struct sd_socket *out, int max, char *err, size_t errlen)
{
#ifdef HAVE_SYSTEMD
    char **names = NULL;
    int n = sd_listen_fds_with_names(1, &names), status = n;
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
        out[i].fd = SD_LISTEN_FDS_START + i;
        snprintf(out[i].name, sizeof out[i].name, "%s", name);
        if (check_passed_socket(out[i].fd, name, err, errlen) == -1)
            status = -1;
    }
    for (int i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
    return status;
#else
    (void)out;
    (void)max;
    (void)err;
    (void)errlen;
    return 0;
#endif
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
