/* check_conffile.c: unit tests for Include and IncludeOptional
 * (src/core/conffile.c, and its use in src/core/config.c): the order files are read
 * in (wildcards, directories), optional patterns, errors that name the
 * included file and line, loops, relative paths from ServerRoot and -d,
 * the DUMP_INCLUDES listing, and where later checks point (Listen,
 * MaxRequestWorkers set in an included file).
 *
 * Each test gets a fresh directory under /tmp (an unchecked fixture,
 * removed with everything in it even when the test fails) used as
 * ServerRoot; it holds htdocs/ (the default DocumentRoot). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/core/conffile.h"
#include "mpmd/core/config.h"

static char root[64];

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "include", (const char *const[]){"htdocs", NULL});
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

/* Write TEXT to ROOT/NAME, creating the directories on the way. */
static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s", path);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Load ROOT/main.conf (ServerRoot ROOT through -d); ERR gets the message. */
static struct config *load(char *err, size_t errlen)
{
    char path[512];
    snprintf(path, sizeof path, "%s/main.conf", root);
    return config_load(path, root, err, errlen);
}

/* Load ROOT/main.conf and expect ERR_WANT (with "ROOT" in it standing for
 * the sandbox). */
static void load_fails(const char *want_fmt)
{
    char err[1024], want[1024];
    struct config *cfg = load(err, sizeof err);
    config_free(cfg);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof want, want_fmt, root, root, root);
    ck_assert_str_eq(err, want);
}

/* The names of the files CFG read, after ROOT/, joined by spaces. */
static void files_read(const struct config *cfg, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 1; i < cfg->n_files; i++) {
        const char *p = cfg->files[i].path;
        ck_assert_msg(strncmp(p, root, strlen(root)) == 0, "%s outside the sandbox", p);
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i > 1 ? " " : "",
                 p + strlen(root) + 1);
    }
}

/* ---- conffile_expand ---------------------------------------------------- */

/* Wildcards: alphabetical (byte) order, directories stand for their files,
 * recursively, in order. */
START_TEST(test_expand_order)
{
    char pattern[256], **files;
    int n;
    put("d/b.conf", "");
    put("d/a.conf", "");
    put("d/C.conf", "");
    put("d/x.txt", "");
    put("d/sub.conf/z", "");
    put("d/sub.conf/y", "");
    snprintf(pattern, sizeof pattern, "%s/d/*.conf", root);
    ck_assert_int_eq(conffile_expand(pattern, 0, 100, &files, &n, NULL, 0), 0);
    ck_assert_int_eq(n, 5);
    const char *want[] = {"C.conf", "a.conf", "b.conf", "sub.conf/y", "sub.conf/z"};
    for (int i = 0; i < n; i++) {
        char full[256];
        snprintf(full, sizeof full, "%s/d/%s", root, want[i]);
        ck_assert_str_eq(files[i], full);
    }
    conffile_free_list(files, n);
}
END_TEST

/* Nothing matching: an error for Include, nothing for IncludeOptional;
 * the same for a path that does not exist. */
