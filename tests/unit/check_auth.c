/* check_auth.c: htpasswd hashes, user and group files, Basic credentials
 * (src/modules/htpasswd.c) and Require rules with users
 * (src/core/dirconf.c's authz_eval, Apache's mod_authz_core logic). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/modules/htpasswd.h"

/* Made by htpasswd -nb (apache2-utils 2.4.57) and openssl passwd. */
static const struct {
    const char *hash, *pw;
} vectors[] = {
    {"$2y$04$cf145/BrBy3FbWgGSZ/queAqFR8Y0/A013n0Dxcpav2eb/qGzWNmm", "pw-bcrypt"},
    {"$apr1$l1HJK7Ft$kzVVXEwok9slImCiBVw.B.", "pw-apr1"},
    {"$apr1$abcdefgh$Eqv4oIyMsS.tjfvQCJYY1/", "a much longer password than sixteen bytes"},
    {"{SHA}G5zynyVKZeHPqXetqic75L7ZkrM=", "pw-sha"},
    {"$6$zLtersLFl0dZ.fex$PhE7y3Qc/B2FA9u9vRsxGKFcBmkaQaIoy3qISokFred16fQtC6.JumpVHOawd2quUL."
     "AzLB2OnZufdeMwyC670", "pw-sha512"},
    {"$5$sadwktpjuOphMi62$PbDAnMzGnb8HnDO3XMvrPOUp/viUzDkIot6cQPhGge0", "pw-sha256"},
    {"$1$xyz$qlvqhqnoAJVuP4oa2zr7s.", "md5pw"},
    {"abaylghgxlu4o", "despw"},
};

START_TEST(test_verify_formats)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        ck_assert_msg(htpasswd_verify(vectors[i].hash, vectors[i].pw) == HTPASSWD_MATCH,
                      "%s should match", vectors[i].hash);
        ck_assert_msg(htpasswd_verify(vectors[i].hash, "wrong") == HTPASSWD_MISMATCH,
                      "%s should not match 'wrong'", vectors[i].hash);
        ck_assert_int_eq(htpasswd_verify(vectors[i].hash, ""), HTPASSWD_MISMATCH);
    }
}
END_TEST

START_TEST(test_verify_unknown)
{
    ck_assert_int_eq(htpasswd_verify("plaintext-pw", "plaintext-pw"), HTPASSWD_UNKNOWN);
    ck_assert_int_eq(htpasswd_verify("$9$whatever", "x"), HTPASSWD_UNKNOWN);
    ck_assert_int_eq(htpasswd_verify("", ""), HTPASSWD_UNKNOWN);
    ck_assert_int_eq(htpasswd_verify("{SHA}", ""), HTPASSWD_MISMATCH);
    ck_assert_int_eq(htpasswd_verify("$2y$04$short", "x"), HTPASSWD_UNKNOWN);
}
END_TEST

START_TEST(test_apr1)
{
    char out[64];
    ck_assert_int_eq(htpasswd_apr1("a much longer password than sixteen bytes", "$apr1$abcdefgh",
                                   out, sizeof out), 0);
    ck_assert_str_eq(out, "$apr1$abcdefgh$Eqv4oIyMsS.tjfvQCJYY1/");
    ck_assert_int_eq(htpasswd_apr1("x", "$1$abc", out, sizeof out), -1);
    ck_assert_int_eq(htpasswd_apr1("x", "$apr1$abc", out, 20), -1);
}
END_TEST

static const char users[] =
    "# a comment\n"
    "\n"
    "alice:$apr1$l1HJK7Ft$kzVVXEwok9slImCiBVw.B.\n"
    "bob:{SHA}G5zynyVKZeHPqXetqic75L7ZkrM=:extra field\r\n"
    "no colon line\n"
    "alice:second-entry-ignored\n"
    "carol:abaylghgxlu4o";

