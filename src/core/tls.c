/* tls.c: the SSL* directives, the OpenSSL contexts built from them, and
 * the shared session-ticket keys.
 *
 * Runs where the configuration is loaded (the supervisor, `mpmd -t`):
 * directives, tls_build, tls_keys_create/rotate.  The ticket-key and ALPN
 * callbacks run on whichever thread drives a handshake (the listener in
 * MPM event, handler threads in MPM worker); they only read. */
#define _GNU_SOURCE
#include "mpmd/core/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "mpmd/core/config.h"

/* ---- the directives ------------------------------------------------------ */

static void *tls_create(void)
{
    struct tls_conf *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->engine = t->protocols = t->honor_order = t->tickets = t->ticket_lifetime = -1;
    t->session_timeout = -1;
    return t;
}

static void tls_free_strings(struct tls_conf *t)
{
    for (int i = 0; i < t->n_certs; i++)
        free(t->certs[i].path);
    for (int i = 0; i < t->n_keys; i++)
        free(t->keys[i].path);
    for (int i = 0; i < t->n_cmds; i++) {
        free(t->cmds[i].name);
        free(t->cmds[i].value);
    }
    free(t->ciphers);
    free(t->ciphers13);
}

static void tls_destroy(void *conf)
{
    struct tls_conf *t = conf;
    if (t == NULL)
        return;
    tls_free_strings(t);
    SSL_CTX_free(t->ctx);
    EVP_CIPHER_free(t->ticket_cipher);
    free(t);
}

static int dup_path(struct tls_path *to, const struct tls_path *from)
{
    to->at = from->at;
    return (to->path = strdup(from->path)) ? 0 : -1;
}

static int dup_str(char **to, const char *from)
{
    *to = NULL;
    return from && (*to = strdup(from)) == NULL ? -1 : 0;
}

/* ADD over BASE: what ADD sets wins; its certificates replace BASE's as a
 * whole (mod_ssl); SSLOpenSSLConfCmd lines add to BASE's. */
static void *tls_merge(const void *basev, const void *addv)
{
    static const struct tls_conf none = {.engine = -1, .protocols = -1, .honor_order = -1,
                                         .tickets = -1, .ticket_lifetime = -1,
                                         .session_timeout = -1};
    const struct tls_conf *base = basev ? basev : &none, *add = addv ? addv : &none;
    struct tls_conf *t = tls_create();
    if (t == NULL)
        return NULL;
#define PICK(f) t->f = add->f != -1 ? add->f : base->f
    PICK(engine);
    PICK(protocols);
    PICK(honor_order);
    PICK(tickets);
    PICK(ticket_lifetime);
    PICK(session_timeout);
#undef PICK
    t->engine_at = add->engine != -1 ? add->engine_at : base->engine_at;
    const struct tls_conf *pairs = add->n_certs > 0 || add->n_keys > 0 ? add : base;
    int bad = 0;
    for (int i = 0; i < pairs->n_certs; i++, t->n_certs++)
        bad |= dup_path(&t->certs[i], &pairs->certs[i]);
    for (int i = 0; i < pairs->n_keys; i++, t->n_keys++)
        bad |= dup_path(&t->keys[i], &pairs->keys[i]);
    const struct tls_conf *c12 = add->ciphers ? add : base, *c13 = add->ciphers13 ? add : base;
    bad |= dup_str(&t->ciphers, c12->ciphers) | dup_str(&t->ciphers13, c13->ciphers13);
    t->ciphers_at = c12->ciphers_at;
    t->ciphers13_at = c13->ciphers13_at;
    for (int k = 0; k < 2; k++) {
        const struct tls_conf *from = k == 0 ? base : add;
        for (int i = 0; i < from->n_cmds && t->n_cmds < TLS_MAX_CMDS; i++, t->n_cmds++) {
            struct tls_cmd *c = &t->cmds[t->n_cmds];
            c->at = from->cmds[i].at;
            bad |= dup_str(&c->name, from->cmds[i].name) | dup_str(&c->value, from->cmds[i].value);
        }
    }
    if (bad) {
        tls_destroy(t);
        return NULL;
    }
    return t;
}

static int set_onoff(int *field, const char *arg, char *err, size_t errlen)
{
    if (strcasecmp(arg, "on") == 0)
        *field = 1;
    else if (strcasecmp(arg, "off") == 0)
        *field = 0;
    else {
        snprintf(err, errlen, "expected on or off, got '%s'", arg);
        return -1;
    }
    return 0;
}

static int set_engine(void *conf, const struct directive_place *at, int argc, char **argv,
                      char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    (void)argc;
    if (strcasecmp(argv[0], "optional") == 0) {
        snprintf(err, errlen, "'optional' (RFC 2817 upgrades) is not supported; expected on "
                 "or off");
        return -1;
    }
    t->engine_at = (struct tls_where){at->file, at->line};
    return set_onoff(&t->engine, argv[0], err, errlen);
}

