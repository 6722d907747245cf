/* check_mime.c: unit tests for the Content-Type table (src/modules/mime.c):
 * built-ins, case, extension rules, and mime.types files written to a
 * temporary directory.  Runs in the single Check runner (check_main.c). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/modules/mime.h"

#define OCTET "application/octet-stream"

static const char *lookup(const struct mime_table *t, const char *path)
{
    return mime_lookup(t, path, strlen(path));
}

/* Write TEXT to a new temporary file whose name is stored in NAME; the
 * test unlinks it. */
static void write_temp(char *name, size_t cap, const char *text)
{
    snprintf(name, cap, "%s/mpmd-mime-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(name);
    ck_assert_int_ne(fd, -1);
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    ck_assert_int_eq(close(fd), 0);
}

/* A table with only the built-ins: a file that does not exist. */
static struct mime_table *builtins_only(void)
{
    struct mime_table *t = mime_load("/nonexistent/mpmd/mime.types");
    ck_assert_ptr_nonnull(t);
    return t;
}

static const char *const builtin_expect[][2] = {
    { "html", "text/html" },        { "htm", "text/html" },
    { "css", "text/css" },          { "js", "text/javascript" },
    { "mjs", "text/javascript" },   { "json", "application/json" },
    { "txt", "text/plain" },        { "xml", "application/xml" },
    { "svg", "image/svg+xml" },     { "png", "image/png" },
    { "jpg", "image/jpeg" },        { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },         { "webp", "image/webp" },
    { "ico", "image/vnd.microsoft.icon" },
    { "pdf", "application/pdf" },   { "wasm", "application/wasm" },
    { "woff", "font/woff" },        { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },          { "otf", "font/otf" },
    { "mp3", "audio/mpeg" },        { "mp4", "video/mp4" },
    { "webm", "video/webm" },       { "ogg", "audio/ogg" },
    { "zip", "application/zip" },   { "gz", "application/gzip" },
    { "tar", "application/x-tar" }, { "bz2", "application/x-bzip2" },
    { "xz", "application/x-xz" },   { "csv", "text/csv" },
    { "md", "text/markdown" },
};

START_TEST(test_builtins)
{
    struct mime_table *t = builtins_only();
    for (size_t i = 0; i < sizeof builtin_expect / sizeof *builtin_expect; i++) {
        char path[32];
        snprintf(path, sizeof path, "/dir/file.%s", builtin_expect[i][0]);
        ck_assert_str_eq(lookup(t, path), builtin_expect[i][1]);
    }
    mime_free(t);
}
END_TEST

/* No charset is appended to text types. */
START_TEST(test_no_charset)
{
    struct mime_table *t = builtins_only();
    ck_assert_ptr_null(strchr(lookup(t, "/a.html"), ';'));
    ck_assert_ptr_null(strchr(lookup(t, "/a.txt"), ';'));
    mime_free(t);
}
END_TEST

START_TEST(test_case_insensitive)
{
    struct mime_table *t = builtins_only();
    ck_assert_str_eq(lookup(t, "/INDEX.HTML"), "text/html");
    ck_assert_str_eq(lookup(t, "/Photo.JpEg"), "image/jpeg");
    ck_assert_str_eq(lookup(t, "/x.Png"), "image/png");
    ck_assert_str_eq(lookup(t, "/font.WOFF2"), "font/woff2");
    mime_free(t);
}
END_TEST

START_TEST(test_no_extension)
{
    struct mime_table *t = builtins_only();
    ck_assert_str_eq(lookup(t, "/foo"), OCTET);
    ck_assert_str_eq(lookup(t, "foo"), OCTET);
    ck_assert_str_eq(lookup(t, ""), OCTET);
    ck_assert_str_eq(lookup(t, "/"), OCTET);
    ck_assert_str_eq(lookup(t, "/dir/"), OCTET);
    ck_assert_str_eq(lookup(t, "/foo."), OCTET);          /* trailing dot */
    ck_assert_str_eq(lookup(t, "/foo.html."), OCTET);
    ck_assert_str_eq(lookup(t, "/x.unknownext"), OCTET);
    ck_assert_str_eq(lookup(t, "/x.htmlx"), OCTET);       /* no prefix matches */
    ck_assert_str_eq(lookup(t, "/x.ht"), OCTET);
    mime_free(t);
}
END_TEST

START_TEST(test_dotfiles)
{
    struct mime_table *t = builtins_only();
    ck_assert_str_eq(lookup(t, "/.bashrc"), OCTET);
    ck_assert_str_eq(lookup(t, "/home/.html"), OCTET);    /* a dotfile named ".html" */
    ck_assert_str_eq(lookup(t, ".css"), OCTET);
    ck_assert_str_eq(lookup(t, "/.config.json"), "application/json");
    ck_assert_str_eq(lookup(t, "/.well-known/x.txt"), "text/plain");
    mime_free(t);
}
END_TEST

/* Only the last segment counts: dots in directories are ignored. */
START_TEST(test_dots_in_directories)
{
    struct mime_table *t = builtins_only();
    ck_assert_str_eq(lookup(t, "/a.b/c"), OCTET);
    ck_assert_str_eq(lookup(t, "/site.html/readme"), OCTET);
    ck_assert_str_eq(lookup(t, "/a.png/b.css"), "text/css");
    ck_assert_str_eq(lookup(t, "/a.b/c.tar.gz"), "application/gzip");
    ck_assert_str_eq(lookup(t, "/v1.2/.hidden"), OCTET);
    mime_free(t);
}
END_TEST

/* Only LEN bytes are looked at. */
START_TEST(test_length_bounded)
{
    struct mime_table *t = builtins_only();
    const char *p = "/index.html?q=1.png";
    ck_assert_str_eq(mime_lookup(t, p, 11), "text/html");
    ck_assert_str_eq(mime_lookup(t, p, 10), "text/html"); /* "/index.htm" */
    ck_assert_str_eq(mime_lookup(t, p, 9), OCTET);        /* "/index.ht" */
    ck_assert_str_eq(mime_lookup(t, "/a.cssXX", 6), "text/css");
    ck_assert_str_eq(mime_lookup(t, "/a.css", 0), OCTET);
    mime_free(t);
}
END_TEST

START_TEST(test_missing_file_ok)
{
    struct mime_table *t = mime_load("/nonexistent/mime.types");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(lookup(t, "/a.html"), "text/html");
    mime_free(t);
    t = mime_load("/");                                     /* a directory: ignored */
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(lookup(t, "/a.css"), "text/css");
    mime_free(t);
}
END_TEST

/* The file wins for extensions it lists, later lines over earlier ones;
 * built-ins fill the gaps; js stays text/javascript. */
START_TEST(test_file_overrides_and_adds)
{
    char name[256];
    write_temp(name, sizeof name,
               "# a comment line: text/evil html\n"
               "   # indented comment\n"
               "\n"
               "text/x-custom-html\thtml\n"
               "application/x-foo foo BAR  # trailing comment: ignored qux\n"
               "application/x-first dup\n"
               "application/x-second dup\n"
               "application/javascript js mjs\n"
               "Text/X-Mixed MiXeD\r\n"
               "notatype ext1\n"
               "image/x-nothing\n"
               "application/x-last last");       /* no final newline */
    struct mime_table *t = mime_load(name);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(lookup(t, "/a.html"), "text/x-custom-html");
    ck_assert_str_eq(lookup(t, "/a.foo"), "application/x-foo");
    ck_assert_str_eq(lookup(t, "/a.bar"), "application/x-foo");
    ck_assert_str_eq(lookup(t, "/a.BAR"), "application/x-foo");
    ck_assert_str_eq(lookup(t, "/a.qux"), OCTET);
    ck_assert_str_eq(lookup(t, "/a.dup"), "application/x-second");
    ck_assert_str_eq(lookup(t, "/a.js"), "text/javascript");
    ck_assert_str_eq(lookup(t, "/a.mjs"), "text/javascript");
    ck_assert_str_eq(lookup(t, "/a.mixed"), "Text/X-Mixed");   /* type as written */
    ck_assert_str_eq(lookup(t, "/a.ext1"), OCTET);
    ck_assert_str_eq(lookup(t, "/a.last"), "application/x-last");
    ck_assert_str_eq(lookup(t, "/a.htm"), "text/html");       /* built-in gap filler */
    ck_assert_str_eq(lookup(t, "/a.png"), "image/png");
    mime_free(t);
    ck_assert_int_eq(unlink(name), 0);
}
END_TEST

/* Enough entries to make the table grow several times. */
START_TEST(test_many_entries)
{
    size_t cap = 5000 * 24 + 1, len = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < 5000; i++)
        len += (size_t)snprintf(text + len, cap - len, "type/t%d e%d x%d\n", i, i, i);
    char name[256];
    write_temp(name, sizeof name, text);
    free(text);
    struct mime_table *t = mime_load(name);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < 5000; i++) {
        char path[32], want[32];
        snprintf(want, sizeof want, "type/t%d", i);
        snprintf(path, sizeof path, "/f.E%d", i);
        ck_assert_str_eq(lookup(t, path), want);
        snprintf(path, sizeof path, "/f.x%d", i);
        ck_assert_str_eq(lookup(t, path), want);
    }
    ck_assert_str_eq(lookup(t, "/a.html"), "text/html");
    ck_assert_str_eq(lookup(t, "/a.e5000"), OCTET);
    mime_free(t);
    ck_assert_int_eq(unlink(name), 0);
}
END_TEST

