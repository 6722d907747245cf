/* supervisor.h: the supervisor process: binds the Listen sockets, forks
 * and reaps children, and acts on signals.  Its whole state is one
 * struct supervisor, private to supervisor.c. */
#ifndef MPMD_SUPERVISOR_H
#define MPMD_SUPERVISOR_H

/* Load CONF_PATH (SERVER_ROOT overrides ServerRoot when not NULL), bind,
 * start the children and run until stopped by a signal.  Returns the
 * process exit status: 0 after a clean stop, 1 when start-up failed
 * (the reason printed to stderr, config errors as FILE:LINE: ...). */
int supervisor_run(const char *conf_path, const char *server_root);

#endif
