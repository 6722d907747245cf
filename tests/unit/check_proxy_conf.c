/* check_proxy_conf.c: the proxy and CGI directives (src/modules/proxy.c,
 * src/modules/cgi.c) and the per-directory ones that came with them
 * (SetHandler "proxy:URL", SetEnv/UnsetEnv, AddHandler in
 * src/core/config.c and src/core/dirconf.c), through config_parse_text:
 * every refusal with its exact "file:line: Directive: why" message, and
 * configurations that load, with what they store where it is visible.
 *
 * Each test gets a fresh directory under /tmp used as ServerRoot, holding
 * htdocs/ (the default DocumentRoot). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/core/module.h"
#include "mpmd/modules/cgi.h"
#include "mpmd/modules/proxy.h"

static char root[64];
static const char *const site_dirs[] = {"htdocs", NULL};

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "proxyconf", site_dirs);
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

/* ---- helpers (as in check_sections.c) ------------------------------------------ */

static struct config *parse_ok(const char *text)
{
    return sandbox_parse_ok(root, "s.conf", text);
}

static void load(const char *text)
{
    config_free(parse_ok(text));
}

static void parse_fails(const char *text, const char *want)
{
    sandbox_parse_fails(root, "s.conf", text, want);
}

/* "Listen 80\n" + BODY is refused at line 2 of s.conf with WANT. */
static void line2_fails(const char *body, const char *want)
{
    char text[1024], full[1100];
    snprintf(text, sizeof text, "Listen 80\n%s", body);
    snprintf(full, sizeof full, "s.conf:2: %s", want);
    parse_fails(text, full);
}

/* BODY in a section opened by OPEN (closed by CLOSE) at line 2: refused at
 * line 3 with WANT. */
static void line3_in_fails(const char *open, const char *body, const char *close,
                           const char *want)
{
    char text[1024], full[1100];
    snprintf(text, sizeof text, "Listen 80\n%s\n%s%s\n", open, body, close);
    snprintf(full, sizeof full, "s.conf:3: %s", want);
    parse_fails(text, full);
}

static void in_location_fails(const char *body, const char *want)
{
    line3_in_fails("<Location /app>", body, "</Location>", want);
}

/* ---- ProxyPass ----------------------------------------------------------------------- */

#define NOT_A_URL "expected an http://, ws:// or fcgi:// URL (https:// upstreams are not " \
                  "supported yet), got "

START_TEST(test_proxypass_bad_url)
{
    line2_fails("ProxyPass /a http//x/\n", "ProxyPass: " NOT_A_URL "'http//x/'");
    line2_fails("ProxyPass /a https://x/\n", "ProxyPass: " NOT_A_URL "'https://x/'");
    line2_fails("ProxyPass /a ftp://x/\n", "ProxyPass: " NOT_A_URL "'ftp://x/'");
    line2_fails("ProxyPass /a ajp://127.0.0.1:8009/\n",
                "ProxyPass: " NOT_A_URL "'ajp://127.0.0.1:8009/'");
    line2_fails("ProxyPass /a 127.0.0.1:8000\n", "ProxyPass: " NOT_A_URL "'127.0.0.1:8000'");
    line2_fails("ProxyPass /a http:///x\n",
                "ProxyPass: expected a host in the URL, got 'http:///x'");
    line2_fails("ProxyPass /a http://\n", "ProxyPass: expected a host in the URL, got 'http://'");
    line2_fails("ProxyPass /a http://[::1/\n",
                "ProxyPass: expected ']' after an IPv6 address, got 'http://[::1/'");
    line2_fails("ProxyPass /a http://127.0.0.1?q=1\n",
                "ProxyPass: expected no query or fragment in the URL, got 'http://127.0.0.1?q=1'");
    line2_fails("ProxyPass /a http://127.0.0.1#top\n",
                "ProxyPass: expected no query or fragment in the URL, got 'http://127.0.0.1#top'");
    line2_fails("ProxyPass /a unix:/run/app.sock\n",
                "ProxyPass: expected unix:/PATH|SCHEME://HOST/..., got 'unix:/run/app.sock'");
    line2_fails("ProxyPass /a unix:run/app.sock|http://x/\n",
                "ProxyPass: expected an absolute unix socket path shorter than 108 bytes, got "
                "'run/app.sock'");
    line2_fails("ProxyPass /a unix:/run/app.sock|gopher://x/\n",
                "ProxyPass: " NOT_A_URL "'gopher://x/'");
    line2_fails("ProxyPass a http://127.0.0.1/\n",
                "ProxyPass: expected a URL path starting with '/' and a URL, got 'a'");
    line2_fails("ProxyPass /a\n",
                "ProxyPass: expected a URL path starting with '/' and a URL, got '/a'");
    line2_fails("ProxyPass\n", "ProxyPass: expected 1 to 14 arguments, got 0 (usage: ProxyPass "
                "[PATH] URL|! [KEY=VALUE...])");
}
END_TEST

