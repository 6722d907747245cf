/* supervisor.h: the supervisor process: binds the Listen sockets, forks
 * and reaps children, and acts on signals.  Its whole state is one
 * struct supervisor, private to supervisor.c. */
#ifndef MPMD_SUPERVISOR_H
#define MPMD_SUPERVISOR_H

/* Load CONF_PATH (SERVER_ROOT overrides ServerRoot when not NULL), bind,
 * start the children and run until stopped by a signal.  EXE and ARGV are
 * what SIGUSR2 runs to upgrade (upgrade.h): the program's absolute path as
 * started (NULL: ARGV[0] is searched in $PATH) and its arguments; both
 * must live as long as the call.  Returns the process exit status: 0
 * after a clean stop or after handing over to a new binary, 1 when
 * start-up failed (the reason printed to stderr, config errors as
 * FILE:LINE: ...). */
int supervisor_run(const char *conf_path, const char *server_root, const char *exe,
                   char *const argv[]);

#endif
