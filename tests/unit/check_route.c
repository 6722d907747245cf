/* check_route.c: unit tests for <VirtualHost> sections (src/core/config.c:
 * parsing, contexts, merge with the main server, -S listing) and for
 * choosing the site of a request (src/http/route.c: Host normalisation,
 * address matching, name-based selection, defaults).
 *
 * Each test gets a fresh directory under /tmp used as ServerRoot, holding
 * htdocs/ (the default DocumentRoot) and a/, b/, c/ (sites). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/http/route.h"

static char root[64];
static const char *const site_dirs[] = {"htdocs", "a", "b", "c", NULL};

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "route", site_dirs);
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

static struct config *parse_ok(const char *text)
{
    return sandbox_parse_ok(root, "v.conf", text);
}

/* TEXT is refused with exactly WANT. */
static void parse_fails(const char *text, const char *want)
{
    sandbox_parse_fails(root, "v.conf", text, want);
}

static struct sockaddr_storage addr4(const char *ip, int port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    memset(&ss, 0, sizeof ss);
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    ck_assert_int_eq(inet_pton(AF_INET, ip, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage addr6(const char *ip, int port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    memset(&ss, 0, sizeof ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
    return ss;
}

/* The DocumentRoot (after ROOT/) of the site chosen for HOST on LOCAL. */
static const char *site_for(const struct config *cfg, struct sockaddr_storage local,
                            const char *host)
{
    const char *h = NULL;
    size_t n = host ? route_host_name(host, strlen(host), &h) : 0;
    const struct config *site = route_site(cfg, (struct sockaddr *)&local, h, n);
    ck_assert_ptr_nonnull(site);
    return site->document_root + strlen(root) + 1;
}

#define THREE_SITES                                                       \
    "Listen 8080\nListen 127.0.0.1:9090\nServerName main.example\n"      \
    "<VirtualHost *:8080>\n  ServerName a.example\n"                      \
    "  ServerAlias www.a.example *.a.test\n  DocumentRoot a\n</VirtualHost>\n" \
    "<VirtualHost *:8080>\n  ServerName b.example\n  DocumentRoot b\n"    \
    "</VirtualHost>\n"                                                    \
    "<VirtualHost 127.0.0.1:9090>\n  ServerName c.example\n  DocumentRoot c\n" \
    "</VirtualHost>\n"

/* ---- Host normalisation and addresses ------------------------------------ */

START_TEST(test_host_name)
{
    const char *h;
    ck_assert_uint_eq(route_host_name("a.example:8080", 14, &h), 9);
    ck_assert_uint_eq(route_host_name("a.example.", 10, &h), 9);
    ck_assert_uint_eq(route_host_name("a.example.:80", 13, &h), 9);
    ck_assert_uint_eq(route_host_name("[::1]:8080", 10, &h), 5);
    ck_assert_uint_eq(route_host_name("[::1]", 5, &h), 5);
    ck_assert_uint_eq(route_host_name("", 0, &h), 0);
}
END_TEST

START_TEST(test_addr_matches)
{
    struct vhost_addr any = {.any_ip = 1, .port = 8080};
    struct vhost_addr anyport = {.any_ip = 1, .port = 0};
    struct vhost_addr lo = {.family = AF_INET, .port = 8080};
    struct vhost_addr lo6 = {.family = AF_INET6, .port = 8080};
    inet_pton(AF_INET, "127.0.0.1", lo.ip);
    inet_pton(AF_INET6, "::1", lo6.ip);
    struct sockaddr_storage l = addr4("127.0.0.1", 8080), o = addr4("127.0.0.2", 8080);
    struct sockaddr_storage p = addr4("127.0.0.1", 8081), mapped = addr6("::ffff:127.0.0.1", 8080);
    struct sockaddr_storage v6 = addr6("::1", 8080);
    ck_assert(route_addr_matches(&any, (struct sockaddr *)&l));
    ck_assert(!route_addr_matches(&any, (struct sockaddr *)&p));
    ck_assert(route_addr_matches(&anyport, (struct sockaddr *)&p));
    ck_assert(route_addr_matches(&lo, (struct sockaddr *)&l));
    ck_assert(!route_addr_matches(&lo, (struct sockaddr *)&o));
    ck_assert(route_addr_matches(&lo, (struct sockaddr *)&mapped));  /* IPv4 on a [::] socket */
    ck_assert(route_addr_matches(&lo6, (struct sockaddr *)&v6));
    ck_assert(!route_addr_matches(&lo6, (struct sockaddr *)&l));
}
END_TEST

/* ---- choosing the site ------------------------------------------------- */

/* ServerName and ServerAlias (wildcards), case-insensitive, port and
 * trailing dot ignored; an unknown or missing Host gets the address's
 * first virtual host; an address no virtual host names gets the main
 * server. */
START_TEST(test_select_by_name)
{
    struct config *cfg = parse_ok(THREE_SITES);
    struct sockaddr_storage l = addr4("127.0.0.1", 8080);
    ck_assert_str_eq(site_for(cfg, l, "a.example"), "a");
    ck_assert_str_eq(site_for(cfg, l, "B.Example:8080"), "b");
    ck_assert_str_eq(site_for(cfg, l, "b.example."), "b");
    ck_assert_str_eq(site_for(cfg, l, "www.a.example"), "a");
    ck_assert_str_eq(site_for(cfg, l, "x.y.a.test"), "a");
    ck_assert_str_eq(site_for(cfg, l, "a.test"), "a");         /* default, not the alias */
    ck_assert_str_eq(site_for(cfg, l, "c.example"), "a");      /* c is on another address */
    ck_assert_str_eq(site_for(cfg, l, NULL), "a");
    ck_assert_str_eq(site_for(cfg, addr4("127.0.0.1", 9090), "a.example"), "c");
    ck_assert_str_eq(site_for(cfg, addr4("127.0.0.1", 7070), "a.example"), "htdocs");
    config_free(cfg);
}
END_TEST

/* IP-specific virtual hosts win over "*" ones for their address. */
START_TEST(test_select_ip_first)
{
    struct config *cfg = parse_ok(
        "Listen 8080\n<VirtualHost *:8080>\nServerName a.example\nDocumentRoot a\n"
        "</VirtualHost>\n<VirtualHost 127.0.0.2:8080>\nServerName b.example\n"
        "DocumentRoot b\n</VirtualHost>\n");
    ck_assert_str_eq(site_for(cfg, addr4("127.0.0.2", 8080), "a.example"), "b");
    ck_assert_str_eq(site_for(cfg, addr4("127.0.0.1", 8080), "b.example"), "a");
    config_free(cfg);
}
END_TEST

/* ---- sections ------------------------------------------------------------ */

/* A virtual host inherits what it does not set (DocumentRoot,
 * DirectoryIndex, ServerName) and keeps what it sets. */
START_TEST(test_vhost_merge)
{
    struct config *cfg = parse_ok(
        "Listen 80\nServerName main.example\nDirectoryIndex home.html\nDocumentRoot c\n"
        "<VirtualHost *:80>\nServerAlias x.example\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName b.example\nDocumentRoot b\n"
        "DirectoryIndex b.html\n</VirtualHost>\n");
    ck_assert_int_eq(cfg->n_vhosts, 2);
    const struct config *v0 = cfg->vhosts[0].cfg, *v1 = cfg->vhosts[1].cfg;
    ck_assert_str_eq(v0->server_name, "main.example");
    ck_assert_str_eq(v0->document_root, cfg->document_root);
    ck_assert_int_eq(v0->n_directory_index, 1);
    ck_assert_str_eq(v0->directory_index[0], "home.html");
    ck_assert_str_eq(v1->server_name, "b.example");
    ck_assert_str_eq(v1->document_root + strlen(root), "/b");
    ck_assert_str_eq(v1->directory_index[0], "b.html");
    ck_assert_int_eq(cfg->vhosts[1].line, 8);
    ck_assert_str_eq(cfg->vhosts[1].addrs[0].text, "*:80");
    config_free(cfg);
}
END_TEST

/* Each mistake names the file, the line and what is allowed. */
START_TEST(test_section_errors)
{
    parse_fails("Listen 80\n<VirtualHost *:80>\nListen 81\n</VirtualHost>\n",
                "v.conf:3: Listen: not allowed in <VirtualHost>; allowed in: server config");
    parse_fails("Listen 80\nServerAlias a.example\n",
                "v.conf:2: ServerAlias: not allowed outside <VirtualHost>; allowed in: "
                "<VirtualHost>");
    parse_fails("Listen 80\n<VirtualHost *:80>\nServerName a\n",
                "v.conf:2: <VirtualHost>: not closed: </VirtualHost> missing");
    parse_fails("Listen 80\n</VirtualHost>\n",
                "v.conf:2: </VirtualHost>: no <VirtualHost> is open");
    parse_fails("Listen 80\n<VirtualHost *:80>\n<VirtualHost *:81>\n",
                "v.conf:3: <VirtualHost>: sections cannot nest: the <VirtualHost> of line 2 "
                "is still open");
    parse_fails("Listen 80\n<VirtualHost>\n",
                "v.conf:2: <VirtualHost>: expected at least one address, e.g. "
                "<VirtualHost *:80>");
    parse_fails("Listen 80\n<VirtualHost example.com:80>\n",
                "v.conf:2: <VirtualHost>: expected *, *:PORT, IPV4[:PORT] or [IPV6][:PORT] "
                "(numeric), got 'example.com:80'");
    parse_fails("Listen 80\n<VirtualHost *:80\n",
                "v.conf:2: a section line must end with '>': <VirtualHost *:80");
    parse_fails("Listen 80\n<VirtualHost *:80>\nServerAlias bad/name\n</VirtualHost>\n",
                "v.conf:3: ServerAlias: expected 1 to 32 host names (letters, digits, '-', "
                "'.', '_', and the wildcards '*' and '?'), got 'bad/name'");
    char want[512];
    snprintf(want, sizeof want, "v.conf:3: DocumentRoot: cannot use '%s/none': No such file or "
             "directory; expected an existing directory", root);
    parse_fails("Listen 80\n<VirtualHost *:80>\nDocumentRoot none\n</VirtualHost>\n", want);
}
END_TEST

/* Addresses as written: IPv6, any port, _default_. */
START_TEST(test_vhost_addresses)
{
    struct config *cfg = parse_ok("Listen 80\n<VirtualHost [::1]:80 * _default_:81 "
                                  "127.0.0.1>\n</VirtualHost>\n");
    const struct vhost *v = &cfg->vhosts[0];
    ck_assert_int_eq(v->n_addrs, 4);
    ck_assert_str_eq(v->addrs[0].text, "[::1]:80");
    ck_assert_str_eq(v->addrs[1].text, "*:*");
    ck_assert_str_eq(v->addrs[2].text, "*:81");
    ck_assert_str_eq(v->addrs[3].text, "127.0.0.1:*");
    config_free(cfg);
}
END_TEST

/* AddType: extensions with or without the dot, case-insensitive, the
 * latest wins; a site's list is the main server's, then its own. */
START_TEST(test_add_type)
{
    struct config *cfg = parse_ok(
        "Listen 80\nAddType text/x-one .one TWO\nAddType text/x-again one\n"
        "<VirtualHost *:80>\nAddType text/x-site two three\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName other\n</VirtualHost>\n");
    ck_assert_str_eq(config_added_type(cfg, "/a/b.ONE", 8), "text/x-again");
    ck_assert_str_eq(config_added_type(cfg, "x.two", 5), "text/x-one");
    ck_assert_ptr_null(config_added_type(cfg, "x.three", 7));
    ck_assert_ptr_null(config_added_type(cfg, "one", 3));          /* no extension */
    ck_assert_ptr_null(config_added_type(cfg, "a.one/b", 7));      /* dot in a directory */
    const struct config *v0 = cfg->vhosts[0].cfg, *v1 = cfg->vhosts[1].cfg;
    ck_assert_str_eq(config_added_type(v0, "x.two", 5), "text/x-site");
    ck_assert_str_eq(config_added_type(v0, "x.three", 7), "text/x-site");
    ck_assert_str_eq(config_added_type(v0, "x.one", 5), "text/x-again");
    ck_assert_str_eq(config_added_type(v1, "x.two", 5), "text/x-one");
    config_free(cfg);
    parse_fails("Listen 80\nAddType html .html\n",
                "v.conf:2: AddType: expected a media type such as text/html, got 'html'");
    parse_fails("Listen 80\nAddType text/html a.b\n",
                "v.conf:2: AddType: expected a file-name extension such as html or .html, "
                "got 'a.b'");
    parse_fails("Listen 80\nAddType text/html\n",
                "v.conf:2: AddType: expected 2 to 63 arguments, got 1 (usage: AddType "
                "MEDIA-TYPE EXTENSION...)");
}
END_TEST

/* mpmd -S: Apache's layout. */
START_TEST(test_print_vhosts)
{
    char got[4096], want[4096];
    struct config *cfg = parse_ok(THREE_SITES);
    FILE *f = fmemopen(got, sizeof got, "w");
    ck_assert_ptr_nonnull(f);
    config_print_vhosts(cfg, f);
    fclose(f);
    snprintf(want, sizeof want,
             "VirtualHost configuration:\n"
             "*:8080                 is a NameVirtualHost\n"
             "         default server a.example (v.conf:4)\n"
             "         port 8080 namevhost a.example (v.conf:4)\n"
             "                 alias www.a.example\n"
             "                 alias *.a.test\n"
             "         port 8080 namevhost b.example (v.conf:9)\n"
             "127.0.0.1:9090         c.example (v.conf:13)\n"
             "ServerRoot: \"%s\"\n"
             "Main DocumentRoot: \"%s/htdocs\"\n"
             "Main ErrorLog: \"stderr\"\n", root, root);
    ck_assert_str_eq(got, want);
    config_free(cfg);
}
END_TEST

Suite *route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("route");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_host_name);
    tcase_add_test(tc, test_addr_matches);
    tcase_add_test(tc, test_select_by_name);
    tcase_add_test(tc, test_select_ip_first);
    tcase_add_test(tc, test_vhost_merge);
    tcase_add_test(tc, test_section_errors);
    tcase_add_test(tc, test_vhost_addresses);
    tcase_add_test(tc, test_print_vhosts);
    tcase_add_test(tc, test_add_type);
    suite_add_tcase(s, tc);
    return s;
}
