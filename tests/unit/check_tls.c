/* check_tls.c: HTTPS (src/core/tls.c, src/http/tls_io.c): the SSL*
 * directives and the Listen protocol word through config_parse_text (exact
 * "file:line: Directive: why" messages), merging a virtual host's settings
 * over the main server's, tls_build through config_load with real
 * certificates (contexts, which Listen sockets speak TLS, the errors that
 * name a directive's line), tls_compatible, the ticket-key rotation, and
 * whole handshakes over a loopback TCP connection between tls_io on the
 * server side and a plain OpenSSL client: ALPN, SNI (and what the switch
 * to the named site carries: protocols, tickets, SSLOpenSSLConfCmd
 * settings), data both ways, EINTR, tls_io_pending, and resumption by
 * ticket across key rotations.
 *
 * Each test gets a fresh directory under /tmp (the ServerRoot) holding
 * htdocs/ and, made with OpenSSL's API at set-up, a.key + a.crt
 * (ECDSA P-256, self-signed, CN and SAN a.test), b.key + b.crt (b.test),
 * other.key (matches nothing) and bad.crt (not PEM). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/tls_io.h"

static char root[64];
static const char *const site_dirs[] = {"htdocs", NULL};

/* ---- test certificates ------------------------------------------------------ */

static void root_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", root, name);
}

/* A new P-256 key, written as PEM to NAME in the sandbox. */
static EVP_PKEY *write_key(const char *name)
{
    char path[256];
    root_path(path, sizeof path, name);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(k);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    return k;
}

/* A self-signed certificate for KEY, subject CN and SAN DNS:CN, to NAME. */
static void write_cert(const char *name, EVP_PKEY *key, const char *cn, long serial)
{
    char path[256], san[128];
    root_path(path, sizeof path, name);
    X509 *x = X509_new();
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    X509_NAME *n = X509_get_subject_name(x);
    ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn,
                                                -1, -1, 0), 1);
    ck_assert_int_eq(X509_set_issuer_name(x, n), 1);
    snprintf(san, sizeof san, "DNS:%s", cn);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    ck_assert_ptr_nonnull(ext);
    ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_int_eq(PEM_write_X509(f, x), 1);
    fclose(f);
    X509_free(x);
}

