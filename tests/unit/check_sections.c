/* check_sections.c: unit tests for the configuration sections and the
 * per-directory settings:
 *   - parsing <Directory>, <DirectoryMatch>, <Files>, <FilesMatch>,
 *     <Location>, <LocationMatch> and <Location ~ "re"> in the main server
 *     and in <VirtualHost> (src/core/config.c), and each mistake's message;
 *   - Options, Header, ErrorDocument, SetHandler and Require
 *     (src/core/dirconf.c), their errors and contexts;
 *   - which sections apply to a path and in what order (src/core/secindex.c,
 *     directly and through src/http/route.c), and the settings they fold
 *     into: route_options, route_require, route_error_doc,
 *     route_apply_headers, route_handler_index, route_fs_path;
 *   - Require evaluation (authz_check) for IPv4, IPv6 and v4-mapped peers;
 *   - Alias, Redirect and RedirectMatch: accepted forms, errors, and a
 *     virtual host's entries coming before the main server's.
 *
 * Each test gets a fresh directory under /tmp used as ServerRoot, holding
 * htdocs/ (the default DocumentRoot) and a/, b/ (sites). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/core/module.h"
#include "mpmd/core/secindex.h"
#include "mpmd/http/handler.h"
#include "mpmd/http/reply.h"
#include "mpmd/http/response.h"
#include "mpmd/http/route.h"
#include "mpmd/modules/alias.h"

static char root[64];
static const char *const site_dirs[] = {"htdocs", "a", "b", NULL};

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "sections", site_dirs);
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

/* ---- helpers -------------------------------------------------------------- */

static struct config *parse(const char *text, char *err, size_t errlen)
{
    return config_parse_text("s.conf", text, root, err, errlen);
}

static struct config *parse_ok(const char *text)
{
    return sandbox_parse_ok(root, "s.conf", text);
}

/* TEXT is refused with exactly WANT. */
static void parse_fails(const char *text, const char *want)
{
    sandbox_parse_fails(root, "s.conf", text, want);
}

/* "Listen 80\n" + BODY is refused at line 2 of s.conf with "WHAT: WHY". */
static void line2_fails(const char *body, const char *want)
{
    char text[512], full[600];
    snprintf(text, sizeof text, "Listen 80\n%s", body);
    snprintf(full, sizeof full, "s.conf:2: %s", want);
    parse_fails(text, full);
}

/* BODY inside "<Location />" at line 2, its first line being line 3: refused
 * with WANT (which names its own line). */
static void in_location_fails(const char *body, const char *want)
{
    char text[512];
    snprintf(text, sizeof text, "Listen 80\n<Location />\n%s</Location>\n", body);
    parse_fails(text, want);
}

/* A route is too large for a Check stack: one per test process. */
static struct route rt;

static const struct route *route_at(const struct config *site, const char *path)
{
    route_begin(&rt, site, path, strlen(path));
    route_sections(&rt, 1);
    return &rt;
}

/* The line of the section whose settings are D, in CFG or its virtual
 * hosts; 0 when none. */
static int section_line_of(const struct config *cfg, const struct dirconf *d)
{
    for (int i = 0; i < cfg->n_sections; i++)
        if (&cfg->sections[i].dir == d)
            return cfg->sections[i].line;
    for (int v = 0; v < cfg->n_vhosts; v++) {
        int line = section_line_of(cfg->vhosts[v].cfg, d);
        if (line)
            return line;
    }
    return 0;
}

/* RT's chain in words: "main" (the main server's settings in a virtual
 * host), "site" (the site's own), then each section by its line. */
static const char *chain_text(const struct config *cfg, const struct route *r)
{
    static char buf[512];
    buf[0] = '\0';
    for (int i = 0; i < r->n_chain; i++) {
        size_t used = strlen(buf);
        const char *sep = i ? " " : "";
        if (r->chain[i] == r->site->main_dir)
            snprintf(buf + used, sizeof buf - used, "%smain", sep);
        else if (r->chain[i] == &r->site->dir)
            snprintf(buf + used, sizeof buf - used, "%ssite", sep);
        else
            snprintf(buf + used, sizeof buf - used, "%s%d", sep,
                     section_line_of(cfg, r->chain[i]));
    }
    return buf;
}

static const char *chain_at(const struct config *cfg, const struct config *site,
                            const char *path)
{
    return chain_text(cfg, route_at(site, path));
}

static struct response_head head;

/* A 200 head with FIELDS ("Name: value\r\n"...) to start with. */
static struct response_head *head_with(const char *fields)
{
    response_head_start(&head, 200, "Sun, 06 Nov 1994 08:49:37 GMT");
    for (const char *f = fields; f && *f;) {
        const char *colon = strchr(f, ':'), *end = strstr(f, "\r\n");
        char name[64];
        ck_assert(colon && end && colon < end);
        snprintf(name, sizeof name, "%.*s", (int)(colon - f), f);
        response_head_add(&head, name, colon + 2, (size_t)(end - colon - 2));
        f = end + 2;
    }
    return &head;
}

/* The first value of NAME in H, or "(none)". */
static const char *field_of(const struct response_head *h, const char *name)
{
    static char buf[256];
    size_t len;
    const char *v = response_head_get(h, name, &len);
    if (v == NULL)
        return "(none)";
    snprintf(buf, sizeof buf, "%.*s", (int)len, v);
    return buf;
}

/* How many NAME fields H has. */
static int field_count(const struct response_head *h, const char *name)
{
    char pat[80];
    int n = 0, len = snprintf(pat, sizeof pat, "\r\n%s: ", name);
    for (size_t i = 0; i + (size_t)len <= h->len; i++)
        n += strncasecmp(h->buf + i, pat, (size_t)len) == 0;
    return n;
}

/* NAME's value after applying the Header lines of SITE for PATH to a
 * fresh head (ERROR as route_apply_headers takes it). */
static const char *header_at(const struct config *site, const char *path, int error,
                             const char *name)
{
    route_at(site, path);
    route_apply_headers(&rt, head_with(NULL), error);
    return field_of(&head, name);
}

static struct sockaddr_storage peer(const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(40000);
    } else {
        ck_assert_msg(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1, "bad test address %s", ip);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(40000);
    }
    return ss;
}

static int granted(const struct authz *a, const char *ip)
{
    struct sockaddr_storage ss = peer(ip);
    return authz_check(a, (const struct sockaddr *)&ss);
}

/* Add "Require WORDS" (blank-separated) to C; returns authz_add_require's
 * result, ERR its message. */
static int add_require(struct authz *c, const char *words, char *err, size_t errlen)
{
    char buf[256], *argv[16];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", words);
    for (char *save, *w = strtok_r(buf, " ", &save); w && argc < 16;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return authz_add_require(c, argc, argv, err, errlen);
}

/* A container of KIND holding the rules of WORDS0 and WORDS1 (or only
 * WORDS0 when WORDS1 is NULL). */
static struct authz *rules(enum authz_kind kind, const char *words0, const char *words1)
{
    char err[256] = "";
    struct authz *c = authz_new(kind);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(add_require(c, words0, err, sizeof err) == 0, "%s: %s", words0, err);
    if (words1)
        ck_assert_msg(add_require(c, words1, err, sizeof err) == 0, "%s: %s", words1, err);
    return c;
}

/* A config whose only section is "<Location />" holding BODY (which
 * must set Require). */
static struct config *location_rules(const char *body)
{
    char text[1024];
    snprintf(text, sizeof text, "Listen 80\n<Location />\n%s</Location>\n", body);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(cfg->n_sections, 1);
    ck_assert_ptr_nonnull(cfg->sections[0].dir.require);
    return cfg;
}

/* ---- parsing sections ------------------------------------------------------- */

static void check_section(const struct section *s, enum section_kind kind, const char *pattern,
                          int line, int wildcard)
{
    ck_assert_int_eq(s->kind, kind);
    ck_assert_str_eq(s->pattern, pattern);
    ck_assert_str_eq(s->file, "s.conf");
    ck_assert_int_eq(s->line, line);
    ck_assert_int_eq(s->wildcard, wildcard);
    int match = kind == SEC_DIRECTORY_MATCH || kind == SEC_FILES_MATCH ||
                kind == SEC_LOCATION_MATCH;
    ck_assert_int_eq(s->regex != NULL, match);
}

/* Every kind, in the main server and in a virtual host: kind, pattern as
 * stored (<Location> slashes squeezed, <Directory> absolute from
 * ServerRoot without "." or a trailing slash), file, line, order; the
 * directives inside land in the section, those after it in the site. */
START_TEST(test_section_kinds)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"                                   /* 1 */
        "<Directory htdocs/a/>\n</Directory>\n"         /* 2 */
        "<DirectoryMatch \"^/srv/.*\">\n</DirectoryMatch>\n"     /* 4 */
        "<Files \"*.txt\">\n</Files>\n"                 /* 6 */
        "<FilesMatch \"\\.html$\">\n</FilesMatch>\n"    /* 8 */
        "<Location //a//b/>\nHeader set X-In loc\n</Location>\n" /* 10 */
        "Header set X-After main\n"                     /* 13 */
        "<LocationMatch \"^/x\">\n</LocationMatch>\n"   /* 14 */
        "<Location ~ \"^/y\">\n</Location>\n"           /* 16 */
        "<Directory /abs/./dir//>\n</Directory>\n"      /* 18 */
        "<location /Case>\n</LOCATION>\n"               /* 20 */
        "<Directory ~ \"d$\">\n</Directory>\n"          /* 22 */
        "<Files ~ \"f$\">\n</Files>\n"                  /* 24 */
        "<VirtualHost *:80>\n"                          /* 26 */
        "<Location /v>\nOptions None\n</Location>\n"    /* 27 */
        "Header set X-V site\n"                         /* 30 */
        "<Directory b>\n</Directory>\n"                 /* 31 */
        "<Files x.html>\n</Files>\n"                    /* 33 */
        "</VirtualHost>\n"
        "<Location /after-vhost>\n</Location>\n");      /* 36 */
    char dir[128];
    ck_assert_int_eq(cfg->n_sections, 12);
    const struct section *s = cfg->sections;
    snprintf(dir, sizeof dir, "%s/htdocs/a", root);
    check_section(&s[0], SEC_DIRECTORY, dir, 2, 0);
    check_section(&s[1], SEC_DIRECTORY_MATCH, "^/srv/.*", 4, 0);
    check_section(&s[2], SEC_FILES, "*.txt", 6, 1);
    check_section(&s[3], SEC_FILES_MATCH, "\\.html$", 8, 0);
    check_section(&s[4], SEC_LOCATION, "/a/b/", 10, 0);
    check_section(&s[5], SEC_LOCATION_MATCH, "^/x", 14, 0);
    check_section(&s[6], SEC_LOCATION_MATCH, "^/y", 16, 0);
    check_section(&s[7], SEC_DIRECTORY, "/abs/dir", 18, 0);
    check_section(&s[8], SEC_LOCATION, "/Case", 20, 0);
    check_section(&s[9], SEC_DIRECTORY_MATCH, "d$", 22, 0);
    check_section(&s[10], SEC_FILES_MATCH, "f$", 24, 0);
    check_section(&s[11], SEC_LOCATION, "/after-vhost", 36, 0);
    /* Directives go to the open section, then back to the site. */
    ck_assert_int_eq(s[4].dir.n_headers, 1);
    ck_assert_str_eq(s[4].dir.headers[0].value, "loc");
    ck_assert_int_eq(cfg->dir.n_headers, 1);
    ck_assert_str_eq(cfg->dir.headers[0].value, "main");
    /* Configuration order; a later main server section still comes before
     * every virtual host section. */
    for (int i = 1; i < cfg->n_sections; i++)
        ck_assert_int_lt(s[i - 1].seq, s[i].seq);

    ck_assert_int_eq(cfg->n_vhosts, 1);
    const struct config *vc = cfg->vhosts[0].cfg;
    ck_assert_int_eq(vc->n_sections, 3);
    snprintf(dir, sizeof dir, "%s/b", root);
    check_section(&vc->sections[0], SEC_LOCATION, "/v", 27, 0);
    check_section(&vc->sections[1], SEC_DIRECTORY, dir, 31, 0);
    check_section(&vc->sections[2], SEC_FILES, "x.html", 33, 0);
    ck_assert_int_gt(vc->sections[0].seq, s[11].seq);
    ck_assert_int_lt(vc->sections[0].seq, vc->sections[1].seq);
    ck_assert_int_eq(vc->sections[0].dir.options_set, 1);
    ck_assert_int_eq(vc->sections[0].dir.options_on, 0);
    ck_assert_int_eq(vc->dir.options_set, 0);
    ck_assert_int_eq(vc->dir.n_headers, 1);
    ck_assert_str_eq(vc->dir.headers[0].value, "site");
    ck_assert_ptr_eq(vc->main_dir, &cfg->dir);
    ck_assert_ptr_null(cfg->main_dir);
    config_free(cfg);
}
END_TEST