START_TEST(test_expand_missing)
{
    char pattern[256], why[256], want[320], **files = NULL;
    int n = -1;
    snprintf(pattern, sizeof pattern, "%s/none/*.conf", root);
    ck_assert_int_eq(conffile_expand(pattern, 0, 100, &files, &n, why, sizeof why), -1);
    snprintf(want, sizeof want, "no file matches '%s'", pattern);
    ck_assert_str_eq(why, want);
    ck_assert_int_eq(conffile_expand(pattern, 1, 100, &files, &n, why, sizeof why), 0);
    ck_assert_int_eq(n, 0);
    snprintf(pattern, sizeof pattern, "%s/none.conf", root);
    ck_assert_int_eq(conffile_expand(pattern, 0, 100, &files, &n, why, sizeof why), -1);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", pattern);
    ck_assert_str_eq(why, want);
    ck_assert_int_eq(conffile_expand(pattern, 1, 100, &files, &n, why, sizeof why), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

/* More files than MAX is an error, not a truncated list. */
START_TEST(test_expand_max)
{
    char pattern[256], why[256], **files = NULL;
    int n = 0;
    put("m/1", "");
    put("m/2", "");
    put("m/3", "");
    snprintf(pattern, sizeof pattern, "%s/m", root);
    ck_assert_int_eq(conffile_expand(pattern, 0, 2, &files, &n, why, sizeof why), -1);
    ck_assert_str_eq(why, "names more than 2 files");
    ck_assert_int_eq(conffile_expand(pattern, 0, 3, &files, &n, why, sizeof why), 0);
    ck_assert_int_eq(n, 3);
    conffile_free_list(files, n);
}
END_TEST

/* ---- Include in a configuration ---------------------------------------- */

/* The included lines take effect where the Include stands: a later line
 * of the main file wins over them, an earlier one loses. */
START_TEST(test_include_in_place)
{
    char err[512], names[512];
    put("main.conf", "Listen 127.0.0.1:8080\nTimeout 5\nInclude conf.d/*.conf\n"
                     "KeepAliveTimeout 9\n");
    put("conf.d/a.conf", "Timeout 7\nKeepAliveTimeout 3\n");
    put("conf.d/b.conf", "LogLevel info\n");
    struct config *cfg = load(err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->timeout, 7);
    ck_assert_int_eq(cfg->keepalive_timeout, 9);
    ck_assert_int_eq(cfg->log_level, LOGL_INFO);
    files_read(cfg, names, sizeof names);
    ck_assert_str_eq(names, "conf.d/a.conf conf.d/b.conf");
    config_free(cfg);
}
END_TEST

/* Debian's layout: an empty sites-enabled/ with IncludeOptional is fine,
 * with Include it is an error at the Include's line. */
START_TEST(test_include_optional)
{
    char err[512];
    put("main.conf", "Listen 8080\nIncludeOptional sites-enabled/*.conf\n"
                     "IncludeOptional missing.conf\n");
    put("sites-enabled/README", "not a .conf\n");
    struct config *cfg = load(err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->n_files, 1);
    config_free(cfg);
    put("main.conf", "Listen 8080\n\nInclude sites-enabled/*.conf\n");
    load_fails("%s/main.conf:3: Include: no file matches '%s/sites-enabled/*.conf'");
}
END_TEST

/* An error in an included file names that file and its line. */
START_TEST(test_include_error_position)
{
    put("main.conf", "Listen 8080\nInclude a.conf\n");
    put("a.conf", "# comment\n\nTimeout 5\nInclude b.conf\n");
    put("b.conf", "KeepAlive On\nTimeout never\n");
    load_fails("%s/b.conf:2: Timeout: expected an integer from 1 to 86400, got 'never'");
}
END_TEST

/* A file that includes itself, directly or through another, is refused
 * at the Include that closes the loop. */
START_TEST(test_include_loop)
{
    put("main.conf", "Listen 8080\nInclude a.conf\n");
    put("a.conf", "Include b.conf\n");
    put("b.conf", "Timeout 5\nInclude a.conf\n");
    load_fails("%s/b.conf:2: Include: '%s/a.conf' is already being read: an Include loop");
    put("main.conf", "Listen 8080\nInclude main.conf\n");
    load_fails("%s/main.conf:2: Include: '%s/main.conf' is already being read: an Include "
               "loop");
}
END_TEST

/* A relative path is taken from ServerRoot as set above the Include;
 * mpmd -d (here: the sandbox) wins over the file. */
START_TEST(test_include_server_root)
{
    char err[512], path[512];
    put("other/x.conf", "Timeout 11\n");
    put("main.conf", "Listen 8080\nServerRoot /nonexistent\nInclude other/x.conf\n");
    struct config *cfg = load(err, sizeof err);   /* -d ROOT */
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->timeout, 11);
    config_free(cfg);
    snprintf(path, sizeof path, "%s/main.conf", root);
    char text[512];
    snprintf(text, sizeof text, "Listen 8080\nServerRoot %s/other\nInclude x.conf\n"
             "DocumentRoot %s/htdocs\n", root, root);
    cfg = config_parse_text(path, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->timeout, 11);
    config_free(cfg);
}
END_TEST

/* Later checks point at the right file: a duplicate Listen across files,
 * and the cross-directive check naming the directive set last. */
START_TEST(test_include_later_checks)
{
    char err[512];
    put("main.conf", "Listen 127.0.0.1:8080\nInclude l.conf\n");
    put("l.conf", "\nListen 127.0.0.1:8080\n");
    load_fails("%s/l.conf:2: Listen: duplicate address 127.0.0.1:8080 (already at "
               "%s/main.conf:1)");
    put("main.conf", "Listen 8080\nThreadsPerChild 10\nInclude w.conf\n");
    put("w.conf", "ServerLimit 1\n\n\nMaxRequestWorkers 11\n");
    load_fails("%s/w.conf:4: MaxRequestWorkers: MaxRequestWorkers 11 is more than "
               "ServerLimit 1 x ThreadsPerChild 10 = 10; raise ServerLimit or "
               "ThreadsPerChild, or lower MaxRequestWorkers");
    put("main.conf", "Listen 8080\nInclude l2.conf\n");
    put("l2.conf", "Listen 127.0.0.1:9\n");
    struct config *cfg = load(err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_int_eq(cfg->n_listen, 2);
    ck_assert_str_eq(cfg->listen[1].file, cfg->files[1].path);
    ck_assert_int_eq(cfg->listen[1].line, 1);
    config_free(cfg);
}
END_TEST

/* -t -D DUMP_INCLUDES prints Apache's listing: the main file, then each
 * included file under its includer with the Include's line. */
START_TEST(test_include_dump)
{
    char err[512], want[2048], got[2048];
    put("main.conf", "Listen 8080\nInclude a.conf\n\nInclude d\n");
    put("a.conf", "Include b.conf\n");
    put("b.conf", "Timeout 5\n");
    put("d/z.conf", "");
    struct config *cfg = load(err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    FILE *f = fmemopen(got, sizeof got, "w");
    ck_assert_ptr_nonnull(f);
    config_print_includes(cfg, f);
    fclose(f);
    snprintf(want, sizeof want,
             "Included configuration files:\n"
             "  (*) %s/main.conf\n"
             "    (2) %s/a.conf\n"
             "      (1) %s/b.conf\n"
             "    (4) %s/d/z.conf\n", root, root, root, root);
    ck_assert_str_eq(got, want);
    config_free(cfg);
}
END_TEST

/* An unreadable included file, and a directory nested deeper than the
 * depth limit, give clear errors. */
START_TEST(test_include_limits)
{
    put("main.conf", "Listen 8080\nInclude bin.conf\n");
    put("bin.conf", "");
    char path[512];
    snprintf(path, sizeof path, "%s/bin.conf", root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite("Timeout 5\n\0", 1, 11, f);
    fclose(f);
    load_fails("%s/main.conf:2: Include: '%s/bin.conf': cannot read: contains a NUL byte; "
               "is it a text file?");
    /* n.conf includes n1.conf includes n2.conf ... deeper than the limit */
    for (int i = 0; i <= CONFIG_MAX_INCLUDE_DEPTH + 1; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "n%d.conf", i);
        snprintf(text, sizeof text, "Include n%d.conf\n", i + 1);
        put(name, text);
    }
    put("main.conf", "Listen 8080\nInclude n0.conf\n");
    char want[512];
    snprintf(want, sizeof want, "%%s/n%d.conf:1: Include: Include nested more than %d deep",
             CONFIG_MAX_INCLUDE_DEPTH - 1, CONFIG_MAX_INCLUDE_DEPTH);
    load_fails(want);
}
END_TEST

Suite *conffile_suite(void)
{
    Suite *s = suite_create("conffile");
    TCase *tc = tcase_create("expand");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_expand_order);
    tcase_add_test(tc, test_expand_missing);
    tcase_add_test(tc, test_expand_max);
    suite_add_tcase(s, tc);
    tc = tcase_create("include");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_include_in_place);
    tcase_add_test(tc, test_include_optional);
    tcase_add_test(tc, test_include_error_position);
    tcase_add_test(tc, test_include_loop);
    tcase_add_test(tc, test_include_server_root);
    tcase_add_test(tc, test_include_later_checks);
    tcase_add_test(tc, test_include_dump);
    tcase_add_test(tc, test_include_limits);
    suite_add_tcase(s, tc);
    return s;
}