static void write_text(const char *name, const char *text)
{
    char path[256];
    root_path(path, sizeof path, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static X509 *read_cert(const char *name)
{
    char path[256];
    root_path(path, sizeof path, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    ck_assert_ptr_nonnull(x);
    return x;
}

static void root_setup(void)
{
    sandbox_create(root, sizeof root, "tls", site_dirs);
    EVP_PKEY *a = write_key("a.key"), *b = write_key("b.key"), *o = write_key("other.key");
    write_cert("a.crt", a, "a.test", 1);
    write_cert("b.crt", b, "b.test", 2);
    write_text("bad.crt", "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
               "-----END CERTIFICATE-----\n");
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(o);
}

static void root_teardown(void)
{
    sandbox_remove(root);
}

/* ---- config helpers --------------------------------------------------------- */

static struct config *parse_ok(const char *text)
{
    return sandbox_parse_ok(root, "s.conf", text);
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

/* The main server's SSL* settings of "Listen 80\n" + BODY. */
static int main_protocols(const char *body)
{
    char text[1024];
    snprintf(text, sizeof text, "Listen 80\n%s", body);
    struct config *cfg = parse_ok(text);
    const struct tls_conf *t = tls_site_conf(cfg);
    ck_assert_ptr_nonnull(t);
    int p = t->protocols;
    config_free(cfg);
    return p;
}

static char conf_path[256];

/* TEXT written to t.conf in the sandbox and loaded with config_load (which
 * runs tls_build): must load. */
static struct config *load_ok(const char *text)
{
    char err[1024] = "";
    write_text("t.conf", text);
    root_path(conf_path, sizeof conf_path, "t.conf");
    struct config *cfg = config_load(conf_path, root, err, sizeof err);
    ck_assert_msg(cfg != NULL, "refused: %s\n%s", err, text);
    return cfg;
}

/* TEXT must be refused by config_load; the message is in ERR. */
static void load_fails(const char *text, char *err, size_t errlen)
{
    err[0] = '\0';
    write_text("t.conf", text);
    root_path(conf_path, sizeof conf_path, "t.conf");
    struct config *cfg = config_load(conf_path, root, err, errlen);
    int accepted = cfg != NULL;
    config_free(cfg);
    ck_assert_msg(!accepted, "accepted:\n%s", text);
    ck_assert_msg(strchr(err, '\n') == NULL, "more than one line: %s", err);
}

/* ERR starts with "t.conf's path:LINE: DIRECTIVE: " and holds every one of
 * the NULL-terminated strings after it. */
static void err_is(const char *err, int line, const char *directive, ...)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s:%d: %s: ", conf_path, line, directive);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'",
                  err, prefix);
    va_list ap;
    va_start(ap, directive);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        ck_assert_msg(strstr(err, s) != NULL, "'%s' lacks '%s'", err, s);
    va_end(ap);
}

/* The context of SITE (NULL: none built). */
static SSL_CTX *site_ctx(const struct config *site)
{
    const struct tls_conf *t = tls_site_conf(site);
    return t ? t->ctx : NULL;
}

/* ---- directives ------------------------------------------------------------- */

START_TEST(test_protocol_forms)
{
    ck_assert_int_eq(main_protocols("SSLProtocol all -TLSv1 -TLSv1.1\n"),
                     TLS_P_TLS12 | TLS_P_TLS13);
    ck_assert_int_eq(main_protocols("SSLProtocol -all +TLSv1.3\n"), TLS_P_TLS13);
    ck_assert_int_eq(main_protocols("SSLProtocol TLSv1.2\n"), TLS_P_TLS12);
    ck_assert_int_eq(main_protocols("SSLProtocol all\n"), TLS_P_ALL);
    ck_assert_int_eq(main_protocols("SSLProtocol TLSv1.2 +TLSv1.3\n"), TLS_P_TLS12 | TLS_P_TLS13);
    /* A word without a sign replaces what came before (Apache's rule). */
    ck_assert_int_eq(main_protocols("SSLProtocol TLSv1.3 TLSv1.2\n"), TLS_P_TLS12);
    ck_assert_int_eq(main_protocols("SSLProtocol all +SSLv3 -TLSv1.3\n"),
                     TLS_P_SSLV3 | TLS_P_TLS1 | TLS_P_TLS11 | TLS_P_TLS12);
    ck_assert_int_eq(main_protocols("SSLProtocol tlsv1.2\n"), TLS_P_TLS12);
    /* Not set: -1 (the default applies when the context is built). */
    ck_assert_int_eq(main_protocols("SSLEngine off\n"), -1);
    line2_fails("SSLProtocol all -TLSv1.4\n", "SSLProtocol: unknown protocol '-TLSv1.4'; "
                "expected all, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, each with an optional "
                "+ or -");
    line2_fails("SSLProtocol TLSv1.2 SSLv2\n", "SSLProtocol: unknown protocol 'SSLv2'; "
                "expected all, SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, each with an optional "
                "+ or -");
    line2_fails("SSLProtocol -TLSv1.2\n", "SSLProtocol: no protocol left enabled");
    line2_fails("SSLProtocol all -all\n", "SSLProtocol: no protocol left enabled");
}
END_TEST

START_TEST(test_cipher_suite)
{
    struct config *cfg = parse_ok("Listen 80\nSSLCipherSuite HIGH:!aNULL\n"
                                  "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384\n");
    const struct tls_conf *t = tls_site_conf(cfg);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->ciphers, "HIGH:!aNULL");
    ck_assert_str_eq(t->ciphers13, "TLS_AES_256_GCM_SHA384");
    ck_assert_int_eq(t->ciphers_at.line, 2);
    ck_assert_int_eq(t->ciphers13_at.line, 3);
    config_free(cfg);

    /* "SSL" names the TLS 1.2 list; a later line replaces an earlier one. */
    cfg = parse_ok("Listen 80\nSSLCipherSuite SSL ECDHE+AESGCM\nSSLCipherSuite SSL AES256\n");
    t = tls_site_conf(cfg);
    ck_assert_str_eq(t->ciphers, "AES256");
    ck_assert_int_eq(t->ciphers_at.line, 3);
    ck_assert_ptr_null(t->ciphers13);
    config_free(cfg);

    line2_fails("SSLCipherSuite TLSv1.2 HIGH\n", "SSLCipherSuite: expected SSL or TLSv1.3 "
                "before the cipher list, got 'TLSv1.2'");
    line2_fails("SSLCipherSuite\n", "SSLCipherSuite: expected 1 or 2 arguments, got 0 (usage: "
                "SSLCipherSuite [SSL|TLSv1.3] CIPHER-SPEC)");
}
END_TEST

START_TEST(test_certificate_order)
{
    line2_fails("SSLCertificateKeyFile a.key\n", "SSLCertificateKeyFile: each "
                "SSLCertificateKeyFile follows the SSLCertificateFile it belongs to "
                "(0 certificates so far)");
    parse_fails("Listen 80\nSSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
                "SSLCertificateKeyFile b.key\n",
                "s.conf:4: SSLCertificateKeyFile: each SSLCertificateKeyFile follows the "
                "SSLCertificateFile it belongs to (1 certificate so far)");
    /* A key in the certificate file: no SSLCertificateKeyFile for the
     * first, one for the second. */
    struct config *cfg = parse_ok("Listen 80\nSSLCertificateFile a.crt\n"
                                  "SSLCertificateFile b.crt\nSSLCertificateKeyFile b.key\n");
    const struct tls_conf *t = tls_site_conf(cfg);
    ck_assert_int_eq(t->n_certs, 2);
    ck_assert_int_eq(t->n_keys, 1);
    ck_assert_str_eq(t->certs[0].path, "a.crt");
    ck_assert_int_eq(t->certs[1].at.line, 3);
    ck_assert_str_eq(t->keys[0].path, "b.key");
    ck_assert_int_eq(t->keys[0].at.line, 4);
    config_free(cfg);
    parse_fails("Listen 80\nSSLCertificateFile 1.crt\nSSLCertificateFile 2.crt\n"
                "SSLCertificateFile 3.crt\nSSLCertificateFile 4.crt\nSSLCertificateFile 5.crt\n",
                "s.conf:6: SSLCertificateFile: too many (at most 4 in one place)");
}
END_TEST

START_TEST(test_ticket_lifetime)
{
    struct config *cfg = parse_ok("Listen 80\nSSLSessionTicketKeyLifetime 60\n");
    ck_assert_int_eq(tls_site_conf(cfg)->ticket_lifetime, 60);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nSSLSessionTicketKeyLifetime 604800\n");
    ck_assert_int_eq(tls_site_conf(cfg)->ticket_lifetime, 604800);
    config_free(cfg);
    line2_fails("SSLSessionTicketKeyLifetime 59\n", "SSLSessionTicketKeyLifetime: expected "
                "seconds from 60 to 604800, got '59'");
    line2_fails("SSLSessionTicketKeyLifetime 604801\n", "SSLSessionTicketKeyLifetime: expected "
                "seconds from 60 to 604800, got '604801'");
    line2_fails("SSLSessionTicketKeyLifetime 1h\n", "SSLSessionTicketKeyLifetime: expected "
                "seconds from 60 to 604800, got '1h'");
    parse_fails("Listen 80\n<VirtualHost *:80>\nSSLSessionTicketKeyLifetime 3600\n"
                "</VirtualHost>\n",
                "s.conf:3: SSLSessionTicketKeyLifetime: not allowed in <VirtualHost>; "
                "allowed in: server config");
}
END_TEST

/* Debian's mods-available/ssl.conf and sites-available/default-ssl.conf
 * load as they are: the directives mpmd has no use for are accepted (and
 * still checked), SSLSessionCacheTimeout sets the sessions' lifetime. */
START_TEST(test_apache_files)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "SSLRandomSeed startup builtin\n"
        "SSLRandomSeed startup file:/dev/urandom 512\n"
        "SSLRandomSeed connect builtin\n"
        "SSLPassPhraseDialog  exec:/usr/share/apache2/ask-for-passphrase\n"
        "SSLSessionCache     shmcb:/var/run/apache2/ssl_scache(512000)\n"
        "SSLSessionCacheTimeout  300\n"
        "SSLCipherSuite HIGH:!aNULL\n"
        "SSLProtocol all -SSLv3\n"
        "SSLSessionTickets off\n"
        "<VirtualHost *:80>\n"
        "  <FilesMatch \"\\.(?:cgi|shtml|phtml|php)$\">\n"
        "    SSLOptions +StdEnvVars\n"
        "  </FilesMatch>\n"
        "  <Directory /usr/lib/cgi-bin>\n"
        "    SSLOptions +StdEnvVars -ExportCertData\n"
        "  </Directory>\n"
        "</VirtualHost>\n");
    ck_assert_int_eq(tls_site_conf(cfg)->session_timeout, 300);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nSSLSessionCache none\nSSLSessionCacheTimeout 86400\n");
    ck_assert_int_eq(tls_site_conf(cfg)->session_timeout, 86400);
    config_free(cfg);
    line2_fails("SSLOptions +Bogus\n", "SSLOptions: unknown option '+Bogus'; expected "
                "StdEnvVars, ExportCertData, FakeBasicAuth, StrictRequire, OptRenegotiate or "
                "LegacyDNStringFormat, each with an optional + or -");
    line2_fails("SSLSessionCache memory\n", "SSLSessionCache: expected none, nonenotnull or "
                "TYPE:ARGUMENT (shmcb:...), got 'memory'");
    line2_fails("SSLSessionCacheTimeout 0\n", "SSLSessionCacheTimeout: expected seconds from 1 "
                "to 604800, got '0'");
    line2_fails("SSLRandomSeed always builtin\n", "SSLRandomSeed: expected startup or connect, "
                "got 'always'");
    line2_fails("SSLPassPhraseDialog ask\n", "SSLPassPhraseDialog: expected builtin, exec:PATH "
                "or |PATH, got 'ask'");
}
END_TEST

START_TEST(test_engine_and_flags)
{
    line2_fails("SSLEngine optional\n", "SSLEngine: 'optional' (RFC 2817 upgrades) is not "
                "supported; expected on or off");
    line2_fails("SSLEngine yes\n", "SSLEngine: expected on or off, got 'yes'");
    line2_fails("SSLHonorCipherOrder 1\n", "SSLHonorCipherOrder: expected on or off, got '1'");
    line2_fails("SSLSessionTickets maybe\n", "SSLSessionTickets: expected on or off, got 'maybe'");
    parse_fails("Listen 80\n<Directory /x>\nSSLEngine on\n</Directory>\n",
                "s.conf:3: SSLEngine: not allowed in <Directory>; allowed in: server config, "
                "<VirtualHost>");
    struct config *cfg = parse_ok("Listen 80\nSSLEngine ON\nSSLHonorCipherOrder off\n"
                                  "SSLSessionTickets Off\n");
    const struct tls_conf *t = tls_site_conf(cfg);
    ck_assert_int_eq(t->engine, 1);
    ck_assert_int_eq(t->engine_at.line, 2);
    ck_assert_int_eq(t->honor_order, 0);
    ck_assert_int_eq(t->tickets, 0);
    ck_assert_ptr_null(t->ctx);            /* config_parse_text builds nothing */
    config_free(cfg);
    line2_fails("SSLOpenSSLConfCmd Curves\n", "SSLOpenSSLConfCmd: expected 2 arguments, got 1 "
                "(usage: SSLOpenSSLConfCmd COMMAND VALUE)");
}
END_TEST