/* Section mistakes: the file, the line, the tag and what is wrong. */
START_TEST(test_section_errors)
{
    parse_fails("Listen 80\n<Location /a>\nHeader set X 1\n",
                "s.conf:2: <Location>: not closed: </Location> missing");
    parse_fails("Listen 80\n<VirtualHost *:80>\n<Files a>\n</VirtualHost>\n",
                "s.conf:4: </VirtualHost>: the <Files> section of line 3 is still open");
    line2_fails("</Location>\n", "</Location>: no <Location> is open");
    line2_fails("</FilesMatch>\n", "</FilesMatch>: no <FilesMatch> is open");
    parse_fails("Listen 80\n<Location /a>\n</Files>\n",
                "s.conf:3: </Files>: the open section is <Location> of line 2");
    parse_fails("Listen 80\n<Location /a>\n</LocationMatch>\n",
                "s.conf:3: </LocationMatch>: the open section is <Location> of line 2");
    parse_fails("Listen 80\n<Directory /a>\n</Location>\n",
                "s.conf:3: </Location>: the open section is <Directory> of line 2");
    parse_fails("Listen 80\n<Location /a>\n</Location extra>\n",
                "s.conf:3: </Location>: takes no arguments");
    parse_fails("Listen 80\n<Location /a>\n<Location /b>\n",
                "s.conf:3: <Location>: sections cannot nest: the <Location> of line 2 is still "
                "open");
    parse_fails("Listen 80\n<Directory /a>\n<Files x>\n",
                "s.conf:3: <Files>: sections cannot nest: the <Directory> of line 2 is still "
                "open");
    parse_fails("Listen 80\n<Location /a>\n<VirtualHost *:80>\n",
                "s.conf:3: <VirtualHost>: the <Location> section of line 2 is still open");
    line2_fails("<Location a>\n</Location>\n",
                "<Location>: expected a URL path starting with '/', got 'a'");
    line2_fails("<Location ~>\n</Location>\n",
                "<Location>: expected a URL path starting with '/', got '~'");
    line2_fails("<Location \"\">\n</Location>\n", "<Location>: expected a non-empty pattern");
    line2_fails("<Files a/b>\n</Files>\n", "<Files>: expected a file name without '/', got 'a/b'");
    line2_fails("<Location>\n", "<Location>: expected one pattern, e.g. <Location /private>");
    line2_fails("<Location /a /b>\n", "<Location>: expected one pattern, e.g. <Location /private>");
    line2_fails("<Directory>\n", "<Directory>: expected one pattern, e.g. <Directory /srv/www>");
    line2_fails("<FilesMatch>\n",
                "<FilesMatch>: expected one regular expression, e.g. <FilesMatch \"\\.php$\">");
    line2_fails("<LocationMatch \"(\">\n",
                "<LocationMatch>: bad regular expression '(': missing closing parenthesis at "
                "offset 1");
    line2_fails("<Location ~ \"a[\">\n",
                "<Location>: bad regular expression 'a[': missing terminating ] for character "
                "class at offset 2");
    line2_fails("<DirectoryMatch \"*x\">\n",
                "<DirectoryMatch>: bad regular expression '*x': quantifier does not follow a "
                "repeatable item at offset 0");
    line2_fails("<Location /a\n", "a section line must end with '>': <Location /a");
}
END_TEST

/* The example in a missing-argument message is of the section's own
 * kind. */
START_TEST(test_section_usage_examples)
{
    char err[512] = "";
    struct config *cfg = parse("Listen 80\n<LocationMatch>\n", err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "e.g. <LocationMatch ") != NULL,
                  "<LocationMatch> without a regex suggests another section: %s", err);
    cfg = parse("Listen 80\n<DirectoryMatch>\n", err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strstr(err, "e.g. <DirectoryMatch ") != NULL,
                  "<DirectoryMatch> without a regex suggests another section: %s", err);
}
END_TEST

/* A Match section closes with its own tag (<Location ~ "re"> with
 * </Location>), as Apache requires. */
START_TEST(test_match_closers)
{
    char err[512] = "";
    parse_fails("Listen 80\n<LocationMatch \"^/a\">\n</Location>\n",
                "s.conf:3: </Location>: the open section is <LocationMatch> of line 2");
    parse_fails("Listen 80\n<FilesMatch x>\n</Files>\n",
                "s.conf:3: </Files>: the open section is <FilesMatch> of line 2");
    parse_fails("Listen 80\n<DirectoryMatch x>\n</Directory>\n",
                "s.conf:3: </Directory>: the open section is <DirectoryMatch> of line 2");
    struct config *cfg = parse("Listen 80\n<Location ~ \"^/a\">\n</LocationMatch>\n", err,
                               sizeof err);
    config_free(cfg);
    ck_assert_msg(cfg == NULL, "<Location ~ \"^/a\"> closed by </LocationMatch> accepted");
    ck_assert_msg(strncmp(err, "s.conf:3: </LocationMatch>: ", 28) == 0, "%s", err);
}
END_TEST

/* A section must end in the file it starts in. */
START_TEST(test_section_across_include)
{
    char path[128], want[256];
    snprintf(path, sizeof path, "%s/inc.conf", root);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# opens and does not close\n<Location /a>\n", f);
    fclose(f);
    snprintf(want, sizeof want, "%s:2: <Location>: not closed: </Location> missing", path);
    parse_fails("Listen 80\nInclude inc.conf\n</Location>\n", want);
}
END_TEST

/* <RequireAny> / <RequireAll> mistakes. */
START_TEST(test_authz_section_errors)
{
    line2_fails("<RequireAny>\n",
                "<RequireAny>: not allowed outside sections; allowed in: <Directory>, <Files>, "
                "<Location> and their Match forms");
    parse_fails("Listen 80\n<VirtualHost *:80>\n<RequireAll>\n",
                "s.conf:3: <RequireAll>: not allowed outside sections; allowed in: <Directory>, "
                "<Files>, <Location> and their Match forms");
    in_location_fails("<RequireAny>\n</RequireAny>\n",
                      "s.conf:4: </RequireAny>: the section of line 3 has no Require in it");
    in_location_fails("<RequireAll>\n<RequireAny>\nRequire local\n</RequireAny>\n",
                      "s.conf:7: </Location>: the <Require...> section of line 3 is still "
                      "open");
    parse_fails("Listen 80\n<Location />\n<RequireAll>\nRequire all granted\n",
                "s.conf:3: <RequireAll>: not closed: </RequireAll> missing");
    in_location_fails("</RequireAll>\n", "s.conf:3: </RequireAll>: no <RequireAll> is open");
    in_location_fails("<RequireAll>\nRequire local\n</RequireAny>\n",
                      "s.conf:5: </RequireAny>: no <RequireAny> is open");
    in_location_fails("<RequireAny x>\n", "s.conf:3: <RequireAny>: takes no arguments");
    in_location_fails("<RequireAny>\n<Files x>\n",
                      "s.conf:4: <Files>: sections cannot nest: the <Location> of line 2 is "
                      "still open");
}
END_TEST

/* Directives where they may not stand. */
START_TEST(test_context_errors)
{
    in_location_fails("Listen 81\n",
                      "s.conf:3: Listen: not allowed in <Location>; allowed in: server config");
    line2_fails("Require all granted\n",
                "Require: not allowed outside <VirtualHost>; allowed in: <Directory>, <Files>, "
                "<Location> and their Match forms");
    parse_fails("Listen 80\n<VirtualHost *:80>\nRequire local\n</VirtualHost>\n",
                "s.conf:3: Require: not allowed in <VirtualHost>; allowed in: <Directory>, "
                "<Files>, <Location> and their Match forms");
    in_location_fails("Alias /a /srv/a\n",
                      "s.conf:3: Alias: not allowed in <Location>; allowed in: server config, "
                      "<VirtualHost>");
    parse_fails("Listen 80\n<Directory /srv>\nRedirect /a http://x.example/\n</Directory>\n",
                "s.conf:3: Redirect: not allowed in <Directory>; allowed in: server config, "
                "<VirtualHost>");
    parse_fails("Listen 80\n<FilesMatch x>\nDocumentRoot a\n</FilesMatch>\n",
                "s.conf:3: DocumentRoot: not allowed in <FilesMatch>; allowed in: server config, "
                "<VirtualHost>");
    parse_fails("Listen 80\n<Location ~ x>\nInclude x.conf\n</Location>\n",
                "s.conf:3: Include: not allowed in <LocationMatch>; allowed in: server config, "
                "<VirtualHost>");
    /* ... and where they may. */
    config_free(parse_ok("Listen 80\nOptions None\nHeader set A b\nErrorDocument 404 /x\n"
                         "SetHandler none\n<VirtualHost *:80>\nOptions +Indexes\n"
                         "Header set A c\nErrorDocument 404 /y\nSetHandler static\n"
                         "</VirtualHost>\n<Files x>\nRequire local\nOptions All\n"
                         "Header set A d\nErrorDocument 404 /z\nSetHandler static\n</Files>\n"));
}
END_TEST

/* Require mistakes. */
START_TEST(test_require_errors)
{
    in_location_fails("Require not ip 10.0.0.1\n",
                      "s.conf:3: Require: 'Require not' can only deny, so it must stand in a "
                      "<RequireAll> with a rule that grants");
    in_location_fails("<RequireAny>\nRequire not local\n</RequireAny>\n",
                      "s.conf:4: Require: 'Require not' can only deny, so it must stand in a "
                      "<RequireAll> with a rule that grants");
    in_location_fails("Require host example.com\n",
                      "s.conf:3: Require: 'host' is not supported; expected all "
                      "granted|denied, [not] ip ADDRESS..., [not] local, valid-user, [not] user "
                      "NAME... or [not] group NAME...");
    in_location_fails("Require user\n", "s.conf:3: Require: 'user' needs at least one name");
    in_location_fails("Require valid-user bob\n",
                      "s.conf:3: Require: 'valid-user' takes no argument and no 'not'");
    in_location_fails("Require all\n",
                      "s.conf:3: Require: expected 'all granted' or 'all denied' (no 'not')");
    in_location_fails("Require all allowed\n",
                      "s.conf:3: Require: expected 'all granted' or 'all denied' (no 'not')");
    in_location_fails("<RequireAll>\nRequire not all granted\n</RequireAll>\n",
                      "s.conf:4: Require: expected 'all granted' or 'all denied' (no 'not')");
    in_location_fails("Require ip\n", "s.conf:3: Require: 'ip' needs at least one address");
    in_location_fails("Require not\n",
                      "s.conf:3: Require: expected all granted|denied, [not] ip ADDRESS..., "
                      "[not] local, valid-user, [not] user NAME... or [not] group NAME...");
    in_location_fails("Require\n",
                      "s.conf:3: Require: expected 1 to 63 arguments, got 0 (usage: Require all "
                      "granted|all denied|[not] ip ADDRESS...|[not] local|valid-user|[not] user "
                      "NAME...|[not] group NAME...)");
    static const char *const bad[] = {
        "10.0.0.256", "10.0.0.0/33", "::1/129", "10.0.0.0/255.0.255.0", "example.com",
        "1.2.3.4.5", "10.0.0.0/", "/8", "10.0.0.0/8x", "::1/255.0.0.0", "10..1", NULL,
    };
    for (int i = 0; bad[i]; i++) {
        char body[128], want[300];
        snprintf(body, sizeof body, "Require ip 10.0.0.1 %s\n", bad[i]);
        snprintf(want, sizeof want, "s.conf:3: Require: expected an IP address, ADDRESS/BITS, "
                 "IPV4/NETMASK or a partial IPv4 address such as 10.1, got '%s'", bad[i]);
        in_location_fails(body, want);
    }
}
END_TEST