START_TEST(test_find)
{
    char h[256];
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "alice", h, sizeof h), 1);
    ck_assert_str_eq(h, "$apr1$l1HJK7Ft$kzVVXEwok9slImCiBVw.B.");
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "bob", h, sizeof h), 1);
    ck_assert_str_eq(h, "{SHA}G5zynyVKZeHPqXetqic75L7ZkrM=");
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "carol", h, sizeof h), 1);
    ck_assert_str_eq(h, "abaylghgxlu4o");
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "ali", h, sizeof h), 0);
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "Alice", h, sizeof h), 0);
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "# a comment", h, sizeof h), 0);
    ck_assert_int_eq(htpasswd_find(users, strlen(users), "alice", h, 10), 0);
    ck_assert_int_eq(htpasswd_find(users, strlen(users), NULL, h, sizeof h), 1);
    ck_assert_str_eq(h, "$apr1$l1HJK7Ft$kzVVXEwok9slImCiBVw.B.");
    ck_assert_int_eq(htpasswd_find("", 0, NULL, h, sizeof h), 0);
}
END_TEST

START_TEST(test_groups)
{
    static const char g[] = "# groups\nstaff: alice bob\n  ops:carol\tdave\nstaff: erin\nempty:\n";
    size_t n = strlen(g);
    ck_assert_int_eq(htgroup_member(g, n, "staff", "alice"), 1);
    ck_assert_int_eq(htgroup_member(g, n, "staff", "bob"), 1);
    ck_assert_int_eq(htgroup_member(g, n, "staff", "erin"), 1);
    ck_assert_int_eq(htgroup_member(g, n, "ops", "dave"), 1);
    ck_assert_int_eq(htgroup_member(g, n, "ops", "alice"), 0);
    ck_assert_int_eq(htgroup_member(g, n, "staff", "ali"), 0);
    ck_assert_int_eq(htgroup_member(g, n, "staf", "alice"), 0);
    ck_assert_int_eq(htgroup_member(g, n, "empty", ""), 0);
    ck_assert_int_eq(htgroup_member(g, n, "# groups", "x"), 0);
}
END_TEST

static int creds(const char *v, char *user, char *pw)
{
    return basic_credentials(v, strlen(v), user, 64, pw, 64);
}

START_TEST(test_basic_credentials)
{
    char u[64], p[64];
    ck_assert_int_eq(creds("Basic YWxpY2U6b3Blbg==", u, p), BASIC_OK);   /* alice:open */
    ck_assert_str_eq(u, "alice");
    ck_assert_str_eq(p, "open");
    ck_assert_int_eq(creds("basic   YWxpY2U6b3Blbg  ", u, p), BASIC_OK);  /* unpadded */
    ck_assert_int_eq(creds("Basic YTpiOmM=", u, p), BASIC_OK);          /* a:b:c */
    ck_assert_str_eq(u, "a");
    ck_assert_str_eq(p, "b:c");
    ck_assert_int_eq(creds("Basic Og==", u, p), BASIC_OK);             /* ":" */
    ck_assert_str_eq(u, "");
    ck_assert_str_eq(p, "");
    ck_assert_int_eq(creds("Bearer abc", u, p), BASIC_OTHER_SCHEME);
    ck_assert_int_eq(creds("BasicYWxpY2U6b3Blbg==", u, p), BASIC_OTHER_SCHEME);
    ck_assert_int_eq(creds("", u, p), BASIC_OTHER_SCHEME);
    ck_assert_int_eq(creds("Basic", u, p), BASIC_MALFORMED);
    ck_assert_int_eq(creds("Basic !!!", u, p), BASIC_MALFORMED);
    ck_assert_int_eq(creds("Basic YWxpY2U=", u, p), BASIC_MALFORMED);   /* no colon */
    ck_assert_int_eq(creds("Basic YWxpY2UAOng=", u, p), BASIC_MALFORMED); /* a NUL */
    ck_assert_int_eq(creds("Basic YWxpY2U6b3Blbg=x", u, p), BASIC_MALFORMED);
    ck_assert_int_eq(creds("Basic Y", u, p), BASIC_MALFORMED);
    /* a user longer than the buffer */
    ck_assert_int_eq(basic_credentials("Basic YWxpY2U6b3Blbg==", 22, u, 3, p, 64), BASIC_MALFORMED);
}
END_TEST

/* ---- Require with users ---------------------------------------------------- */