START_TEST(test_listen_protocol)
{
    struct config *cfg = parse_ok("Listen 80 https\nListen 81 http name1\nListen 82 name1b\n"
                                  "Listen 83\nListen 84 HTTPS sock-2\n");
    ck_assert_int_eq(cfg->n_listen, 5);
    ck_assert_int_eq(cfg->listen[0].proto, LISTEN_PROTO_HTTPS);
    ck_assert_str_eq(cfg->listen[0].name, "");
    ck_assert_int_eq(cfg->listen[1].proto, LISTEN_PROTO_HTTP);
    ck_assert_str_eq(cfg->listen[1].name, "name1");
    ck_assert_int_eq(cfg->listen[2].proto, LISTEN_PROTO_DEFAULT);
    ck_assert_str_eq(cfg->listen[2].name, "name1b");
    ck_assert_int_eq(cfg->listen[3].proto, LISTEN_PROTO_DEFAULT);
    ck_assert_int_eq(cfg->listen[4].proto, LISTEN_PROTO_HTTPS);
    ck_assert_str_eq(cfg->listen[4].name, "sock-2");
    for (int i = 0; i < cfg->n_listen; i++) {
        ck_assert_int_eq(cfg->listen[i].tls, 0);   /* decided by tls_build only */
        ck_assert_int_eq(cfg->listen[i].line, i + 1);
    }
    config_free(cfg);
    parse_fails("Listen 80 https name extra\n", "s.conf:1: Listen: expected ADDRESS "
                "[http|https] [proxy] [NAME], got 'extra' after 'name'");
}
END_TEST

/* ---- merging ------------------------------------------------------------------ */

START_TEST(test_merge_inherits)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "SSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
        "SSLProtocol TLSv1.3\nSSLCipherSuite HIGH\n"
        "<VirtualHost *:80>\nServerName v.test\nSSLCipherSuite AES256\n"
        "SSLEngine on\n</VirtualHost>\n"
        "<VirtualHost *:80>\nServerName w.test\n</VirtualHost>\n");
    ck_assert_int_eq(cfg->n_vhosts, 2);
    const struct tls_conf *m = tls_site_conf(cfg), *v = tls_site_conf(cfg->vhosts[0].cfg),
                          *w = tls_site_conf(cfg->vhosts[1].cfg);
    ck_assert_ptr_nonnull(v);
    ck_assert_ptr_nonnull(w);
    ck_assert_ptr_ne(v, m);
    ck_assert_int_eq(v->n_certs, 1);
    ck_assert_str_eq(v->certs[0].path, "a.crt");
    ck_assert_int_eq(v->certs[0].at.line, 2);
    ck_assert_int_eq(v->n_keys, 1);
    ck_assert_str_eq(v->keys[0].path, "a.key");
    ck_assert_int_eq(v->protocols, TLS_P_TLS13);
    ck_assert_str_eq(v->ciphers, "AES256");
    ck_assert_int_eq(v->ciphers_at.line, 8);
    ck_assert_int_eq(v->engine, 1);
    ck_assert_int_eq(v->engine_at.line, 9);
    /* The main server is untouched. */
    ck_assert_str_eq(m->ciphers, "HIGH");
    ck_assert_int_eq(m->engine, -1);
    /* A virtual host setting nothing gets the main server's. */
    ck_assert_int_eq(w->n_certs, 1);
    ck_assert_str_eq(w->ciphers, "HIGH");
    ck_assert_int_eq(w->protocols, TLS_P_TLS13);
    ck_assert_int_eq(w->engine, -1);
    config_free(cfg);
}
END_TEST

START_TEST(test_merge_own_certs)
{
    struct config *cfg = parse_ok(
        "Listen 80\n"
        "SSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
        "SSLCertificateFile b.crt\nSSLCertificateKeyFile b.key\n"
        "SSLOpenSSLConfCmd Curves X25519\nSSLOpenSSLConfCmd Options -SessionTicket\n"
        "<VirtualHost *:80>\nServerName v.test\n"
        "SSLCertificateFile other.crt\n"
        "SSLOpenSSLConfCmd SignatureAlgorithms ECDSA+SHA256\n</VirtualHost>\n");
    const struct tls_conf *v = tls_site_conf(cfg->vhosts[0].cfg);
    ck_assert_int_eq(v->n_certs, 1);
    ck_assert_str_eq(v->certs[0].path, "other.crt");
    ck_assert_int_eq(v->certs[0].at.line, 10);
    ck_assert_int_eq(v->n_keys, 0);           /* not a.key: the pairs go as a whole */
    ck_assert_int_eq(v->n_cmds, 3);
    ck_assert_str_eq(v->cmds[0].name, "Curves");
    ck_assert_str_eq(v->cmds[0].value, "X25519");
    ck_assert_int_eq(v->cmds[0].at.line, 6);
    ck_assert_str_eq(v->cmds[1].name, "Options");
    ck_assert_str_eq(v->cmds[1].value, "-SessionTicket");
    ck_assert_str_eq(v->cmds[2].name, "SignatureAlgorithms");
    ck_assert_int_eq(v->cmds[2].at.line, 11);
    const struct tls_conf *m = tls_site_conf(cfg);
    ck_assert_int_eq(m->n_certs, 2);
    ck_assert_int_eq(m->n_cmds, 2);
    config_free(cfg);

    /* No SSL* directive anywhere: no settings. */
    cfg = parse_ok("Listen 80\n<VirtualHost *:80>\nServerName v.test\n</VirtualHost>\n");
    ck_assert_ptr_null(tls_site_conf(cfg));
    ck_assert_ptr_null(tls_site_conf(cfg->vhosts[0].cfg));
    config_free(cfg);
}
END_TEST

/* ---- tls_build (config_load) ------------------------------------------------ */

#define A_PAIR "SSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
#define B_PAIR "SSLCertificateFile b.crt\nSSLCertificateKeyFile b.key\n"

START_TEST(test_build_main)
{
    struct config *cfg = load_ok("Listen 127.0.0.1:8443 https\nListen 127.0.0.1:8080 http\n"
                                 "Listen 127.0.0.1:8081\nSSLEngine on\n" A_PAIR);
    SSL_CTX *ctx = site_ctx(cfg);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_ptr_eq(tls_ctx_site(ctx), cfg);
    ck_assert_int_eq(cfg->listen[0].tls, 1);
    ck_assert_ptr_eq(cfg->listen[0].tls_site, cfg);
    ck_assert_int_eq(cfg->listen[1].tls, 0);
    ck_assert_ptr_null(cfg->listen[1].tls_site);
    /* A bare Listen whose owner (the main server) has SSLEngine on. */
    ck_assert_int_eq(cfg->listen[2].tls, 1);
    ck_assert_ptr_eq(cfg->listen[2].tls_site, cfg);
    /* The defaults: TLS 1.2 and 1.3, tickets on. */
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
    ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    ck_assert((SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) == 0);
    ck_assert((SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE) != 0);
    ck_assert((SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION) != 0);
    config_free(cfg);

    /* The key in the certificate file. */
    char both[8192];
    FILE *out = fmemopen(both, sizeof both, "w");
    const char *parts[] = {"a.crt", "a.key"};
    for (int i = 0; i < 2; i++) {
        char path[256], buf[4096];
        root_path(path, sizeof path, parts[i]);
        FILE *in = fopen(path, "r");
        ck_assert_ptr_nonnull(in);
        size_t n = fread(buf, 1, sizeof buf, in);
        fclose(in);
        fwrite(buf, 1, n, out);
    }
    fputc('\0', out);
    fclose(out);
    write_text("both.pem", both);
    cfg = load_ok("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile both.pem\n"
                  "SSLProtocol TLSv1.3\nSSLSessionTickets off\nSSLHonorCipherOrder off\n");
    ctx = site_ctx(cfg);
    ck_assert_ptr_nonnull(ctx);
    ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
    ck_assert_int_eq(SSL_CTX_get_max_proto_version(ctx), TLS1_3_VERSION);
    ck_assert((SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) != 0);
    ck_assert((SSL_CTX_get_options(ctx) & SSL_OP_CIPHER_SERVER_PREFERENCE) == 0);
    config_free(cfg);

    /* SSLEngine off, or not said: no context, plain sockets. */
    cfg = load_ok("Listen 127.0.0.1:8081\nSSLEngine off\n" A_PAIR);
    ck_assert_ptr_null(site_ctx(cfg));
    ck_assert_int_eq(cfg->listen[0].tls, 0);
    config_free(cfg);
}
END_TEST