/* "Require local" takes no address: the message says so rather than
 * calling 'local' unsupported. */
START_TEST(test_require_local_extra_message)
{
    char err[512] = "";
    struct config *cfg = parse("Listen 80\n<Location />\nRequire local 10.0.0.1\n</Location>\n",
                               err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_msg(strncmp(err, "s.conf:3: Require: ", 19) == 0, "%s", err);
    ck_assert_msg(strstr(err, "'local' is not supported") == NULL,
                  "'Require local ADDRESS' is refused as if local were unknown: %s", err);
}
END_TEST

/* Options, Header, ErrorDocument, SetHandler mistakes. */
START_TEST(test_dirset_errors)
{
    line2_fails("Options Indexes +ExecCGI\n",
                "Options: either all options start with '+' or '-', or none does (as in Apache "
                "2.4)");
    line2_fails("Options -Indexes FollowSymLinks\n",
                "Options: either all options start with '+' or '-', or none does (as in Apache "
                "2.4)");
    line2_fails("Options MultiViews\n",
                "Options: 'MultiViews' is an Apache option mpmd does not implement; expected "
                "Indexes, FollowSymLinks, ExecCGI, All or None");
    line2_fails("Options +SymLinksIfOwnerMatch\n",
                "Options: 'SymLinksIfOwnerMatch' is an Apache option mpmd does not implement; "
                "expected Indexes, FollowSymLinks, ExecCGI, All or None");
    line2_fails("Options Bogus\n",
                "Options: unknown option 'Bogus'; expected [+|-]Indexes, FollowSymLinks, "
                "ExecCGI, All or None");
    line2_fails("Options +All\n", "Options: '+All': All and None take no '+' or '-'");
    line2_fails("Options -None\n", "Options: '-None': All and None take no '+' or '-'");
    line2_fails("Header frob X-A b\n",
                "Header: expected [always] set|append|add|merge|setifempty|unset NAME [VALUE], "
                "got 'frob'");
    line2_fails("Header always X-A b\n",
                "Header: expected [always] set|append|add|merge|setifempty|unset NAME [VALUE], "
                "got 'X-A'");
    line2_fails("Header set X-A\n",
                "Header: 'set' takes a header name and a value, got 1 argument");
    line2_fails("Header always append X-A\n",
                "Header: 'append' takes a header name and a value, got 1 argument");
    line2_fails("Header unset X-A b\n",
                "Header: 'unset' takes a header name only, got 2 arguments (conditions such as "
                "env= or expr= are not supported)");
    line2_fails("Header set X-A b env=FOO\n",
                "Header: 'set' takes a header name and a value, got 3 arguments (conditions "
                "such as env= or expr= are not supported)");
    line2_fails("Header set X-A \"%t\"\n",
                "Header: format specifiers such as '%t' or '%{VAR}e' are not supported; write "
                "'%%' for a literal '%', got '%t'");
    line2_fails("Header set X-A \"50%\"\n",
                "Header: format specifiers such as '%t' or '%{VAR}e' are not supported; write "
                "'%%' for a literal '%', got '50%'");
    line2_fails("Header set X:A b\n",
                "Header: expected a header name (letters, digits, '-'), got 'X:A'");
    line2_fails("Header set\n",
                "Header: expected 2 to 4 arguments, got 1 (usage: Header [always] "
                "set|append|add|merge|setifempty|unset NAME [VALUE])");
    line2_fails("ErrorDocument 399 /x.html\n",
                "ErrorDocument: expected an error status from 400 to 599, got '399'");
    line2_fails("ErrorDocument 600 /x.html\n",
                "ErrorDocument: expected an error status from 400 to 599, got '600'");
    line2_fails("ErrorDocument 4o4 /x.html\n",
                "ErrorDocument: expected an error status from 400 to 599, got '4o4'");
    line2_fails("ErrorDocument 404 \"/a b.html\"\n",
                "ErrorDocument: a path or URL cannot contain blanks, got '/a b.html'");
    line2_fails("ErrorDocument 404\n",
                "ErrorDocument: expected 2 arguments, got 1 (usage: ErrorDocument CODE "
                "/PATH|\"TEXT\"|URL|default)");
    line2_fails("SetHandler php-script\n",
                "SetHandler: expected a handler name: none, default-handler, static, proxy:URL, "
                "cgi-script, server-status, metrics, got 'php-script'");
    line2_fails("SetHandler proxy:gopher://x/\n",
                "SetHandler: expected an http://, ws:// or fcgi:// URL (https:// upstreams are "
                "not supported yet), got 'gopher://x/'");
    line2_fails("AddHandler cgi-script .a/b\n",
                "AddHandler: expected a file extension such as .cgi, got '.a/b'");
    line2_fails("SetHandler\n",
                "SetHandler: expected 1 argument, got 0 (usage: SetHandler "
                "NAME|none|default-handler)");
}
END_TEST

/* What the setters store. */
START_TEST(test_dirset_values)
{
    struct config *cfg = parse_ok(
        "Listen 80\nSetHandler default-handler\n"
        "<Location /a>\nOptions +Indexes -FollowSymLinks +ExecCGI -ExecCGI\n"
        "Header always setifempty X-A \"one two\"\nHeader onsuccess merge X-B \"100%%\"\n"
        "Header unset X-C\n"
        "ErrorDocument 404 /nf.html\nErrorDocument 403 \"Go away\"\n"
        "ErrorDocument 500 https://e.example/oops\nErrorDocument 503 DEFAULT\n"
        "SetHandler static\n</Location>\n"
        "<Location /b>\nOptions None\nSetHandler none\n</Location>\n");
    ck_assert_int_eq(cfg->dir.handler, -1);
    const struct dirconf *a = &cfg->sections[0].dir, *b = &cfg->sections[1].dir;
    ck_assert_int_eq(a->options_set, 1);
    ck_assert_int_eq(a->options_absolute, 0);
    ck_assert_uint_eq(a->options_on, OPT_INDEXES);
    ck_assert_uint_eq(a->options_off, OPT_FOLLOW_SYMLINKS | OPT_EXEC_CGI);
    ck_assert_int_eq(a->n_headers, 3);
    ck_assert_int_eq(a->headers[0].action, HDR_SETIFEMPTY);
    ck_assert_int_eq(a->headers[0].always, 1);
    ck_assert_str_eq(a->headers[0].name, "X-A");
    ck_assert_str_eq(a->headers[0].value, "one two");
    ck_assert_int_eq(a->headers[1].action, HDR_MERGE);
    ck_assert_int_eq(a->headers[1].always, 0);
    ck_assert_str_eq(a->headers[1].value, "100%");
    ck_assert_int_eq(a->headers[2].action, HDR_UNSET);
    ck_assert_ptr_null(a->headers[2].value);
    ck_assert_int_eq(a->n_error_docs, 4);
    ck_assert_int_eq(a->error_docs[0].status, 404);
    ck_assert_int_eq(a->error_docs[0].kind, ERRDOC_LOCAL);
    ck_assert_str_eq(a->error_docs[0].text, "/nf.html");
    ck_assert_int_eq(a->error_docs[1].kind, ERRDOC_TEXT);
    ck_assert_str_eq(a->error_docs[1].text, "Go away");
    ck_assert_int_eq(a->error_docs[2].kind, ERRDOC_URL);
    ck_assert_int_eq(a->error_docs[3].kind, ERRDOC_DEFAULT);
    ck_assert_str_eq(mpmd_conf_modules[0]->handler, "static");
    ck_assert_int_eq(a->handler, 1);          /* module 0, plus one */
    ck_assert_int_eq(b->options_set, 1);
    ck_assert_int_eq(b->options_absolute, 1);
    ck_assert_uint_eq(b->options_on, 0);
    ck_assert_int_eq(b->handler, -1);
    ck_assert_ptr_null(a->require);
    config_free(cfg);
}
END_TEST

/* ---- merging through the route functions ------------------------------------ */

/* Options: "+A -B" adjusts what came before, "A B" replaces it. */
START_TEST(test_options_merge)
{
    struct config *cfg = parse_ok(
        "Listen 80\n<Directory htdocs>\nOptions All\n</Directory>\n"
        "<Location /a>\nOptions -Indexes\n</Location>\n"
        "<Location /b>\nOptions Indexes\n</Location>\n"
        "<Location /b/c>\nOptions +ExecCGI\n</Location>\n"
        "<Location /n>\nOptions None\n</Location>\n"
        "<VirtualHost *:80>\nDocumentRoot a\nOptions +Indexes\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName other\nDocumentRoot b\n</VirtualHost>\n");
    ck_assert_uint_eq(route_options(route_at(cfg, "/x")), OPT_ALL);
    ck_assert_uint_eq(route_options(route_at(cfg, "/a/f")), OPT_FOLLOW_SYMLINKS | OPT_EXEC_CGI);
    ck_assert_uint_eq(route_options(route_at(cfg, "/b/f")), OPT_INDEXES);
    ck_assert_uint_eq(route_options(route_at(cfg, "/b/c/f")), OPT_INDEXES | OPT_EXEC_CGI);
    ck_assert_uint_eq(route_options(route_at(cfg, "/n")), 0);
    /* Site a: not under htdocs; its own +Indexes over the default. */
    const struct config *va = cfg->vhosts[0].cfg, *vb = cfg->vhosts[1].cfg;
    ck_assert_uint_eq(route_options(route_at(va, "/x")), OPT_DEFAULT | OPT_INDEXES);
    ck_assert_uint_eq(route_options(route_at(va, "/a/x")), OPT_FOLLOW_SYMLINKS);
    ck_assert_uint_eq(route_options(route_at(vb, "/x")), OPT_DEFAULT);
    ck_assert_uint_eq(route_options(route_at(vb, "/b/c/x")), OPT_INDEXES | OPT_EXEC_CGI);
    config_free(cfg);
}
END_TEST

/* A later section's Require replaces the earlier ones; a section
 * without Require keeps what applies. */
START_TEST(test_require_merge)
{
    struct config *cfg = parse_ok(
        "Listen 80\n<Location />\nRequire all denied\n</Location>\n"
        "<Location /pub>\nRequire all granted\n</Location>\n"
        "<Location /pub/hdr>\nHeader set X-A b\n</Location>\n"
        "<Location /pub/lan>\nRequire ip 10.0.0.0/8\nRequire local\n</Location>\n"
        "<VirtualHost *:80>\nServerName v\n</VirtualHost>\n");
    const struct config *v = cfg->vhosts[0].cfg;
    ck_assert_ptr_eq(route_require(route_at(cfg, "/x")), cfg->sections[0].dir.require);
    ck_assert_int_eq(granted(route_require(&rt), "127.0.0.1"), 0);
    ck_assert_ptr_eq(route_require(route_at(cfg, "/pub/x")), cfg->sections[1].dir.require);
    ck_assert_int_eq(granted(route_require(&rt), "192.0.2.1"), 1);
    ck_assert_ptr_eq(route_require(route_at(cfg, "/pub/hdr/x")), cfg->sections[1].dir.require);
    ck_assert_ptr_eq(route_require(route_at(cfg, "/pub/lan/x")), cfg->sections[3].dir.require);
    ck_assert_int_eq(granted(route_require(&rt), "10.9.8.7"), 1);
    ck_assert_int_eq(granted(route_require(&rt), "::1"), 1);
    ck_assert_int_eq(granted(route_require(&rt), "192.0.2.1"), 0);
    ck_assert_ptr_eq(route_require(route_at(v, "/pub")), cfg->sections[1].dir.require);
    ck_assert_ptr_eq(route_require(route_at(v, "/public")), cfg->sections[0].dir.require);
    config_free(cfg);
    cfg = parse_ok("Listen 80\n<Location /a>\nHeader set X-A b\n</Location>\n");
    ck_assert_ptr_null(route_require(route_at(cfg, "/a")));
    config_free(cfg);
}
END_TEST

/* ErrorDocument: the latest for the status in merge order; "default"
 * resets to the built-in page; a site inherits the main server's. */
START_TEST(test_error_doc_merge)
{
    struct config *cfg = parse_ok(
        "Listen 80\nErrorDocument 404 /main404.html\nErrorDocument 500 \"oops\"\n"
        "ErrorDocument 403 http://e.example/denied\n"
        "<Location /two>\nErrorDocument 404 /first.html\nErrorDocument 404 /second.html\n"
        "</Location>\n"
        "<VirtualHost *:80>\nErrorDocument 404 /v404.html\n"
        "<Location /loc>\nErrorDocument 404 /loc404.html\n</Location>\n"
        "<Location /def>\nErrorDocument 404 default\n</Location>\n</VirtualHost>\n");
    const struct config *v = cfg->vhosts[0].cfg;
    const struct error_doc *e = route_error_doc(route_at(cfg, "/x"), 404);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->kind, ERRDOC_LOCAL);
    ck_assert_str_eq(e->text, "/main404.html");
    e = route_error_doc(&rt, 500);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->kind, ERRDOC_TEXT);
    ck_assert_str_eq(e->text, "oops");
    e = route_error_doc(&rt, 403);
    ck_assert_ptr_nonnull(e);
    ck_assert_int_eq(e->kind, ERRDOC_URL);
    ck_assert_ptr_null(route_error_doc(&rt, 401));
    ck_assert_str_eq(route_error_doc(route_at(cfg, "/two/x"), 404)->text, "/second.html");
    ck_assert_str_eq(route_error_doc(route_at(cfg, "/loc/x"), 404)->text, "/main404.html");
    ck_assert_str_eq(route_error_doc(route_at(v, "/x"), 404)->text, "/v404.html");
    ck_assert_str_eq(route_error_doc(route_at(v, "/loc/x"), 404)->text, "/loc404.html");
    ck_assert_str_eq(route_error_doc(&rt, 500)->text, "oops");
    ck_assert_str_eq(route_error_doc(route_at(v, "/two"), 404)->text, "/second.html");
    ck_assert_ptr_null(route_error_doc(route_at(v, "/def/x"), 404));
    ck_assert_str_eq(route_error_doc(&rt, 500)->text, "oops");
    config_free(cfg);
}
END_TEST