/* A query or fragment after the path is refused like one after the host
 * (it was taken as part of the path: "/?q" then the request's path). */
START_TEST(test_proxypass_query_in_path)
{
    line2_fails("ProxyPass /a http://127.0.0.1/app?q=1\n",
                "ProxyPass: expected no query or fragment in the URL, got "
                "'http://127.0.0.1/app?q=1'");
    line2_fails("ProxyPass /a http://127.0.0.1/#f\n",
                "ProxyPass: expected no query or fragment in the URL, got 'http://127.0.0.1/#f'");
}
END_TEST

START_TEST(test_proxypass_bad_port)
{
    line2_fails("ProxyPass /a http://127.0.0.1:8a/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:8a/'");
    line2_fails("ProxyPass /a http://127.0.0.1:/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:/'");
    line2_fails("ProxyPass /a http://127.0.0.1:123456/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:123456/'");
    line2_fails("ProxyPass /a http://[::1]:x/\n",
                "ProxyPass: expected a port number after ':', got 'http://[::1]:x/'");
    line2_fails("ProxyPass /a http://127.0.0.1:-80/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:-80/'");
}
END_TEST

/* Five digits are not a port: 65536 and above wrapped around (99999 is
 * port 34463), 0 is no port. */
START_TEST(test_proxypass_port_range)
{
    line2_fails("ProxyPass /a http://127.0.0.1:65536/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:65536/'");
    line2_fails("ProxyPass /a http://127.0.0.1:99999/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:99999/'");
    line2_fails("ProxyPass /a http://127.0.0.1:0/\n",
                "ProxyPass: expected a port number after ':', got 'http://127.0.0.1:0/'");
}
END_TEST

START_TEST(test_proxypass_params)
{
    line2_fails("ProxyPass /a http://127.0.0.1/ foo=1\n",
                "ProxyPass: unknown parameter 'foo=1': expected max=, ttl=, connectiontimeout=, "
                "timeout=, retry=, upgrade=websocket, responsefieldsize=, disablereuse=, "
                "enablereuse=, keepalive=, flushpackets=");
    line2_fails("ProxyPass /a http://127.0.0.1/ smax=1\n",
                "ProxyPass: unknown parameter 'smax=1': expected max=, ttl=, connectiontimeout=, "
                "timeout=, retry=, upgrade=websocket, responsefieldsize=, disablereuse=, "
                "enablereuse=, keepalive=, flushpackets=");
    line2_fails("ProxyPass /a http://127.0.0.1/ max\n",
                "ProxyPass: expected KEY=VALUE after the URL, got 'max'");
    line2_fails("ProxyPass /a http://127.0.0.1/ =1\n",
                "ProxyPass: expected KEY=VALUE after the URL, got '=1'");
    line2_fails("ProxyPass /a http://127.0.0.1/ averyveryveryveryverylongparameter=1\n",
                "ProxyPass: expected KEY=VALUE after the URL, got "
                "'averyveryveryveryverylongparameter=1'");
    static const char *const bad[] = {
        "max=0", "max=100001", "max=x", "max=", "max=1.5", "ttl=-1", "ttl=86401",
        "connectiontimeout=0", "connectiontimeout=86401", "timeout=0", "timeout=1s",
        "retry=-1", "retry=", "responsefieldsize=255", "responsefieldsize=1048577",
        "disablereuse=yes", "enablereuse=1", "keepalive=maybe", "flushpackets=always",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[128], want[128];
        snprintf(body, sizeof body, "ProxyPass /a http://127.0.0.1/ %s\n", bad[i]);
        snprintf(want, sizeof want, "ProxyPass: bad value in '%s'", bad[i]);
        line2_fails(body, want);
    }
    line2_fails("ProxyPass /a http://127.0.0.1/ upgrade=h2c\n",
                "ProxyPass: expected upgrade=websocket (the only protocol tunnelled), got "
                "'upgrade=h2c'");
    /* The edges of each range pass, keys in any case. */
    load("Listen 80\nProxyPass /a http://127.0.0.1/ max=1 ttl=0 connectiontimeout=1 "
         "timeout=86400 retry=0 responsefieldsize=256\n"
         "ProxyPass /b http://127.0.0.1/ MAX=100000 TTL=86400 retry=86400 "
         "responsefieldsize=1048576 DisableReuse=off EnableReuse=ON KeepAlive=auto "
         "FlushPackets=on Upgrade=WebSocket\n");
}
END_TEST

