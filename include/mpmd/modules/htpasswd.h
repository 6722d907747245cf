/* htpasswd.h: the files Apache's htpasswd and an AuthGroupFile hold,
 * password hashes checked against them, and Basic credentials decoded
 * from an Authorization field.
 *
 * Pure functions of their arguments (no state, no I/O): any thread.
 * htpasswd_verify is slow on purpose for bcrypt and SHA-crypt (about
 * 60 ms at bcrypt cost 10): handler threads only. */
#ifndef MPMD_HTPASSWD_H
#define MPMD_HTPASSWD_H

#include <stddef.h>

enum htpasswd_verdict {
    HTPASSWD_MISMATCH = 0,
    HTPASSWD_MATCH = 1,
    HTPASSWD_UNKNOWN = -1,        /* a hash format mpmd does not know: a mismatch, logged */
};

/* Whether password PW (a C string) matches HASH, the second field of a
 * user file's line: bcrypt ($2y$, $2a$, $2b$), APR1-MD5 ($apr1$),
 * MD5-crypt ($1$), SHA-crypt ($5$, $6$), {SHA} (base64 of SHA-1) and
 * 13-character DES crypt.  The computed and stored hashes are compared
 * in constant time. */
enum htpasswd_verdict htpasswd_verify(const char *hash, const char *pw);

/* The APR1-MD5 hash ("$apr1$SALT$...") of PW with the salt of SETTING
 * ("$apr1$SALT" or a whole hash) into OUT (CAP >= 38 bytes): 0, or -1
 * when SETTING is not $apr1$ or OUT too small. */
int htpasswd_apr1(const char *pw, const char *setting, char *out, size_t cap);

/* USER's hash in TEXT (LEN bytes of a user file: "user:hash" lines, the
 * hash ending at the next ':' or the line's end; '#' comments and blank
 * lines skipped; the first line naming USER counts) into HASH (CAP
 * bytes, NUL-terminated): 1 found, 0 not found or the hash does not fit.
 * With USER NULL: the first user's hash. */
int htpasswd_find(const char *text, size_t len, const char *user, char *hash, size_t cap);

/* Whether USER is a member of GROUP in TEXT (LEN bytes of a group file:
 * "group: user1 user2" lines, '#' comments; a group may span several
 * lines): 1 or 0. */
int htgroup_member(const char *text, size_t len, const char *group, const char *user);

enum basic_verdict {
    BASIC_OK = 0,
    BASIC_OTHER_SCHEME = -1,      /* not "Basic ..." (Digest, Bearer, ...) */
    BASIC_MALFORMED = -2,         /* not base64, no ':' in it, a NUL, or too long */
};

/* The user and password of an Authorization field's VALUE (LEN bytes):
 * "Basic" (any case), spaces, base64("user:password"); the user ends at
 * the first ':'.  USER (UCAP bytes) and PW (PCAP bytes) get them
 * NUL-terminated on BASIC_OK. */
enum basic_verdict basic_credentials(const char *value, size_t len, char *user, size_t ucap,
                                     char *pw, size_t pcap);

#endif