/* Header lines apply in merge order: the main server's, the site's, then
 * <Directory>, <Files>, <Location>, each later one over the earlier. */
START_TEST(test_header_order)
{
    struct config *cfg = parse_ok(
        "Listen 80\nHeader set X-Main main\nHeader set X-Foo foo\nHeader append X-Trail main\n"
        "<Location />\nHeader set X-Order loc\nHeader append X-Trail loc1\n</Location>\n"
        "<Directory htdocs>\nHeader set X-Order dir\nHeader append X-Trail dir\n</Directory>\n"
        "<VirtualHost *:80>\nHeader unset X-Foo\nHeader append X-Trail vhost\n"
        "<Location /a>\nHeader append X-Trail vloc\n</Location>\n</VirtualHost>\n"
        "<Location /a>\nHeader append X-Trail loc2\n</Location>\n"
        "<Files *.txt>\nHeader append X-Trail files\n</Files>\n");
    const struct config *v = cfg->vhosts[0].cfg;
    ck_assert_str_eq(header_at(cfg, "/a/x.txt", 0, "X-Order"), "loc");
    ck_assert_str_eq(field_of(&head, "X-Trail"), "main, dir, files, loc1, loc2");
    ck_assert_str_eq(field_of(&head, "X-Foo"), "foo");
    ck_assert_str_eq(field_of(&head, "X-Main"), "main");
    ck_assert_str_eq(header_at(cfg, "/b", 0, "X-Trail"), "main, dir, loc1");
    ck_assert_str_eq(header_at(v, "/a/x.txt", 0, "X-Trail"),
                     "main, vhost, dir, files, loc1, loc2, vloc");
    ck_assert_str_eq(field_of(&head, "X-Foo"), "(none)");
    ck_assert_str_eq(field_of(&head, "X-Main"), "main");
    ck_assert_str_eq(field_of(&head, "X-Order"), "loc");
    ck_assert_int_eq(field_count(&head, "X-Trail"), 1);
    config_free(cfg);
}
END_TEST

/* Each Header action on a head that has fields already; without
 * "always" nothing applies to an error answer. */
START_TEST(test_header_actions)
{
    struct config *cfg = parse_ok(
        "Listen 80\n<Location />\n"
        "Header append Cache-Control private\n"
        "Header merge Vary Accept-Encoding\nHeader merge Vary Cookie\n"
        "Header merge X-M a\nHeader merge X-M a\n"
        "Header add X-Add one\nHeader add X-Add two\n"
        "Header setifempty X-Pre new\nHeader setifempty X-New new\n"
        "Header set X-Pct \"100%%\"\n"
        "Header always set X-Always yes\nHeader onsuccess set X-Success yes\n"
        "Header unset X-Drop\nHeader set X-Set new\n"
        "</Location>\n");
    static const char pre[] = "Cache-Control: no-cache\r\nVary: accept-encoding\r\n"
                              "X-Pre: old\r\nX-Drop: x\r\nX-Drop: y\r\nX-Set: old1\r\n"
                              "X-Set: old2\r\n";
    route_at(cfg, "/page");
    route_apply_headers(&rt, head_with(pre), 0);
    ck_assert_str_eq(field_of(&head, "Cache-Control"), "no-cache, private");
    ck_assert_str_eq(field_of(&head, "Vary"), "accept-encoding, Cookie");
    ck_assert_int_eq(field_count(&head, "Vary"), 1);
    ck_assert_str_eq(field_of(&head, "X-M"), "a");
    ck_assert_int_eq(field_count(&head, "X-Add"), 2);
    ck_assert_str_eq(field_of(&head, "X-Add"), "one");
    ck_assert_ptr_nonnull(strstr(head.buf, "\r\nX-Add: one\r\nX-Add: two\r\n"));
    ck_assert_str_eq(field_of(&head, "X-Pre"), "old");
    ck_assert_str_eq(field_of(&head, "X-New"), "new");
    ck_assert_str_eq(field_of(&head, "X-Pct"), "100%");
    ck_assert_str_eq(field_of(&head, "X-Always"), "yes");
    ck_assert_str_eq(field_of(&head, "X-Success"), "yes");
    ck_assert_int_eq(field_count(&head, "X-Drop"), 0);
    ck_assert_int_eq(field_count(&head, "X-Set"), 1);
    ck_assert_str_eq(field_of(&head, "X-Set"), "new");
    ck_assert_int_eq(head.overflow, 0);

    route_apply_headers(&rt, head_with(pre), 1);
    ck_assert_str_eq(field_of(&head, "X-Always"), "yes");
    ck_assert_str_eq(field_of(&head, "X-Success"), "(none)");
    ck_assert_str_eq(field_of(&head, "Cache-Control"), "no-cache");
    ck_assert_str_eq(field_of(&head, "X-New"), "(none)");
    ck_assert_int_eq(field_count(&head, "X-Drop"), 2);
    ck_assert_int_eq(field_count(&head, "X-Set"), 2);
    config_free(cfg);
}
END_TEST

/* append and merge join onto the first field of the name, as Apache's
 * apr_table_mergen does; the other fields of that name stay. */
START_TEST(test_header_append_keeps_others)
{
    struct config *cfg = parse_ok("Listen 80\n<Location />\nHeader append X-A c\n"
                                  "Header merge X-B d\n</Location>\n");
    route_at(cfg, "/");
    route_apply_headers(&rt, head_with("X-A: a\r\nX-A: b\r\nX-B: a\r\nX-B: b\r\n"), 0);
    config_free(cfg);
    ck_assert_str_eq(field_of(&head, "X-A"), "a, c");
    ck_assert_str_eq(field_of(&head, "X-B"), "a, d");
    ck_assert_msg(field_count(&head, "X-A") == 2 && strstr(head.buf, "\r\nX-A: b\r\n"),
                  "Header append dropped the second X-A field:\n%.*s", (int)head.len, head.buf);
    ck_assert_msg(field_count(&head, "X-B") == 2 && strstr(head.buf, "\r\nX-B: b\r\n"),
                  "Header merge dropped the second X-B field:\n%.*s", (int)head.len, head.buf);
}
END_TEST

/* <Files> and <FilesMatch> test the last segment; <LocationMatch> and
 * <Location ~> the whole URL path, anywhere. */