static int add_path(struct tls_path *list, int *n, const struct directive_place *at,
                    const char *path, char *err, size_t errlen)
{
    if (*n >= TLS_MAX_CERTS) {
        snprintf(err, errlen, "too many (at most %d in one place)", TLS_MAX_CERTS);
        return -1;
    }
    if (path[0] == '\0') {
        snprintf(err, errlen, "expected a file name");
        return -1;
    }
    if ((list[*n].path = strdup(path)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    list[(*n)++].at = (struct tls_where){at->file, at->line};
    return 0;
}

static int set_cert(void *conf, const struct directive_place *at, int argc, char **argv,
                    char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    (void)argc;
    return add_path(t->certs, &t->n_certs, at, argv[0], err, errlen);
}

static int set_key(void *conf, const struct directive_place *at, int argc, char **argv,
                   char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    (void)argc;
    if (t->n_keys >= t->n_certs) {
        snprintf(err, errlen, "each SSLCertificateKeyFile follows the SSLCertificateFile it "
                 "belongs to (%d certificate%s so far)", t->n_certs, t->n_certs == 1 ? "" : "s");
        return -1;
    }
    return add_path(t->keys, &t->n_keys, at, argv[0], err, errlen);
}

static const struct {
    const char *name;
    unsigned bit;
} protocol_names[] = {
    {"all", TLS_P_ALL}, {"SSLv3", TLS_P_SSLV3}, {"TLSv1", TLS_P_TLS1}, {"TLSv1.1", TLS_P_TLS11},
    {"TLSv1.2", TLS_P_TLS12}, {"TLSv1.3", TLS_P_TLS13},
};

/* SSLProtocol [+|-]PROTOCOL...: Apache's rules: a word without a sign
 * replaces what came before, +/- adjust it. */
static int set_protocol(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    unsigned bits = 0;
    (void)at;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        int sign = w[0] == '+' ? 1 : w[0] == '-' ? -1 : 0;
        w += sign != 0;
        unsigned bit = 0;
        for (size_t k = 0; k < sizeof protocol_names / sizeof protocol_names[0]; k++)
            if (strcasecmp(w, protocol_names[k].name) == 0)
                bit = protocol_names[k].bit;
        if (bit == 0) {
            snprintf(err, errlen, "unknown protocol '%s'; expected all, SSLv3, TLSv1, TLSv1.1, "
                     "TLSv1.2 or TLSv1.3, each with an optional + or -", argv[i]);
            return -1;
        }
        bits = sign == 0 ? bit : sign > 0 ? bits | bit : bits & ~bit;
    }
    if (bits == 0) {
        snprintf(err, errlen, "no protocol left enabled");
        return -1;
    }
    t->protocols = (int)bits;
    return 0;
}

/* SSLCipherSuite [SSL|TLSv1.3] SPEC. */
static int set_ciphers(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    char **field = &t->ciphers;
    struct tls_where *where = &t->ciphers_at;
    const char *spec = argv[0];
    if (argc == 2) {
        if (strcasecmp(argv[0], "TLSv1.3") == 0)
            field = &t->ciphers13, where = &t->ciphers13_at;
        else if (strcasecmp(argv[0], "SSL") != 0) {
            snprintf(err, errlen, "expected SSL or TLSv1.3 before the cipher list, got '%s'",
                     argv[0]);
            return -1;
        }
        spec = argv[1];
    }
    free(*field);
    *where = (struct tls_where){at->file, at->line};
    if ((*field = strdup(spec)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

static int set_honor(void *conf, const struct directive_place *at, int argc, char **argv,
                     char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_onoff(&((struct tls_conf *)conf)->honor_order, argv[0], err, errlen);
}

static int set_tickets(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_onoff(&((struct tls_conf *)conf)->tickets, argv[0], err, errlen);
}

/* SECONDS (MIN..MAX) into *FIELD. */
static int set_seconds(int *field, const char *arg, long min, long max, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min || v > max) {
        snprintf(err, errlen, "expected seconds from %ld to %ld, got '%s'", min, max, arg);
        return -1;
    }
    *field = (int)v;
    return 0;
}

static int set_lifetime(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_seconds(&((struct tls_conf *)conf)->ticket_lifetime, argv[0], 60, 604800, err,
                       errlen);
}

static int set_session_timeout(void *conf, const struct directive_place *at, int argc,
                               char **argv, char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_seconds(&((struct tls_conf *)conf)->session_timeout, argv[0], 1, 604800, err,
                       errlen);
}

/* SSLSessionCache TYPE: accepted so Debian's ssl.conf loads; mpmd keeps
 * no session cache (tickets, whose keys every child shares, resume). */
static int set_session_cache(void *conf, const struct directive_place *at, int argc,
                             char **argv, char *err, size_t errlen)
{
    (void)conf, (void)at, (void)argc;
    static const char *const kinds[] = {"none", "nonenotnull", "shmcb:", "dbm:", "shm:",
                                        "dc:", "memcache:", "redis:", "socache:", NULL};
    for (int i = 0; kinds[i]; i++)
        if (strncasecmp(argv[0], kinds[i], strlen(kinds[i])) == 0 &&
            (kinds[i][strlen(kinds[i]) - 1] == ':' || argv[0][strlen(kinds[i])] == '\0'))
            return 0;
    snprintf(err, errlen, "expected none, nonenotnull or TYPE:ARGUMENT (shmcb:...), got '%s'",
             argv[0]);
    return -1;
}

/* SSLRandomSeed CONTEXT SOURCE [BYTES]: OpenSSL 3 seeds itself from the
 * kernel; accepted (and checked) so Debian's ssl.conf loads. */
static int set_random_seed(void *conf, const struct directive_place *at, int argc,
                           char **argv, char *err, size_t errlen)
{
    (void)conf, (void)at, (void)argc;
    if (strcasecmp(argv[0], "startup") != 0 && strcasecmp(argv[0], "connect") != 0) {
        snprintf(err, errlen, "expected startup or connect, got '%s'", argv[0]);
        return -1;
    }
    return 0;
}

/* SSLPassPhraseDialog builtin|exec:PATH: accepted; mpmd never asks for a
 * pass phrase (an encrypted key is a config error, tls_build). */
static int set_pass_phrase(void *conf, const struct directive_place *at, int argc,
                           char **argv, char *err, size_t errlen)
{
    (void)conf, (void)at, (void)argc;
    if (strcasecmp(argv[0], "builtin") == 0 || strncasecmp(argv[0], "exec:", 5) == 0 ||
        argv[0][0] == '|')
        return 0;
    snprintf(err, errlen, "expected builtin, exec:PATH or |PATH, got '%s'", argv[0]);
    return -1;
}

/* SSLOptions [+|-]OPTION...: mpmd always gives scripts the standard SSL_*
 * variables (+StdEnvVars); the other options are accepted and have no
 * effect (no client certificates, no renegotiation). */
static int set_options(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    (void)conf, (void)at;
    static const char *const names[] = {"StdEnvVars", "ExportCertData", "FakeBasicAuth",
                                        "StrictRequire", "OptRenegotiate",
                                        "LegacyDNStringFormat", NULL};
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i] + (argv[i][0] == '+' || argv[i][0] == '-');
        int known = 0;
        for (int k = 0; names[k] && !known; k++)
            known = strcasecmp(w, names[k]) == 0;
        if (!known) {
            snprintf(err, errlen, "unknown option '%s'; expected StdEnvVars, ExportCertData, "
                     "FakeBasicAuth, StrictRequire, OptRenegotiate or LegacyDNStringFormat, "
                     "each with an optional + or -", argv[i]);
            return -1;
        }
    }
    return 0;
}

static int set_conf_cmd(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    struct tls_conf *t = conf;
    (void)argc;
    if (t->n_cmds >= TLS_MAX_CMDS) {
        snprintf(err, errlen, "too many (at most %d in one place)", TLS_MAX_CMDS);
        return -1;
    }
    struct tls_cmd *c = &t->cmds[t->n_cmds];
    c->name = strdup(argv[0]);
    c->value = strdup(argv[1]);
    c->at = (struct tls_where){at->file, at->line};
    t->n_cmds++;
    if (c->name == NULL || c->value == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

#define SITE (CTX_SERVER | CTX_VHOST)

static const struct module_directive tls_directives[] = {
    {"SSLEngine", "on|off", "Speak TLS on this site's addresses (the Listen sockets it owns) "
     "and give it certificates", SITE, 1, 1, set_engine, "off", NULL},
    {"SSLCertificateFile", "PATH", "A PEM certificate, followed by its chain; repeat for "
     "another key type (RSA and ECDSA): the client's signature algorithms choose", SITE, 1, 1,
     set_cert, NULL, "Read by the supervisor before privileges are dropped, and again on "
     "every restart. The key may be in the same file; otherwise SSLCertificateKeyFile "
     "follows."},
    {"SSLCertificateKeyFile", "PATH", "The private key of the SSLCertificateFile before it; "
     "must match it", SITE, 1, 1, set_key, "in the certificate file", NULL},
    {"SSLProtocol", "[+|-]PROTOCOL...", "TLS versions offered: all, TLSv1, TLSv1.1, TLSv1.2, "
     "TLSv1.3 (Apache's +/- rules)", SITE, 1, 8, set_protocol, "TLSv1.2 TLSv1.3", NULL},
    {"SSLCipherSuite", "[SSL|TLSv1.3] CIPHER-SPEC", "Ciphers offered, in OpenSSL's syntax; "
     "TLSv1.3 sets the TLS 1.3 suites", SITE, 1, 2, set_ciphers,
     "Mozilla intermediate", "Mozilla's intermediate configuration: ECDHE (and DHE) with "
     "AES-GCM or ChaCha20 for TLS 1.2; AES-GCM and ChaCha20 suites for TLS 1.3."},
    {"SSLHonorCipherOrder", "on|off", "Choose the cipher by the server's order rather than "
     "the client's", SITE, 1, 1, set_honor, "on",
     "Apache's default is off; mpmd's is on, so weak ciphers a client prefers are not "
     "chosen (testssl.sh rates a missing server order HIGH)."},
    {"SSLSessionTickets", "on|off", "Resume sessions with tickets (keys shared by every "
     "child, rotated, never on disk)", SITE, 1, 1, set_tickets, "on", NULL},
    {"SSLSessionTicketKeyLifetime", "SECONDS", "How long a ticket key encrypts new tickets; "
     "the one before still decrypts for as long (mpmd's own directive)", CTX_SERVER, 1, 1,
     set_lifetime, "43200", NULL},
    {"SSLOpenSSLConfCmd", "COMMAND VALUE", "Pass a setting to OpenSSL's SSL_CONF "
     "(Curves, Groups, SignatureAlgorithms, Options, ...)", SITE, 2, 2, set_conf_cmd, NULL, NULL},
    {"SSLSessionCacheTimeout", "SECONDS", "How long a session may be resumed (the lifetime "
     "of its ticket)", SITE, 1, 1, set_session_timeout, "300", NULL},
    {"SSLSessionCache", "none|nonenotnull|TYPE:ARGUMENT", "Accepted for Apache's files; mpmd "
     "keeps no session cache: tickets, whose keys every child shares, resume sessions",
     CTX_SERVER, 1, 1, set_session_cache, "none", NULL},
    {"SSLRandomSeed", "startup|connect SOURCE [BYTES]", "Accepted for Apache's files; OpenSSL "
     "3 seeds itself from the kernel", CTX_SERVER, 2, 3, set_random_seed, NULL, NULL},
    {"SSLPassPhraseDialog", "builtin|exec:PATH", "Accepted for Apache's files; mpmd asks for "
     "no pass phrase: an encrypted key is an error", CTX_SERVER, 1, 1, set_pass_phrase,
     "builtin", NULL},
    {"SSLOptions", "[+|-]OPTION...", "Accepted for Apache's files: scripts always get the "
     "standard SSL_* variables (StdEnvVars); the other options have no effect", SITE | CTX_DIR,
     1, 8, set_options, "none", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module tls_conf_module = {
    .name = "ssl",
    .directives = tls_directives,
    .create = tls_create,
    .merge = tls_merge,
    .destroy = tls_destroy,
};

/* ---- one site's context ---------------------------------------------------- */

const struct tls_conf *tls_site_conf(const struct config *site)
{
    int i = module_index(&tls_conf_module);
    return i < 0 ? NULL : site->dir.module[i];
}

const struct config *tls_ctx_site(const struct ssl_ctx_st *ctx)
{
    return SSL_CTX_get_app_data(ctx);
}

int tls_kernel_available(void)
{
    return access("/proc/net/tls_stat", F_OK) == 0;
}

/* "FILE:LINE: NAME: " + message + ": OpenSSL's reason" into ERR; -1. */
__attribute__((format(printf, 5, 6)))
static int tls_fail(char *err, size_t errlen, const struct tls_where *at, const char *name,
                    const char *fmt, ...)
{
    int n = at->file ? snprintf(err, errlen, "%s:%d: %s: ", at->file, at->line, name)
                     : snprintf(err, errlen, "%s: ", name);
    if (n < 0 || (size_t)n >= errlen)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(err + n, errlen - n, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    if (e && m >= 0 && (size_t)(n + m) < errlen) {
        const char *why = ERR_reason_error_string(e);
        snprintf(err + n + m, errlen - n - m, ": %s", why ? why : "OpenSSL error");
    }
    ERR_clear_error();
    return -1;
}

/* PATH made absolute against ROOT, in BUF. */
static const char *absolute(const char *root, const char *path, char *buf, size_t len)
{
    if (path[0] == '/' || root == NULL)
        return path;
    snprintf(buf, len, "%s/%s", root, path);
    return buf;
}

static int protocol_version(unsigned bit)
{
    return bit == TLS_P_SSLV3 ? SSL3_VERSION : bit == TLS_P_TLS1 ? TLS1_VERSION
         : bit == TLS_P_TLS11 ? TLS1_1_VERSION : bit == TLS_P_TLS12 ? TLS1_2_VERSION
         : TLS1_3_VERSION;
}

/* SSLProtocol as a version range, with SSL_OP_NO_* for holes in it. */
static void set_protocols(SSL_CTX *ctx, unsigned bits)
{
    static const unsigned order[] = {TLS_P_SSLV3, TLS_P_TLS1, TLS_P_TLS11, TLS_P_TLS12, TLS_P_TLS13};
    static const uint64_t no[] = {SSL_OP_NO_SSLv3, SSL_OP_NO_TLSv1, SSL_OP_NO_TLSv1_1,
                                  SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3};
    int lo = -1, hi = -1;
    for (int i = 0; i < 5; i++)
        if (bits & order[i]) {
            lo = lo < 0 ? i : lo;
            hi = i;
        }
    SSL_CTX_set_min_proto_version(ctx, protocol_version(order[lo]));
    SSL_CTX_set_max_proto_version(ctx, protocol_version(order[hi]));
    for (int i = lo; i <= hi; i++)
        if (!(bits & order[i]))
            SSL_CTX_set_options(ctx, no[i]);
}

/* ALPN: HTTP/1.1 is all mpmd speaks; a client offering only others gets
 * no ALPN answer rather than a failed handshake (nginx does the same). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel;
    (void)ssl, (void)arg;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Make PATH absolute against ROOT (ServerRoot), in place: messages and
 * tls_compatible then see one name per file. */
static int make_absolute(const char *root, struct tls_path *p)
{
    char buf[4096];
    const char *abs = absolute(root, p->path, buf, sizeof buf);
    if (abs == p->path)
        return 0;
    char *copy = strdup(abs);
    if (copy == NULL)
        return -1;
    free(p->path);
    p->path = copy;
    return 0;
}

/* Whether PEM file PATH holds an encrypted private key. */
static int key_encrypted(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[256];
    int enc = 0;
    while (f && !enc && fgets(line, sizeof line, f))
        enc = strstr(line, "ENCRYPTED") != NULL;
    if (f)
        fclose(f);
    return enc;
}

/* OpenSSL's pass-phrase callback: there is no one to ask (a service, a
 * restart at 3 a.m.), so an encrypted key fails at once (below). */
static int no_pass_phrase(char *buf, int size, int rwflag, void *arg)
{
    (void)buf, (void)size, (void)rwflag, (void)arg;
    return -1;
}

static int load_pairs(SSL_CTX *ctx, struct tls_conf *t, const char *root, char *err,
                      size_t errlen)
{
    for (int i = 0; i < t->n_certs; i++)
        if (make_absolute(root, &t->certs[i]) == -1 ||
            (i < t->n_keys && make_absolute(root, &t->keys[i]) == -1))
            return tls_fail(err, errlen, &t->certs[i].at, "SSLCertificateFile", "out of memory");
    for (int i = 0; i < t->n_certs; i++) {
        const char *cert = t->certs[i].path;
        if (access(cert, R_OK) == -1)
            return tls_fail(err, errlen, &t->certs[i].at, "SSLCertificateFile",
                            "cannot read %s: %s", cert, strerror(errno));
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
            return tls_fail(err, errlen, &t->certs[i].at, "SSLCertificateFile",
                            "%s holds no usable PEM certificate", cert);
        const struct tls_where *kat = i < t->n_keys ? &t->keys[i].at : &t->certs[i].at;
        const char *kname = i < t->n_keys ? "SSLCertificateKeyFile" : "SSLCertificateFile";
        const char *key = i < t->n_keys ? t->keys[i].path : cert;
        if (access(key, R_OK) == -1)
            return tls_fail(err, errlen, kat, kname, "cannot read %s: %s", key, strerror(errno));
        int used = SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1;
        if (!used && key_encrypted(key))
            return tls_fail(err, errlen, kat, kname, "the key in %s is encrypted; mpmd asks for "
                            "no pass phrase (write it unencrypted, readable by root only: "
                            "openssl pkey -in %s -out NEW.key)", key, key);
        if (!used)
            return tls_fail(err, errlen, kat, kname, i < t->n_keys
                            ? "cannot use the private key in %s with the certificate in %s"
                            : "%s holds no private key (no SSLCertificateKeyFile follows %s)",
                            key, cert);
        if (SSL_CTX_check_private_key(ctx) != 1)
            return tls_fail(err, errlen, kat, kname, "the key in %s does not match the "
                            "certificate in %s", key, cert);
    }
    return 0;
}

static int apply_conf_cmds(SSL_CTX *ctx, const struct tls_conf *t, char *err, size_t errlen)
{
    if (t->n_cmds == 0)
        return 0;
    SSL_CONF_CTX *cc = SSL_CONF_CTX_new();
    if (cc == NULL)
        return tls_fail(err, errlen, &t->cmds[0].at, "SSLOpenSSLConfCmd", "out of memory");
    SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER |
                           SSL_CONF_FLAG_CERTIFICATE | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cc, ctx);
    int status = 0;
    for (int i = 0; i < t->n_cmds && status == 0; i++) {
        ERR_clear_error();
        int r = SSL_CONF_cmd(cc, t->cmds[i].name, t->cmds[i].value);
        if (r == -2)
            status = tls_fail(err, errlen, &t->cmds[i].at, "SSLOpenSSLConfCmd",
                              "OpenSSL knows no command '%s'", t->cmds[i].name);
        else if (r <= 0)
            status = tls_fail(err, errlen, &t->cmds[i].at, "SSLOpenSSLConfCmd",
                              "%s: bad value '%s'", t->cmds[i].name, t->cmds[i].value);
    }
    if (status == 0 && SSL_CONF_CTX_finish(cc) != 1)
        status = tls_fail(err, errlen, &t->cmds[0].at, "SSLOpenSSLConfCmd", "cannot apply");
    SSL_CONF_CTX_free(cc);
    return status;
}

static int build_ctx(struct config *site, struct tls_conf *t, const char *root, char *err,
                     size_t errlen)
{
    if (t->n_certs == 0)
        return tls_fail(err, errlen, &t->engine_at, "SSLEngine", "on, but no "
                        "SSLCertificateFile for this site");
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return tls_fail(err, errlen, &t->engine_at, "SSLEngine", "cannot make a TLS context");
    t->ctx = ctx;
    SSL_CTX_set_app_data(ctx, site);
    set_protocols(ctx, t->protocols != -1 ? (unsigned)t->protocols : TLS_P_DEFAULT);
    uint64_t opts = SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                    SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_ECDH_USE;
    if (t->honor_order != 0)
        opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
    if (t->tickets == 0)
        opts |= SSL_OP_NO_TICKET;
#ifdef SSL_OP_ENABLE_KTLS
    if (tls_kernel_available())
        opts |= SSL_OP_ENABLE_KTLS;
#endif
    SSL_CTX_set_options(ctx, opts);
    if (t->tickets == 0)
        SSL_CTX_set_num_tickets(ctx, 0);
    /* Nothing is kept per session in a child: resumption is by ticket,
     * which any child can decrypt. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_set_timeout(ctx, t->session_timeout > 0 ? t->session_timeout : 300);  /* Apache's */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    unsigned char sid[8];
    memcpy(sid, "mpmd", 4);
    memcpy(sid + 4, &site->site_id, 4);
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_default_passwd_cb(ctx, no_pass_phrase);
    SSL_CTX_set_dh_auto(ctx, 1);              /* DHE suites of the default list: RFC 7919 groups */
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx, t->ciphers ? t->ciphers : TLS_CIPHERS_DEFAULT) != 1)
        return tls_fail(err, errlen, &t->ciphers_at, "SSLCipherSuite", "no cipher matches '%s'",
                        t->ciphers ? t->ciphers : TLS_CIPHERS_DEFAULT);
    if (SSL_CTX_set_ciphersuites(ctx, t->ciphers13 ? t->ciphers13 : TLS_CIPHERS13_DEFAULT) != 1)
        return tls_fail(err, errlen, &t->ciphers13_at, "SSLCipherSuite",
                        "no TLS 1.3 suite matches '%s'",
                        t->ciphers13 ? t->ciphers13 : TLS_CIPHERS13_DEFAULT);
    if (load_pairs(ctx, t, root, err, errlen) == -1)
        return -1;
    return apply_conf_cmds(ctx, t, err, errlen);
}

/* ---- SNI: moving a connection to another site ---------------------------------- */

void tls_switch_site(struct ssl_st *ssl, const struct config *site)
{
    const struct tls_conf *t = tls_site_conf(site);
    if (t == NULL || t->ctx == NULL || t->ctx == SSL_get_SSL_CTX(ssl))
        return;
    SSL_CTX *ctx = t->ctx;
    SSL_set_SSL_CTX(ssl, ctx);        /* certificates and keys only */
    SSL_clear_options(ssl, SSL_get_options(ssl));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
    SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
    SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
    SSL_set_cipher_list(ssl, t->ciphers ? t->ciphers : TLS_CIPHERS_DEFAULT);
    SSL_set_ciphersuites(ssl, t->ciphers13 ? t->ciphers13 : TLS_CIPHERS13_DEFAULT);
    SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(ctx));
    if (t->n_cmds == 0)
        return;
    /* The site's SSLOpenSSLConfCmd lines again, on the connection: what
     * they set (Ciphersuites, Groups, ...) is not carried by the swap.
     * They were checked when the context was built; certificate commands
     * are left out (the context has those). */
    SSL_CONF_CTX *cc = SSL_CONF_CTX_new();
    if (cc == NULL)
        return;
    SSL_CONF_CTX_set_flags(cc, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER);
    SSL_CONF_CTX_set_ssl(cc, ssl);
    for (int i = 0; i < t->n_cmds; i++)
        SSL_CONF_cmd(cc, t->cmds[i].name, t->cmds[i].value);
    SSL_CONF_CTX_finish(cc);
    SSL_CONF_CTX_free(cc);
    ERR_clear_error();
}

/* ---- which Listen sockets speak TLS ------------------------------------------ */

/* Whether vhost address A covers listen address L (a wildcard Listen is
 * covered by "*" addresses and any IP of its port). */
static int covers(const struct vhost_addr *a, const struct listen_spec *l, int *specific)
{
    const struct sockaddr *sa = (const struct sockaddr *)&l->addr;
    int port = 0, family = sa->sa_family, wildcard = 1;
    const unsigned char *ip = NULL;
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        port = ntohs(in->sin_port);
        ip = (const unsigned char *)&in->sin_addr;
        wildcard = in->sin_addr.s_addr == htonl(INADDR_ANY);
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        port = ntohs(in6->sin6_port);
        ip = in6->sin6_addr.s6_addr;
        wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    }
    if (a->port && a->port != port)
        return 0;
    *specific = !a->any_ip;
    if (a->any_ip || wildcard)
        return 1;
    return a->family == family && memcmp(a->ip, ip, family == AF_INET ? 4 : 16) == 0;
}

/* The site that owns listen address L: the first virtual host with an
 * IP-specific address covering it, else the first with "*", else the
 * main server (route_site's order without a host name). */
static const struct config *owner(const struct config *cfg, const struct listen_spec *l)
{
    const struct config *any = NULL;
    for (int i = 0; i < cfg->n_vhosts; i++)
        for (int k = 0; k < cfg->vhosts[i].n_addrs; k++) {
            int specific = 0;
            if (!covers(&cfg->vhosts[i].addrs[k], l, &specific))
                continue;
            if (specific)
                return cfg->vhosts[i].cfg;
            if (any == NULL)
                any = cfg->vhosts[i].cfg;
        }
    return any ? any : cfg;
}

/* Decide for every Listen whether it speaks TLS and whether it takes the
 * PROXY protocol: both by the site that owns its address (SSLEngine,
 * RemoteIPProxyProtocol), unless the Listen's own words say so. */
static int mark_listeners(struct config *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < cfg->n_listen; i++) {
        struct listen_spec *l = &cfg->listen[i];
        const struct config *site = owner(cfg, l);
        l->proxy = l->proxy || site->remoteip_proxy_protocol;
        l->proxy_site = l->proxy ? site : NULL;
        const struct tls_conf *t = tls_site_conf(site);
        int has_ctx = t != NULL && t->ctx != NULL;
        l->tls = l->proto == LISTEN_PROTO_HTTPS ||
                 (l->proto == LISTEN_PROTO_DEFAULT && has_ctx);
        l->tls_site = l->tls ? site : NULL;
        if (l->tls && !has_ctx) {
            struct tls_where at = {l->file, l->line};
            ERR_clear_error();
            return tls_fail(err, errlen, &at, "Listen", "%s is https, but the site that owns "
                            "it (%s) has no SSLEngine on with a certificate", l->text,
                            site == cfg ? "the main server" : site->server_name
                            ? site->server_name : "a virtual host");
        }
    }
    return 0;
}

