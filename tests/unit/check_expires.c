/* check_expires.c: Expires rules, their arithmetic and the fields they
 * make (src/modules/expires.c), and FileETag's merging and ETag formats
 * (src/modules/fileetag.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/modules/expires.h"
#include "mpmd/modules/fileetag.h"
#include "mpmd/modules/precond.h"

#define NOW 1700000000L          /* Tue, 14 Nov 2023 22:13:20 GMT */

/* The code TEXT parses to, asserting it does. */
static struct expires_code code_of(const char *text)
{
    struct expires_code c;
    char err[256] = "";
    ck_assert_msg(expires_parse_code(text, &c, err, sizeof err) == 0, "%s: %s", text, err);
    return c;
}

/* The message TEXT is refused with. */
static const char *refusal(const char *text)
{
    static char err[256];
    struct expires_code c;
    err[0] = '\0';
    ck_assert_msg(expires_parse_code(text, &c, err, sizeof err) == -1, "%s accepted", text);
    ck_assert_msg(err[0] != '\0', "%s: no message", text);
    return err;
}

START_TEST(test_parse_both_forms)
{
    struct expires_code c = code_of("A3600");
    ck_assert_int_eq(c.base, 'A');
    ck_assert_int_eq(c.secs, 3600);
    c = code_of("M0");
    ck_assert_int_eq(c.base, 'M');
    ck_assert_int_eq(c.secs, 0);
    c = code_of("access plus 1 month 2 days");
    ck_assert_int_eq(c.base, 'A');
    ck_assert_int_eq(c.secs, 30L * 86400 + 2 * 86400);
    c = code_of("modification plus 5 hours 3 minutes");
    ck_assert_int_eq(c.base, 'M');
    ck_assert_int_eq(c.secs, 5 * 3600 + 3 * 60);
    c = code_of("now plus 1 year 1 week 1 day 1 hour 1 minute 1 second");
    ck_assert_int_eq(c.secs, 365L * 86400 + 7 * 86400 + 86400 + 3600 + 60 + 1);
    c = code_of("access 2 weeks");                     /* "plus" is optional */
    ck_assert_int_eq(c.secs, 14L * 86400);
    c = code_of("Access Plus 10 SECONDS");
    ck_assert_int_eq(c.secs, 10);
    c = code_of("access");                             /* no amount: expires now */
    ck_assert_int_eq(c.base, 'A');
    ck_assert_int_eq(c.secs, 0);
}
END_TEST

START_TEST(test_parse_errors)
{
    ck_assert_ptr_nonnull(strstr(refusal("later plus 1 day"), "'access', 'now' or"));
    ck_assert_ptr_nonnull(strstr(refusal("access plus one day"), "got 'one'"));
    ck_assert_ptr_nonnull(strstr(refusal("access plus 1"), "expected a unit"));
    ck_assert_ptr_nonnull(strstr(refusal("access plus 1 fortnight"), "got 'fortnight'"));
    ck_assert_ptr_nonnull(strstr(refusal("access plus 1 m"), "got 'm'"));  /* mo or mi */
    ck_assert_ptr_nonnull(strstr(refusal("A99999999999"), "expected seconds"));
    ck_assert_ptr_nonnull(strstr(refusal("M12x"), "expected seconds"));
    ck_assert_ptr_nonnull(strstr(refusal("access plus 100 years"), "more than"));
    ck_assert_ptr_nonnull(strstr(refusal(""), "'access', 'now' or"));
}
END_TEST