START_TEST(test_files_and_regex)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "<Files \"*.txt\">\n</Files>\n"                         /* 2 */
        "<FilesMatch \"\\.(html|htm)$\">\n</FilesMatch>\n"      /* 4 */
        "<Files exact.html>\n</Files>\n"                        /* 6 */
        "<LocationMatch \"^/re/[0-9]+$\">\n</LocationMatch>\n"  /* 8 */
        "<Location ~ \"/tilde/\">\n</Location>\n"               /* 10 */
        "<Files ?.css>\n</Files>\n");                           /* 12 */
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b.txt"), "site 2");
    ck_assert_str_eq(chain_at(cfg, cfg, "/b.txt"), "site 2");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b.html"), "site 4");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b.HTM"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/exact.html"), "site 4 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b.txtx"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a.txt/b"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/txt"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/re/12"), "site 8");
    ck_assert_str_eq(chain_at(cfg, cfg, "/re/12/x"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/re/12.txt"), "site 2");
    ck_assert_str_eq(chain_at(cfg, cfg, "/x/tilde/y"), "site 10");
    ck_assert_str_eq(chain_at(cfg, cfg, "/tilde"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/s/a.css"), "site 12");
    ck_assert_str_eq(chain_at(cfg, cfg, "/s/ab.css"), "site");
    /* The regex sees the normalised path. */
    ck_assert_str_eq(chain_at(cfg, cfg, "/re//./12"), "site 8");
    config_free(cfg);
}
END_TEST

/* <Location PREFIX>: whole segments; a trailing slash means "below". */
START_TEST(test_location_prefix)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "<Location /private>\n</Location>\n"        /* 2 */
        "<Location /dir/>\n</Location>\n"           /* 4 */
        "<Location />\n</Location>\n"               /* 6 */
        "<Location /a/*/c>\n</Location>\n"          /* 8 */
        "<Location /private/deep>\n</Location>\n"   /* 10 */
        "<Location //x//y>\n</Location>\n");        /* 12 */
    ck_assert_str_eq(chain_at(cfg, cfg, "/private"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/private/"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/private/x"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/private/deep/er"), "site 2 6 10");
    ck_assert_str_eq(chain_at(cfg, cfg, "/private/deeper"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/privateother"), "site 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/Private"), "site 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/dir/x"), "site 4 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/dir/"), "site 4 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/dir"), "site 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/"), "site 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/other/x/y"), "site 6");
    /* Wildcards match the whole path, '*' within one segment (Apache's
     * fnmatch with FNM_PATHNAME). */
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b/c"), "site 6 8");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b/b/c"), "site 6");
    /* The request path is normalised before it is compared. */
    ck_assert_str_eq(chain_at(cfg, cfg, "//private//x"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/other/../private"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/%70rivate"), "site 2 6");
    ck_assert_str_eq(chain_at(cfg, cfg, "/x/y/z"), "site 6 12");
    /* A path that cannot be normalised gets no section. */
    ck_assert_str_eq(chain_at(cfg, cfg, "/../private"), "site");
    ck_assert_int_eq(rt.path_ok, 0);
    config_free(cfg);
    /* Without a "/" section the root gets nothing. */
    cfg = parse_ok("Listen 80\n<Location /a>\n</Location>\n");
    ck_assert_str_eq(chain_at(cfg, cfg, "/"), "site");
    ck_assert_str_eq(chain_at(cfg, cfg, "/b/a"), "site");
    config_free(cfg);
}
END_TEST

/* The merge order of the groups: <Directory> by path length (plain
 * before wildcard and regex), <Files>, <Location>; the main server's
 * sections before a virtual host's, each group in file order. */
START_TEST(test_merge_order)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "<Location /a>\n</Location>\n"              /* 2 */
        "<Directory htdocs/a/b>\n</Directory>\n"    /* 4 */
        "<Files f.txt>\n</Files>\n"                 /* 6 */
        "<Directory />\n</Directory>\n"             /* 8 */
        "<DirectoryMatch \"/htdocs/a/\">\n</DirectoryMatch>\n"  /* 10 */
        "<Directory htdocs>\n</Directory>\n"        /* 12 */
        "<Directory htdocs/*/b>\n</Directory>\n"    /* 14 */
        "<Directory htdocs/a>\n</Directory>\n"      /* 16 */
        "<LocationMatch ^/a/b>\n</LocationMatch>\n" /* 18 */
        "<VirtualHost *:80>\n"                      /* 20 */
        "<Location />\n</Location>\n"               /* 21 */
        "<Directory htdocs/a>\n</Directory>\n"      /* 23 */
        "<Files *.txt>\n</Files>\n"                 /* 25 */
        "</VirtualHost>\n"
        "<Location /a/b/f.txt>\n</Location>\n"      /* 28 */
        "<VirtualHost *:80>\nServerName other\nDocumentRoot a\n</VirtualHost>\n"
        "<Directory a>\n</Directory>\n");           /* 34 */
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/b/f.txt"), "site 8 12 16 4 10 14 6 2 18 28");
    ck_assert_str_eq(chain_at(cfg, cfg, "/a/f.txt"), "site 8 12 16 10 6 2");
    ck_assert_str_eq(chain_at(cfg, cfg, "/c/g.txt"), "site 8 12");
    const struct config *v = cfg->vhosts[0].cfg, *other = cfg->vhosts[1].cfg;
    ck_assert_str_eq(chain_at(cfg, v, "/a/b/f.txt"),
                     "main site 8 12 16 23 4 10 14 6 25 2 18 28 21");
    /* Another DocumentRoot: the <Directory> sections of that tree. */
    ck_assert_str_eq(chain_at(cfg, other, "/a/b/f.txt"), "main site 8 34 6 2 18 28");
    /* Without sections (an answer made before they apply): the sites'
     * own settings only. */
    route_begin(&rt, v, "/a/b/f.txt", 10);
    route_sections(&rt, 0);
    ck_assert_str_eq(chain_text(cfg, &rt), "main site");
    route_begin(&rt, cfg, "/a/b/f.txt", 10);
    route_sections(&rt, 0);
    ck_assert_str_eq(chain_text(cfg, &rt), "site");
    config_free(cfg);
}
END_TEST

/* route_fs_path: the base, then the path after fs_skip. */
START_TEST(test_fs_path)
{
    char buf[256], want[256];
    struct config *cfg = parse_ok("Listen 80\n<VirtualHost *:80>\nDocumentRoot a\n"
                                  "</VirtualHost>\n");
    route_at(cfg, "/x//y/./z.txt");
    snprintf(want, sizeof want, "%s/htdocs/x/y/z.txt", root);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), want);
    ck_assert_ptr_null(route_fs_path(&rt, buf, strlen(want)));
    ck_assert_ptr_eq(route_fs_path(&rt, buf, strlen(want) + 1), buf);
    route_at(cfg->vhosts[0].cfg, "/");
    snprintf(want, sizeof want, "%s/a/", root);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), want);
    /* Moved by an Alias: "/icons/x" under "/usr/share/icons/". */
    route_at(cfg, "/icons/x.png");
    rt.fs_base = "/usr/share/icons/";
    rt.fs_skip = 6;
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/usr/share/icons/x.png");
    rt.fs_base = "/srv/i";
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/srv/i/x.png");
    config_free(cfg);
}
END_TEST

/* SetHandler: the latest in the chain; "none" is the default handler. */
START_TEST(test_handler_index)
{
    static struct dirconf d[4];
    memset(d, 0, sizeof d);
    memset(&rt, 0, sizeof rt);
    for (int i = 0; i < 4; i++)
        rt.chain[i] = &d[i];
    rt.n_chain = 4;
    ck_assert_int_eq(route_handler_index(&rt), 0);
    d[1].handler = 3;                     /* module index 2 */
    ck_assert_int_eq(route_handler_index(&rt), 2);
    d[0].handler = 2;
    ck_assert_int_eq(route_handler_index(&rt), 2);
    d[3].handler = -1;
    ck_assert_int_eq(route_handler_index(&rt), 0);
    d[2].handler = 2;
    ck_assert_int_eq(route_handler_index(&rt), 0);
    d[3].handler = 0;
    ck_assert_int_eq(route_handler_index(&rt), 1);
    rt.n_chain = 0;
    ck_assert_int_eq(route_handler_index(&rt), 0);
    /* From the configuration: the static handler is module 0. */
    struct config *cfg = parse_ok("Listen 80\n<Location /s>\nSetHandler static\n</Location>\n"
                                  "<Location /s/n>\nSetHandler none\n</Location>\n");
    ck_assert_int_eq(cfg->sections[0].dir.handler, 1);
    ck_assert_int_eq(cfg->sections[1].dir.handler, -1);
    ck_assert_int_eq(route_handler_index(route_at(cfg, "/s/n/x")), 0);
    ck_assert_int_eq(rt.n_chain, 3);
    ck_assert_int_eq(route_handler_index(route_at(cfg, "/s/x")), 0);
    ck_assert_int_eq(rt.n_chain, 2);
    config_free(cfg);
}
END_TEST

/* ---- the index itself ------------------------------------------------------- */

static pcre2_code *regex(const char *re)
{
    int code;
    PCRE2_SIZE at;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The indexes (into SECS) of what secindex_match gives, as text. */
static const char *match_text(const struct section_index *ix, const struct section *secs,
                              const char *url, const char *fs, int max)
{
    static char buf[256];
    const struct section *out[32];
    int n = secindex_match(ix, url, strlen(url), fs, out, max);
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%d", i ? " " : "",
                 (int)(out[i] - secs));
    return buf;
}

START_TEST(test_secindex)
{
    static struct section secs[] = {
        {.kind = SEC_LOCATION, .pattern = "/a", .seq = 1},                   /* 0 */
        {.kind = SEC_LOCATION, .pattern = "/a/", .seq = 2},                  /* 1 */
        {.kind = SEC_LOCATION, .pattern = "/", .seq = 3},                    /* 2 */
        {.kind = SEC_DIRECTORY, .pattern = "/srv/www", .seq = 4},            /* 3 */
        {.kind = SEC_DIRECTORY, .pattern = "/srv", .seq = 5},                /* 4 */
        {.kind = SEC_FILES, .pattern = "*.txt", .wildcard = 1, .seq = 6},    /* 5 */
        {.kind = SEC_LOCATION_MATCH, .pattern = "^/a/x", .seq = 7},          /* 6 */
        {.kind = SEC_LOCATION, .pattern = "/a/*", .wildcard = 1, .seq = 8},  /* 7 */
        {.kind = SEC_FILES_MATCH, .pattern = "^x", .seq = 9},                /* 8 */
        {.kind = SEC_DIRECTORY, .pattern = "/srv/*/a", .wildcard = 1, .seq = 10}, /* 9 */
        {.kind = SEC_LOCATION, .pattern = "/a/x", .seq = 11},                /* 10 */
        {.kind = SEC_DIRECTORY_MATCH, .pattern = "www/a", .seq = 12},        /* 11 */
        {.kind = SEC_DIRECTORY, .pattern = "/", .seq = 13},                  /* 12 */
    };
    int n = (int)(sizeof secs / sizeof secs[0]);
    secs[6].regex = regex(secs[6].pattern);
    secs[8].regex = regex(secs[8].pattern);
    secs[11].regex = regex(secs[11].pattern);
    const struct section *all[16];
    for (int i = 0; i < n; i++)
        all[i] = &secs[i];
    struct section_index *ix = secindex_build(all, n);
    ck_assert_ptr_nonnull(ix);
    /* Directory: shortest first ("/", /srv, /srv/www), then wildcard and
     * regex in file order; Files; Location and the others by file order. */
    ck_assert_str_eq(match_text(ix, secs, "/a/x", "/srv/www/a/x.txt", 32),
                     "12 4 3 9 11 5 8 0 1 2 6 7 10");
    ck_assert_str_eq(match_text(ix, secs, "/a/x", NULL, 32), "8 0 1 2 6 7 10");
    ck_assert_str_eq(match_text(ix, secs, "/a", "/srv/www/a", 32), "12 4 3 9 11 0 2");
    ck_assert_str_eq(match_text(ix, secs, "/a/", "/srv/www/a/", 32), "12 4 3 9 11 0 1 2 7");
    ck_assert_str_eq(match_text(ix, secs, "/a/y/z", "/srv/other/a/y/z", 32), "12 4 9 0 1 2");
    ck_assert_str_eq(match_text(ix, secs, "/b.txt", "/data/b.txt", 32), "12 5 2");
    ck_assert_str_eq(match_text(ix, secs, "/a/x", "/srv/www/a/x.txt", 3), "12 4 3");
    ck_assert_str_eq(match_text(ix, secs, "/a/x", "/srv/www/a/x.txt", 0), "");
    /* The most at once: the longest tree lists (3 Directory: "/", /srv,
     * /srv/www; 4 Location below /a/x) plus every other section (2 wildcard
     * or regex Directory, 2 Files, 2 Location). */
    ck_assert_int_eq(secindex_max_match(ix), 3 + 4 + 2 + 2 + 2);
    ck_assert_int_eq(secindex_needs_fs(ix), 1);
    secindex_free(ix);

    /* Location only: no file-system path needed. */
    ix = secindex_build(all, 3);
    ck_assert_ptr_nonnull(ix);
    ck_assert_int_eq(secindex_needs_fs(ix), 0);
    ck_assert_int_eq(secindex_max_match(ix), 3);
    ck_assert_str_eq(match_text(ix, secs, "/a/q", "/srv/www/a/q", 32), "0 1 2");
    secindex_free(ix);
    const struct section *files_only[] = {&secs[5]}, *dirs_only[] = {&secs[4]};
    ix = secindex_build(files_only, 1);
    ck_assert_int_eq(secindex_needs_fs(ix), 1);
    ck_assert_int_eq(secindex_max_match(ix), 1);
    secindex_free(ix);
    ix = secindex_build(dirs_only, 1);
    ck_assert_int_eq(secindex_needs_fs(ix), 1);
    ck_assert_str_eq(match_text(ix, secs, "/x", "/srv", 32), "4");
    ck_assert_str_eq(match_text(ix, secs, "/x", "/srvx", 32), "");
    secindex_free(ix);
    ix = secindex_build(all, 0);
    ck_assert_ptr_nonnull(ix);
    ck_assert_int_eq(secindex_needs_fs(ix), 0);
    ck_assert_int_eq(secindex_max_match(ix), 0);
    ck_assert_str_eq(match_text(ix, secs, "/a", "/srv/a", 32), "");
    secindex_free(ix);
    ck_assert_int_eq(secindex_needs_fs(NULL), 0);
    ck_assert_int_eq(secindex_max_match(NULL), 0);
    ck_assert_str_eq(match_text(NULL, secs, "/a", "/srv/a", 32), "");
    ck_assert_int_eq(secindex_regex_matches(secs[6].regex, "/a/xyz", 6), 1);
    ck_assert_int_eq(secindex_regex_matches(secs[6].regex, "/a/xyz", 3), 0);
    ck_assert_int_eq(secindex_regex_matches(secs[11].regex, "/srv/www/a", 10), 1);
    pcre2_code_free(secs[6].regex);
    pcre2_code_free(secs[8].regex);
    pcre2_code_free(secs[11].regex);
}
END_TEST

