/* sd.c: systemd notification and journal detection (see sd.h).
 * Supervisor only.  Compiles to stubs without libsystemd. */
#include "config.h"

#include "mpmd/sd.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

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

int sd_stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%lu:%lu", &dev, &ino) != 2 || fstat(2, &st) == -1)
        return 0;
    return (unsigned long)st.st_dev == dev && (unsigned long)st.st_ino == ino;
}