START_TEST(test_proxypass_exclude)
{
    line2_fails("ProxyPass /a ! max=1\n", "ProxyPass: expected nothing after '!', got 'max=1'");
    in_location_fails("ProxyPass ! retry=0\n",
                      "ProxyPass: expected nothing after '!', got 'retry=0'");
    struct config *cfg = parse_ok("Listen 80\nProxyPass /app/static !\n"
                                  "ProxyPass /app http://127.0.0.1:8000/\n"
                                  "<Location /app/media>\nProxyPass !\n</Location>\n");
    ck_assert_int_eq(cfg->n_sections, 1);
    ck_assert_int_eq(cfg->sections[0].dir.handler, -1);  /* the default handler there */
    config_free(cfg);
}
END_TEST

#define PLACE "ProxyPass: ProxyPass stands in a server, a <VirtualHost> or a plain <Location> " \
              "(not a Match form, <Directory> or <Files>)"

START_TEST(test_proxypass_places)
{
    line3_in_fails("<Directory /tmp>", "ProxyPass http://127.0.0.1/\n", "</Directory>", PLACE);
    line3_in_fails("<DirectoryMatch ^/tmp>", "ProxyPass http://127.0.0.1/\n", "</DirectoryMatch>",
                   PLACE);
    line3_in_fails("<LocationMatch ^/a>", "ProxyPass http://127.0.0.1/\n", "</LocationMatch>",
                   PLACE);
    line3_in_fails("<Location ~ ^/a>", "ProxyPass http://127.0.0.1/\n", "</Location>", PLACE);
    line3_in_fails("<Location /a*>", "ProxyPass http://127.0.0.1/\n", "</Location>", PLACE);
    line3_in_fails("<Files index.php>", "ProxyPass http://127.0.0.1/\n", "</Files>", PLACE);
    line3_in_fails("<FilesMatch \\.php$>", "ProxyPass http://127.0.0.1/\n", "</FilesMatch>",
                   PLACE);
    /* In a <Location> the section's path is the local one: no PATH. */
    in_location_fails("ProxyPass /app http://127.0.0.1/\n", "ProxyPass: " NOT_A_URL "'/app'");
    /* One per <Location>, the second named by its line. */
    parse_fails("Listen 80\n<Location /app>\nProxyPass http://127.0.0.1:8000/\n"
                "ProxyPass http://127.0.0.1:8001/\n</Location>\n",
                "s.conf:4: ProxyPass: one ProxyPass per <Location>");
    parse_fails("Listen 80\n<Location /app>\nProxyPass !\nProxyPass http://127.0.0.1:8001/\n"
                "</Location>\n", "s.conf:4: ProxyPass: one ProxyPass per <Location>");
    /* Two <Location> sections of the same path each take one. */
    load("Listen 80\n<Location /app>\nProxyPass http://127.0.0.1:8000/\n</Location>\n"
         "<Location /app>\nProxyPass http://127.0.0.1:8001/\n</Location>\n");
}
END_TEST