/* The index a configuration builds: the main server's sections, then the
 * site's. */
START_TEST(test_config_index)
{
    struct config *cfg = parse_ok("Listen 80\n<Location /a>\n</Location>\n"
                                  "<VirtualHost *:80>\n<Location /a/b>\n</Location>\n"
                                  "<Files x>\n</Files>\n</VirtualHost>\n"
                                  "<VirtualHost *:80>\nServerName o\n</VirtualHost>\n");
    const struct config *v = cfg->vhosts[0].cfg, *o = cfg->vhosts[1].cfg;
    ck_assert_int_eq(secindex_needs_fs(cfg->index), 0);
    ck_assert_int_eq(secindex_max_match(cfg->index), 1);
    ck_assert_int_eq(secindex_needs_fs(v->index), 1);
    ck_assert_int_eq(secindex_max_match(v->index), 3);
    ck_assert_int_eq(secindex_max_match(o->index), 1);
    config_free(cfg);
    cfg = parse_ok("Listen 80\n");
    ck_assert_ptr_null(cfg->index);
    ck_assert_str_eq(chain_at(cfg, cfg, "/a"), "site");
    config_free(cfg);
}
END_TEST

/* ---- Require evaluation ----------------------------------------------------- */

START_TEST(test_authz_all)
{
    struct authz *g = rules(AUTHZ_ANY, "all granted", NULL);
    struct authz *d = rules(AUTHZ_ANY, "all denied", NULL);
    ck_assert_int_eq(g->kids[0]->kind, AUTHZ_ALL_GRANTED);
    ck_assert_int_eq(d->kids[0]->kind, AUTHZ_ALL_DENIED);
    ck_assert_int_eq(granted(g, "192.0.2.1"), 1);
    ck_assert_int_eq(granted(g, "2001:db8::1"), 1);
    ck_assert_int_eq(granted(d, "127.0.0.1"), 0);
    ck_assert_int_eq(granted(d, "::1"), 0);
    /* A peer of another family: "all" still decides, "ip" never grants. */
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    ck_assert_int_eq(authz_check(g, (const struct sockaddr *)&un), 1);
    struct authz *l = rules(AUTHZ_ANY, "local", NULL);
    ck_assert_int_eq(authz_check(l, (const struct sockaddr *)&un), 0);
    /* An empty container grants nobody. */
    struct authz *none = authz_new(AUTHZ_ANY);
    ck_assert_int_eq(granted(none, "127.0.0.1"), 0);
    authz_free(g);
    authz_free(d);
    authz_free(l);
    authz_free(none);
}
END_TEST

START_TEST(test_authz_ipv4)
{
    struct authz *a = rules(AUTHZ_ANY, "ip 192.0.2.1", NULL);
    ck_assert_int_eq(a->kids[0]->kind, AUTHZ_IP);
    ck_assert_int_eq(a->kids[0]->n_nets, 1);
    ck_assert_int_eq(a->kids[0]->nets[0].bits, 32);
    ck_assert_int_eq(granted(a, "192.0.2.1"), 1);
    ck_assert_int_eq(granted(a, "192.0.2.2"), 0);
    ck_assert_int_eq(granted(a, "::ffff:192.0.2.1"), 1);   /* IPv4 on a [::] socket */
    ck_assert_int_eq(granted(a, "::ffff:192.0.2.2"), 0);
    ck_assert_int_eq(granted(a, "::192.0.2.1"), 0);        /* v4-compatible is not mapped */
    authz_free(a);

    a = rules(AUTHZ_ANY, "ip 10.0.0.0/8 172.16.0.0/16", "ip 172.32.0.0/12");
    ck_assert_int_eq(a->n_kids, 2);
    ck_assert_int_eq(a->kids[0]->n_nets, 2);
    ck_assert_int_eq(granted(a, "10.255.1.2"), 1);
    ck_assert_int_eq(granted(a, "::ffff:10.1.2.3"), 1);
    ck_assert_int_eq(granted(a, "11.0.0.1"), 0);
    ck_assert_int_eq(granted(a, "9.255.255.255"), 0);
    ck_assert_int_eq(granted(a, "172.16.200.1"), 1);
    ck_assert_int_eq(granted(a, "172.17.0.1"), 0);
    ck_assert_int_eq(granted(a, "172.47.255.255"), 1);     /* /12: 172.32 - 172.47 */
    ck_assert_int_eq(granted(a, "172.48.0.0"), 0);
    ck_assert_int_eq(granted(a, "172.31.255.255"), 0);
    authz_free(a);

    a = rules(AUTHZ_ANY, "ip 0.0.0.0/0", NULL);
    ck_assert_int_eq(granted(a, "203.0.113.9"), 1);
    ck_assert_int_eq(granted(a, "::ffff:203.0.113.9"), 1);
    ck_assert_int_eq(granted(a, "2001:db8::1"), 0);
    authz_free(a);

    a = rules(AUTHZ_ANY, "ip 10.0.0.0/255.0.0.0", "ip 192.168.1.0/255.255.255.128");
    ck_assert_int_eq(a->kids[0]->nets[0].bits, 8);
    ck_assert_int_eq(a->kids[1]->nets[0].bits, 25);
    ck_assert_int_eq(granted(a, "10.20.30.40"), 1);
    ck_assert_int_eq(granted(a, "192.168.1.127"), 1);
    ck_assert_int_eq(granted(a, "192.168.1.128"), 0);
    authz_free(a);

    /* Apache's partial addresses: the leading octets. */
    a = rules(AUTHZ_ANY, "ip 10.1", "ip 192.168.7.");
    ck_assert_int_eq(a->kids[0]->nets[0].family, AF_INET);
    ck_assert_int_eq(a->kids[0]->nets[0].bits, 16);
    ck_assert_int_eq(a->kids[0]->nets[0].ip[0], 10);
    ck_assert_int_eq(a->kids[0]->nets[0].ip[1], 1);
    ck_assert_int_eq(a->kids[1]->nets[0].bits, 24);
    ck_assert_int_eq(granted(a, "10.1.200.3"), 1);
    ck_assert_int_eq(granted(a, "10.2.0.1"), 0);
    ck_assert_int_eq(granted(a, "10.10.0.1"), 0);
    ck_assert_int_eq(granted(a, "192.168.7.9"), 1);
    ck_assert_int_eq(granted(a, "192.168.70.9"), 0);
    authz_free(a);
    a = rules(AUTHZ_ANY, "ip 10", NULL);
    ck_assert_int_eq(a->kids[0]->nets[0].bits, 8);
    ck_assert_int_eq(granted(a, "10.9.9.9"), 1);
    ck_assert_int_eq(granted(a, "100.9.9.9"), 0);
    authz_free(a);
}
END_TEST

START_TEST(test_authz_ipv6_local)
{
    struct authz *a = rules(AUTHZ_ANY, "ip 2001:db8::/32", "ip ::1");
    ck_assert_int_eq(a->kids[0]->nets[0].family, AF_INET6);
    ck_assert_int_eq(a->kids[0]->nets[0].bits, 32);
    ck_assert_int_eq(a->kids[1]->nets[0].bits, 128);
    ck_assert_int_eq(granted(a, "2001:db8:1234::5"), 1);
    ck_assert_int_eq(granted(a, "2001:db9::5"), 0);
    ck_assert_int_eq(granted(a, "::1"), 1);
    ck_assert_int_eq(granted(a, "::2"), 0);
    ck_assert_int_eq(granted(a, "32.1.13.184"), 0);        /* 2001:0db8 as IPv4 bytes */
    authz_free(a);
    a = rules(AUTHZ_ANY, "ip fe80::/10", NULL);
    ck_assert_int_eq(granted(a, "febf::1"), 1);
    ck_assert_int_eq(granted(a, "fec0::1"), 0);
    authz_free(a);
    a = rules(AUTHZ_ANY, "ip ::/0", NULL);
    ck_assert_int_eq(granted(a, "2001:db8::1"), 1);
    ck_assert_int_eq(granted(a, "192.0.2.1"), 0);
    authz_free(a);

    a = rules(AUTHZ_ANY, "local", NULL);
    ck_assert_int_eq(granted(a, "127.0.0.1"), 1);
    ck_assert_int_eq(granted(a, "127.255.0.9"), 1);
    ck_assert_int_eq(granted(a, "::1"), 1);
    ck_assert_int_eq(granted(a, "::ffff:127.0.0.1"), 1);
    ck_assert_int_eq(granted(a, "128.0.0.1"), 0);
    ck_assert_int_eq(granted(a, "::2"), 0);
    ck_assert_int_eq(granted(a, "192.0.2.1"), 0);
    authz_free(a);
}
END_TEST

/* Containers: <RequireAny> grants when one rule grants; <RequireAll>
 * when none denies and one grants ("Require not" only denies). */
START_TEST(test_authz_containers)
{
    char err[256] = "";
    struct authz *all = rules(AUTHZ_ALL, "ip 10.0.0.0/8", "not ip 10.9.0.0/16");
    ck_assert_int_eq(all->kids[1]->negate, 1);
    ck_assert_int_eq(granted(all, "10.1.1.1"), 1);
    ck_assert_int_eq(granted(all, "10.9.1.1"), 0);
    ck_assert_int_eq(granted(all, "::ffff:10.9.1.1"), 0);
    ck_assert_int_eq(granted(all, "11.0.0.1"), 0);
    /* Only negated rules: nothing grants. */
    struct authz *only_not = rules(AUTHZ_ALL, "not ip 10.0.0.0/8", NULL);
    ck_assert_int_eq(granted(only_not, "192.0.2.1"), 0);
    ck_assert_int_eq(granted(only_not, "10.0.0.1"), 0);
    /* RequireAll of "all granted" and "not local". */
    struct authz *nl = rules(AUTHZ_ALL, "all granted", "not local");
    ck_assert_int_eq(granted(nl, "192.0.2.1"), 1);
    ck_assert_int_eq(granted(nl, "127.0.0.1"), 0);
    ck_assert_int_eq(granted(nl, "::1"), 0);
    /* "Require not" outside <RequireAll>; bad words leave C as it was. */
    struct authz *any = authz_new(AUTHZ_ANY);
    ck_assert_int_eq(add_require(any, "not ip 10.0.0.1", err, sizeof err), -1);
    ck_assert_str_eq(err, "'Require not' can only deny, so it must stand in a <RequireAll> "
                     "with a rule that grants");
    ck_assert_int_eq(add_require(any, "ip 10.0.0.1 nonsense", err, sizeof err), -1);
    ck_assert_int_eq(any->n_kids, 0);
    /* Nested: Any(ip 192.0.2.0/24, All(local, not ip 127.0.0.2)). */
    ck_assert_int_eq(add_require(any, "ip 192.0.2.0/24", err, sizeof err), 0);
    struct authz *inner = rules(AUTHZ_ALL, "local", "not ip 127.0.0.2");
    ck_assert_int_eq(authz_add_kid(any, inner), 0);
    ck_assert_int_eq(granted(any, "192.0.2.200"), 1);
    ck_assert_int_eq(granted(any, "127.0.0.1"), 1);
    ck_assert_int_eq(granted(any, "127.0.0.2"), 0);
    ck_assert_int_eq(granted(any, "::1"), 1);
    ck_assert_int_eq(granted(any, "10.0.0.1"), 0);
    /* All(Any(ip A, ip B), not ip A.1): the kid container decides. */
    struct authz *outer = authz_new(AUTHZ_ALL);
    struct authz *either = rules(AUTHZ_ANY, "ip 198.51.100.0/24", "ip 203.0.113.0/24");
    ck_assert_int_eq(authz_add_kid(outer, either), 0);
    ck_assert_int_eq(add_require(outer, "not ip 203.0.113.1", err, sizeof err), 0);
    ck_assert_int_eq(granted(outer, "198.51.100.7"), 1);
    ck_assert_int_eq(granted(outer, "203.0.113.2"), 1);
    ck_assert_int_eq(granted(outer, "203.0.113.1"), 0);
    ck_assert_int_eq(granted(outer, "192.0.2.1"), 0);
    authz_free(all);
    authz_free(only_not);
    authz_free(nl);
    authz_free(any);
    authz_free(outer);
}
END_TEST