int tls_build(struct config *cfg, char *err, size_t errlen)
{
    for (int i = -1; i < cfg->n_vhosts; i++) {
        struct config *site = i < 0 ? cfg : cfg->vhosts[i].cfg;
        struct tls_conf *t = (struct tls_conf *)tls_site_conf(site);
        if (t == NULL || t->engine != 1 || t->ctx != NULL)
            continue;
        if (build_ctx(site, t, cfg->server_root, err, errlen) == -1)
            return -1;
    }
    return mark_listeners(cfg, err, errlen);
}

/* ---- Apache's "compatible SSL setup" (421 Misdirected Request) --------------- */

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int same_paths(const struct tls_path *a, int na, const struct tls_path *b, int nb)
{
    if (na != nb)
        return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].path, b[i].path) != 0)
            return 0;
    return 1;
}

int tls_compatible(const struct config *a, const struct config *b)
{
    if (a == b)
        return 1;
    const struct tls_conf *x = tls_site_conf(a), *y = tls_site_conf(b);
    if (x == NULL || y == NULL || x->ctx == NULL || y->ctx == NULL)
        return 0;
    /* What takes effect: an unset setting is its default. */
    int px = x->protocols != -1 ? x->protocols : (int)TLS_P_DEFAULT;
    int py = y->protocols != -1 ? y->protocols : (int)TLS_P_DEFAULT;
    return px == py &&
           same_str(x->ciphers ? x->ciphers : TLS_CIPHERS_DEFAULT,
                    y->ciphers ? y->ciphers : TLS_CIPHERS_DEFAULT) &&
           same_str(x->ciphers13 ? x->ciphers13 : TLS_CIPHERS13_DEFAULT,
                    y->ciphers13 ? y->ciphers13 : TLS_CIPHERS13_DEFAULT) &&
           same_paths(x->certs, x->n_certs, y->certs, y->n_certs) &&
           same_paths(x->keys, x->n_keys, y->keys, y->n_keys);
}