START_TEST(test_build_vhost_listen)
{
    struct config *cfg = load_ok(
        "Listen 127.0.0.1:8443\n"
        "Listen 127.0.0.1:8080 http\n"
        "Listen 127.0.0.2:8082\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR "</VirtualHost>\n");
    const struct config *a = cfg->vhosts[0].cfg, *b = cfg->vhosts[1].cfg;
    ck_assert_ptr_nonnull(site_ctx(a));
    ck_assert_ptr_nonnull(site_ctx(b));
    ck_assert_ptr_ne(site_ctx(a), site_ctx(b));
    ck_assert_ptr_null(site_ctx(cfg));
    ck_assert_ptr_eq(tls_ctx_site(site_ctx(b)), b);
    /* A bare Listen owned by a virtual host with SSLEngine on: TLS, and
     * its first virtual host answers clients without SNI. */
    ck_assert_int_eq(cfg->listen[0].tls, 1);
    ck_assert_ptr_eq(cfg->listen[0].tls_site, a);
    /* "http" keeps it plain even so. */
    ck_assert_int_eq(cfg->listen[1].tls, 0);
    ck_assert_ptr_null(cfg->listen[1].tls_site);
    /* Another address: the main server's, plain. */
    ck_assert_int_eq(cfg->listen[2].tls, 0);
    config_free(cfg);

    /* An IP-specific virtual host wins over "*" for the owner. */
    cfg = load_ok("Listen 127.0.0.1:8443 https\n"
                  "<VirtualHost *:8443>\nServerName any.test\n</VirtualHost>\n"
                  "<VirtualHost 127.0.0.1:8443>\nServerName b.test\nSSLEngine on\n" B_PAIR
                  "</VirtualHost>\n");
    ck_assert_ptr_eq(cfg->listen[0].tls_site, cfg->vhosts[1].cfg);
    ck_assert_int_eq(cfg->listen[0].tls, 1);
    config_free(cfg);
}
END_TEST

START_TEST(test_build_errors)
{
    char err[1024];
    /* An https Listen whose site has no SSLEngine on. */
    load_fails("ServerName x.test\nListen 127.0.0.1:8080\nListen 127.0.0.1:8443 https\n" A_PAIR,
               err, sizeof err);
    err_is(err, 3, "Listen", "127.0.0.1:8443 is https", "the main server", NULL);
    load_fails("Listen 127.0.0.1:8443 https\n<VirtualHost 127.0.0.1>\nServerName v.test\n"
               A_PAIR "</VirtualHost>\n", err, sizeof err);
    err_is(err, 1, "Listen", "127.0.0.1:8443 is https", "v.test", NULL);

    /* The key does not match the certificate. */
    char key[256], crt[256];
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile a.crt\n"
               "\nSSLCertificateKeyFile other.key\n", err, sizeof err);
    root_path(key, sizeof key, "other.key");
    root_path(crt, sizeof crt, "a.crt");
    err_is(err, 5, "SSLCertificateKeyFile", key, crt, NULL);

    /* No such certificate file; a file that is not a certificate. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile nosuch.crt\n"
               "SSLCertificateKeyFile a.key\n", err, sizeof err);
    root_path(crt, sizeof crt, "nosuch.crt");
    err_is(err, 3, "SSLCertificateFile", "cannot read", crt, NULL);
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile bad.crt\n"
               "SSLCertificateKeyFile a.key\n", err, sizeof err);
    root_path(crt, sizeof crt, "bad.crt");
    err_is(err, 3, "SSLCertificateFile", crt, "no usable PEM certificate", NULL);
    /* No such key file. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile a.crt\n"
               "SSLCertificateKeyFile nosuch.key\n", err, sizeof err);
    err_is(err, 4, "SSLCertificateKeyFile", "cannot read", "nosuch.key", NULL);
    /* No key at all: none in the certificate file, no SSLCertificateKeyFile. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\nSSLCertificateFile a.crt\n",
               err, sizeof err);
    err_is(err, 3, "SSLCertificateFile", "no private key", NULL);
    /* SSLEngine on without a certificate. */
    load_fails("Listen 127.0.0.1:8443 https\n\nSSLEngine on\n", err, sizeof err);
    err_is(err, 3, "SSLEngine", "no SSLCertificateFile", NULL);

    /* SSL_CONF commands. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR
               "SSLOpenSSLConfCmd Curves X25519\nSSLOpenSSLConfCmd NoSuchCmd 1\n", err, sizeof err);
    err_is(err, 6, "SSLOpenSSLConfCmd", "NoSuchCmd", NULL);
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR
               "SSLOpenSSLConfCmd Curves NoSuchCurve\n", err, sizeof err);
    err_is(err, 5, "SSLOpenSSLConfCmd", "NoSuchCurve", NULL);

    /* Cipher lists that match nothing: the line of that SSLCipherSuite. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR "SSLCipherSuite HIGH\n"
               "SSLCipherSuite TLSv1.3 TLS_AES_128_GCM_SHA256\n\nSSLCipherSuite NOSUCH\n",
               err, sizeof err);
    err_is(err, 8, "SSLCipherSuite", "NOSUCH", NULL);
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR
               "SSLCipherSuite TLSv1.3 NOSUCH13\nSSLCipherSuite HIGH\n", err, sizeof err);
    err_is(err, 5, "SSLCipherSuite", "NOSUCH13", NULL);

    /* An error in a virtual host names its own line. */
    load_fails("Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR
               "<VirtualHost 127.0.0.1>\nServerName v.test\nSSLCipherSuite NOSUCH\n"
               "</VirtualHost>\n", err, sizeof err);
    err_is(err, 7, "SSLCipherSuite", "NOSUCH", NULL);
}
END_TEST

START_TEST(test_compatible)
{
    struct config *cfg = load_ok(
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName a2.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName a3.test\nSSLEngine on\n" A_PAIR
        "SSLProtocol TLSv1.3\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName plain.test\n</VirtualHost>\n");
    const struct config *a = cfg->vhosts[0].cfg, *a2 = cfg->vhosts[1].cfg,
                        *b = cfg->vhosts[2].cfg, *a3 = cfg->vhosts[3].cfg,
                        *plain = cfg->vhosts[4].cfg;
    ck_assert_int_eq(tls_compatible(a, a2), 1);
    ck_assert_int_eq(tls_compatible(a2, a), 1);
    ck_assert_int_eq(tls_compatible(a, a), 1);
    ck_assert_int_eq(tls_compatible(a, b), 0);
    ck_assert_int_eq(tls_compatible(b, a2), 0);
    ck_assert_int_eq(tls_compatible(a, a3), 0);      /* other protocols */
    ck_assert_int_eq(tls_compatible(a, plain), 0);
    config_free(cfg);
}
END_TEST

/* tls_compatible compares what takes effect, not the text: a certificate
 * named relative to ServerRoot and the same one named absolute, an unset
 * SSLProtocol or SSLCipherSuite and its default written out ("TLSv1.2
 * +TLSv1.3"; "TLSv1.2 TLSv1.3" is TLSv1.3 alone, test_protocol_forms). */