/* The same rules written in a configuration. */
START_TEST(test_authz_from_config)
{
    struct config *cfg = location_rules("Require ip 10.0.0.0/8\nRequire ip 192.168.0.0/16\n");
    const struct authz *r = cfg->sections[0].dir.require;
    ck_assert_int_eq(r->kind, AUTHZ_ANY);
    ck_assert_int_eq(r->n_kids, 2);
    ck_assert_int_eq(granted(r, "10.0.0.1"), 1);
    ck_assert_int_eq(granted(r, "192.168.5.5"), 1);
    ck_assert_int_eq(granted(r, "172.16.0.1"), 0);
    config_free(cfg);

    cfg = location_rules("<RequireAll>\nRequire ip 10.0.0.0/8\nRequire not ip 10.9.0.0/16\n"
                         "</RequireAll>\n");
    r = cfg->sections[0].dir.require;
    ck_assert_int_eq(r->n_kids, 1);
    ck_assert_int_eq(r->kids[0]->kind, AUTHZ_ALL);
    ck_assert_int_eq(r->kids[0]->n_kids, 2);
    ck_assert_int_eq(granted(r, "10.1.0.1"), 1);
    ck_assert_int_eq(granted(r, "10.9.0.1"), 0);
    ck_assert_int_eq(granted(r, "11.0.0.1"), 0);
    config_free(cfg);

    cfg = location_rules("<RequireAny>\nRequire ip 192.0.2.0/24\n<RequireAll>\n"
                         "Require local\nRequire not ip 127.0.0.2\n</RequireAll>\n"
                         "</RequireAny>\nRequire ip 2001:db8::/32\n");
    r = cfg->sections[0].dir.require;
    ck_assert_int_eq(r->n_kids, 2);
    ck_assert_int_eq(r->kids[0]->kind, AUTHZ_ANY);
    ck_assert_int_eq(r->kids[0]->n_kids, 2);
    ck_assert_int_eq(r->kids[0]->kids[1]->kind, AUTHZ_ALL);
    ck_assert_int_eq(r->kids[1]->kind, AUTHZ_IP);
    ck_assert_int_eq(granted(r, "192.0.2.9"), 1);
    ck_assert_int_eq(granted(r, "127.0.0.1"), 1);
    ck_assert_int_eq(granted(r, "::ffff:127.0.0.1"), 1);
    ck_assert_int_eq(granted(r, "127.0.0.2"), 0);
    ck_assert_int_eq(granted(r, "2001:db8::2"), 1);
    ck_assert_int_eq(granted(r, "10.0.0.1"), 0);
    config_free(cfg);

    cfg = location_rules("Require all denied\nRequire local\n");
    r = cfg->sections[0].dir.require;
    ck_assert_int_eq(granted(r, "127.0.0.1"), 1);
    ck_assert_int_eq(granted(r, "192.0.2.1"), 0);
    config_free(cfg);
}
END_TEST

/* ---- Alias, Redirect, RedirectMatch ------------------------------------------ */

/* What the alias handler's translate step does for SITE and PATH:
 * HANDLER_DONE with the status in *STATUS, or HANDLER_DECLINED with RT
 * possibly moved. */
static int translate(const struct config *site, const char *path, int *status)
{
    static struct reply rp;
    static struct date_cache dc;
    struct req_ctx rq = {.site = site, .date = &dc};
    route_begin(&rt, site, path, strlen(path));
    *status = 0;
    int r = alias_handler.translate(&rq, &rt, &rp);
    if (r == HANDLER_DONE) {
        *status = rp.status;
        reply_release(&rp.out);
    }
    return r;
}

