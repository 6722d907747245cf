/* sd.h: the few systemd calls mpmd makes.  Built --without-systemd the
 * notification and watchdog calls are no-ops, and the sockets passed in
 * LISTEN_FDS are read by hand (socket activation, mpmd -k upgrade).
 * Supervisor process only. */
#ifndef MPMD_SD_H
#define MPMD_SD_H

#include <stddef.h>
#include <stdint.h>

#define SD_NAME_MAX 256           /* FileDescriptorName= is at most 255 characters */

/* One listening socket systemd passed us. */
struct sd_socket {
    int fd;
    char name[SD_NAME_MAX];       /* FileDescriptorName= ("unknown" when systemd sent none, as libsystemd says) */
};

/* sd_notify(0, STATE) when NOTIFY_SOCKET is set; returns what sd_notify
 * returns (> 0 sent, 0 not under systemd or built without it, < 0 -errno). */
int sd_notify_state(const char *state);

/* printf-style sd_notify_state: "STATUS=%s", ... (at most 1 KiB). */
int sd_notify_statef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The systemd watchdog interval in microseconds (WATCHDOG_USEC, when
 * WATCHDOG_PID is unset or ours), or 0 when the watchdog is off.  The
 * caller sends "WATCHDOG=1" at half this interval or more often. */
uint64_t sd_watchdog_usec(void);

/* Whether "MAINPID=" must accompany READY=1: systemd started another
 * process ($SYSTEMD_EXEC_PID is set and is not us), e.g. a wrapper. */
int sd_need_mainpid(void);

/* Take the sockets systemd passed (socket activation, or an upgrading
 * mpmd): calls sd_listen_fds_with_names() once (without libsystemd, the
 * same protocol read by hand), which unsets LISTEN_FDS, LISTEN_PID and
 * LISTEN_FDNAMES so children and later calls do not see them.  Fills up to
 * MAX entries of OUT and returns how many (0 when not socket-activated).
 * Every socket must be a listening TCP socket; otherwise returns -1 with
 * the reason in ERR, e.g. a connected socket ("...Accept=yes ... mpmd
 * needs Accept=no").  The descriptors are close-on-exec; they belong to
 * systemd and are never closed by mpmd. */
int sd_take_listen_sockets(struct sd_socket *out, int max, char *err, size_t errlen);

/* Whether stderr goes to the journal (JOURNAL_STREAM matches stderr): the
 * error log then uses "<N>" priority prefixes. */
int sd_stderr_is_journal(void);

#endif