/* ---- session-ticket keys --------------------------------------------------------- */

static int fresh_key(struct tls_ticket_key *k)
{
    return RAND_bytes(k->name, sizeof k->name) == 1 &&
           RAND_priv_bytes(k->aes, sizeof k->aes) == 1 &&
           RAND_priv_bytes(k->hmac, sizeof k->hmac) == 1 ? 0 : -1;
}

static void store_key(_Atomic uint64_t *to, const struct tls_ticket_key *key)
{
    uint64_t w[TLS_KEY_WORDS];
    memcpy(w, key, sizeof w);
    for (size_t i = 0; i < TLS_KEY_WORDS; i++)
        atomic_store_explicit(&to[i], w[i], memory_order_relaxed);
    OPENSSL_cleanse(w, sizeof w);
}

/* Acquire loads: the sequence number read after them cannot be read
 * before them (a seqlock without a fence). */
static void load_key(const _Atomic uint64_t *from, struct tls_ticket_key *key)
{
    uint64_t w[TLS_KEY_WORDS];
    for (size_t i = 0; i < TLS_KEY_WORDS; i++)
        w[i] = atomic_load_explicit(&from[i], memory_order_acquire);
    memcpy(key, w, sizeof w);
    OPENSSL_cleanse(w, sizeof w);
}