START_TEST(test_proxypass_reverse)
{
    line2_fails("ProxyPassReverse http://127.0.0.1/\n",
                "ProxyPassReverse: expected a URL path and a URL");
    line2_fails("ProxyPassReverse app http://127.0.0.1/\n",
                "ProxyPassReverse: expected a URL path starting with '/', got 'app'");
    line2_fails("ProxyPassReverse\n", "ProxyPassReverse: expected 1 or 2 arguments, got 0 "
                "(usage: ProxyPassReverse [PATH] URL)");
    line2_fails("ProxyPassReverse /a http://x/ y\n", "ProxyPassReverse: expected 1 or 2 "
                "arguments, got 3 (usage: ProxyPassReverse [PATH] URL)");
    in_location_fails("ProxyPassReverse /app http://127.0.0.1/\n",
                      "ProxyPassReverse: expected a URL (the <Location>'s path is the local one)");
    line3_in_fails("<Files index.php>", "ProxyPassReverse http://127.0.0.1/\n", "</Files>",
                   "ProxyPassReverse: ProxyPassReverse stands in a server, a <VirtualHost> or "
                   "a plain <Location> (not a Match form, <Directory> or <Files>)");
    load("Listen 80\nProxyPassReverse / http://127.0.0.1:8000/\n"
         "<Location /app>\nProxyPassReverse http://127.0.0.1:8001/\n</Location>\n");
}
END_TEST

/* ---- the settings -------------------------------------------------------------------- */

START_TEST(test_proxy_settings)
{
    line2_fails("ProxyPreserveHost yes\n", "ProxyPreserveHost: expected On or Off, got 'yes'");
    line2_fails("ProxyPreserveHost\n", "ProxyPreserveHost: expected 1 argument, got 0 (usage: "
                "ProxyPreserveHost On|Off)");
    line2_fails("ProxyPreserveHost On Off\n", "ProxyPreserveHost: expected 1 argument, got 2 "
                "(usage: ProxyPreserveHost On|Off)");
    line2_fails("ProxyAddHeaders 1\n", "ProxyAddHeaders: expected On or Off, got '1'");
    line2_fails("ProxyTimeout 0\n", "ProxyTimeout: expected seconds (1 to 86400), got '0'");
    line2_fails("ProxyTimeout 86401\n", "ProxyTimeout: expected seconds (1 to 86400), got '86401'");
    line2_fails("ProxyTimeout 5s\n", "ProxyTimeout: expected seconds (1 to 86400), got '5s'");
    line2_fails("ProxyTimeout \"\"\n", "ProxyTimeout: expected seconds (1 to 86400), got ''");
    in_location_fails("ProxyTimeout 5\n", "ProxyTimeout: not allowed in <Location>; allowed in: "
                      "server config, <VirtualHost>");
    line2_fails("ProxyRequests On\n",
                "ProxyRequests: mpmd is no forward proxy: only Off is accepted, got 'On'");
    line2_fails("ProxyRequests yes\n",
                "ProxyRequests: mpmd is no forward proxy: only Off is accepted, got 'yes'");
    line2_fails("ProxyFCGIBackendType GENERIC\n",
                "ProxyFCGIBackendType: only FPM is supported (SCRIPT_FILENAME is the file's "
                "path), got 'GENERIC'");
    load("Listen 80\nProxyPreserveHost on\nProxyAddHeaders OFF\nProxyTimeout 1\n"
         "ProxyRequests off\nProxyFCGIBackendType fpm\n"
         "<Location /a>\nProxyPreserveHost Off\nProxyAddHeaders On\nProxyFCGIBackendType FPM\n"
         "</Location>\n");
    load("Listen 80\nProxyTimeout 86400\n");
}
END_TEST

