/* check_autoindex.c: the pure parts of directory listings
 * (src/modules/autoindex.c): the ?C=..;O=.. query, sizes, IndexIgnore
 * patterns, link and JSON escaping, natural order, sorting, and the
 * directives' errors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/modules/autoindex.h"
#include "mpmd/modules/sbview.h"

static struct ai_query parse(const char *q)
{
    struct ai_query out;
    autoindex_parse_query(q, strlen(q), &out);
    return out;
}

START_TEST(test_query)
{
    struct ai_query q = parse("C=M;O=D");
    ck_assert_int_eq(q.key, 'M');
    ck_assert_int_eq(q.order, 'D');
    ck_assert_int_eq(q.format, AI_FORMAT_NONE);
    q = parse("O=A&C=S");
    ck_assert_int_eq(q.key, 'S');
    ck_assert_int_eq(q.order, 'A');
    q = parse("C=S;O=X;C=N");             /* a pair not understood ends the parse */
    ck_assert_int_eq(q.key, 'S');
    ck_assert_int_eq(q.order, 0);
    q = parse("C=NN;O=D");                /* a longer value is not understood either */
    ck_assert_int_eq(q.key, 0);
    ck_assert_int_eq(q.order, 0);
    q = parse("c=n");                     /* letters are upper case, as Apache's */
    ck_assert_int_eq(q.key, 0);
    q = parse("F=json");
    ck_assert_int_eq(q.format, AI_FORMAT_JSON);
    q = parse("F=2;V=1;P=*.txt;C=D");
    ck_assert_int_eq(q.format, AI_FORMAT_TABLE);
    ck_assert_int_eq(q.version, 1);
    ck_assert_uint_eq(q.pattern_len, 5);
    ck_assert(memcmp(q.pattern, "*.txt", 5) == 0);
    ck_assert_int_eq(q.key, 'D');
    q = parse("F=3");
    ck_assert_int_eq(q.format, AI_FORMAT_NONE);
    q = parse("C=M;");
    ck_assert_int_eq(q.key, 'M');
    q = parse("");
    ck_assert_int_eq(q.key, 0);
    autoindex_parse_query(NULL, 0, &q);
    ck_assert_int_eq(q.version, -1);
    /* Not NUL-terminated: LEN bounds the parse. */
    autoindex_parse_query("C=MO=D", 3, &q);
    ck_assert_int_eq(q.key, 'M');
    ck_assert_int_eq(q.order, 0);
}
END_TEST

/* The sizes Apache 2.4.71 printed for the same file sizes. */
START_TEST(test_size)
{
    static const struct { long long size; const char *want; } cases[] = {
        { -1, "  - " }, { 0, "  0 " }, { 5, "  5 " }, { 972, "972 " }, { 973, "1.0K" },
        { 1023, "1.0K" }, { 1024, "1.0K" }, { 1535, "1.5K" }, { 1536, "1.5K" },
        { 9215, "9.0K" }, { 9216, "9.0K" }, { 10239, " 10K" }, { 10240, " 10K" },
        { 10752, " 11K" }, { 511999, "500K" }, { 996147, "973K" }, { 1048576, "1.0M" },
        { 3000000, "2.9M" }, { 10485759, " 10M" }, { 1073741824, "1.0G" },
        { 5000000000LL, "4.7G" }, { 1099511627776LL, "1.0T" },
    };
    char out[8];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        ck_assert_str_eq(autoindex_format_size(cases[i].size, out), cases[i].want);
}
END_TEST

START_TEST(test_ignore_match)
{
    ck_assert(autoindex_ignore_match(".??*", ".hidden"));
    ck_assert(!autoindex_ignore_match(".??*", ".ab"[0] ? ".a" : ""));
    ck_assert(!autoindex_ignore_match(".??*", ".."));
    ck_assert(autoindex_ignore_match(".??*", "..."));
    ck_assert(autoindex_ignore_match("*~", "x~"));
    ck_assert(!autoindex_ignore_match("*~", "x~y"));
    ck_assert(autoindex_ignore_match("*#", "#x#"));
    ck_assert(autoindex_ignore_match("HEADER*", "HEADER.html"));
    ck_assert(!autoindex_ignore_match("HEADER*", "header.html"));   /* case matters */
    ck_assert(autoindex_ignore_match("*,v", "a,v"));
    ck_assert(autoindex_ignore_match("RCS", "RCS"));
    ck_assert(!autoindex_ignore_match("RCS", "xRCS"));   /* no implied '*', unlike AddIcon */
    ck_assert(autoindex_ignore_match("a?c", "abc"));
    ck_assert(!autoindex_ignore_match("a?c", "ac"));
    ck_assert(autoindex_ignore_match("*", "anything"));
    ck_assert(autoindex_ignore_match("*a*b*c", "xxaxxbxxbc"));
    ck_assert(!autoindex_ignore_match("*a*b*c", "xxaxxbxxbcd"));
    ck_assert(autoindex_ignore_match("/some/dir/*.bak", "x.bak"));  /* last segment */
    ck_assert(autoindex_ignore_match("..", ".."));
}
END_TEST