struct tls_keys *tls_keys_create(void)
{
    struct tls_keys *k = mmap(NULL, sizeof *k, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (k == MAP_FAILED)
        return NULL;
    madvise(k, sizeof *k, MADV_DONTDUMP);
    mlock(k, sizeof *k);                       /* best effort: never swapped out */
    struct tls_ticket_key first;
    if (fresh_key(&first) == -1) {
        tls_keys_destroy(k);
        errno = EIO;
        return NULL;
    }
    store_key(k->current, &first);
    OPENSSL_cleanse(&first, sizeof first);
    return k;
}

int tls_keys_rotate(struct tls_keys *k, int lifetime, int64_t now)
{
    if (k == NULL)
        return 0;
    if (k->made == 0)
        k->made = now;
    if (now - k->made < (lifetime > 0 ? lifetime : TLS_TICKET_LIFETIME_DEFAULT))
        return 0;
    struct tls_ticket_key next;
    if (fresh_key(&next) == -1)
        return 0;
    struct tls_ticket_key cur;
    load_key(k->current, &cur);
    atomic_fetch_add_explicit(&k->seq, 1, memory_order_acq_rel);   /* odd: writing */
    store_key(k->previous, &cur);
    store_key(k->current, &next);
    atomic_store_explicit(&k->has_previous, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&k->seq, 1, memory_order_release);
    k->made = now;
    OPENSSL_cleanse(&cur, sizeof cur);
    OPENSSL_cleanse(&next, sizeof next);
    return 1;
}

void tls_keys_destroy(struct tls_keys *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k, sizeof *k);
    munmap(k, sizeof *k);
}