static struct authz *rule(enum authz_kind kind, const char *const *lines)
{
    struct authz *c = authz_new(kind);
    char err[256];
    for (int i = 0; lines[i]; i++) {
        char buf[128], *argv[8];
        int argc = 0;
        snprintf(buf, sizeof buf, "%s", lines[i]);
        for (char *tok = strtok(buf, " "); tok && argc < 8; tok = strtok(NULL, " "))
            argv[argc++] = tok;
        ck_assert_msg(authz_add_require(c, argc, argv, err, sizeof err) == 0, "%s", err);
    }
    return c;
}

static int in_staff(void *ctx, const char *group)
{
    (void)ctx;
    return strcmp(group, "staff") == 0;
}

static struct sockaddr_in peer(const char *ip)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

START_TEST(test_eval_users)
{
    struct sockaddr_in local = peer("127.0.0.1"), other = peer("10.9.9.9");
    const struct sockaddr *lo = (const struct sockaddr *)&local, *ot = (const struct sockaddr *)&other;
    struct authz_user bob = {.name = "bob", .in_group = in_staff};
    struct authz_user fred = {.name = "fred"};

    struct authz *a = rule(AUTHZ_ANY, (const char *const[]){"valid-user", NULL});
    ck_assert_int_eq(authz_eval(a, lo, NULL), AZ_DENIED_NO_USER);
    ck_assert_int_eq(authz_eval(a, lo, &fred), AZ_GRANTED);
    ck_assert_int_eq(authz_check(a, lo), 0);
    authz_free(a);

    a = rule(AUTHZ_ANY, (const char *const[]){"user bob carol", NULL});
    ck_assert_int_eq(authz_eval(a, lo, &bob), AZ_GRANTED);
    ck_assert_int_eq(authz_eval(a, lo, &fred), AZ_DENIED);
    authz_free(a);

    a = rule(AUTHZ_ANY, (const char *const[]){"group staff", NULL});
    ck_assert_int_eq(authz_eval(a, lo, &bob), AZ_GRANTED);
    ck_assert_int_eq(authz_eval(a, lo, &fred), AZ_DENIED);
    ck_assert_int_eq(authz_eval(a, lo, NULL), AZ_DENIED_NO_USER);
    authz_free(a);

    /* RequireAny ip + valid-user: the address grants without a user. */
    a = rule(AUTHZ_ANY, (const char *const[]){"ip 127.0.0.1", "valid-user", NULL});
    ck_assert_int_eq(authz_eval(a, lo, NULL), AZ_GRANTED);
    ck_assert_int_eq(authz_eval(a, ot, NULL), AZ_DENIED_NO_USER);
    ck_assert_int_eq(authz_eval(a, ot, &fred), AZ_GRANTED);
    authz_free(a);

    /* RequireAll ip + valid-user: a wrong address is denied, user or not. */
    a = rule(AUTHZ_ALL, (const char *const[]){"ip 127.0.0.1", "valid-user", NULL});
    ck_assert_int_eq(authz_eval(a, lo, NULL), AZ_DENIED_NO_USER);
    ck_assert_int_eq(authz_eval(a, lo, &fred), AZ_GRANTED);
    ck_assert_int_eq(authz_eval(a, ot, NULL), AZ_DENIED);
    ck_assert_int_eq(authz_eval(a, ot, &fred), AZ_DENIED);
    authz_free(a);

    /* RequireAll valid-user, not user fred. */
    a = rule(AUTHZ_ALL, (const char *const[]){"valid-user", "not user fred", NULL});
    ck_assert_int_eq(authz_eval(a, lo, NULL), AZ_DENIED_NO_USER);
    ck_assert_int_eq(authz_eval(a, lo, &bob), AZ_GRANTED);
    ck_assert_int_eq(authz_eval(a, lo, &fred), AZ_DENIED);
    authz_free(a);
}
END_TEST

Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("htpasswd");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_verify_formats);
    tcase_add_test(tc, test_verify_unknown);
    tcase_add_test(tc, test_apr1);
    tcase_add_test(tc, test_find);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_basic_credentials);
    suite_add_tcase(s, tc);
    tc = tcase_create("require");
    tcase_add_test(tc, test_eval_users);
    suite_add_tcase(s, tc);
    return s;
}
