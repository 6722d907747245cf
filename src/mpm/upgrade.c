/* upgrade.c: starting a new binary on the running server's sockets, and
 * the new binary's side of the hand-over (see upgrade.h).  Supervisor
 * process only; the supervisor is single-threaded, so the forked process
 * may call setenv and snprintf before exec. */
#include "config.h"

#include "mpmd/mpm/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_START 3                /* SD_LISTEN_FDS_START */

/* In the forked process: close every descriptor from FIRST up. */
static void close_from(int first)
{
    if (close_range((unsigned)first, ~0u, 0) == 0)
        return;
    long max = sysconf(_SC_OPEN_MAX);
    for (int fd = first; fd < (max > 0 ? max : 1024); fd++)
        close(fd);
}

/* In the forked process: the sockets at 3..3+N-1, a copy of stderr at
 * 3+N, the pipe's write end PW as stderr, nothing else above 2.  Every
 * source is first copied above all targets, so no dup2 overwrites one. */
static int place_fds(const int *fds, int n, int pw)
{
    int base = FD_START + n + 1, tmp[64], err_copy, pw_copy;
    if (n > (int)(sizeof tmp / sizeof tmp[0]))
        return -1;
    if ((err_copy = fcntl(2, F_DUPFD, base)) == -1 || (pw_copy = fcntl(pw, F_DUPFD, base)) == -1)
        return -1;
    for (int i = 0; i < n; i++)
        if ((tmp[i] = fcntl(fds[i], F_DUPFD, base)) == -1)
            return -1;
    for (int i = 0; i < n; i++)
        if (dup2(tmp[i], FD_START + i) == -1)
            return -1;
    if (dup2(err_copy, FD_START + n) == -1 || dup2(pw_copy, 2) == -1)
        return -1;
    close_from(base);
    return 0;
}

/* In the forked process: the variables systemd would set for it. */
static int set_env(int n, const char *names)
{
    char num[32], pid[32];
    snprintf(num, sizeof num, "%d", n);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    if (setenv("LISTEN_FDS", num, 1) == -1 || setenv("LISTEN_PID", pid, 1) == -1 ||
        setenv("LISTEN_FDNAMES", names, 1) == -1)
        return -1;
    /* systemd's watchdog is for the main pid; the new one takes over. */
    if (getenv("WATCHDOG_USEC") && setenv("WATCHDOG_PID", pid, 1) == -1)
        return -1;
    snprintf(num, sizeof num, "%d", FD_START + n);
    return setenv(UPGRADE_ENV, num, 1);
}

/* In the forked process: become the new binary, or say why not. */
static void exec_new(const char *path, char *const argv[], const int *fds, int n,
                     const char *names, int pw)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);   /* the supervisor blocks its signals */
    signal(SIGPIPE, SIG_DFL);
    if (place_fds(fds, n, pw) == -1 || set_env(n, names) == -1) {
        dprintf(pw, "cannot prepare the new process: %s\n", strerror(errno));
        _exit(127);
    }
    if (path)
        execv(path, argv);
    else
        execvp(argv[0], argv);
    dprintf(2, "cannot run %s: %s\n", path ? path : argv[0], strerror(errno));
    _exit(127);
}

int upgrade_start(struct upgrade *u, const char *path, char *const argv[], const int *fds,
                  int n, const char *names, int timeout, uint64_t now, char *err, size_t errlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) == -1) {
        snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == -1) {
        snprintf(err, errlen, "fork failed: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        exec_new(path, argv, fds, n, names, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    *u = (struct upgrade){ .pid = pid, .report = p[0],
                           .deadline = now + (uint64_t)timeout * 1000000u };
    return 0;
}

/* Keep the last UPGRADE_OUT_MAX - 1 bytes of what it wrote. */
static void keep_output(struct upgrade *u, const char *buf, size_t n)
{
    size_t room = sizeof u->out - 1;
    if (n >= room) {
        memcpy(u->out, buf + n - room, room);
        u->len = room;
    } else {
        if (u->len + n > room) {
            size_t drop = u->len + n - room;
            memmove(u->out, u->out + drop, u->len - drop);
            u->len -= drop;
        }
        memcpy(u->out + u->len, buf, n);
        u->len += n;
    }
    u->out[u->len] = '\0';
}

/* Take the ready line out of the kept output; 1 if it was there. */
static int take_ready_line(struct upgrade *u)
{
    size_t n = strlen(UPGRADE_READY_LINE);
    char *at = memmem(u->out, u->len, UPGRADE_READY_LINE, n);
    if (!at || (at != u->out && at[-1] != '\n'))
        return 0;
    memmove(at, at + n, u->len - (size_t)(at - u->out) - n + 1);
    u->len -= n;
    return 1;
}

int upgrade_read(struct upgrade *u)
{
    char buf[512];
    ssize_t n = -1;
    while (u->report != -1 && (n = read(u->report, buf, sizeof buf)) != 0) {
        if (n == -1) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                u->eof = 1;
            break;
        }
        keep_output(u, buf, (size_t)n);
        if (take_ready_line(u))
            u->ready = 1;
    }
    if (u->report != -1 && n == 0)
        u->eof = 1;
    return u->ready;
}

void upgrade_stop(struct upgrade *u, const char *why, uint64_t now)
{
    if (u->kill_at || !u->pid)
        return;
    snprintf(u->why, sizeof u->why, "%s", why);
    kill(u->pid, SIGTERM);
    u->kill_at = now + UPGRADE_KILL_GRACE * 1000000u;
}

/* What it printed, on one line, trailing blanks dropped, into BUF. */
static void output_line(const struct upgrade *u, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < u->len && n + 1 < size; i++) {
        char c = u->out[i];
        buf[n++] = c == '\n' || c == '\r' || c == '\0' ? ' ' : c;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
}

void upgrade_reason(const struct upgrade *u, int status, char *buf, size_t size)
{
    char what[320], out[UPGRADE_OUT_MAX];
    if (u->why[0])
        snprintf(what, sizeof what, "new binary (pid %ld) %s", (long)u->pid, u->why);
    else if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "new binary was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else if (WEXITSTATUS(status) != 0)
        snprintf(what, sizeof what, "new binary exited with status %d", WEXITSTATUS(status));
    else
        snprintf(what, sizeof what, "new binary exited (status 0) without reporting ready");
    output_line(u, out, sizeof out);
    snprintf(buf, size, "%s%s%s", what, out[0] ? ": " : "", out);
}

void upgrade_clear(struct upgrade *u)
{
    if (u->report != -1)
        close(u->report);
    *u = (struct upgrade){ .pid = 0, .report = -1 };
}

int upgrade_take_report(void)
{
    const char *e = getenv(UPGRADE_ENV);
    char *end = NULL;
    long fd = e ? strtol(e, &end, 10) : -1;
    int valid = e && *e != '\0' && *end == '\0' && fd >= FD_START && fd < 65536 &&
                fcntl((int)fd, F_GETFD) != -1;
    if (!e)
        return -1;
    unsetenv(UPGRADE_ENV);
    if (!valid)
        return -1;
    int report = fcntl(2, F_DUPFD_CLOEXEC, FD_START);
    if (report == -1 || dup2((int)fd, 2) == -1) {
        if (report != -1)
            close(report);
        report = -1;
    }
    close((int)fd);
    return report;
}

void upgrade_report(int *fd, const char *text)
{
    if (*fd == -1)
        return;
    if (text)
        dprintf(*fd, "%s\n", text);
    else
        dprintf(*fd, "%s", UPGRADE_READY_LINE);
    close(*fd);
    *fd = -1;
}
