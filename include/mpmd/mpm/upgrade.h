/* upgrade.h: handing the listening sockets to a new binary (mpmd -k
 * upgrade, SIGUSR2), both sides of it.  Supervisor process only.
 *
 * The running supervisor forks and execs the program it was started as
 * (the same path, so a file replaced on disk is the new binary) with the
 * same arguments.  The new process gets the listening sockets the way
 * systemd passes them (fds 3.., LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES),
 * so it binds nothing and both share one accept queue: no connection
 * waiting in it is lost.  Its stderr is a pipe back to the old supervisor,
 * which keeps the last UPGRADE_OUT_MAX bytes: whatever a broken or foreign
 * binary prints is the reason given.  MPMD_UPGRADE=N names a copy of the
 * old supervisor's own stderr: a new mpmd (upgrade_take_report) puts it
 * back as its stderr at once and keeps the pipe as its report channel,
 * where it writes UPGRADE_READY_LINE once its first generation accepts, or
 * why it cannot start. */
#ifndef MPMD_UPGRADE_H
#define MPMD_UPGRADE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UPGRADE_ENV "MPMD_UPGRADE"
#define UPGRADE_READY_LINE "mpmd-upgrade: ready\n"
#define UPGRADE_OUT_MAX 512
#define UPGRADE_KILL_GRACE 5      /* seconds between SIGTERM and SIGKILL of a failed one */

/* An upgrade under way, in the old supervisor. */
struct upgrade {
    pid_t pid;                    /* the new supervisor; 0: none under way */
    int report;                   /* read end of its stderr (non-blocking), or -1 */
    int eof;                      /* it closed the pipe */
    int ready;                    /* it wrote UPGRADE_READY_LINE */
    uint64_t deadline;            /* CLOCK_MONOTONIC µs: not ready by then, it is stopped */
    uint64_t kill_at;             /* µs: SIGTERMed, SIGKILL then; 0: not told to stop */
    int killed;                   /* SIGKILLed */
    char why[256];                /* why it was told to stop; "" if it was not */
    char out[UPGRADE_OUT_MAX];    /* the last of what it wrote, ready line excluded */
    size_t len;
};

/* Old supervisor: fork and exec PATH (NULL: argv[0] searched in $PATH)
 * with ARGV, the N sockets FDS (names NAMES, "a:b:c") at fds 3.., and the
 * environment described at the top.  Fills U (pid, report, deadline NOW +
 * TIMEOUT seconds, NOW in µs).  Returns 0, or -1 with the reason in ERR (pipe or fork
 * failed).  A failed exec shows as the new process exiting with status
 * 127 after writing "cannot run PATH: why" to the pipe. */
int upgrade_start(struct upgrade *u, const char *path, char *const argv[], const int *fds,
                  int n, const char *names, int timeout, uint64_t now, char *err, size_t errlen);

/* Old supervisor: read what the new one wrote so far.  Returns 1 once it
 * reported ready, 0 otherwise (U->eof set when the pipe closed). */
int upgrade_read(struct upgrade *u);

/* Old supervisor: SIGTERM the new one because of WHY (kept in U->why),
 * SIGKILL due UPGRADE_KILL_GRACE seconds after NOW (µs). */
void upgrade_stop(struct upgrade *u, const char *why, uint64_t now);

/* Old supervisor, once the new one was reaped with wait STATUS: the
 * reason the upgrade failed, "new binary exited with status 1: OUTPUT"
 * or "new binary (pid N) WHY: OUTPUT" (OUTPUT: what it printed, on one
 * line), into BUF. */
void upgrade_reason(const struct upgrade *u, int status, char *buf, size_t size);

/* Old supervisor: close the pipe and forget U (the process is reaped or
 * left to run on its own). */
void upgrade_clear(struct upgrade *u);

/* New supervisor, first thing: when started by an upgrade (MPMD_UPGRADE
 * set), put the old supervisor's stderr back as fd 2, unset the variable
 * and return the report channel (close-on-exec); else -1. */
int upgrade_take_report(void);

/* New supervisor: write TEXT (one line; NULL: UPGRADE_READY_LINE) to the
 * report channel *FD, close it and set *FD to -1.  Nothing when *FD is -1. */
void upgrade_report(int *fd, const char *text);

#endif
