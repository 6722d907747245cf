/* fuzz_expires.c: libFuzzer harness for the Expires rule parser and
 * FileETag (src/modules/expires.c, src/modules/fileetag.c).
 *
 * Input format: the text of an ExpiresDefault / ExpiresByType rule (up
 * to the first NUL; "access plus 1 month", "M600"); the same text split
 * at blanks is also given to FileETag as its words.
 *
 * Checked: the parser returns 0 or -1, with a message exactly when -1;
 * a rule it accepts has base 'A' or 'M' and 0 <= secs <= INT_MAX, and
 * parses the same twice; written back as "A<secs>" / "M<secs>" it parses
 * to itself; its arithmetic (expires_compute) gives an Expires not
 * before the request's second and a max-age >= 0, N exactly for access
 * rules, Expires = mtime + N for modification rules not yet past.
 * FileETag: its effective parts are None or a non-empty subset of All,
 * and the ETag made from them fits FILEETAG_MAX bytes, is ""
 * exactly for None, else quoted.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all
 * memory is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_expires"
#include "fuzz_target.h"
#include "mpmd/modules/expires.h"
#include "mpmd/modules/fileetag.h"

#define RULE_MAX_INPUT 4096
#define NOW 1700000000L

static void check_arithmetic(const struct expires_code *c)
{
    time_t t;
    long age;
    const time_t mtimes[] = {NOW - (time_t)c->secs - 5, NOW - 10, NOW};
    for (size_t i = 0; i < sizeof mtimes / sizeof *mtimes; i++) {
        CHECK(expires_compute(c, NOW, 500000, mtimes[i], &t, &age) == 0, "compute refused");
        CHECK(t >= NOW && age >= 0 && age <= t - NOW, "expires %lld, max-age %ld",
              (long long)t, age);
        if (c->base == 'A')
            CHECK(t == NOW + c->secs && age == c->secs, "access: %lld, %ld", (long long)t, age);
        else if (mtimes[i] + c->secs > NOW)
            CHECK(t == mtimes[i] + c->secs, "modification: %lld", (long long)t);
    }
    CHECK(c->base == 'A' || expires_compute(c, NOW, 0, 0, &t, &age) == -1,
          "modification rule without a file answered");
}

static void check_rule(const char *text)
{
    struct expires_code a, b;
    char err[256] = "", err2[256] = "";
    int r = expires_parse_code(text, &a, err, sizeof err);
    CHECK(r == 0 || r == -1, "returned %d", r);
    CHECK((r == -1) == (err[0] != '\0'), "returned %d with message '%s'", r, err);
    CHECK(memchr(err, '\0', sizeof err) != NULL, "message not terminated");
    CHECK(expires_parse_code(text, &b, err2, sizeof err2) == r, "not deterministic");
    if (r == -1)
        return;
    CHECK((a.base == 'A' || a.base == 'M') && a.secs >= 0 && a.secs <= INT_MAX,
          "base %d, secs %ld", a.base, a.secs);
    CHECK(a.base == b.base && a.secs == b.secs, "parsed differently twice");
    char again[32];
    snprintf(again, sizeof again, "%c%ld", a.base, a.secs);
    CHECK(expires_parse_code(again, &b, err, sizeof err) == 0 && b.base == a.base &&
          b.secs == a.secs, "'%s' does not parse back", again);
    check_arithmetic(&a);
}

static void check_fileetag(char *text)
{
    char *argv[8], err[256] = "";
    int argc = 0;
    for (char *w = strtok(text, " \t"); w && argc < 8; w = strtok(NULL, " \t"))
        argv[argc++] = w;
    struct fileetag_conf c = {0, 0, 0};
    if (argc == 0 || fileetag_parse(&c, argc, argv, err, sizeof err) == -1) {
        CHECK(argc == 0 || err[0] != '\0', "refused without a message");
        return;
    }
    struct fileetag_conf none = {0, 0, 0};
    unsigned bits = fileetag_effective(fileetag_merge(fileetag_merge(none, c), c));
    CHECK(bits == FILEETAG_NONE || (bits && (bits & ~(unsigned)FILEETAG_ALL) == 0),
          "bits %#x", bits);
    struct stat st = {0};
    st.st_ino = (ino_t)-1;
    st.st_mtime = (time_t)LLONG_MAX;
    st.st_size = (off_t)LLONG_MAX;
    char etag[64];
    size_t n = fileetag_format(etag, bits, &st);
    CHECK(n < FILEETAG_MAX && n == strlen(etag), "length %zu", n);
    CHECK((n == 0) == (bits == FILEETAG_NONE), "length %zu for bits %#x", n, bits);
    CHECK(n == 0 || (etag[0] == '"' && etag[n - 1] == '"'), "'%s' not quoted", etag);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > RULE_MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    CHECK(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';
    check_rule(text);
    check_fileetag(text);
    free(text);
    return 0;
}