START_TEST(test_arithmetic)
{
    struct expires_code a = code_of("A600"), m = code_of("M600");
    time_t t;
    long age;
    ck_assert_int_eq(expires_compute(&a, NOW, 250000, 0, &t, &age), 0);
    ck_assert_int_eq(t, NOW + 600);
    ck_assert_int_eq(age, 600);                         /* access: N exactly */
    ck_assert_int_eq(expires_compute(&m, NOW, 0, NOW - 100, &t, &age), 0);
    ck_assert_int_eq(t, NOW + 500);                     /* mtime + N */
    ck_assert_int_eq(age, 500);                         /* mtime + N - now */
    ck_assert_int_eq(expires_compute(&m, NOW, 250000, NOW - 100, &t, &age), 0);
    ck_assert_int_eq(t, NOW + 500);
    ck_assert_int_eq(age, 499);                         /* 499.75 s left: rounded down */
    ck_assert_int_eq(expires_compute(&m, NOW, 250000, NOW - 600, &t, &age), 0);
    ck_assert_int_eq(t, NOW);                           /* expires this second: now, 0 */
    ck_assert_int_eq(age, 0);
    ck_assert_int_eq(expires_compute(&m, NOW, 0, NOW - 6000, &t, &age), 0);
    ck_assert_int_eq(t, NOW);                           /* past: clamped to now */
    ck_assert_int_eq(age, 0);
    ck_assert_int_eq(expires_compute(&m, NOW, 0, 0, &t, &age), -1);   /* no file: nothing */
}
END_TEST

static void head_with(struct response_head *h, const char *name, const char *value)
{
    memset(h, 0, sizeof *h);
    response_head_start(h, 200, "Tue, 14 Nov 2023 22:13:20 GMT");
    if (name)
        response_head_add(h, name, value, strlen(value));
}

static const char *field(const struct response_head *h, const char *name, char *buf, size_t cap)
{
    size_t len;
    const char *v = response_head_get(h, name, &len);
    if (v == NULL)
        return NULL;
    snprintf(buf, cap, "%.*s", (int)len, v);
    return buf;
}

START_TEST(test_fields)
{
    struct response_head h;
    struct expires_code a = code_of("A3600");
    char buf[256];
    head_with(&h, NULL, NULL);
    expires_set_fields(&h, &a, NOW, 0, 0);
    ck_assert_str_eq(field(&h, "Cache-Control", buf, sizeof buf), "max-age=3600");
    ck_assert_str_eq(field(&h, "Expires", buf, sizeof buf), "Tue, 14 Nov 2023 23:13:20 GMT");
    head_with(&h, "Cache-Control", "no-cache");         /* Apache merges into it */
    expires_set_fields(&h, &a, NOW, 0, 0);
    ck_assert_str_eq(field(&h, "Cache-Control", buf, sizeof buf), "no-cache, max-age=3600");
    ck_assert_int_eq(response_head_remove(&h, "Cache-Control"), 1);
    head_with(&h, "Expires", "0");                      /* an Expires already: left alone */
    expires_set_fields(&h, &a, NOW, 0, 0);
    ck_assert_str_eq(field(&h, "Expires", buf, sizeof buf), "0");
    ck_assert_ptr_null(field(&h, "Cache-Control", buf, sizeof buf));
    struct expires_code m = code_of("M60");
    head_with(&h, NULL, NULL);                          /* modification, no file */
    expires_set_fields(&h, &m, NOW, 0, 0);
    ck_assert_ptr_null(field(&h, "Expires", buf, sizeof buf));
    ck_assert_ptr_null(field(&h, "Cache-Control", buf, sizeof buf));
}
END_TEST

/* A configuration object made through the directives, as the loader does. */
static void *conf_with(const char *const *lines)
{
    const struct conf_module *m = &expires_conf_module;
    void *c = m->create();
    char err[256];
    for (int i = 0; lines[i]; i++) {
        char buf[256], *argv[4];
        int argc = 0;
        snprintf(buf, sizeof buf, "%s", lines[i]);
        char *name = strtok(buf, "|");
        for (char *a; argc < 4 && (a = strtok(NULL, "|")); )
            argv[argc++] = a;
        const struct module_directive *d = m->directives;
        while (d->name && strcmp(d->name, name) != 0)
            d++;
        ck_assert_ptr_nonnull(d->name);
        ck_assert_msg(d->set(c, NULL, argc, argv, err, sizeof err) == 0, "%s: %s", lines[i],
                      err);
    }
    return c;
}

