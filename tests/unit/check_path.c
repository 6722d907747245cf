/* check_path.c: unit tests for path_normalize (src/modules/path.c): a table of
 * accepted and refused paths, exact OUTCAP boundaries, and randomised
 * invariants.  Runs in the single Check runner (check_main.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/http/path.h"

struct path_case {
    const char *in;
    const char *want;   /* NULL: refused */
};

static const struct path_case path_cases[] = {
    /* accepted, unchanged */
    { "/", "/" },
    { "/index.html", "/index.html" },
    { "/a/b/c", "/a/b/c" },
    { "/a/b/", "/a/b/" },
    { "/a\\b", "/a\\b" },                   /* backslash is an ordinary byte */
    { "/...", "/..." },                     /* three dots: an ordinary name */
    { "/.a/..b/b..", "/.a/..b/b.." },
    { "/a?b#c", "/a?b#c" },                 /* the caller strips the query */
    /* repeated slashes */
    { "//", "/" },
    { "///a//b///", "/a/b/" },
    /* "." segments */
    { "/.", "/" },
    { "/./", "/" },
    { "/a/.", "/a/" },
    { "/a/./b", "/a/b" },
    { "/./././a", "/a" },
    /* ".." segments */
    { "/a/..", "/" },
    { "/a/../", "/" },
    { "/a/b/..", "/a/" },
    { "/a/b/../c", "/a/c" },
    { "/a/b/c/../../d/", "/a/d/" },
    { "/a/./../b", "/b" },
    { "/a//..", "/" },                      /* the empty segment is not a parent */
    /* percent-decoding */
    { "/%41%62%63", "/Abc" },
    { "/%7e%7E", "/~~" },                   /* hex case-insensitive */
    { "/a%20b", "/a b" },
    { "/%25", "/%" },                       /* decoded once only */
    { "/%2541", "/%41" },
    { "/%c3%A9t%C3%a9", "/\xc3\xa9t\xc3\xa9" }, /* bytes >= 0x80 kept */
    { "/%ff", "/\xff" },
    { "/%5c", "/\\" },
    { "/%2e", "/" },                        /* encoded "." is "." */
    { "/a/%2e%2e", "/" },
    { "/a/%2E%2e/b", "/b" },
    { "/a/.%2e/", "/" },
    { "/a/%2e./b/", "/b/" },
    { "/a/%2e%2e%2e", "/a/..." },
    /* refused: not starting with '/' */
    { "", NULL },
    { "a", NULL },
    { "a/b", NULL },
    { "*", NULL },
    { "http://x/", NULL },
    { "%2f", NULL },
    { ".", NULL },
    /* refused: climbing above the root */
    { "/..", NULL },
    { "/../", NULL },
    { "/../a", NULL },
    { "/a/../..", NULL },
    { "/a/../../b", NULL },
    { "/./..", NULL },
    { "/%2e%2e/", NULL },
    { "/%2E%2e", NULL },
    { "/.%2e/", NULL },
    { "/%2e./x", NULL },
    { "/a/b/../../../c", NULL },
    /* refused: bad escapes */
    { "/%zz", NULL },
    { "/%4", NULL },
    { "/%", NULL },
    { "/a%", NULL },
    { "/%g1", NULL },
    { "/%1g", NULL },
    { "/% 1", NULL },
    { "/%-1", NULL },
    /* refused: NUL */
    { "/%00", NULL },
    { "/a%00b", NULL },
    /* refused: encoded slash */
    { "/%2F", NULL },
    { "/%2f", NULL },
    { "/a%2fb", NULL },
    { "/%2E%2e%2f", NULL },
    { "/..%2f", NULL },
};

#define N_PATH_CASES ((int)(sizeof path_cases / sizeof *path_cases))

/* One table row per loop iteration: each is a TAP line of its own. */
START_TEST(test_table)
{
    const struct path_case *c = &path_cases[_i];
    char out[256];
    long n = path_normalize(c->in, strlen(c->in), out, sizeof out);
    if (c->want == NULL) {
        ck_assert_msg(n == -1, "\"%s\" should be refused, got \"%s\"", c->in, out);
        ck_assert_str_eq(out, "");
    } else {
        ck_assert_msg(n >= 0, "\"%s\" refused, want \"%s\"", c->in, c->want);
        ck_assert_str_eq(out, c->want);
        ck_assert_int_eq(n, (long)strlen(c->want));
    }
}
END_TEST