START_TEST(test_compatible_effect)
{
    char text[4096];
    snprintf(text, sizeof text,
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName abs.test\nSSLEngine on\n"
        "SSLCertificateFile %s/a.crt\nSSLCertificateKeyFile %s/a.key\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName proto.test\nSSLEngine on\n" A_PAIR
        "SSLProtocol TLSv1.2 +TLSv1.3\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName ciphers.test\nSSLEngine on\n" A_PAIR
        "SSLCipherSuite " TLS_CIPHERS_DEFAULT "\n"
        "SSLCipherSuite TLSv1.3 " TLS_CIPHERS13_DEFAULT "\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName tls12.test\nSSLEngine on\n" A_PAIR
        "SSLProtocol TLSv1.2\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName aes256.test\nSSLEngine on\n" A_PAIR
        "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName tls13.test\nSSLEngine on\n" A_PAIR
        "SSLProtocol TLSv1.2 TLSv1.3\n</VirtualHost>\n",
        root, root);
    struct config *cfg = load_ok(text);
    const struct config *a = cfg->vhosts[0].cfg, *abs = cfg->vhosts[1].cfg,
                        *proto = cfg->vhosts[2].cfg, *ciphers = cfg->vhosts[3].cfg,
                        *tls12 = cfg->vhosts[4].cfg, *aes256 = cfg->vhosts[5].cfg,
                        *tls13 = cfg->vhosts[6].cfg;
    ck_assert_int_eq(tls_compatible(a, abs), 1);
    ck_assert_int_eq(tls_compatible(abs, a), 1);
    ck_assert_int_eq(tls_compatible(a, proto), 1);
    ck_assert_int_eq(tls_compatible(proto, abs), 1);
    ck_assert_int_eq(tls_compatible(a, ciphers), 1);
    ck_assert_int_eq(tls_compatible(ciphers, a), 1);
    /* Settings that differ in effect still differ. */
    ck_assert_int_eq(tls_compatible(a, tls12), 0);
    ck_assert_int_eq(tls_compatible(proto, tls12), 0);
    ck_assert_int_eq(tls_compatible(a, aes256), 0);
    /* Without a sign the last word wins: TLSv1.3 alone, not the default. */
    ck_assert_int_eq(tls_compatible(a, tls13), 0);
    /* tls_build made the relative names absolute (tls.h). */
    char crt[256], key[256];
    root_path(crt, sizeof crt, "a.crt");
    root_path(key, sizeof key, "a.key");
    ck_assert_str_eq(tls_site_conf(a)->certs[0].path, crt);
    ck_assert_str_eq(tls_site_conf(a)->keys[0].path, key);
    config_free(cfg);
}
END_TEST

/* ---- ticket keys ---------------------------------------------------------------- */

START_TEST(test_ticket_keys)
{
    struct tls_keys *k = tls_keys_create();
    ck_assert_ptr_nonnull(k);
    struct tls_ticket_key cur, prev, first, zero;
    int has_prev;
#define READ() tls_keys_read(k, &cur, &prev, &has_prev)
    READ();
    ck_assert_int_eq(has_prev, 0);
    first = cur;
    memset(&zero, 0, sizeof zero);
    ck_assert(memcmp(&first, &zero, sizeof zero) != 0);
    int64_t t0 = 1000;
    ck_assert_int_eq(tls_keys_rotate(k, 60, t0), 0);       /* starts the clock */
    ck_assert_int_eq(k->made, t0);
    ck_assert_int_eq(tls_keys_rotate(k, 60, t0 + 59), 0);
    READ();
    ck_assert(memcmp(&cur, &first, sizeof first) == 0);
    ck_assert_int_eq(has_prev, 0);
    ck_assert_int_eq(tls_keys_rotate(k, 60, t0 + 60), 1);
    READ();
    ck_assert_int_eq(has_prev, 1);
    ck_assert(memcmp(&prev, &first, sizeof first) == 0);
    ck_assert(memcmp(&cur, &first, sizeof first) != 0);
    ck_assert(memcmp(cur.name, first.name, sizeof first.name) != 0);
    ck_assert_int_eq(k->made, t0 + 60);
    ck_assert_uint_eq(k->seq % 2, 0);
    struct tls_ticket_key second = cur;
    ck_assert_int_eq(tls_keys_rotate(k, 60, t0 + 119), 0);
    ck_assert_int_eq(tls_keys_rotate(k, 60, t0 + 120), 1);
    READ();
    ck_assert(memcmp(&prev, &second, sizeof second) == 0);
#undef READ
    /* Lifetime 0 or less: the default. */
    ck_assert_int_eq(tls_keys_rotate(k, 0, t0 + 120 + TLS_TICKET_LIFETIME_DEFAULT - 1), 0);
    ck_assert_int_eq(tls_keys_rotate(k, 0, t0 + 120 + TLS_TICKET_LIFETIME_DEFAULT), 1);
    ck_assert_int_eq(tls_keys_rotate(NULL, 60, t0), 0);
    tls_keys_destroy(k);
    tls_keys_destroy(NULL);

    /* Two mappings, two different keys. */
    struct tls_keys *x = tls_keys_create(), *y = tls_keys_create();
    struct tls_ticket_key kx, ky;
    tls_keys_read(x, &kx, &prev, &has_prev);
    tls_keys_read(y, &ky, &prev, &has_prev);
    ck_assert(memcmp(&kx, &ky, sizeof kx) != 0);
    tls_keys_destroy(x);
    tls_keys_destroy(y);
}
END_TEST

/* ---- handshakes over loopback TCP ---------------------------------------------- */

static void nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    ck_assert_int_ne(fl, -1);
    ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* A connected TCP pair on 127.0.0.1: *SFD the accepted end, *CFD the
 * client's; both non-blocking. */
static void tcp_pair(int *sfd, int *cfd)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(l, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(l, 4), 0);
    ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
    *cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(*cfd, 0);
    ck_assert_int_eq(connect(*cfd, (struct sockaddr *)&a, sizeof a), 0);
    *sfd = accept(l, NULL, NULL);
    ck_assert_int_ge(*sfd, 0);
    close(l);
    nonblocking(*sfd);
    nonblocking(*cfd);
}

/* One TLS connection: the server's SSL from tls_io, a client's. */
struct conn {
    int sfd, cfd;
    SSL *server, *client;
};

/* The client's options. */
struct client_opts {
    const char *sni;                 /* NULL: no server_name */
    const unsigned char *alpn;       /* wire format; NULL: none */
    unsigned alpn_len;
    int max_version;                 /* 0: any */
    SSL_SESSION *session;            /* to resume, or NULL */
};

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    ck_assert_ptr_nonnull(c);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    return c;
}

static void wait_readable(int a, int b)
{
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    poll(p, b >= 0 ? 2 : 1, 20);
}

/* Open a connection to a server using CTX (tls_io_new) from a client of
 * CCTX with OPTS; drive both until the handshake is done.  Returns 0, or
 * -1 when either side gave up (the connection is still to close). */
static int tls_connect(struct conn *c, SSL_CTX *ctx, SSL_CTX *cctx, const struct client_opts *o)
{
    tcp_pair(&c->sfd, &c->cfd);
    c->server = tls_io_new(ctx, c->sfd, c);
    ck_assert_ptr_nonnull(c->server);
    c->client = SSL_new(cctx);
    ck_assert_ptr_nonnull(c->client);
    ck_assert_int_eq(SSL_set_fd(c->client, c->cfd), 1);
    SSL_set_connect_state(c->client);
    if (o && o->sni)
        ck_assert_int_eq(SSL_set_tlsext_host_name(c->client, o->sni), 1);
    if (o && o->alpn)
        ck_assert_int_eq(SSL_set_alpn_protos(c->client, o->alpn, o->alpn_len), 0);
    if (o && o->max_version)
        ck_assert_int_eq(SSL_set_max_proto_version(c->client, o->max_version), 1);
    if (o && o->session)
        ck_assert_int_eq(SSL_set_session(c->client, o->session), 1);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 500 && !(sdone && cdone); i++) {
        if (!sdone) {
            unsigned char buf[64];
            int want = -1;
            ssize_t n = tls_io_read(c->server, buf, sizeof buf, &want);
            if (n == TLS_IO_ERROR)
                return -1;
            ck_assert_int_le(n, 0);                      /* no data in a handshake */
            ck_assert_int_ne(n, 0);
            ck_assert(want == TLS_WANT_READ || want == TLS_WANT_WRITE);
            sdone = SSL_is_init_finished(c->server);
        }
        if (!cdone) {
            ERR_clear_error();
            int r = SSL_do_handshake(c->client);
            if (r == 1)
                cdone = 1;
            else {
                int e = SSL_get_error(c->client, r);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                    ERR_clear_error();
                    return -1;
                }
            }
        }
        if (!(sdone && cdone))
            wait_readable(c->sfd, c->cfd);
    }
    ck_assert_msg(sdone && cdone, "handshake did not finish (server %d, client %d)", sdone,
                  cdone);
    return 0;
}