START_TEST(test_alias_forms)
{
    struct config *cfg = parse_ok(
        "Listen 80\nAlias /icons/ /usr/share/icons/\nAlias //x//y /srv/xy\n"
        "Redirect /old http://example.com/new\nRedirect permanent /p /new\n"
        "Redirect 301 /q https://e.example/\nRedirect seeother /s /t\nRedirect temp /u /v\n"
        "Redirect gone /g\nRedirect 404 /n\nRedirect Gone /g2\n"
        "RedirectMatch \"^/r/(.*)$\" http://e.example/$1\nRedirectMatch 410 ^/gone-re\n"
        "RedirectMatch permanent ^/pm http://e.example/\n"
        "<VirtualHost *:80>\nAlias /v /srv/v\nRedirect /vo /vn\n</VirtualHost>\n");
    int status;
    ck_assert_int_eq(translate(cfg, "/g/x", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 410);
    ck_assert_int_eq(translate(cfg, "/g2", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 410);
    ck_assert_int_eq(translate(cfg, "/n", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 404);
    ck_assert_int_eq(translate(cfg, "/nn", &status), HANDLER_DECLINED);
    ck_assert_int_eq(translate(cfg, "/gone-re/a", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 410);
    ck_assert_int_eq(translate(cfg, "/x/gone-re", &status), HANDLER_DECLINED);
    ck_assert_int_eq(translate(cfg, "/x/y/z", &status), HANDLER_DECLINED);
    ck_assert_str_eq(rt.fs_base, "/srv/xy");
    ck_assert_uint_eq(rt.fs_skip, 4);
    ck_assert_int_eq(translate(cfg, "/icons/a.png", &status), HANDLER_DECLINED);
    ck_assert_str_eq(rt.fs_base, "/usr/share/icons/");
    char buf[256];
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/usr/share/icons/a.png");
    ck_assert_int_eq(translate(cfg, "/icons", &status), HANDLER_DECLINED);
    ck_assert_str_eq(rt.fs_base, cfg->document_root);
    ck_assert_int_eq(translate(cfg, "/x/yz", &status), HANDLER_DECLINED);
    ck_assert_str_eq(rt.fs_base, cfg->document_root);
    config_free(cfg);
}
END_TEST

START_TEST(test_alias_errors)
{
    line2_fails("Redirect gone /g http://x.example/\n",
                "Redirect: status 410 takes no URL: expected 410 URL-PATH");
    line2_fails("Redirect 403 /g /h\n", "Redirect: status 403 takes no URL: expected 403 URL-PATH");
    line2_fails("Redirect permanent /p\n", "Redirect: expected [STATUS] URL-PATH URL");
    line2_fails("Redirect 302 /p\n", "Redirect: expected [STATUS] URL-PATH URL");
    line2_fails("Redirect /p\n",
                "Redirect: expected 2 or 3 arguments, got 1 (usage: Redirect [STATUS] URL-PATH "
                "[URL])");
    line2_fails("Redirect 200 /a\n", "Redirect: expected a status from 300 to 599, got 200");
    line2_fails("Redirect p http://x.example/\n",
                "Redirect: expected a URL path starting with '/', got 'p'");
    line2_fails("Redirect /p x.example\n",
                "Redirect: expected an absolute URL or a path starting with '/', got 'x.example'");
    line2_fails("RedirectMatch \"(\" http://x.example/\n",
                "RedirectMatch: bad regular expression '(': missing closing parenthesis at "
                "offset 1");
    line2_fails("RedirectMatch gone ^/x http://x.example/\n",
                "RedirectMatch: status 410 takes no URL: expected 410 REGEX");
    line2_fails("RedirectMatch ^/x\n",
                "RedirectMatch: expected 2 or 3 arguments, got 1 (usage: RedirectMatch [STATUS] "
                "REGEX URL)");
    line2_fails("Alias x /srv\n", "Alias: expected a URL path starting with '/', got 'x'");
    line2_fails("Alias /x srv\n",
                "Alias: expected an absolute directory or file path, got 'srv'");
    line2_fails("Alias /x\n",
                "Alias: expected 2 arguments, got 1 (usage: Alias URL-PATH DIRECTORY)");
    parse_fails("Listen 80\n<VirtualHost *:80>\nAlias /x\n</VirtualHost>\n",
                "s.conf:3: Alias: expected 2 arguments, got 1 (usage: Alias URL-PATH "
                "DIRECTORY)");
}
END_TEST

/* A virtual host's entries come before the main server's (they win);
 * redirects are tried before aliases. */
START_TEST(test_alias_vhost_order)
{
    struct config *cfg = parse_ok(
        "Listen 80\nAlias /x /main/x\nAlias /m /main/m\nRedirect 403 /r\n"
        "Alias /both /srv/both\nRedirect gone /both\n"
        "<VirtualHost *:80>\nAlias /x /vhost/x\nRedirect gone /r\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName plain\n</VirtualHost>\n"
        "Alias /late /main/late\n");
    const struct config *v = cfg->vhosts[0].cfg, *plain = cfg->vhosts[1].cfg;
    int status;
    char buf[256];
    ck_assert_int_eq(translate(v, "/x/f", &status), HANDLER_DECLINED);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/vhost/x/f");
    ck_assert_int_eq(translate(cfg, "/x/f", &status), HANDLER_DECLINED);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/main/x/f");
    ck_assert_int_eq(translate(v, "/m/f", &status), HANDLER_DECLINED);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/main/m/f");
    ck_assert_int_eq(translate(v, "/late", &status), HANDLER_DECLINED);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/main/late");
    ck_assert_int_eq(translate(plain, "/x/f", &status), HANDLER_DECLINED);
    ck_assert_str_eq(route_fs_path(&rt, buf, sizeof buf), "/main/x/f");
    ck_assert_int_eq(translate(v, "/r", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 410);
    ck_assert_int_eq(translate(cfg, "/r", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 403);
    ck_assert_int_eq(translate(plain, "/r/s", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 403);
    ck_assert_int_eq(translate(cfg, "/both/f", &status), HANDLER_DONE);
    ck_assert_int_eq(status, 410);
    config_free(cfg);
}
END_TEST


/* handler_dir_confs: a module's objects along the route, in merge order;
 * a virtual host's (merged at load) stands for the main server's. */
START_TEST(test_handler_dir_confs)
{
    struct config *cfg = parse_ok("Listen 80\nAlias /m/ /srv/m/\n"
                                  "<VirtualHost *:80>\n ServerName v\n Alias /v/ /srv/v/\n"
                                  "</VirtualHost>\n");
    int ai = module_index(&alias_conf_module);
    ck_assert_int_ge(ai, 0);
    const void *got[8];
    struct req_ctx rq = {.route = &rt};     /* the file's route */
    for (int site = 0; site < 2; site++) {
        const struct config *sc = site ? cfg->vhosts[0].cfg : cfg;
        rq.site = sc;
        route_begin(&rt, sc, "/x", 2);
        route_sections(&rt, 1);
        ck_assert_int_eq(handler_dir_confs(&rq, &alias_conf_module, got, 8), 1);
        ck_assert_ptr_eq(got[0], sc->dir.module[ai]);
        ck_assert_ptr_eq(handler_site_conf(&rq, &alias_conf_module), sc->dir.module[ai]);
    }
    /* Sections that set something for the module follow, in chain order. */
    struct dirconf d1, d2, d3;
    memset(&d1, 0, sizeof d1), memset(&d2, 0, sizeof d2), memset(&d3, 0, sizeof d3);
    int one, three;
    d1.module[ai] = &one;
    d3.module[ai] = &three;
    rt.chain[rt.n_chain++] = &d1;
    rt.chain[rt.n_chain++] = &d2;
    rt.chain[rt.n_chain++] = &d3;
    ck_assert_int_eq(handler_dir_confs(&rq, &alias_conf_module, got, 8), 3);
    ck_assert_ptr_eq(got[1], &one);
    ck_assert_ptr_eq(got[2], &three);
    ck_assert_int_eq(handler_dir_confs(&rq, &alias_conf_module, got, 2), 2);
    config_free(cfg);
}
END_TEST


/* ---- what Debian's Apache files say: Define/${NAME}, CustomLog, ... ---- */

START_TEST(test_define_variables)
{
    char text[1024];
    snprintf(text, sizeof text,
             "Define SITE_ROOT %s\n"
             "Define LOGS ${SITE_ROOT}/htdocs\n"
             "Listen 80\n"
             "DocumentRoot ${SITE_ROOT}/a\n"
             "<VirtualHost *:80>\n ServerName v\n DocumentRoot ${SITE_ROOT}/b\n"
             " CustomLog ${LOGS}/v-access.log common\n"
             " <Location \"/${MPMD_CHECK_VAR}\">\n  Header set X-Var \"${MPMD_CHECK_VAR}\"\n"
             " </Location>\n"
             "</VirtualHost>\n", root);
    setenv("MPMD_CHECK_VAR", "from env", 1);
    struct config *cfg = parse_ok(text);
    char want[256];
    snprintf(want, sizeof want, "%s/a", root);
    ck_assert_str_eq(cfg->document_root, want);
    const struct config *v = cfg->vhosts[0].cfg;
    snprintf(want, sizeof want, "%s/b", root);
    ck_assert_str_eq(v->document_root, want);
    snprintf(want, sizeof want, "%s/htdocs/v-access.log", root);
    ck_assert_int_eq(v->n_logs, 1);
    ck_assert_str_eq(v->logs[0].target, want);
    ck_assert_str_eq(v->logs[0].format, "common");
    ck_assert_ptr_null(v->access_log);
    ck_assert_str_eq(v->sections[0].pattern, "/from env");
    ck_assert_str_eq(v->sections[0].dir.headers[0].value, "from env");
    config_free(cfg);
    unsetenv("MPMD_CHECK_VAR");
    parse_fails("Listen 80\n\nDocumentRoot ${MPMD_CHECK_UNSET}/x\n",
                "s.conf:3: ${MPMD_CHECK_UNSET} is not defined: Define it above this line or set "
                "it in the environment");
    parse_fails("Listen 80\nDocumentRoot ${BROKEN\n",
                "s.conf:2: malformed variable '${BROKEN': expected ${NAME}");
    parse_fails("Listen 80\nDefine a/b 1\n",
                "s.conf:2: Define: expected a NAME of letters, digits, '_', '.' or '-', got 'a/b'");
    parse_fails("Listen 80\n<VirtualHost *:80>\nDefine X 1\n</VirtualHost>\n",
                "s.conf:3: Define: not allowed in <VirtualHost>; allowed in: server config");
}
END_TEST

/* Debian's CustomLog lines: a file from ServerRoot (or ${APACHE_LOG_DIR}),
 * a piped rotatelogs, Apache's nicknames; a site with a CustomLog of its
 * own writes neither the main server's AccessLog nor its CustomLogs. */
START_TEST(test_customlog)
{
    char text[1024];
    snprintf(text, sizeof text,
             "Define APACHE_LOG_DIR %s/htdocs\n"
             "Listen 80\nAccessLog main.log combined\n"
             "CustomLog ${APACHE_LOG_DIR}/other_vhosts_access.log vhost_combined\n"
             "<VirtualHost *:80>\n ServerName v\n CustomLog v.log common\n"
             " CustomLog \"|/usr/bin/rotatelogs v-%%Y%%m%%d.log 86400\" combined\n"
             "</VirtualHost>\n<VirtualHost *:80>\n ServerName w\n"
             "</VirtualHost>\n", root);
    struct config *cfg = parse_ok(text);
    char want[256];
    snprintf(want, sizeof want, "%s/htdocs/other_vhosts_access.log", root);
    ck_assert_int_eq(cfg->n_logs, 1);
    ck_assert_str_eq(cfg->logs[0].target, want);
    ck_assert_str_eq(cfg->logs[0].format, "vhost_combined");
    ck_assert_ptr_nonnull(cfg->logs[0].compiled);

    const struct config *v = cfg->vhosts[0].cfg;
    ck_assert_ptr_null(v->access_log);
    ck_assert_int_eq(v->n_logs, 2);
    snprintf(want, sizeof want, "%s/v.log", root);
    ck_assert_str_eq(v->logs[0].target, want);
    ck_assert_str_eq(v->logs[0].format, "common");
    ck_assert_str_eq(v->logs[1].target, "|/usr/bin/rotatelogs v-%Y%m%d.log 86400");
    ck_assert_str_eq(v->logs[1].format, "combined");
    ck_assert_ptr_nonnull(v->logs[1].compiled);

    const struct config *w = cfg->vhosts[1].cfg;     /* sets none: the main server's */
    snprintf(want, sizeof want, "%s/main.log", root);
    ck_assert_str_eq(w->access_log, want);
    ck_assert_int_eq(w->access_format, ACCESS_COMBINED);
    ck_assert_int_eq(w->n_logs, 1);
    ck_assert_str_eq(w->logs[0].target, cfg->logs[0].target);
    ck_assert_str_eq(w->logs[0].format, "vhost_combined");
    config_free(cfg);
    line2_fails("CustomLog x.log\n",
                "CustomLog: expected 2 or 3 arguments, got 1 (usage: CustomLog "
                "PATH|\"|COMMAND\" FORMAT|NICKNAME)");
    line2_fails("CustomLog x.log combined env=!dontlog\n",
                "CustomLog: conditional logging ('env=!dontlog') is not supported; expected "
                "PATH FORMAT");
    line2_fails("CustomLog x.log vhost_common\n",
                "CustomLog: no LogFormat nickname 'vhost_common'; define it with LogFormat "
                "\"...\" vhost_common, or use common, combined, vhost_combined, referer, agent "
                "or json");
}
END_TEST

START_TEST(test_apache_leftovers)
{
    struct config *cfg = parse_ok("Listen 80\nServerAdmin webmaster@localhost\n"
                                  "HostnameLookups Off\n<Directory />\n AllowOverride None\n"
                                  "</Directory>\n<VirtualHost *:80>\n ServerName v\n"
                                  "</VirtualHost>\n");
    ck_assert_str_eq(cfg->server_admin, "webmaster@localhost");
    ck_assert_str_eq(cfg->vhosts[0].cfg->server_admin, "webmaster@localhost");
    config_free(cfg);
    parse_fails("Listen 80\n<Directory />\nAllowOverride All\n</Directory>\n",
                "s.conf:3: AllowOverride: mpmd reads no .htaccess files: only None is accepted, got "
                "'All'; put the directives in a <Directory> section instead");
    line2_fails("HostnameLookups On\n",
                "HostnameLookups: mpmd logs addresses, never host names: only Off is accepted, "
                "got 'On'");
    line2_fails("AllowOverride None\n",
                "AllowOverride: not allowed outside <VirtualHost>; allowed in: <Directory>, "
                "<Files>, <Location> and their Match forms");
}
END_TEST


START_TEST(test_if_sections)
{
    struct config *cfg = parse_ok("Listen 80\n"
                                  "<IfModule mod_headers.c>\n Header set X-H yes\n</IfModule>\n"
                                  "<IfModule !alias_module>\n Unknown Directive\n"
                                  " <IfModule nested>\n </IfModule>\n</IfModule>\n"
                                  "<IfModule mpm_event_module>\n ThreadLimit 64\n</IfModule>\n"
                                  "Define WITH_X\n"
                                  "<IfDefine WITH_X>\n <Location /x>\n  Header set X-X 1\n"
                                  " </Location>\n</IfDefine>\n"
                                  "<IfDefine !WITH_X>\n Nope\n</IfDefine>\n");
    ck_assert_int_eq(cfg->dir.n_headers, 1);
    ck_assert_str_eq(cfg->dir.headers[0].name, "X-H");
    ck_assert_int_eq(cfg->n_sections, 1);
    ck_assert_str_eq(cfg->sections[0].pattern, "/x");
    config_free(cfg);
    parse_fails("Listen 80\n<IfModule x>\n", "s.conf:2: <IfModule>: not closed: </IfModule> missing");
    parse_fails("Listen 80\n<IfDefine Y>\n", "s.conf:2: <IfDefine>: not closed: </IfDefine> missing");
    parse_fails("Listen 80\n<IfModule mod_dir.c>\n", "s.conf:2: <IfModule>: not closed: </IfModule> missing");
    parse_fails("Listen 80\n</IfModule>\n", "s.conf:2: </IfModule>: no <IfModule> is open");
    parse_fails("Listen 80\n<IfModule mod_dir.c>\n<Location />\n</IfModule>\n</Location>\n",
                "s.conf:4: </IfModule>: a section opened inside the <IfModule> of line 2 is "
                "still open");
    parse_fails("Listen 80\n<IfModule>\n</IfModule>\n",
                "s.conf:2: <IfModule>: expected one module name, e.g. <IfModule mod_headers.c>");
}
END_TEST


/* A configuration where more sections could apply to one request than a
 * route holds is refused at load, never cut short per request. */
START_TEST(test_chain_limit)
{
    char text[8192] = "Listen 80\n";
    for (int i = 0; i < CONFIG_MAX_CHAIN - 2; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text),
                 "<Files \"*%d\">\nHeader set X-F %d\n</Files>\n", i, i);
    config_free(parse_ok(text));
    snprintf(text + strlen(text), sizeof text - strlen(text), "<Location />\n</Location>\n");
    char want[128];
    snprintf(want, sizeof want, "s.conf: up to %d sections could apply to one request; at most "
             "%d may", CONFIG_MAX_CHAIN - 1, CONFIG_MAX_CHAIN - 2);
    parse_fails(text, want);
}
END_TEST

Suite *sections_suite(void)
{
    Suite *s = suite_create("sections");
    TCase *tc = tcase_create("sections");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_section_kinds);
    tcase_add_test(tc, test_section_errors);
    tcase_add_test(tc, test_section_usage_examples);
    tcase_add_test(tc, test_match_closers);
    tcase_add_test(tc, test_section_across_include);
    tcase_add_test(tc, test_authz_section_errors);
    tcase_add_test(tc, test_context_errors);
    tcase_add_test(tc, test_require_errors);
    tcase_add_test(tc, test_require_local_extra_message);
    tcase_add_test(tc, test_dirset_errors);
    tcase_add_test(tc, test_dirset_values);
    tcase_add_test(tc, test_options_merge);
    tcase_add_test(tc, test_require_merge);
    tcase_add_test(tc, test_error_doc_merge);
    tcase_add_test(tc, test_header_order);
    tcase_add_test(tc, test_header_actions);
    tcase_add_test(tc, test_header_append_keeps_others);
    tcase_add_test(tc, test_files_and_regex);
    tcase_add_test(tc, test_location_prefix);
    tcase_add_test(tc, test_merge_order);
    tcase_add_test(tc, test_fs_path);
    tcase_add_test(tc, test_handler_index);
    tcase_add_test(tc, test_secindex);
    tcase_add_test(tc, test_config_index);
    tcase_add_test(tc, test_authz_all);
    tcase_add_test(tc, test_authz_ipv4);
    tcase_add_test(tc, test_authz_ipv6_local);
    tcase_add_test(tc, test_authz_containers);
    tcase_add_test(tc, test_authz_from_config);
    tcase_add_test(tc, test_alias_forms);
    tcase_add_test(tc, test_alias_errors);
    tcase_add_test(tc, test_alias_vhost_order);
    tcase_add_test(tc, test_handler_dir_confs);
    tcase_add_test(tc, test_define_variables);
    tcase_add_test(tc, test_customlog);
    tcase_add_test(tc, test_apache_leftovers);
    tcase_add_test(tc, test_if_sections);
    tcase_add_test(tc, test_chain_limit);
    suite_add_tcase(s, tc);
    return s;
}
