/* fuzz_tls.c: libFuzzer harness for the server side of TLS
 * (src/http/tls_io.c and the contexts of src/core/tls.c): the input is
 * what a client sends on a new connection -- a ClientHello (any of the
 * record forms, SNI, ALPN, a session ticket or PSK) and whatever records
 * follow -- and the server reads it the way src/http/conn.c does.
 *
 * Once per process: a sandbox directory (mkdtemp under $TMPDIR or /tmp,
 * removed at exit) with htdocs/, ECDSA P-256 certificates for a.test,
 * b.test, an RSA 2048 one for a.test (made with OpenSSL's API, self-
 * signed), and a config (loaded with config_load, so tls_build runs) with
 * one https Listen and three virtual hosts on it, differing in what an SNI
 * switch must carry over:
 *   a.test    the address's default: ECDSA and RSA certificates, defaults;
 *   b.test    (and *.b.test) SSLProtocol all, its own cipher list,
 *             SSLOpenSSLConfCmd Curves;
 *   c.test    a.test's certificates, TLS 1.2 only, SSLSessionTickets off.
 * Ticket keys from tls_keys_create (tls_use_keys), SNI by tls_io_prepare,
 * a listening socket on 127.0.0.1:0.
 *
 * Per input: a TCP connection through that socket; tls_io_new on the
 * accepted end with the default site's context; the input goes into the
 * client's end (non-blocking, as the server makes room), then the client
 * shuts its side (FIN); tls_io_read runs until it says 0 or TLS_IO_ERROR,
 * the client's end drained meanwhile (what the server sends is dropped).
 * Checked: a read returns > 0 (never more than asked), 0, TLS_IO_AGAIN
 * with TLS_WANT_READ or TLS_WANT_WRITE, or TLS_IO_ERROR; once the FIN is
 * in, the server does not go on waiting (a level-triggered poller would
 * spin: the socket stays readable) -- it ends within a bounded number of
 * reads; tls_io_sni_site names one of the configured sites.  Then
 * tls_io_close_notify, tls_io_free, both ends closed: nothing may leak
 * (ASan/LSan run the replay).
 *
 * MPMD_FUZZ_VERBOSE=1 prints each input's outcome to stderr.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); one input
 * at a time.  Invariant failures abort() with a message. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define FUZZ_NAME "fuzz_tls"
#include "fuzz_target.h"
#include "mpmd/core/config.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/handler.h"
#include "mpmd/http/tls_io.h"

#define TLS_MAX_INPUT (64 * 1024)      /* bigger inputs are skipped: nothing new, only slow */
#define MAX_READS 4096             /* tls_io_read calls per input, at most */
#define AFTER_FIN_READS 64         /* ... and once the server has seen everything */

static char sandbox[4096];         /* "" until made */
static struct config *cfg;
static struct tls_keys *keys;
static SSL_CTX *server_ctx;        /* the Listen's default site's */
static struct sockaddr_in listen_addr;
static int listen_fd = -1;
static int verbose;