static void tls_disconnect(struct conn *c)
{
    if (c->server) {
        tls_io_close_notify(c->server);
        tls_io_free(c->server);
    }
    /* A clean end on the client's side too: a session freed without
     * one is marked not resumable (ssl_clear_bad_session). */
    if (c->client && SSL_is_init_finished(c->client))
        SSL_shutdown(c->client);
    ERR_clear_error();
    SSL_free(c->client);
    close(c->sfd);
    close(c->cfd);
    memset(c, 0, sizeof *c);
}

/* LEN bytes read by the client into BUF (or fewer when it ends). */
static size_t client_read(struct conn *c, char *buf, size_t len)
{
    size_t got = 0;
    for (int i = 0; i < 200 && got < len; i++) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(c->client, buf + got, len - got, &n) == 1) {
            got += n;
            continue;
        }
        if (SSL_get_error(c->client, 0) != SSL_ERROR_WANT_READ)
            break;
        wait_readable(c->cfd, -1);
    }
    ERR_clear_error();
    return got;
}

/* LEN bytes read by the server (tls_io_read) into BUF, at most CHUNK a call. */
static size_t server_read(struct conn *c, char *buf, size_t len, size_t chunk)
{
    size_t got = 0;
    for (int i = 0; i < 200 && got < len; i++) {
        int want;
        size_t ask = len - got < chunk ? len - got : chunk;
        ssize_t n = tls_io_read(c->server, buf + got, ask, &want);
        if (n > 0) {
            ck_assert_int_le(n, (ssize_t)ask);
            got += (size_t)n;
            continue;
        }
        if (n != TLS_IO_AGAIN)
            break;
        ck_assert_int_eq(want, TLS_WANT_READ);
        wait_readable(c->sfd, -1);
    }
    return got;
}

static void client_write(struct conn *c, const char *s)
{
    size_t put = 0;
    ck_assert_int_eq(SSL_write_ex(c->client, s, strlen(s), &put), 1);
    ck_assert_uint_eq(put, strlen(s));
}

/* The fixture of the handshake tests: a loaded config with its keys. */
static struct config *hs_cfg;
static struct tls_keys *hs_keys;
static SSL_CTX *hs_client;

static SSL_CTX *hs_load(const char *text)
{
    hs_cfg = load_ok(text);
    hs_keys = tls_keys_create();
    ck_assert_ptr_nonnull(hs_keys);
    tls_use_keys(hs_cfg, hs_keys);
    tls_io_prepare(hs_cfg);
    hs_client = client_ctx();
    ck_assert_int_eq(hs_cfg->listen[0].tls, 1);
    SSL_CTX *ctx = site_ctx(hs_cfg->listen[0].tls_site);
    ck_assert_ptr_nonnull(ctx);
    return ctx;
}

static void hs_free(void)
{
    SSL_CTX_free(hs_client);
    config_free(hs_cfg);
    tls_keys_destroy(hs_keys);
    hs_client = NULL, hs_cfg = NULL, hs_keys = NULL;
}

#define ONE_SITE "Listen 127.0.0.1:8443 https\nSSLEngine on\n" A_PAIR
#define TWO_SITES "Listen 127.0.0.1:8443 https\n" \
    "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n" \
    "<VirtualHost 127.0.0.1>\nServerName b.test\nServerAlias *.b.test\nSSLEngine on\n" \
    B_PAIR "</VirtualHost>\n"

START_TEST(test_alpn)
{
    SSL_CTX *ctx = hs_load(ONE_SITE);
    static const unsigned char both[] = "\x02h2\x08http/1.1", h2[] = "\x02h2";
    struct client_opts o = {.alpn = both, .alpn_len = sizeof both - 1};
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL_get0_alpn_selected(c.client, &sel, &sel_len);
    ck_assert_uint_eq(sel_len, 8);
    ck_assert(memcmp(sel, "http/1.1", 8) == 0);
    SSL_get0_alpn_selected(c.server, &sel, &sel_len);
    ck_assert_uint_eq(sel_len, 8);
    tls_disconnect(&c);

    o.alpn = h2, o.alpn_len = sizeof h2 - 1;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    SSL_get0_alpn_selected(c.client, &sel, &sel_len);
    ck_assert_uint_eq(sel_len, 0);
    tls_disconnect(&c);

    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, NULL), 0);   /* no ALPN */
    SSL_get0_alpn_selected(c.client, &sel, &sel_len);
    ck_assert_uint_eq(sel_len, 0);
    ck_assert_str_eq(SSL_get_version(c.server), "TLSv1.3");
    tls_disconnect(&c);
    hs_free();
}
END_TEST

/* The certificate the client got is the one in NAME. */
static void peer_is(SSL *client, const char *name)
{
    X509 *want = read_cert(name), *got = SSL_get1_peer_certificate(client);
    ck_assert_ptr_nonnull(got);
    ck_assert_msg(X509_cmp(want, got) == 0, "the client did not get %s", name);
    X509_free(want);
    X509_free(got);
}

START_TEST(test_sni)
{
    SSL_CTX *ctx = hs_load(TWO_SITES);
    const struct config *a = hs_cfg->vhosts[0].cfg, *b = hs_cfg->vhosts[1].cfg;
    ck_assert_ptr_eq(hs_cfg->listen[0].tls_site, a);
    static const struct {
        const char *sni;
        int site;
        const char *crt;
    } cases[] = {
        {"b.test", 1, "b.crt"}, {"B.Test.", 1, "b.crt"}, {"x.b.test", 1, "b.crt"},
        {"a.test", 0, "a.crt"}, {"c.test", 0, "a.crt"}, {NULL, 0, "a.crt"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct client_opts o = {.sni = cases[i].sni};
        struct conn c;
        ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
        int named = -1;
        const struct config *site = tls_io_sni_site(c.server, &named);
        ck_assert_msg(site == (cases[i].site ? b : a), "SNI %s: wrong site", cases[i].sni);
        ck_assert_int_eq(named, cases[i].sni != NULL);
        peer_is(c.client, cases[i].crt);
        /* The server acknowledged the name (RFC 6066 3): an OpenSSL
         * client keeps it in the session only then. */
        const char *acked = SSL_SESSION_get0_hostname(SSL_get_session(c.client));
        if (cases[i].sni)
            ck_assert_msg(acked && strcmp(acked, cases[i].sni) == 0, "SNI %s not acknowledged",
                          cases[i].sni);
        tls_disconnect(&c);
    }
    hs_free();
}
END_TEST

/* SNI also takes the named site's protocols (mod_ssl copies them). */
START_TEST(test_sni_protocols)
{
    SSL_CTX *ctx = hs_load(
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR
        "SSLProtocol TLSv1.3\n</VirtualHost>\n");
    struct client_opts o = {.sni = "a.test", .max_version = TLS1_2_VERSION};
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    ck_assert_str_eq(SSL_get_version(c.server), "TLSv1.2");
    tls_disconnect(&c);
    o.sni = "b.test";
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), -1);
    tls_disconnect(&c);
    o.max_version = 0;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    ck_assert_str_eq(SSL_get_version(c.server), "TLSv1.3");
    peer_is(c.client, "b.crt");
    tls_disconnect(&c);
    hs_free();
}
END_TEST

/* And what the named site's SSLOpenSSLConfCmd lines set: SSL_set_SSL_CTX
 * does not carry it, the switch applies them again. */