START_TEST(test_trust_forwarded_from)
{
    static const char *const bad[] = {"10.0.0.300", "example.com", "10.0.0.0/33", "::1/129",
                                      "10.0.0.0/255.0.255.0", "1.2.3.4/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[128], want[256];
        snprintf(body, sizeof body, "ProxyTrustForwardedFrom 10.0.0.1 %s\n", bad[i]);
        snprintf(want, sizeof want, "ProxyTrustForwardedFrom: expected an IP address, "
                 "ADDRESS/BITS, IPV4/NETMASK or a partial IPv4 address such as 10.1, got '%s'",
                 bad[i]);
        line2_fails(body, want);
    }
    line2_fails("ProxyTrustForwardedFrom\n", "ProxyTrustForwardedFrom: expected 1 to 60 "
                "arguments, got 0 (usage: ProxyTrustForwardedFrom ADDRESS[/BITS]...)");
    in_location_fails("ProxyTrustForwardedFrom 10.0.0.1\n", "ProxyTrustForwardedFrom: not "
                      "allowed in <Location>; allowed in: server config, <VirtualHost>");
    /* At most 256 addresses over several lines: eight lines of 32, not nine. */
    char line[32 * 12 + 64], text[sizeof line * 9 + 64];
    size_t n = (size_t)snprintf(line, sizeof line, "ProxyTrustForwardedFrom");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " 10.0.0.%d", i);
    snprintf(line + n, sizeof line - n, "\n");
    n = (size_t)snprintf(text, sizeof text, "Listen 80\n");
    for (int i = 0; i < 8; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s", line);
    load(text);                                       /* 256 */
    snprintf(text + n, sizeof text - n, "%s", line);
    parse_fails(text, "s.conf:10: ProxyTrustForwardedFrom: at most 256 addresses");
    load("Listen 80\nProxyTrustForwardedFrom 10.0.0.0/8 192.168.1 ::1 fe80::/10 "
         "172.16.0.0/255.240.0.0\n");
}
END_TEST

START_TEST(test_sethandler_proxy)
{
    line2_fails("SetHandler proxy:ftp://x/\n", "SetHandler: " NOT_A_URL "'ftp://x/'");
    line2_fails("SetHandler proxy:\n", "SetHandler: " NOT_A_URL "''");
    line2_fails("SetHandler proxy:http://127.0.0.1:8a/\n",
                "SetHandler: expected a port number after ':', got 'http://127.0.0.1:8a/'");
    line2_fails("SetHandler \"proxy:unix:/run/php.sock\"\n",
                "SetHandler: expected unix:/PATH|SCHEME://HOST/..., got 'unix:/run/php.sock'");
    in_location_fails("SetHandler proxy:fcgi://\n",
                      "SetHandler: expected a host in the URL, got 'fcgi://'");
    /* "proxy" alone is not the handler's name. */
    line2_fails("SetHandler proxy\n", "SetHandler: expected a handler name: none, "
                "default-handler, static, proxy:URL, cgi-script, server-status, metrics, got "
                "'proxy'");
    struct config *cfg = parse_ok(
        "Listen 80\n<FilesMatch \\.php$>\n"
        "SetHandler \"proxy:unix:/run/php/php-fpm.sock|fcgi://localhost/\"\n</FilesMatch>\n"
        "<Location /api>\nSetHandler proxy:http://[::1]:8000/api\n</Location>\n");
    int proxy = module_index(&proxy_conf_module) + 1;
    ck_assert_int_eq(cfg->sections[0].dir.handler, proxy);
    ck_assert_int_eq(cfg->sections[1].dir.handler, proxy);
    config_free(cfg);
}
END_TEST

/* ---- CGI ----------------------------------------------------------------------------------- */

START_TEST(test_cgi_directives)
{
    line2_fails("ScriptAlias /cgi-bin/ cgi-bin/\n",
                "ScriptAlias: expected an absolute directory path, got 'cgi-bin/'");
    line2_fails("ScriptAlias cgi-bin/ /usr/lib/cgi-bin/\n",
                "ScriptAlias: expected a URL path starting with '/', got 'cgi-bin/'");
    line2_fails("ScriptAlias /cgi-bin/\n",
                "ScriptAlias: expected 2 arguments, got 1 (usage: ScriptAlias URL-PATH DIRECTORY)");
    in_location_fails("ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\n", "ScriptAlias: not allowed in "
                      "<Location>; allowed in: server config, <VirtualHost>");
    line2_fails("CGIScriptTimeout 0\n", "CGIScriptTimeout: expected seconds (1 to 86400), got '0'");
    line2_fails("CGIScriptTimeout 86401\n",
                "CGIScriptTimeout: expected seconds (1 to 86400), got '86401'");
    line2_fails("CGIScriptTimeout 10s\n",
                "CGIScriptTimeout: expected seconds (1 to 86400), got '10s'");
    line2_fails("CGIScriptTimeout \"\"\n",
                "CGIScriptTimeout: expected seconds (1 to 86400), got ''");
    load("Listen 80\nScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\nScriptAlias //x//y /srv/x\n"
         "CGIScriptTimeout 1\n<Location /slow>\nCGIScriptTimeout 86400\n</Location>\n"
         "<VirtualHost *:80>\nServerName v.example\nScriptAlias /cgi/ /srv/cgi/\n"
         "</VirtualHost>\n");
}
END_TEST