/* ---- once: certificates, config, listening socket ------------------------ */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void cleanup(void)
{
    config_free(cfg);
    cfg = NULL;
    tls_keys_destroy(keys);
    keys = NULL;
    if (listen_fd >= 0)
        close(listen_fd);
    listen_fd = -1;
    if (sandbox[0] != '\0')
        nftw(sandbox, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    sandbox[0] = '\0';
}

static void write_pem(const char *name, EVP_PKEY *key, X509 *cert)
{
    char path[sizeof sandbox + 32];
    snprintf(path, sizeof path, "%s/%s", sandbox, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "%s: %s", path, strerror(errno));
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_X509(f, cert);
    CHECK(ok == 1 && fclose(f) == 0, "writing %s", path);
}

/* KEY's self-signed certificate for CN (subject and SAN), to NAME. */
static void make_cert(const char *name, EVP_PKEY *key, const char *cn, long serial)
{
    char san[64];
    X509 *x = X509_new();
    CHECK(x != NULL, "X509_new");
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    snprintf(san, sizeof san, "DNS:%s", cn);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    CHECK(ext != NULL && X509_add_ext(x, ext, -1) == 1, "SAN %s", san);
    X509_EXTENSION_free(ext);
    CHECK(X509_sign(x, key, EVP_sha256()) > 0, "X509_sign");
    write_pem(name, NULL, x);
    X509_free(x);
}

static void make_pair(const char *base, EVP_PKEY *key, const char *cn, long serial)
{
    char name[32];
    CHECK(key != NULL, "key generation for %s", base);
    snprintf(name, sizeof name, "%s.key", base);
    write_pem(name, key, NULL);
    snprintf(name, sizeof name, "%s.crt", base);
    make_cert(name, key, cn, serial);
    EVP_PKEY_free(key);
}

static const char conf_text[] =
    "Listen 127.0.0.1:8443 https\n"
    "ServerName main.test\n"
    "<VirtualHost 127.0.0.1>\n"
    "ServerName a.test\n"
    "SSLEngine on\n"
    "SSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
    "SSLCertificateFile a-rsa.crt\nSSLCertificateKeyFile a-rsa.key\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1>\n"
    "ServerName b.test\nServerAlias *.b.test\n"
    "SSLEngine on\n"
    "SSLCertificateFile b.crt\nSSLCertificateKeyFile b.key\n"
    "SSLProtocol all\n"
    "SSLCipherSuite HIGH:!aNULL:!MD5\n"
    "SSLCipherSuite TLSv1.3 TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\n"
    "SSLOpenSSLConfCmd Curves X25519:P-256\n"
    "</VirtualHost>\n"
    "<VirtualHost 127.0.0.1>\n"
    "ServerName c.test\n"
    "SSLEngine on\n"
    "SSLCertificateFile a.crt\nSSLCertificateKeyFile a.key\n"
    "SSLProtocol TLSv1.2\nSSLSessionTickets off\n"
    "</VirtualHost>\n";

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    char path[sizeof sandbox + 32], err[1024] = "";
    snprintf(sandbox, sizeof sandbox, "%s/mpmd-fuzz-tls.XXXXXX", tmp);
    CHECK(mkdtemp(sandbox) != NULL, "mkdtemp(%s): %s", sandbox, strerror(errno));
    atexit(cleanup);
    snprintf(path, sizeof path, "%s/htdocs", sandbox);
    CHECK(mkdir(path, 0755) == 0, "mkdir(%s): %s", path, strerror(errno));
    make_pair("a", EVP_EC_gen("P-256"), "a.test", 1);
    make_pair("a-rsa", EVP_RSA_gen(2048), "a.test", 2);
    make_pair("b", EVP_EC_gen("P-256"), "b.test", 3);
    snprintf(path, sizeof path, "%s/tls.conf", sandbox);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL && fputs(conf_text, f) >= 0 && fclose(f) == 0, "writing %s", path);
    cfg = config_load(path, sandbox, err, sizeof err);
    CHECK(cfg != NULL, "the harness's config is refused: %s", err);
    CHECK(cfg->n_vhosts == 3 && cfg->n_listen == 1 && cfg->listen[0].tls, "config as written");
    keys = tls_keys_create();
    CHECK(keys != NULL, "tls_keys_create: %s", strerror(errno));
    tls_use_keys(cfg, keys);
    tls_io_prepare(cfg);
    const struct tls_conf *t = tls_site_conf(cfg->listen[0].tls_site);
    CHECK(t != NULL && t->ctx != NULL, "the Listen's site has a context");
    server_ctx = t->ctx;

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(listen_fd >= 0, "socket: %s", strerror(errno));
    socklen_t len = sizeof listen_addr;
    listen_addr.sin_family = AF_INET;
    listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof listen_addr) == 0 &&
          listen(listen_fd, 16) == 0 &&
          getsockname(listen_fd, (struct sockaddr *)&listen_addr, &len) == 0,
          "listening on 127.0.0.1: %s", strerror(errno));
    const char *v = getenv("MPMD_FUZZ_VERBOSE");
    verbose = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