START_TEST(test_sni_conf_cmds)
{
    SSL_CTX *ctx = hs_load(
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR
        "SSLOpenSSLConfCmd Ciphersuites TLS_CHACHA20_POLY1305_SHA256\n</VirtualHost>\n");
    struct client_opts o = {.sni = "b.test"};
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    peer_is(c.client, "b.crt");
    ck_assert_str_eq(SSL_get_version(c.server), "TLSv1.3");
    ck_assert_str_eq(SSL_get_cipher_name(c.server), "TLS_CHACHA20_POLY1305_SHA256");
    tls_disconnect(&c);
    /* a keeps its own suites (the default list, AES first). */
    o.sni = "a.test";
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    peer_is(c.client, "a.crt");
    ck_assert_str_eq(SSL_get_cipher_name(c.server), "TLS_AES_128_GCM_SHA256");
    tls_disconnect(&c);
    hs_free();
}
END_TEST

START_TEST(test_data)
{
    SSL_CTX *ctx = hs_load(ONE_SITE);
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, NULL), 0);
    ck_assert_int_eq(tls_io_pending(c.server), 0);
    ck_assert_int_eq(SSL_is_init_finished(c.server), 1);

    /* Client to server. */
    const char *req = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    char buf[256];
    client_write(&c, req);
    size_t n = server_read(&c, buf, strlen(req), sizeof buf);
    ck_assert_uint_eq(n, strlen(req));
    ck_assert(memcmp(buf, req, n) == 0);

    /* Server to client. */
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    int want = -1;
    ck_assert_int_eq(tls_io_write(c.server, resp, strlen(resp), &want), (ssize_t)strlen(resp));
    ck_assert_int_eq(want, TLS_WANT_NONE);
    ck_assert_int_eq(tls_io_write(c.server, resp, 0, &want), 0);
    n = client_read(&c, buf, strlen(resp));
    ck_assert_uint_eq(n, strlen(resp));
    ck_assert(memcmp(buf, resp, n) == 0);

    /* Two records, a small read: the rest of the first is pending. */
    client_write(&c, "first record;");
    client_write(&c, "second");
    n = server_read(&c, buf, 4, 4);
    ck_assert_uint_eq(n, 4);
    ck_assert(memcmp(buf, "firs", 4) == 0);
    ck_assert_int_eq(tls_io_pending(c.server), 1);
    n += server_read(&c, buf + 4, strlen("first record;second") - 4, sizeof buf);
    ck_assert_uint_eq(n, strlen("first record;second"));
    ck_assert(memcmp(buf, "first record;second", n) == 0);
    ck_assert_int_eq(tls_io_pending(c.server), 0);

    /* Half a record: nothing to hand out, so nothing pending (a caller
     * would spin on it); the rest of the record completes it. */
    BIO *mem = BIO_new(BIO_s_mem());
    ck_assert_ptr_nonnull(mem);
    SSL_set0_wbio(c.client, mem);
    client_write(&c, "split record");
    char *wire;
    long wire_len = BIO_get_mem_data(mem, &wire);
    ck_assert_int_gt(wire_len, 10);
    ck_assert_int_eq(write(c.cfd, wire, 8), 8);
    wait_readable(c.sfd, -1);
    ck_assert_int_eq(tls_io_read(c.server, buf, sizeof buf, &want), TLS_IO_AGAIN);
    ck_assert_int_eq(want, TLS_WANT_READ);
    ck_assert_int_eq(tls_io_pending(c.server), 0);
    ck_assert_int_eq(write(c.cfd, wire + 8, (size_t)wire_len - 8), wire_len - 8);
    n = server_read(&c, buf, strlen("split record"), sizeof buf);
    ck_assert_uint_eq(n, strlen("split record"));
    ck_assert(memcmp(buf, "split record", n) == 0);
    (void)BIO_reset(mem);
    SSL_set_fd(c.client, c.cfd);            /* the socket again for both ways */

    /* Nothing to read: AGAIN, waiting to read. */
    ck_assert_int_eq(tls_io_read(c.server, buf, sizeof buf, &want), TLS_IO_AGAIN);
    ck_assert_int_eq(want, TLS_WANT_READ);

    /* A big write goes out (partial writes allowed) and arrives whole. */
    static char big[100000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    size_t sent = 0;
    static char back[sizeof big];
    size_t got = 0;
    for (int i = 0; i < 2000 && (sent < sizeof big || got < sizeof big); i++) {
        if (sent < sizeof big) {
            ssize_t w = tls_io_write(c.server, big + sent, sizeof big - sent, &want);
            if (w > 0)
                sent += (size_t)w;
            else
                ck_assert_int_eq(w, TLS_IO_AGAIN);
        }
        size_t r = 0;
        if (SSL_read_ex(c.client, back + got, sizeof back - got, &r) == 1)
            got += r;
        else
            wait_readable(c.cfd, -1);
    }
    ERR_clear_error();
    ck_assert_uint_eq(sent, sizeof big);
    ck_assert_uint_eq(got, sizeof big);
    ck_assert(memcmp(big, back, sizeof big) == 0);

    /* close_notify: the client reads a clean end; once only. */
    tls_io_close_notify(c.server);
    tls_io_close_notify(c.server);
    n = client_read(&c, buf, sizeof buf);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(SSL_get_error(c.client, 0), SSL_ERROR_ZERO_RETURN);
    tls_disconnect(&c);

    /* The client's close_notify: tls_io_read says 0. */
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, NULL), 0);
    ck_assert_int_ge(SSL_shutdown(c.client), 0);
    ssize_t r = TLS_IO_AGAIN;
    for (int i = 0; i < 100 && r == TLS_IO_AGAIN; i++) {
        r = tls_io_read(c.server, buf, sizeof buf, &want);
        if (r == TLS_IO_AGAIN)
            wait_readable(c.sfd, -1);
    }
    ck_assert_int_eq(r, 0);
    tls_disconnect(&c);

    /* Garbage instead of a ClientHello: an error, not a hang. */
    int sfd, cfd;
    tcp_pair(&sfd, &cfd);
    SSL *s = tls_io_new(ctx, sfd, NULL);
    ck_assert_int_eq(write(cfd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27), 27);
    r = TLS_IO_AGAIN;
    for (int i = 0; i < 100 && r == TLS_IO_AGAIN; i++) {
        r = tls_io_read(s, buf, sizeof buf, &want);
        if (r == TLS_IO_AGAIN)
            wait_readable(sfd, -1);
    }
    ck_assert_int_eq(r, TLS_IO_ERROR);
    ck_assert_int_eq(SSL_is_init_finished(s), 0);
    ERR_clear_error();
    tls_io_close_notify(s);
    tls_io_free(s);
    close(sfd);
    close(cfd);
    hs_free();
}
END_TEST

/* A transport whose every read and write fails with EINTR, as read(2) and
 * write(2) do when a signal cuts them short: OpenSSL says
 * SSL_ERROR_SYSCALL with errno EINTR. */
static int eintr_read(BIO *b, char *buf, int len)
{
    (void)buf, (void)len;
    BIO_clear_retry_flags(b);
    errno = EINTR;
    return -1;
}

static int eintr_write(BIO *b, const char *buf, int len)
{
    (void)buf, (void)len;
    BIO_clear_retry_flags(b);
    errno = EINTR;
    return -1;
}

static long eintr_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH;
}

/* EINTR is a would-block (it used to make tls_io call itself forever):
 * AGAIN, waiting for the way it went; the calls then go on. */