void tls_keys_read(const struct tls_keys *k, struct tls_ticket_key *cur,
                   struct tls_ticket_key *prev, int *has_prev)
{
    for (;;) {                    /* the supervisor rotates rarely: hardly ever twice */
        uint32_t s = atomic_load_explicit(&k->seq, memory_order_acquire);
        if (s & 1)
            continue;
        load_key(k->current, cur);
        load_key(k->previous, prev);
        *has_prev = atomic_load_explicit(&k->has_previous, memory_order_acquire);
        if (atomic_load_explicit(&k->seq, memory_order_relaxed) == s)
            return;
    }
}

static const EVP_CIPHER *ticket_cipher(const struct tls_conf *t)
{
    return t->ticket_cipher ? t->ticket_cipher : EVP_aes_256_cbc();
}

static int hmac_init(EVP_MAC_CTX *hctx, const unsigned char *key)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL's ticket callback: encrypt with the current key; decrypt with
 * the current (1) or the previous (2: issue a fresh ticket), else 0 (a
 * full handshake). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    const struct config *site = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const struct tls_conf *t = site ? tls_site_conf(site) : NULL;
    if (t == NULL || t->ticket_keys == NULL)
        return enc ? -1 : 0;
    struct tls_ticket_key cur, prev;
    int has_prev, r = -1;
    tls_keys_read(t->ticket_keys, &cur, &prev, &has_prev);
    if (enc) {
        memcpy(name, cur.name, 16);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
            EVP_EncryptInit_ex(cctx, ticket_cipher(t), NULL, cur.aes, iv) == 1 &&
            hmac_init(hctx, cur.hmac) == 0)
            r = 1;
    } else {
        const struct tls_ticket_key *k = memcmp(name, cur.name, 16) == 0 ? &cur
                                       : has_prev && memcmp(name, prev.name, 16) == 0 ? &prev
                                       : NULL;
        r = 0;
        /* 2: issue a fresh ticket.  Always under TLS 1.3, whose clients
         * (browsers) use each ticket once (RFC 8446 C.4), as nginx does;
         * and for a ticket of the previous key. */
        if (k && EVP_DecryptInit_ex(cctx, ticket_cipher(t), NULL, k->aes, iv) == 1 &&
            hmac_init(hctx, k->hmac) == 0)
            r = k == &cur && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
    }
    OPENSSL_cleanse(&cur, sizeof cur);
    OPENSSL_cleanse(&prev, sizeof prev);
    return r;
}

void tls_use_keys(struct config *cfg, struct tls_keys *keys)
{
    for (int i = -1; i < cfg->n_vhosts; i++) {
        struct config *site = i < 0 ? cfg : cfg->vhosts[i].cfg;
        struct tls_conf *t = (struct tls_conf *)tls_site_conf(site);
        if (t == NULL || t->ctx == NULL)
            continue;
        t->ticket_keys = keys;
        if (t->ticket_cipher == NULL)
            t->ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
        SSL_CTX_set_tlsext_ticket_key_evp_cb(t->ctx, ticket_cb);
    }
}