/* ---- per input --------------------------------------------------------------- */

static void nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    CHECK(fl != -1 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK: %s",
          strerror(errno));
}

/* Read and drop what the server sent the client. */
static void drain(int fd)
{
    char sink[16384];
    while (recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > TLS_MAX_INPUT)
        return 0;
    if (cfg == NULL)
        setup();

    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(cfd >= 0, "socket: %s", strerror(errno));
    CHECK(connect(cfd, (struct sockaddr *)&listen_addr, sizeof listen_addr) == 0, "connect: %s",
          strerror(errno));
    int sfd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    CHECK(sfd >= 0, "accept: %s", strerror(errno));
    nonblocking(sfd);
    nonblocking(cfd);

    SSL *ssl = tls_io_new(server_ctx, sfd, NULL);
    CHECK(ssl != NULL, "tls_io_new");

    size_t sent = 0;
    int shut = 0, after_fin = 0, reads = 0, data_bytes = 0;
    ssize_t r = TLS_IO_AGAIN;
    unsigned char buf[4096];
    for (reads = 0; reads < MAX_READS; reads++) {
        if (sent < size) {
            ssize_t n = send(cfd, data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                sent += (size_t)n;
            else
                CHECK(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EPIPE ||
                                  errno == ECONNRESET), "send: %s", strerror(errno));
            if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
                sent = size;              /* the server closed its side: stop feeding */
        }
        if (sent == size && !shut) {
            shutdown(cfd, SHUT_WR);
            shut = 1;
        }
        drain(cfd);
        int want = -1;
        size_t ask = 1 + (size_t)(reads * 997) % sizeof buf;   /* odd sizes too */
        r = tls_io_read(ssl, buf, ask, &want);
        if (r > 0) {
            CHECK((size_t)r <= ask, "read %zd bytes into %zu", r, ask);
            data_bytes += (int)r;
            continue;
        }
        if (r == 0 || r == TLS_IO_ERROR)
            break;
        CHECK(r == TLS_IO_AGAIN, "tls_io_read returned %zd", r);
        CHECK(want == TLS_WANT_READ || want == TLS_WANT_WRITE, "AGAIN with want %d", want);
        if (!shut)
            continue;
        /* Everything sent and the FIN: the socket is (or is about to be)
         * readable; a server still waiting after many reads would spin. */
        CHECK(++after_fin <= AFTER_FIN_READS, "still waiting (want %d) %d reads after the "
              "client's FIN", want, after_fin);
        struct pollfd p = {.fd = sfd, .events = want == TLS_WANT_WRITE ? POLLOUT : POLLIN};
        CHECK(poll(&p, 1, 2000) == 1, "the server waits for an event that does not come "
              "(want %d)", want);
    }
    CHECK(reads < MAX_READS, "no end after %d reads", reads);

    int named = -1;
    const struct config *site = tls_io_sni_site(ssl, &named);
    int known = site == cfg;
    for (int i = 0; i < cfg->n_vhosts; i++)
        known |= site == cfg->vhosts[i].cfg;
    CHECK(known && (named == 0 || named == 1), "tls_io_sni_site: not a configured site");
    struct tls_info info;
    tls_io_info(ssl, &info);
    CHECK(info.protocol != NULL && info.cipher != NULL, "tls_io_info");
    if (verbose)
        fprintf(stderr, "fuzz_tls: %zu bytes: %s after %d reads (%d data bytes), %s, site %s, "
                "SNI %s\n", size, r == 0 ? "end" : r == TLS_IO_ERROR ? "error" : "?", reads + 1,
                data_bytes, info.protocol, site->server_name ? site->server_name : "-",
                info.sni ? info.sni : "-");
    ERR_clear_error();

    tls_io_close_notify(ssl);
    tls_io_free(ssl);
    ERR_clear_error();
    close(sfd);
    close(cfd);
    return 0;
}
