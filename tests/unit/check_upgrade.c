/* check_upgrade.c: src/mpm/upgrade.c -- starting a new binary with the
 * listening sockets (a shell script stands in for it and checks what it
 * got), reading its report, the reason given when it fails, and the new
 * binary's side (the report channel and stderr put back). */
#include "config.h"

#include <check.h>
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

#include "check_suites.h"
#include "mpmd/mpm/upgrade.h"

#define WAIT_MS 5000              /* bound for the script to finish */

/* A listening socket on 127.0.0.1, any port. */
static int listening_socket(void)
{
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ne(fd, -1);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    return fd;
}

/* Run SCRIPT (sh -c) as the new binary with two sockets; read its report
 * until it exits; returns its wait status. */
static int run_script(struct upgrade *u, const char *script)
{
    char *argv[] = { "sh", "-c", (char *)script, NULL };
    char err[256] = "";
    int fds[2] = { listening_socket(), listening_socket() }, status = -1;
    ck_assert_msg(upgrade_start(u, "/bin/sh", argv, fds, 2, "web:mpmd.bound", 30, 0, err,
                                sizeof err) == 0, "upgrade_start: %s", err);
    ck_assert_int_gt(u->pid, 0);
    ck_assert_int_eq(u->deadline, 30000000);
    for (int i = 0; i < WAIT_MS / 10; i++) {
        upgrade_read(u);
        if (waitpid(u->pid, &status, WNOHANG) == u->pid)
            break;
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
    upgrade_read(u);
    close(fds[0]);
    close(fds[1]);
    return status;
}

/* The script sees what systemd would give it, stderr is the pipe, and
 * MPMD_UPGRADE names the old stderr; its ready line is recognised and
 * kept out of the output. */
START_TEST(test_start_passes_sockets)
{
    struct upgrade u;
    const char *script =
        "[ \"$LISTEN_FDS\" = 2 ] && [ \"$LISTEN_PID\" = $$ ] && "
        "[ \"$LISTEN_FDNAMES\" = web:mpmd.bound ] && [ \"$MPMD_UPGRADE\" = 5 ] && "
        "[ -e /proc/self/fd/3 ] && [ -e /proc/self/fd/4 ] && [ -e /proc/self/fd/5 ] && "
        "[ ! -e /proc/self/fd/6 ] && "
        "case $(readlink /proc/self/fd/3) in socket:*) ;; *) exit 9;; esac && "
        "case $(readlink /proc/self/fd/2) in pipe:*) ;; *) exit 8;; esac && "
        "echo before >&2 && printf 'mpmd-upgrade: ready\\n' >&2 && echo after >&2";
    int status = run_script(&u, script);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "script status %#x, said: %s",
                  status, u.out);
    ck_assert_int_eq(u.ready, 1);
    ck_assert_int_eq(u.eof, 1);
    ck_assert_str_eq(u.out, "before\nafter\n");
    upgrade_clear(&u);
    ck_assert_int_eq(u.pid, 0);
    ck_assert_int_eq(u.report, -1);
}
END_TEST

/* A binary that fails: its exit status and message are the reason. */
START_TEST(test_reason_exit_status)
{
    struct upgrade u;
    char reason[1024];
    int status = run_script(&u, "echo 'server.conf:3: Foo: unknown directive' >&2; exit 1");
    ck_assert_int_eq(u.ready, 0);
    upgrade_reason(&u, status, reason, sizeof reason);
    ck_assert_str_eq(reason, "new binary exited with status 1: server.conf:3: Foo: unknown "
                             "directive");
    upgrade_clear(&u);
}
END_TEST

/* A binary that cannot be run at all. */
START_TEST(test_reason_exec_fails)
{
    struct upgrade u;
    char *argv[] = { "nonexistent", NULL }, err[256], reason[1024];
    int fd = listening_socket(), status = -1;
    ck_assert_int_eq(upgrade_start(&u, "/nonexistent/mpmd", argv, &fd, 1, "x", 1, 0, err,
                                   sizeof err), 0);
    ck_assert_int_eq(waitpid(u.pid, &status, 0), u.pid);
    upgrade_read(&u);
    upgrade_reason(&u, status, reason, sizeof reason);
    ck_assert_str_eq(reason, "new binary exited with status 127: cannot run /nonexistent/mpmd: "
                             "No such file or directory");
    upgrade_clear(&u);
    close(fd);
}
END_TEST

