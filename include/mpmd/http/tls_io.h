/* tls_io.h: reading and writing a client connection through TLS
 * (OpenSSL, non-blocking), for conn.c and tunnel.c.
 *
 * The handshake is not a separate step: the first tls_io_read drives it
 * (OpenSSL's accept state), so the state machines of plain and TLS
 * connections are the same.  Each call says, through *WANT, which event
 * to wait for when it would block: TLS_WANT_READ or TLS_WANT_WRITE (a
 * read may have to write, a write may have to read).  Decrypted bytes
 * OpenSSL still holds raise no event: callers check tls_io_pending before
 * they wait.  Runs on the connection's owner thread. */
#ifndef MPMD_TLS_IO_H
#define MPMD_TLS_IO_H

#include <stddef.h>
#include <sys/types.h>

struct ssl_st;                     /* OpenSSL's SSL */
struct ssl_ctx_st;
struct config;
struct tls_info;

enum tls_want { TLS_WANT_NONE = 0, TLS_WANT_READ = 1, TLS_WANT_WRITE = 2 };

/* Results of tls_io_read/write/sendfile besides a byte count. */
#define TLS_IO_AGAIN (-1)          /* would block: wait for *WANT */
#define TLS_IO_ERROR (-2)          /* the peer is gone, or TLS failed (a bad record, a
                                    * refused handshake: logged at info by the caller) */

/* A server-side TLS connection on FD, starting with CTX (the certificate
 * of the site that owns the address; SNI may switch it); APP is handed to
 * the SNI callback (the struct conn).  NULL when out of memory. */
struct ssl_st *tls_io_new(struct ssl_ctx_st *ctx, int fd, void *app);

/* Decrypted bytes into BUF: > 0 bytes, 0 at the peer's close_notify (or
 * a FIN: IGNORE_UNEXPECTED_EOF), TLS_IO_AGAIN, TLS_IO_ERROR. */
ssize_t tls_io_read(struct ssl_st *ssl, void *buf, size_t len, int *want);

/* Encrypt and send LEN bytes of BUF: > 0 bytes taken (partial writes
 * happen), TLS_IO_AGAIN (then call again with the same bytes, at least as
 * many), TLS_IO_ERROR. */
ssize_t tls_io_write(struct ssl_st *ssl, const void *buf, size_t len, int *want);

/* Send LEN bytes of file FD at OFFSET: SSL_sendfile when kernel TLS took
 * over the connection's sending, else TLS_IO_ERROR with *WANT 0 and the
 * caller reads and writes.  > 0 bytes, TLS_IO_AGAIN, TLS_IO_ERROR. */
ssize_t tls_io_sendfile(struct ssl_st *ssl, int fd, off_t offset, size_t len, int *want);
int tls_io_ktls_send(struct ssl_st *ssl);

/* Why the last call on this thread failed (OpenSSL's reason: "wrong
 * version number", "no shared cipher", ...), for a log line; clears it.
 * *PLAIN_HTTP: the client spoke plain HTTP instead of TLS. */
const char *tls_io_why(const struct ssl_st *ssl, int *plain_http);

/* Whether the handshake is still under way, and the bytes read so far
 * (0: a port probe that sent nothing, not worth a log line). */
int tls_io_handshaking(const struct ssl_st *ssl);
unsigned long tls_io_received(const struct ssl_st *ssl);

/* Decrypted bytes OpenSSL holds that no poll/epoll would report (half a
 * record is not: the rest of it raises an event). */
int tls_io_pending(const struct ssl_st *ssl);

/* Send our close_notify if the connection is sound (once, not waiting for
 * the peer's), so a client sees a clean end of the data. */
void tls_io_close_notify(struct ssl_st *ssl);

void tls_io_free(struct ssl_st *ssl);

/* What the access log and scripts see of a connection (handler.h). */
void tls_io_info(const struct ssl_st *ssl, struct tls_info *out);

/* The site the client named by SNI (whose certificate it got), and
 * whether it sent a name at all. */
const struct config *tls_io_sni_site(const struct ssl_st *ssl, int *named);

/* Let every context of CFG choose its site by SNI (the client-hello
 * callback); the supervisor calls it once the config is loaded. */
void tls_io_prepare(const struct config *cfg);

#endif