/* A raw NUL byte inside INLEN is refused like %00. */
START_TEST(test_raw_nul)
{
    char out[64];
    ck_assert_int_eq(path_normalize("/a\0b", 4, out, sizeof out), -1);
    ck_assert_int_eq(path_normalize("/\0", 2, out, sizeof out), -1);
}
END_TEST

/* Only INLEN bytes are read: the input need not be NUL-terminated. */
START_TEST(test_inlen_bounds)
{
    char out[64];
    ck_assert_int_eq(path_normalize("/abc/def", 4, out, sizeof out), 4);
    ck_assert_str_eq(out, "/abc");
    ck_assert_int_eq(path_normalize("/a/%2e%2e", 6, out, sizeof out), 3);  /* "/a/%2e" */
    ck_assert_str_eq(out, "/a/");
    ck_assert_int_eq(path_normalize("/a/%2e%2e", 8, out, sizeof out), -1); /* "%2" cut */
    ck_assert_int_eq(path_normalize("/a%41", 4, out, sizeof out), -1);     /* "%4" cut */
    ck_assert_int_eq(path_normalize("/a%41", 5, out, sizeof out), 3);
    ck_assert_str_eq(out, "/aA");
    ck_assert_int_eq(path_normalize("/", 0, out, sizeof out), -1);
}
END_TEST