static long secs_for(const void *const *confs, int n, const char *type)
{
    const struct expires_code *c = expires_lookup(confs, n, type, type ? strlen(type) : 0);
    return c ? c->secs : -1;
}

START_TEST(test_type_matching)
{
    static const char *const server[] = {"ExpiresActive|On", "ExpiresDefault|A1",
                                         "ExpiresByType|text/*|A2", "ExpiresByType|Text/CSS|A3",
                                         NULL};
    static const char *const section[] = {"ExpiresByType|text/css|A29",
                                          "ExpiresByType|text/css|A30",   /* the last wins */
                                          "ExpiresByType|image/*|A40", NULL};
    static const char *const off[] = {"ExpiresActive|Off", NULL};
    void *s = conf_with(server), *d = conf_with(section), *o = conf_with(off);
    const void *one[] = {s}, *two[] = {s, d}, *three[] = {s, d, o}, *just_d[] = {d};
    ck_assert_int_eq(secs_for(one, 1, "text/css"), 3);          /* exact, any case */
    ck_assert_int_eq(secs_for(one, 1, "text/html"), 2);         /* major wildcard */
    ck_assert_int_eq(secs_for(one, 1, "image/png"), 1);         /* default */
    ck_assert_int_eq(secs_for(one, 1, NULL), 1);                /* no type: default */
    ck_assert_int_eq(secs_for(two, 2, "text/css"), 30);         /* the section wins per type */
    ck_assert_int_eq(secs_for(two, 2, "text/plain"), 2);        /* the rest inherited */
    ck_assert_int_eq(secs_for(two, 2, "image/gif"), 40);
    static const char *const plain[] = {"ExpiresByType|text/html|A50", NULL};
    void *h = conf_with(plain);
    const void *sp[] = {s, h};                                  /* no major wildcard here */
    ck_assert_int_eq(secs_for(sp, 2, "text/plain"), 1);         /* so the server's is off */
    ck_assert_int_eq(secs_for(sp, 2, "text/css"), 3);           /* exact ones still count */
    expires_conf_module.destroy(h);
    ck_assert_int_eq(secs_for(three, 3, "text/css"), -1);       /* Off inside */
    ck_assert_int_eq(secs_for(just_d, 1, "text/css"), -1);          /* never turned On */
    void *merged = expires_conf_module.merge(s, d);             /* a virtual host's object */
    const void *vm[] = {merged};
    ck_assert_int_eq(secs_for(vm, 1, "text/css"), 30);
    ck_assert_int_eq(secs_for(vm, 1, "text/plain"), 2);
    ck_assert_int_eq(secs_for(vm, 1, "audio/ogg"), 1);
    char err[256];
    char *bad[] = {"css", "A1"};
    const struct module_directive *bt = &expires_conf_module.directives[1];
    ck_assert_int_eq(bt->set(d, NULL, 2, bad, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected a media type"));
    char *bad2[] = {"text/css", "access plus 3 fortnights"};
    ck_assert_int_eq(bt->set(d, NULL, 2, bad2, err, sizeof err), -1);
    for (void **p = (void *[]){s, d, o, merged, NULL}; *p; p++)
        expires_conf_module.destroy(*p);
}
END_TEST

/* FileETag ARGS (blank-separated) applied to a fresh object. */
static struct fileetag_conf fe(const char *args)
{
    struct fileetag_conf c = {0, 0, 0};
    char buf[128], *argv[8], err[256];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", args);
    for (char *a = strtok(buf, " "); a && argc < 8; a = strtok(NULL, " "))
        argv[argc++] = a;
    ck_assert_msg(fileetag_parse(&c, argc, argv, err, sizeof err) == 0, "%s: %s", args, err);
    return c;
}

START_TEST(test_fileetag_merge)
{
    struct fileetag_conf none = {0, 0, 0};
    ck_assert_uint_eq(fileetag_effective(none), FILEETAG_MTIME | FILEETAG_SIZE);
    ck_assert_uint_eq(fileetag_effective(fe("All")), FILEETAG_ALL);
    ck_assert_uint_eq(fileetag_effective(fe("None")), FILEETAG_NONE);
    ck_assert_uint_eq(fileetag_effective(fe("INode Size")), FILEETAG_INODE | FILEETAG_SIZE);
    ck_assert_uint_eq(fileetag_effective(fe("All -INode")), FILEETAG_MTIME | FILEETAG_SIZE);
    struct fileetag_conf all = fe("All"), m;
    m = fileetag_merge(all, fe("-INode"));                      /* a section edits */
    ck_assert_uint_eq(fileetag_effective(m), FILEETAG_MTIME | FILEETAG_SIZE);
    m = fileetag_merge(m, fe("+INode -MTime"));
    ck_assert_uint_eq(fileetag_effective(m), FILEETAG_INODE | FILEETAG_SIZE);
    m = fileetag_merge(m, fe("MTime"));                         /* absolute: replaces */
    ck_assert_uint_eq(fileetag_effective(m), FILEETAG_MTIME);
    m = fileetag_merge(fe("None"), fe("+Size"));                /* None then +Size */
    ck_assert_uint_eq(fileetag_effective(m), FILEETAG_SIZE);
    m = fileetag_merge(fe("Size"), fe("None"));
    ck_assert_uint_eq(fileetag_effective(m), FILEETAG_NONE);
    /* Apache's quirks kept: where nothing was said, -MTime changes nothing
     * and a lone +INode is INode alone. */
    ck_assert_uint_eq(fileetag_effective(fe("-MTime")), FILEETAG_DEFAULT);
    ck_assert_uint_eq(fileetag_effective(fe("+INode")), FILEETAG_INODE);
    struct fileetag_conf c = {0, 0, 0};
    char err[256], *plus_all[] = {"+All"}, *digest[] = {"Digest"};
    ck_assert_int_eq(fileetag_parse(&c, 1, plus_all, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot be used with"));
    ck_assert_int_eq(fileetag_parse(&c, 1, digest, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "not supported"));
}
END_TEST

START_TEST(test_fileetag_format)
{
    struct stat st = {0};
    char e[FILEETAG_MAX], p[48];
    st.st_ino = 0xabc;
    st.st_mtime = 784111777;
    st.st_size = 100;
    ck_assert_uint_eq(fileetag_format(e, FILEETAG_DEFAULT, &st), 13);
    precond_etag(p, st.st_mtime, st.st_size);
    ck_assert_str_eq(e, p);                                     /* the default unchanged */
    fileetag_format(e, FILEETAG_ALL, &st);
    ck_assert_str_eq(e, "\"abc-2ebc98a1-64\"");
    fileetag_format(e, FILEETAG_INODE | FILEETAG_SIZE, &st);
    ck_assert_str_eq(e, "\"abc-64\"");
    fileetag_format(e, FILEETAG_SIZE, &st);
    ck_assert_str_eq(e, "\"64\"");
    st.st_ino = (ino_t)-1;                                      /* the longest */
    st.st_mtime = (time_t)0x7fffffffffffffffLL;
    st.st_size = (off_t)0x7fffffffffffffffLL;
    ck_assert_uint_eq(fileetag_format(e, FILEETAG_ALL, &st), FILEETAG_MAX - 1);
    ck_assert_uint_eq(fileetag_format(e, FILEETAG_NONE, &st), 0);
    ck_assert_str_eq(e, "");
}
END_TEST

Suite *expires_suite(void)
{
    Suite *s = suite_create("expires");
    TCase *tc = tcase_create("expires");
    tcase_add_test(tc, test_parse_both_forms);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_arithmetic);
    tcase_add_test(tc, test_fields);
    tcase_add_test(tc, test_type_matching);
    tcase_add_test(tc, test_fileetag_merge);
    tcase_add_test(tc, test_fileetag_format);
    suite_add_tcase(s, tc);
    return s;
}