START_TEST(test_setenv)
{
    const char *name = "expected a variable name (letters, digits, '_', '-', '.'), got ";
    char want[256];
    static const char *const bad[] = {"A=B", "A B", "A$", "", "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[64];
        snprintf(body, sizeof body, "SetEnv \"%s\" value\n", bad[i]);
        snprintf(want, sizeof want, "SetEnv: %s'%s'", name, bad[i]);
        line2_fails(body, want);
        snprintf(body, sizeof body, "UnsetEnv OK \"%s\"\n", bad[i]);
        snprintf(want, sizeof want, "UnsetEnv: %s'%s'", name, bad[i]);
        line2_fails(body, want);
    }
    line2_fails("SetEnv\n", "SetEnv: expected 1 or 2 arguments, got 0 (usage: SetEnv NAME "
                "[VALUE])");
    line2_fails("SetEnv A b c\n", "SetEnv: expected 1 or 2 arguments, got 3 (usage: SetEnv NAME "
                "[VALUE])");
    struct config *cfg = parse_ok("Listen 80\nSetEnv proxy-sendcl 1\nSetEnv EMPTY\n"
                                  "<Location /a>\nUnsetEnv EMPTY X.Y\nSetEnv APP_ENV \"a b\"\n"
                                  "</Location>\n");
    ck_assert_int_eq(cfg->dir.n_env, 2);
    ck_assert_str_eq(cfg->dir.env[0].name, "proxy-sendcl");
    ck_assert_str_eq(cfg->dir.env[0].value, "1");
    ck_assert_str_eq(cfg->dir.env[1].name, "EMPTY");
    ck_assert_str_eq(cfg->dir.env[1].value, "");
    const struct dirconf *d = &cfg->sections[0].dir;
    ck_assert_int_eq(d->n_env, 3);
    ck_assert_ptr_null(d->env[0].value);
    ck_assert_str_eq(d->env[1].name, "X.Y");
    ck_assert_str_eq(d->env[2].value, "a b");
    config_free(cfg);
}
END_TEST

START_TEST(test_addhandler)
{
    line2_fails("AddHandler cgi-script\n", "AddHandler: expected 2 to 63 arguments, got 1 (usage: "
                "AddHandler HANDLER EXTENSION...)");
    line2_fails("AddHandler cgi-script .cgi .\n",
                "AddHandler: expected a file extension such as .cgi, got '.'");
    line2_fails("AddHandler cgi-script .a.b\n",
                "AddHandler: expected a file extension such as .cgi, got '.a.b'");
    line2_fails("AddHandler cgi-script cgi/x\n",
                "AddHandler: expected a file extension such as .cgi, got 'cgi/x'");
    line2_fails("AddHandler cgi-script .0123456789012345678901234567890123456789\n",
                "AddHandler: expected a file extension such as .cgi, got "
                "'.0123456789012345678901234567890123456789'");
    struct config *cfg = parse_ok("Listen 80\nAddHandler cgi-script .CGI pl\n"
                                  "<Directory htdocs>\nAddHandler static .cgi\n</Directory>\n");
    ck_assert_int_eq(cfg->dir.n_add_handlers, 2);
    ck_assert_str_eq(cfg->dir.add_handlers[0].ext, "cgi");
    ck_assert_str_eq(cfg->dir.add_handlers[1].ext, "pl");
    ck_assert_int_eq(cfg->dir.add_handlers[0].handler, module_index(&cgi_conf_module) + 1);
    ck_assert_int_eq(cfg->sections[0].dir.n_add_handlers, 1);
    config_free(cfg);
}
END_TEST

/* AddHandler takes a module's plain handler name only: its message lists
 * those, not SetHandler's none, default-handler and proxy:URL, which it
 * refuses. */
START_TEST(test_addhandler_names)
{
    const char *want = "AddHandler: expected a handler name: static, cgi-script, "
                       "server-status, metrics, got ";
    char full[256];
    static const char *const bad[] = {"php-script", "none", "default-handler", "proxy:",
                                      "proxy:URL"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[64];
        snprintf(body, sizeof body, "AddHandler %s .php\n", bad[i]);
        snprintf(full, sizeof full, "%s'%s'", want, bad[i]);
        line2_fails(body, full);
    }
}
END_TEST