static char *href(const char *s, int keep_slash)
{
    struct tbuf b = { 0 };
    autoindex_put_href(&b, s, strlen(s), keep_slash);
    tb_put(&b, "", 1);
    return b.p;
}

static char *json(const char *s, size_t len)
{
    struct tbuf b = { 0 };
    autoindex_put_json_string(&b, s, len);
    tb_put(&b, "", 1);
    return b.p;
}

START_TEST(test_escaping)
{
    char *h = href("a b<&>\"'%#?.txt", 0);
    ck_assert_str_eq(h, "a%20b%3C%26%3E%22%27%25%23%3F.txt");
    free(h);
    h = href("dir/", 1);
    ck_assert_str_eq(h, "dir/");
    free(h);
    h = href("\xc3\xa9t\xc3\xa9~_-", 0);
    ck_assert_str_eq(h, "%C3%A9t%C3%A9~_-");
    free(h);
    h = href("a:b\n", 0);
    ck_assert_str_eq(h, "a%3Ab%0A");
    free(h);
    char *j = json("a\"b\\c\n\x01\x7f", 8);
    ck_assert_str_eq(j, "\"a\\\"b\\\\c\\u000a\\u0001\\u007f\"");
    free(j);
    j = json("\xc3\xa9\xff" "x\xe2\x82", 6);          /* é, a stray byte, a cut sequence */
    ck_assert_str_eq(j, "\"\xc3\xa9\\udcffx\\udce2\\udc82\"");
    free(j);
}
END_TEST

START_TEST(test_natcmp)
{
    ck_assert_int_lt(autoindex_natcmp("f9", "f10", 0), 0);
    ck_assert_int_gt(autoindex_natcmp("f10", "f9", 0), 0);
    ck_assert_int_lt(autoindex_natcmp("v1.2", "v1.10", 0), 0);
    ck_assert_int_lt(autoindex_natcmp("x.01", "x.1", 0), 0);     /* leading zero: a fraction */
    ck_assert_int_eq(autoindex_natcmp("ABC", "abc", 1), 0);
    ck_assert_int_lt(autoindex_natcmp("ABC", "abc", 0), 0);
    ck_assert_int_eq(autoindex_natcmp("a 1", "a1", 0), 0);       /* blanks skipped */
}
END_TEST

static struct ai_entry ent(const char *name, int dir, long long size, time_t mtime)
{
    return (struct ai_entry){ .name = (char *)name, .len = strlen(name), .is_dir = dir,
                              .size = size, .mtime = mtime, .mtime_us = mtime * 1000000LL };
}

static void assert_order(struct ai_entry *e, size_t n, char key, char order, unsigned opts,
                         const char *want)
{
    char got[256] = "";
    struct ai_sort s = { .key = key, .order = order, .opts = opts };
    autoindex_sort(e, n, &s);
    for (size_t i = 0; i < n; i++) {
        strcat(got, e[i].name);
        strcat(got, " ");
    }
    ck_assert_str_eq(got, want);
}