START_TEST(test_eintr)
{
    SSL_CTX *ctx = hs_load(ONE_SITE);
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, NULL), 0);
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "eintr");
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(BIO_meth_set_read(m, eintr_read), 1);
    ck_assert_int_eq(BIO_meth_set_write(m, eintr_write), 1);
    ck_assert_int_eq(BIO_meth_set_ctrl(m, eintr_ctrl), 1);
    BIO *b = BIO_new(m);
    ck_assert_ptr_nonnull(b);
    BIO_set_init(b, 1);
    SSL_set_bio(c.server, b, b);

    client_write(&c, "after the signal");
    char buf[64];
    int want = -1;
    ck_assert_int_eq(tls_io_read(c.server, buf, sizeof buf, &want), TLS_IO_AGAIN);
    ck_assert_int_eq(want, TLS_WANT_READ);
    want = -1;
    ck_assert_int_eq(tls_io_write(c.server, "ok", 2, &want), TLS_IO_AGAIN);
    ck_assert_int_eq(want, TLS_WANT_WRITE);

    /* The socket again: the same read and write succeed. */
    ck_assert_int_eq(SSL_set_fd(c.server, c.sfd), 1);
    size_t n = server_read(&c, buf, strlen("after the signal"), sizeof buf);
    ck_assert_uint_eq(n, strlen("after the signal"));
    ck_assert(memcmp(buf, "after the signal", n) == 0);
    ck_assert_int_eq(tls_io_write(c.server, "ok", 2, &want), 2);
    ck_assert_uint_eq(client_read(&c, buf, 2), 2);
    ck_assert(memcmp(buf, "ok", 2) == 0);
    tls_disconnect(&c);
    BIO_meth_free(m);
    hs_free();
}
END_TEST

/* A session from a first connection that read data (the TLS 1.3 ticket
 * comes after the handshake). */
static SSL_SESSION *first_session(SSL_CTX *ctx, const struct client_opts *o)
{
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, o), 0);
    ck_assert_int_eq(SSL_session_reused(c.server), 0);
    int want;
    ck_assert_int_eq(tls_io_write(c.server, "hi", 2, &want), 2);
    char buf[2];
    ck_assert_uint_eq(client_read(&c, buf, 2), 2);
    SSL_SESSION *s = SSL_get1_session(c.client);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(SSL_SESSION_is_resumable(s), 1);
    tls_disconnect(&c);
    return s;
}

/* Whether a connection offering SESSION (with O's other options) resumed. */
static int resumed(SSL_CTX *ctx, const struct client_opts *o, SSL_SESSION *session)
{
    struct client_opts with = *o;
    with.session = session;
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &with), 0);
    int r = SSL_session_reused(c.server);
    ck_assert_int_eq(SSL_session_reused(c.client), r);
    tls_disconnect(&c);
    return r;
}

/* _i: 0 TLS 1.3, 1 TLS 1.2, 2 TLS 1.3 with SNI to the second site. */
START_TEST(test_resumption)
{
    SSL_CTX *ctx = hs_load(_i == 2 ? TWO_SITES : ONE_SITE);
    struct client_opts o = {.max_version = _i == 1 ? TLS1_2_VERSION : 0,
                            .sni = _i == 2 ? "b.test" : NULL};
    SSL_SESSION *s = first_session(ctx, &o);
    ck_assert_int_eq(resumed(ctx, &o, s), 1);
    ck_assert_int_eq(resumed(ctx, &o, s), 1);
    /* One rotation: the old key still decrypts. */
    int64_t t0 = 5000;
    ck_assert_int_eq(tls_keys_rotate(hs_keys, 60, t0), 0);
    ck_assert_int_eq(tls_keys_rotate(hs_keys, 60, t0 + 60), 1);
    ck_assert_int_eq(resumed(ctx, &o, s), 1);
    /* Two: it is gone; a full handshake instead. */
    ck_assert_int_eq(tls_keys_rotate(hs_keys, 60, t0 + 120), 1);
    ck_assert_int_eq(resumed(ctx, &o, s), 0);
    SSL_SESSION_free(s);
    /* A session made after the rotations resumes. */
    s = first_session(ctx, &o);
    ck_assert_int_eq(resumed(ctx, &o, s), 1);
    SSL_SESSION_free(s);
    hs_free();
}
END_TEST

/* SSLSessionTickets off: no resumption at all. */
START_TEST(test_no_tickets)
{
    SSL_CTX *ctx = hs_load(ONE_SITE "SSLSessionTickets off\n");
    struct client_opts o = {.max_version = _i == 1 ? TLS1_2_VERSION : 0};
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    int want;
    ck_assert_int_eq(tls_io_write(c.server, "hi", 2, &want), 2);
    char buf[2];
    ck_assert_uint_eq(client_read(&c, buf, 2), 2);
    SSL_SESSION *s = SSL_get1_session(c.client);
    tls_disconnect(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(SSL_SESSION_has_ticket(s), 0);
    if (_i == 0) {
        ck_assert_int_eq(SSL_SESSION_is_resumable(s), 0);     /* no TLS 1.3 ticket came */
    } else {
        /* TLS 1.2: a session ID, but no cache on the server to find it in. */
        ck_assert_int_eq(SSL_SESSION_is_resumable(s), 1);
        ck_assert_int_eq(resumed(ctx, &o, s), 0);
    }
    SSL_SESSION_free(s);
    hs_free();
}
END_TEST

/* SNI from a site with SSLSessionTickets off to one with tickets: the
 * connection gets that site's tickets (TLS 1.3 sends them only when the
 * number to send is taken from the site switched to); and the other way
 * round, none. */
START_TEST(test_sni_tickets)
{
    SSL_CTX *ctx = hs_load(
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR
        "SSLSessionTickets off\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR "</VirtualHost>\n");
    struct client_opts o = {.sni = "b.test"};
    SSL_SESSION *s = first_session(ctx, &o);
    ck_assert_int_eq(SSL_SESSION_has_ticket(s), 1);
    ck_assert_int_eq(resumed(ctx, &o, s), 1);
    SSL_SESSION_free(s);
    hs_free();

    ctx = hs_load(
        "Listen 127.0.0.1:8443 https\n"
        "<VirtualHost 127.0.0.1>\nServerName a.test\nSSLEngine on\n" A_PAIR "</VirtualHost>\n"
        "<VirtualHost 127.0.0.1>\nServerName b.test\nSSLEngine on\n" B_PAIR
        "SSLSessionTickets off\n</VirtualHost>\n");
    struct conn c;
    ck_assert_int_eq(tls_connect(&c, ctx, hs_client, &o), 0);
    peer_is(c.client, "b.crt");
    int want;
    ck_assert_int_eq(tls_io_write(c.server, "hi", 2, &want), 2);
    char buf[2];
    ck_assert_uint_eq(client_read(&c, buf, 2), 2);
    s = SSL_get1_session(c.client);
    tls_disconnect(&c);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(SSL_SESSION_has_ticket(s), 0);
    ck_assert_int_eq(SSL_SESSION_is_resumable(s), 0);
    SSL_SESSION_free(s);
    hs_free();
}
END_TEST

Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("directives");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_protocol_forms);
    tcase_add_test(tc, test_cipher_suite);
    tcase_add_test(tc, test_certificate_order);
    tcase_add_test(tc, test_ticket_lifetime);
    tcase_add_test(tc, test_engine_and_flags);
    tcase_add_test(tc, test_apache_files);
    tcase_add_test(tc, test_listen_protocol);
    tcase_add_test(tc, test_merge_inherits);
    tcase_add_test(tc, test_merge_own_certs);
    suite_add_tcase(s, tc);

    tc = tcase_create("build");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_add_test(tc, test_build_main);
    tcase_add_test(tc, test_build_vhost_listen);
    tcase_add_test(tc, test_build_errors);
    tcase_add_test(tc, test_compatible);
    tcase_add_test(tc, test_compatible_effect);
    tcase_add_test(tc, test_ticket_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("handshake");
    tcase_add_checked_fixture(tc, root_setup, root_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_alpn);
    tcase_add_test(tc, test_sni);
    tcase_add_test(tc, test_sni_protocols);
    tcase_add_test(tc, test_sni_conf_cmds);
    tcase_add_test(tc, test_data);
    tcase_add_test(tc, test_eintr);
    tcase_add_loop_test(tc, test_resumption, 0, 3);
    tcase_add_loop_test(tc, test_no_tickets, 0, 2);
    tcase_add_test(tc, test_sni_tickets);
    suite_add_tcase(s, tc);
    return s;
}
