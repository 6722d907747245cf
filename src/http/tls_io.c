/* tls_io.c: a client connection's bytes through OpenSSL (tls_io.h), and
 * the SNI choice of a site's certificate.
 *
 * Runs on the thread that owns the connection (the listener, or a handler
 * thread); the SNI callback runs inside the first tls_io_read, on that
 * same thread, and only reads the configuration. */
#define _GNU_SOURCE
#include "mpmd/http/tls_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mpmd/core/config.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/handler.h"
#include "mpmd/http/route.h"

struct ssl_st *tls_io_new(struct ssl_ctx_st *ctx, int fd, void *app)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_app_data(ssl, app);
    SSL_set_accept_state(ssl);
    return ssl;
}

/* After a call returned R <= 0: TLS_IO_AGAIN with *WANT, 0 for a clean
 * end (reads), or TLS_IO_ERROR. */
static ssize_t result(SSL *ssl, int r, int *want, int reading)
{
    int e = SSL_get_error(ssl, r);
    *want = TLS_WANT_NONE;
    switch (e) {
    case SSL_ERROR_WANT_READ:
        *want = TLS_WANT_READ;
        return TLS_IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = TLS_WANT_WRITE;
        return TLS_IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return reading ? 0 : TLS_IO_ERROR;
    case SSL_ERROR_SYSCALL:
        if (errno == EINTR) {             /* try again when the socket is ready */
            *want = reading ? TLS_WANT_READ : TLS_WANT_WRITE;
            return TLS_IO_AGAIN;
        }
        /* fall through */
    default:
        return TLS_IO_ERROR;      /* the reason stays queued for tls_io_why */
    }
}

ssize_t tls_io_read(struct ssl_st *ssl, void *buf, size_t len, int *want)
{
    size_t got = 0;
    ERR_clear_error();
    int r = SSL_read_ex(ssl, buf, len, &got);
    if (r == 1) {
        *want = TLS_WANT_NONE;
        return (ssize_t)got;
    }
    return result(ssl, 0, want, 1);
}

ssize_t tls_io_write(struct ssl_st *ssl, const void *buf, size_t len, int *want)
{
    size_t put = 0;
    if (len == 0)
        return 0;
    ERR_clear_error();
    int r = SSL_write_ex(ssl, buf, len, &put);
    if (r == 1) {
        *want = TLS_WANT_NONE;
        return (ssize_t)put;
    }
    return result(ssl, 0, want, 0);
}

int tls_io_ktls_send(struct ssl_st *ssl)
{
    return BIO_get_ktls_send(SSL_get_wbio(ssl));
}

ssize_t tls_io_sendfile(struct ssl_st *ssl, int fd, off_t offset, size_t len, int *want)
{
    *want = TLS_WANT_NONE;
    if (!tls_io_ktls_send(ssl))
        return TLS_IO_ERROR;
    ERR_clear_error();
    ossl_ssize_t n = SSL_sendfile(ssl, fd, offset, len, 0);
    if (n > 0)
        return (ssize_t)n;
    if (BIO_should_retry(SSL_get_wbio(ssl)) || errno == EAGAIN) {
        *want = TLS_WANT_WRITE;
        return TLS_IO_AGAIN;
    }
    ERR_clear_error();
    return TLS_IO_ERROR;
}

const char *tls_io_why(const struct ssl_st *ssl, int *plain_http)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    *plain_http = e && ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST;
    ERR_clear_error();
    if (why)
        return why;
    return SSL_in_init(ssl) ? "the client ended the handshake" : "the connection ended";
}

int tls_io_pending(const struct ssl_st *ssl)
{
    /* SSL_pending, not SSL_has_pending: the latter is also true for half
     * a record, which only more bytes from the socket (an event) complete;
     * waking up for it would spin.  Without read_ahead OpenSSL never holds
     * a whole undecrypted record. */
    return SSL_pending(ssl) > 0;
}

unsigned long tls_io_received(const struct ssl_st *ssl)
{
    return (unsigned long)BIO_number_read(SSL_get_rbio(ssl));
}

int tls_io_handshaking(const struct ssl_st *ssl)
{
    return SSL_in_init(ssl);
}

void tls_io_close_notify(struct ssl_st *ssl)
{
    /* Only on an established, sound connection: after a fatal error
     * OpenSSL has already sent its alert (and SSL_shutdown would fail). */
    if (SSL_is_init_finished(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN)) {
        ERR_clear_error();
        SSL_shutdown(ssl);            /* non-blocking: what does not fit is dropped */
        ERR_clear_error();
    }
}

void tls_io_free(struct ssl_st *ssl)
{
    SSL_free(ssl);
}

void tls_io_info(const struct ssl_st *ssl, struct tls_info *out)
{
    out->protocol = SSL_get_version(ssl);
    out->cipher = SSL_get_cipher_name(ssl);
    out->sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    out->resumed = SSL_session_reused(ssl);
}

const struct config *tls_io_sni_site(const struct ssl_st *ssl, int *named)
{
    *named = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) != NULL;
    return tls_ctx_site(SSL_get_SSL_CTX(ssl));
}

/* ---- SNI ------------------------------------------------------------------ */

/* The host name of a server_name extension (RFC 6066 3), or NULL. */
static const char *sni_name(const unsigned char *p, size_t len, size_t *name_len)
{
    if (len < 5 || (size_t)((p[0] << 8) | p[1]) + 2 != len || p[2] != 0)
        return NULL;
    size_t n = (size_t)((p[3] << 8) | p[4]);
    if (n == 0 || n + 5 > len)
        return NULL;
    *name_len = n;
    return (const char *)p + 5;
}

/* Before the certificate is chosen and before resumption: the site the
 * client names, among those of the connection's address (route_site, the
 * same choice as for Host); an unknown name keeps the address's owner. */
static int on_client_hello(SSL *ssl, int *alert, void *arg)
{
    const struct config *cfg = arg;
    const unsigned char *ext;
    size_t len, name_len = 0;
    (void)alert;
    if (cfg->n_vhosts == 0 ||
        !SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &ext, &len))
        return SSL_CLIENT_HELLO_SUCCESS;
    const char *name = sni_name(ext, len, &name_len);
    struct sockaddr_storage local;
    socklen_t sl = sizeof local;
    if (name == NULL || getsockname(SSL_get_fd(ssl), (struct sockaddr *)&local, &sl) == -1)
        return SSL_CLIENT_HELLO_SUCCESS;
    if (name_len > 1 && name[name_len - 1] == '.')
        name_len--;
    tls_switch_site(ssl, route_site(cfg, (const struct sockaddr *)&local, name, name_len));
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* The server_name callback, after the choice: acknowledge the name (RFC
 * 6066 3: a server that used it says so). */
static int acknowledge_sni(SSL *ssl, int *alert, void *arg)
{
    (void)ssl, (void)alert, (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

void tls_io_prepare(const struct config *cfg)
{
    for (int i = -1; i < cfg->n_vhosts; i++) {
        const struct config *site = i < 0 ? cfg : cfg->vhosts[i].cfg;
        const struct tls_conf *t = tls_site_conf(site);
        if (t && t->ctx) {
            SSL_CTX_set_client_hello_cb(t->ctx, on_client_hello, (void *)cfg);
            SSL_CTX_set_tlsext_servername_callback(t->ctx, acknowledge_sni);
        }
    }
}