START_TEST(test_sort)
{
    struct ai_entry e[] = {
        ent("b.txt", 0, 30, 300), ent("a/", 1, -1, 200), ent("a.txt", 0, 10, 300),
        ent("C.txt", 0, 20, 100), ent("f10", 0, 20, 50), ent("f9", 0, 20, 50),
    };
    size_t n = sizeof e / sizeof *e;
    /* '.' sorts before '/': "a.txt" < "a/" as in Apache (names compare with the slash). */
    assert_order(e, n, 'N', 'A', 0, "C.txt a.txt a/ b.txt f10 f9 ");
    assert_order(e, n, 'N', 'D', 0, "f9 f10 b.txt a/ a.txt C.txt ");
    assert_order(e, n, 'N', 'A', AI_IGNORE_CASE, "a.txt a/ b.txt C.txt f10 f9 ");
    assert_order(e, n, 'N', 'A', AI_VERSION_SORT, "C.txt a.txt a/ b.txt f9 f10 ");
    assert_order(e, n, 'N', 'A', AI_FOLDERS_FIRST, "a/ C.txt a.txt b.txt f10 f9 ");
    /* FoldersFirst holds in descending order too. */
    assert_order(e, n, 'N', 'D', AI_FOLDERS_FIRST, "a/ f9 f10 b.txt a.txt C.txt ");
    /* Ties by name, in the same direction. */
    assert_order(e, n, 'S', 'A', 0, "a/ a.txt C.txt f10 f9 b.txt ");
    assert_order(e, n, 'S', 'D', 0, "b.txt f9 f10 C.txt a.txt a/ ");
    assert_order(e, n, 'M', 'A', 0, "f10 f9 C.txt a/ a.txt b.txt ");
    assert_order(e, n, 'M', 'D', 0, "b.txt a.txt a/ C.txt f9 f10 ");
    /* No descriptions: by name. */
    assert_order(e, n, 'D', 'D', 0, "f9 f10 b.txt a/ a.txt C.txt ");
    assert_order(e, 0, 'N', 'A', 0, "");
}
END_TEST

START_TEST(test_directives)
{
    char root[256];
    sandbox_create(root, sizeof root, "autoindex", (const char *const[]){ "htdocs", NULL });
    struct config *c = sandbox_parse_ok(root, "ok.conf",
        "Listen 8080\n"
        "IndexOptions FancyIndexing +FoldersFirst -SuppressSize NameWidth=* Charset=UTF-8\n"
        "IndexOptions DescriptionWidth=* VersionSort HTMLTable\n"
        "IndexIgnore .??* *~ *# HEADER* README* RCS CVS *,v *,t\n"
        "IndexOrderDefault Descending Date\n"
        "<Directory /tmp>\n IndexIgnoreReset On\n IndexOptions None\n</Directory>\n");
    config_free(c);
    sandbox_parse_fails(root, "bad1.conf", "Listen 8080\nIndexOptions Fancy\n",
                        "bad1.conf:2: IndexOptions: unknown IndexOptions keyword 'Fancy'");
    sandbox_parse_fails(root, "bad2.conf", "Listen 8080\nIndexOptions +None\n",
                        "bad2.conf:2: IndexOptions: 'None' takes no '+' or '-', got '+None'");
    sandbox_parse_fails(root, "bad3.conf", "Listen 8080\nIndexOptions NameWidth=3\n",
                        "bad3.conf:2: IndexOptions: expected NameWidth=* or a width from 5 "
                        "to 1000, got 'NameWidth=3'");
    sandbox_parse_fails(root, "bad4.conf", "Listen 8080\nIndexOptions IconsAreLinks\n",
                        "bad4.conf:2: IndexOptions: IndexOptions IconsAreLinks is not "
                        "supported by mpmd (listings have no icons, descriptions or header "
                        "files)");
    sandbox_parse_fails(root, "bad5.conf", "Listen 8080\nIndexOrderDefault Up Name\n",
                        "bad5.conf:2: IndexOrderDefault: expected Ascending or Descending "
                        "first, got 'Up'");
    sandbox_parse_fails(root, "bad6.conf", "Listen 8080\nIndexOrderDefault Ascending Color\n",
                        "bad6.conf:2: IndexOrderDefault: expected Name, Date, Size or "
                        "Description second, got 'Color'");
    sandbox_parse_fails(root, "bad7.conf", "Listen 8080\nIndexIgnoreReset maybe\n",
                        "bad7.conf:2: IndexIgnoreReset: expected On or Off, got 'maybe'");
    sandbox_remove(root);
}
END_TEST

Suite *autoindex_suite(void)
{
    Suite *s = suite_create("autoindex");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_size);
    tcase_add_test(tc, test_ignore_match);
    tcase_add_test(tc, test_escaping);
    tcase_add_test(tc, test_natcmp);
    tcase_add_test(tc, test_sort);
    tcase_add_test(tc, test_directives);
    suite_add_tcase(s, tc);
    return s;
}
