/* mime.h: file-name extension to Content-Type.
 *
 * A table loaded by the supervisor for each configuration generation,
 * before children fork (from TypesConfig, /etc/mime.types by default,
 * when readable, plus a built-in list of common types); lookups are
 * read-only and safe from any thread afterwards. */
#ifndef MPMD_MIME_H
#define MPMD_MIME_H

#include <stddef.h>

struct mime_table;

/* Load FILE (NULL: /etc/mime.types): lines "type/sub ext1 ext2 ...",
 * '#' comments.  The file wins for the extensions it lists (a later line
 * over an earlier one); a built-in list of common types fills the gaps;
 * "js" and "mjs" are always text/javascript.  A missing or unreadable
 * file is not an error.  Returns NULL only when out of memory.  Call
 * before threads start; free with mime_free (NULL is fine). */
struct mime_table *mime_load(const char *file);
void mime_free(struct mime_table *t);

/* Content-Type for PATH, LEN bytes (looks at the extension after the last
 * '.' of the last segment, case-insensitive), exactly as the table says,
 * e.g. "text/html" (no charset).  No extension, a trailing '.', a dotfile
 * with no other dot (".bashrc"), an unknown extension or a NULL table:
 * "application/octet-stream".  Never allocates; any thread.  The returned
 * string lives as long as the table. */
const char *mime_lookup(const struct mime_table *t, const char *path, size_t len);

#endif
