/* conffile.h: configuration files on disk: reading one, and expanding an
 * Include argument into the files it names, in Apache's order.
 *
 * Used by src/core/config.c (the parser) in whatever thread loads a config;
 * no state outside the arguments. */
#ifndef MPMD_CONFFILE_H
#define MPMD_CONFFILE_H

#include <stddef.h>

#define CONFFILE_MAX_SIZE (1024 * 1024)  /* a bigger configuration file is a mistake */

/* The whole of PATH as a NUL-terminated string (caller frees), or NULL
 * with the reason ("cannot open: No such file or directory", ...) in WHY. */
char *conffile_read(const char *path, char *why, size_t whylen);

/* The files an Include of PATH (absolute) names, as Apache 2.4 reads
 * them: shell wildcards (fnmatch) in any component, matches in
 * alphabetical order; a directory stands for every file below it, again
 * in alphabetical order per directory.  *FILES gets a malloc'd array of
 * malloc'd absolute paths (conffile_free_list), *N their number, at
 * most MAX.  Returns 0, or -1 with the reason in WHY: nothing matches or
 * PATH does not exist (unless OPTIONAL: then 0 files), more than MAX
 * files, out of memory. */
int conffile_expand(const char *path, int optional, int max, char ***files, int *n, char *why,
                    size_t whylen);

void conffile_free_list(char **files, int n);

#endif