/* Stopped for a reason of ours: that reason, and what it printed. */
START_TEST(test_reason_stopped)
{
    struct upgrade u;
    char reason[1024];
    char *argv[] = { "sh", "-c", "echo hanging >&2; exec sleep 30", NULL }, err[256];
    int fd = listening_socket(), status = -1;
    ck_assert_int_eq(upgrade_start(&u, "/bin/sh", argv, &fd, 1, "x", 1, 100, err, sizeof err),
                     0);
    for (int i = 0; i < WAIT_MS / 10 && strstr(u.out, "hanging") == NULL; i++) {
        upgrade_read(&u);
        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
    upgrade_stop(&u, "did not report ready", 200);
    ck_assert_int_eq(u.kill_at, 200 + UPGRADE_KILL_GRACE * 1000000u);
    ck_assert_int_eq(waitpid(u.pid, &status, 0), u.pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    upgrade_reason(&u, status, reason, sizeof reason);
    char want[128];
    snprintf(want, sizeof want, "new binary (pid %ld) did not report ready: hanging",
             (long)u.pid);
    ck_assert_str_eq(reason, want);
    upgrade_clear(&u);
    close(fd);
}
END_TEST

/* Only the last UPGRADE_OUT_MAX - 1 bytes are kept; a ready line split
 * over two writes is still found. */
START_TEST(test_read_bounded_and_split)
{
    struct upgrade u = { .report = -1 };
    int p[2];
    char big[3000];
    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    u.report = p[0];
    memset(big, 'x', sizeof big);
    big[sizeof big - 1] = 'y';
    ck_assert_int_eq(write(p[1], big, sizeof big), (ssize_t)sizeof big);
    ck_assert_int_eq(upgrade_read(&u), 0);
    ck_assert_uint_eq(u.len, UPGRADE_OUT_MAX - 1);
    ck_assert_int_eq(u.out[u.len - 1], 'y');
    ck_assert_int_eq(write(p[1], "\nmpmd-upg", 9), 9);
    ck_assert_int_eq(upgrade_read(&u), 0);
    ck_assert_int_eq(write(p[1], "rade: ready\n", 12), 12);
    ck_assert_int_eq(upgrade_read(&u), 1);
    ck_assert_int_eq(u.out[u.len - 1], '\n');
    ck_assert_int_eq(u.eof, 0);
    close(p[1]);
    upgrade_read(&u);
    ck_assert_int_eq(u.eof, 1);
    upgrade_clear(&u);
}
END_TEST

/* The new binary's side, in a child process (it rewires fd 2):
 * MPMD_UPGRADE=N puts N back as stderr and returns the old stderr as the
 * report channel; upgrade_report writes one line and closes it. */
START_TEST(test_take_report)
{
    int pipe_fds[2], saved[2];
    ck_assert_int_eq(pipe(pipe_fds), 0);
    ck_assert_int_eq(pipe(saved), 0);
    pid_t pid = fork();
    ck_assert_int_ne(pid, -1);
    if (pid == 0) {
        char num[16];
        dup2(pipe_fds[1], 2);               /* stderr: the report pipe */
        snprintf(num, sizeof num, "%d", saved[1]);
        setenv(UPGRADE_ENV, num, 1);
        int report = upgrade_take_report();
        int ok = report > 2 && getenv(UPGRADE_ENV) == NULL &&
                 (fcntl(report, F_GETFD) & FD_CLOEXEC);
        dprintf(2, "to the old stderr\n");  /* now saved[1] */
        upgrade_report(&report, ok ? "started" : "wrong");
        _exit(report == -1 && ok ? 0 : 1);
    }
    close(pipe_fds[1]);
    close(saved[1]);
    int status;
    char a[64] = "", b[64] = "";
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(read(pipe_fds[0], a, sizeof a - 1) > 0);
    ck_assert(read(saved[0], b, sizeof b - 1) > 0);
    ck_assert_str_eq(a, "started\n");
    ck_assert_str_eq(b, "to the old stderr\n");
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(pipe_fds[0]);
    close(saved[0]);
    unsetenv(UPGRADE_ENV);
    ck_assert_int_eq(upgrade_take_report(), -1);
}
END_TEST

Suite *upgrade_suite(void)
{
    Suite *s = suite_create("upgrade");
    TCase *tc = tcase_create("upgrade");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, test_start_passes_sockets);
    tcase_add_test(tc, test_reason_exit_status);
    tcase_add_test(tc, test_reason_exec_fails);
    tcase_add_test(tc, test_reason_stopped);
    tcase_add_test(tc, test_read_bounded_and_split);
    tcase_add_test(tc, test_take_report);
    suite_add_tcase(s, tc);
    return s;
}