/* A NUL byte inside the file ends that line's tokens, not the file. */
START_TEST(test_nul_in_file)
{
    char name[256];
    write_temp(name, sizeof name, "");
    FILE *f = fopen(name, "w");
    ck_assert_ptr_nonnull(f);
    static const char text[] = "text/x-a aa\0 bb\ntext/x-c cc\n";
    ck_assert_int_eq(fwrite(text, 1, sizeof text - 1, f), sizeof text - 1);
    ck_assert_int_eq(fclose(f), 0);
    struct mime_table *t = mime_load(name);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(lookup(t, "/x.aa"), "text/x-a");
    ck_assert_str_eq(lookup(t, "/x.bb"), OCTET);
    ck_assert_str_eq(lookup(t, "/x.cc"), "text/x-c");
    mime_free(t);
    ck_assert_int_eq(unlink(name), 0);
}
END_TEST

/* The system file (when present) loads and agrees on the basics. */
START_TEST(test_system_file)
{
    struct mime_table *t = mime_load(NULL);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(lookup(t, "/index.html"), "text/html");
    ck_assert_str_eq(lookup(t, "/app.js"), "text/javascript");
    ck_assert_str_eq(lookup(t, "/style.css"), "text/css");
    ck_assert_str_eq(lookup(t, "/noext"), OCTET);
    mime_free(t);
    mime_free(NULL);
}
END_TEST

START_TEST(test_null_table)
{
    ck_assert_str_eq(lookup(NULL, "/a.html"), OCTET);
}
END_TEST

Suite *mime_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("mime");
    tcase_add_test(tc, test_builtins);
    tcase_add_test(tc, test_no_charset);
    tcase_add_test(tc, test_case_insensitive);
    tcase_add_test(tc, test_no_extension);
    tcase_add_test(tc, test_dotfiles);
    tcase_add_test(tc, test_dots_in_directories);
    tcase_add_test(tc, test_length_bounded);
    tcase_add_test(tc, test_missing_file_ok);
    tcase_add_test(tc, test_file_overrides_and_adds);
    tcase_add_test(tc, test_many_entries);
    tcase_add_test(tc, test_nul_in_file);
    tcase_add_test(tc, test_system_file);
    tcase_add_test(tc, test_null_table);
    suite_add_tcase(s, tc);
    return s;
}
