/* fuzz_htpasswd.c: libFuzzer harness for what Basic authentication reads
 * from outside (src/modules/htpasswd.c): the Authorization field, the
 * user file and the group file.
 *
 * Input format: the first line is an Authorization field's value; the
 * second names a group; the rest is a user file and, the same bytes, a
 * group file.
 *
 * Checked: basic_credentials' user has no ':' and, with the password,
 * fits its buffer with no NUL inside; "Basic " + base64(user:password)
 * decodes to the same pair again.  htpasswd_find for that user (and for
 * the first user) gives a hash with no ':' or LF that occurs in the
 * file; a {SHA} or $apr1$ hash (fast to compute; bcrypt and SHA-crypt
 * costs come from the input, so those are not run) is verified without
 * crashing, and an APR1 hash recomputed from its own setting verifies.
 * htgroup_member says yes only when both names occur in the file.
 *
 * Runs in the calling thread; all memory is per input.  Invariant
 * failures abort() with a message. */
#include "config.h"

#define _GNU_SOURCE 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_htpasswd"
#include "fuzz_target.h"
#include "mpmd/modules/htpasswd.h"

#define MAX_INPUT (64 * 1024)

/* The next line of [*P, END) as a malloc'd C string (no '\n'). */
static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    char *s = malloc((size_t)(stop - *p) + 1);
    CHECK(s != NULL, "out of memory");
    memcpy(s, *p, (size_t)(stop - *p));
    s[stop - *p] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static void base64(const char *in, size_t len, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned long v = (unsigned long)(unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned long)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The credentials parsed, and parsed again after encoding them. */
static void credentials(const char *value, char *user, char *pw)
{
    size_t len = strlen(value);
    if (basic_credentials(value, len, user, 256, pw, 1024) != BASIC_OK) {
        user[0] = pw[0] = '\0';
        return;
    }
    CHECK(strchr(user, ':') == NULL, "user '%s' has a colon", user);
    CHECK(strlen(user) < 256 && strlen(pw) < 1024, "too long");
    char joined[256 + 1024 + 2], enc[2000], again[2100], u2[256], p2[1024];
    size_t n = (size_t)snprintf(joined, sizeof joined, "%s:%s", user, pw);
    base64(joined, n, enc);
    snprintf(again, sizeof again, "Basic %s", enc);
    CHECK(basic_credentials(again, strlen(again), u2, sizeof u2, p2, sizeof p2) == BASIC_OK,
          "re-encoded '%s' refused", again);
    CHECK(strcmp(u2, user) == 0 && strcmp(p2, pw) == 0, "round trip changed the credentials");
}

/* A hash found in TEXT: clean, present, verified if cheap. */
static void check_hash(const char *text, size_t len, const char *hash, const char *pw)
{
    CHECK(strpbrk(hash, ":\n") == NULL, "hash '%s' has a separator", hash);
    CHECK(hash[0] == '\0' || memmem(text, len, hash, strlen(hash)) != NULL, "hash not in file");
    if (strncmp(hash, "{SHA}", 5) == 0)
        (void)htpasswd_verify(hash, pw);
    if (strncmp(hash, "$apr1$", 6) == 0) {
        char out[64];
        (void)htpasswd_verify(hash, pw);
        if (htpasswd_apr1(pw, hash, out, sizeof out) == 0)
            CHECK(htpasswd_verify(out, pw) == HTPASSWD_MATCH, "own APR1 hash %s refused", out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    char *value = take_line(&p, end), *group = take_line(&p, end);
    size_t len = (size_t)(end - p);
    char *text = malloc(len ? len : 1);
    CHECK(text != NULL, "out of memory");
    memcpy(text, p, len);
    char *user = malloc(256), *pw = malloc(1024), hash[256];
    CHECK(user && pw, "out of memory");
    credentials(value, user, pw);
    if (htpasswd_find(text, len, user, hash, sizeof hash))
        check_hash(text, len, hash, pw);
    if (htpasswd_find(text, len, NULL, hash, sizeof hash))
        check_hash(text, len, hash, pw);
    if (htgroup_member(text, len, group, user))
        CHECK(memmem(text, len, group, strlen(group)) && memmem(text, len, user, strlen(user)),
              "member of a group the file does not name");
    free(user);
    free(pw);
    free(text);
    free(group);
    free(value);
    return 0;
}
