/* path.h: request-target path decoding and normalisation.
 *
 * Pure functions, any thread. */
#ifndef MPMD_PATH_H
#define MPMD_PATH_H

#include <stddef.h>

/* Percent-decode and normalise the path part of a request target
 * (IN, INLEN bytes, no query string; need not be NUL-terminated) into OUT
 * (OUTCAP bytes, NUL terminated).  Escapes are decoded first (hex digits
 * in either case; decoded bytes >= 0x80 are kept as they are), so "%2e%2e"
 * is a ".." segment.  The result always starts with '/', has no "." or
 * ".." segments and no repeated slashes, and keeps a trailing slash if the
 * input had one or ended in "." or ".." ("/a/." -> "/a/", "/a/.." -> "/").
 * '\\' is an ordinary byte.  Returns the length of OUT, or -1 (OUT set to
 * "") when the path must be refused: it does not start with '/', has a
 * bad escape ("%zz", "%4"), a NUL byte (raw or "%00"), an encoded slash
 * ("%2F"/"%2f": refused like Apache's AllowEncodedSlashes Off), a ".."
 * that would climb above the root, or a result that does not fit in
 * OUTCAP with its NUL.  One linear pass, no allocation; any thread. */
long path_normalize(const char *in, size_t inlen, char *out, size_t outcap);

#endif
