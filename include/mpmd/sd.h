/* sd.h: the few systemd calls mpmd makes, as no-ops when built
 * --without-systemd.  Supervisor process only. */
#ifndef MPMD_SD_H
#define MPMD_SD_H

/* sd_notify(0, STATE) when NOTIFY_SOCKET is set; returns what sd_notify
 * returns (0 when not under systemd or built without it). */
int sd_notify_state(const char *state);

/* Whether stderr goes to the journal (JOURNAL_STREAM matches stderr): the
 * error log then uses "<N>" priority prefixes. */
int sd_stderr_is_journal(void);

#endif