/* ---- configurations that load ------------------------------------------------------------- */

START_TEST(test_good_configs)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "ProxyPass /app http://127.0.0.1:8000/ max=4 ttl=2 retry=5 timeout=3 "
        "connectiontimeout=2 responsefieldsize=1024 disablereuse=On keepalive=On "
        "flushpackets=auto\n"
        "ProxyPass /app/static !\n"
        "ProxyPass //api// http://localhost:8001\n"
        "ProxyPass /uds unix:/run/gunicorn.sock|http://app/\n"
        "ProxyPass /php/ fcgi://127.0.0.1:9000/srv/www/\n"
        "ProxyPassReverse /app http://127.0.0.1:8000/\n"
        "ProxyPreserveHost On\nProxyAddHeaders Off\nProxyTimeout 30\n"
        "ProxyTrustForwardedFrom 10.0.0.0/8 ::1\nProxyRequests Off\nProxyFCGIBackendType FPM\n"
        "<Location /ws>\nProxyPass ws://[::1]:9000/socket upgrade=websocket\n"
        "ProxyPassReverse ws://[::1]:9000/socket\nProxyPreserveHost Off\n</Location>\n"
        "<Location /php-fpm>\nSetHandler \"proxy:unix:/run/php/php-fpm.sock|fcgi://localhost/\"\n"
        "</Location>\n"
        "ScriptAlias /cgi-bin/ /usr/lib/cgi-bin/\nCGIScriptTimeout 10\n"
        "SetEnv proxy-sendcl 1\nUnsetEnv FOO\nAddHandler cgi-script .cgi .PL\n"
        "<VirtualHost *:80>\nServerName v.example\nProxyPass / http://127.0.0.1:8002/\n"
        "ProxyPassReverse / http://127.0.0.1:8002/\nProxyTimeout 5\n"
        "ProxyTrustForwardedFrom 192.168.0.0/16\n<Location /x>\nProxyPass http://127.0.0.1:8003/\n"
        "</Location>\n</VirtualHost>\n");
    int proxy = module_index(&proxy_conf_module) + 1;
    ck_assert_int_eq(cfg->n_sections, 2);
    ck_assert_int_eq(cfg->sections[0].dir.handler, proxy);   /* ProxyPass in <Location> */
    ck_assert_int_eq(cfg->sections[1].dir.handler, proxy);   /* SetHandler proxy:... */
    ck_assert_int_eq(cfg->n_vhosts, 1);
    ck_assert_int_eq(cfg->vhosts[0].cfg->n_sections, 1);
    ck_assert_int_eq(cfg->vhosts[0].cfg->sections[0].dir.handler, proxy);
    config_free(cfg);
    /* The example of docs/directives.md for php-fpm. */
    load("Listen 80\n<FilesMatch \"\\.php$\">\n"
         "SetHandler \"proxy:unix:/run/php/php-fpm.sock|fcgi://localhost\"\n</FilesMatch>\n");
}
END_TEST

Suite *proxy_conf_suite(void)
{
    Suite *s = suite_create("proxy_conf");
    TCase *tc = tcase_create("proxy_conf");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_proxypass_bad_url);
    tcase_add_test(tc, test_proxypass_query_in_path);
    tcase_add_test(tc, test_proxypass_bad_port);
    tcase_add_test(tc, test_proxypass_port_range);
    tcase_add_test(tc, test_proxypass_params);
    tcase_add_test(tc, test_proxypass_exclude);
    tcase_add_test(tc, test_proxypass_places);
    tcase_add_test(tc, test_proxypass_reverse);
    tcase_add_test(tc, test_proxy_settings);
    tcase_add_test(tc, test_trust_forwarded_from);
    tcase_add_test(tc, test_sethandler_proxy);
    tcase_add_test(tc, test_cgi_directives);
    tcase_add_test(tc, test_setenv);
    tcase_add_test(tc, test_addhandler);
    tcase_add_test(tc, test_addhandler_names);
    tcase_add_test(tc, test_good_configs);
    suite_add_tcase(s, tc);
    return s;
}