/* IN may be the same size as OUT and OUT exactly one byte longer. */
START_TEST(test_outcap_exact_fit)
{
    char out[8];
    ck_assert_int_eq(path_normalize("/abcdef", 7, out, 8), 7);
    ck_assert_str_eq(out, "/abcdef");
    ck_assert_int_eq(path_normalize("/abcdef", 7, out, 7), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(path_normalize("/abcde/", 7, out, 8), 7);
    ck_assert_str_eq(out, "/abcde/");
    ck_assert_int_eq(path_normalize("/abcde/", 7, out, 7), -1); /* the slash does not fit */
    ck_assert_int_eq(path_normalize("/", 1, out, 2), 1);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(path_normalize("/", 1, out, 1), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(path_normalize("/", 1, out, 0), -1);
}
END_TEST

/* The capacity is checked against the result, not the input. */
START_TEST(test_outcap_result_not_input)
{
    char out[8];
    /* 3 escapes = 9 input bytes, 4 output bytes */
    ck_assert_int_eq(path_normalize("/%41%42%43", 10, out, 5), 4);
    ck_assert_str_eq(out, "/ABC");
    ck_assert_int_eq(path_normalize("/%41%42%43", 10, out, 4), -1);
    /* a too-long segment that ".." removes again */
    ck_assert_int_eq(path_normalize("/averylongname/../b", 19, out, 3), 2);
    ck_assert_str_eq(out, "/b");
    ck_assert_int_eq(path_normalize("/a/toolong/deeper/../../b", 25, out, 5), 4);
    ck_assert_str_eq(out, "/a/b");
    ck_assert_int_eq(path_normalize("/a/toolong/deeper/../../b", 25, out, 4), -1);
    /* "/abc/.." with room for "/abc" only: the trailing ".." still works */
    ck_assert_int_eq(path_normalize("/abc/..", 7, out, 5), 1);
    ck_assert_str_eq(out, "/");
    /* dot segments and double slashes do not count */
    ck_assert_int_eq(path_normalize("//././/ab", 9, out, 4), 3);
    ck_assert_str_eq(out, "/ab");
    /* the hidden segment is still there at the end */
    ck_assert_int_eq(path_normalize("/ab/cdefgh/.", 12, out, 5), -1);
    ck_assert_int_eq(path_normalize("/ab/cdefgh/..", 13, out, 5), 4);
    ck_assert_str_eq(out, "/ab/");
}
END_TEST

/* ".." below a segment that did not fit never climbs past the root. */
START_TEST(test_outcap_hidden_then_root)
{
    char out[4];
    ck_assert_int_eq(path_normalize("/longname/../..", 15, out, sizeof out), -1);
    ck_assert_int_eq(path_normalize("/longname/../../x", 17, out, sizeof out), -1);
    ck_assert_int_eq(path_normalize("/longname/more/../../x", 22, out, sizeof out), 2);
    ck_assert_str_eq(out, "/x");
}
END_TEST

/* A small xorshift generator, so failures are reproducible. */
static unsigned rand_next(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Check the documented shape of an accepted result. */
static void check_shape(const char *in, const char *out, long n)
{
    ck_assert_int_eq(n, (long)strlen(out));
    ck_assert_msg(out[0] == '/', "\"%s\" -> \"%s\"", in, out);
    ck_assert_msg(strstr(out, "//") == NULL, "\"%s\" -> \"%s\"", in, out);
    ck_assert_msg(strstr(out, "/./") == NULL, "\"%s\" -> \"%s\"", in, out);
    ck_assert_msg(strstr(out, "/../") == NULL, "\"%s\" -> \"%s\"", in, out);
    size_t len = strlen(out);
    ck_assert_msg(!(len >= 2 && strcmp(out + len - 2, "/.") == 0), "\"%s\" -> \"%s\"", in, out);
    ck_assert_msg(!(len >= 3 && strcmp(out + len - 3, "/..") == 0), "\"%s\" -> \"%s\"", in, out);
}

/* Random paths over a small alphabet: results have the documented shape,
 * normalising again changes nothing, and OUTCAP succeeds exactly when the
 * result plus its NUL fits. */
START_TEST(test_random_invariants)
{
    static const char alphabet[] = "//..ab%2eEfF0";
    unsigned seed = 12345;
    int accepted = 0;

    for (int iter = 0; iter < 20000; iter++) {
        char in[24], out[64], again[64], small[64];
        size_t len = 1 + rand_next(&seed) % (sizeof in - 1);
        in[0] = '/';
        for (size_t i = 1; i < len; i++)
            in[i] = alphabet[rand_next(&seed) % (sizeof alphabet - 1)];
        in[len] = '\0';
        long n = path_normalize(in, len, out, sizeof out);
        if (n == -1)
            continue;
        accepted++;
        check_shape(in, out, n);
        if (strchr(out, '%') == NULL) {
            ck_assert_int_eq(path_normalize(out, (size_t)n, again, sizeof again), n);
            ck_assert_str_eq(again, out);
        }
        ck_assert_int_eq(path_normalize(in, len, small, (size_t)n + 1), n);
        ck_assert_str_eq(small, out);
        ck_assert_int_eq(path_normalize(in, len, small, (size_t)n), -1);
    }
    ck_assert_int_gt(accepted, 1000);
}
END_TEST

/* A trailing slash survives exactly when the input had one, or when the
 * last segment was "." or "..". */
START_TEST(test_trailing_slash_rule)
{
    char out[32];
    ck_assert_int_eq(path_normalize("/a/b", 4, out, sizeof out), 4);
    ck_assert_str_eq(out, "/a/b");
    ck_assert_int_eq(path_normalize("/a/b//", 6, out, sizeof out), 5);
    ck_assert_str_eq(out, "/a/b/");
    ck_assert_int_eq(path_normalize("/a/b/.", 6, out, sizeof out), 5);
    ck_assert_str_eq(out, "/a/b/");
    ck_assert_int_eq(path_normalize("/a/b/c/..", 9, out, sizeof out), 5);
    ck_assert_str_eq(out, "/a/b/");
}
END_TEST

Suite *path_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("normalize");
    tcase_add_loop_test(tc, test_table, 0, N_PATH_CASES);
    tcase_add_test(tc, test_raw_nul);
    tcase_add_test(tc, test_inlen_bounds);
    tcase_add_test(tc, test_outcap_exact_fit);
    tcase_add_test(tc, test_outcap_result_not_input);
    tcase_add_test(tc, test_outcap_hidden_then_root);
    tcase_add_test(tc, test_random_invariants);
    tcase_add_test(tc, test_trailing_slash_rule);
    suite_add_tcase(s, tc);
    return s;
}
