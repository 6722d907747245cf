/* secindex.h: a site's sections (<Directory>, <Files>, <Location> and
 * the Match forms) indexed so that finding the ones that apply to a
 * request costs one walk down the request's path.
 *
 * Built where the configuration loads (the supervisor, before fork), so
 * every child has its own read-only copy: lookups take no lock.  Plain
 * <Location> and <Directory> prefixes live in a tree of path segments
 * whose every node carries, precomputed, the sections that apply there in
 * merge order; wildcard and regex sections, and <Files>, are tested one
 * by one, and only when the site has any. */
#ifndef MPMD_SECINDEX_H
#define MPMD_SECINDEX_H

#include <stddef.h>

#include "mpmd/core/config.h"

/* Index SECS (N of them, in configuration order; they must outlive the
 * index).  NULL when out of memory. */
struct section_index *secindex_build(const struct section *const *secs, int n);

void secindex_free(struct section_index *ix);

/* Whether any section looks at the file-system path (Directory, Files):
 * callers build that path only then. */
int secindex_needs_fs(const struct section_index *ix);

/* The most sections that can apply to one request. */
int secindex_max_match(const struct section_index *ix);

/* PATH_INFO for <Files>: when no <Files>/<FilesMatch> section matches the
 * last segment of FS but one matches an earlier segment, the length of FS
 * up to the end of the last such segment ("/srv/a.php/x/y" -> 10 for
 * FilesMatch \.php$): the caller checks that it is a file.  0 otherwise.
 * No system call. */
size_t secindex_files_prefix(const struct section_index *ix, const char *fs);

/* The sections that apply, in Apache's merge order: <Directory> (shortest
 * path first), then <Files> and <FilesMatch> (file order), then
 * <Location> and <LocationMatch> (file order).  URL is the normalised URL
 * path (ULEN bytes); FS the file-system path it maps to (NUL-terminated)
 * or NULL.  Writes up to MAX pointers to OUT; returns how many. */
int secindex_match(const struct section_index *ix, const char *url, size_t ulen,
                   const char *fs, const struct section **out, int max);

/* Whether regex RE (a pcre2_code) matches S (LEN bytes) anywhere. */
int secindex_regex_matches(const void *re, const char *s, size_t len);

#endif
