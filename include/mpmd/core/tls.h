/* tls.h: HTTPS configuration (mod_ssl's directives), the OpenSSL contexts
 * built from it, and the session-ticket keys every child shares.
 *
 * The SSL* directives are a configuration module (module.h) of the core:
 * each site (the main server, each <VirtualHost>) gets a struct tls_conf,
 * a virtual host's merged over the main server's as Apache merges them.
 * config_load (never config_parse_text: it reads no files) then builds one
 * SSL_CTX per site with SSLEngine on, reading certificates and keys in the
 * supervisor, as root, before children drop privileges; a certificate
 * that cannot be read, or a key that does not match, is a config error
 * naming FILE:LINE of the directive.  It also decides which Listen
 * sockets speak TLS.
 *
 * Ticket keys (struct tls_keys) live in a shared mapping the supervisor
 * creates once and rotates on its maintenance tick; children only read
 * them, under a sequence number.  Connection I/O over TLS is the http
 * layer's (src/http/tls_io.c). */
#ifndef MPMD_TLS_H
#define MPMD_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mpmd/core/module.h"

struct config;
struct ssl_ctx_st;                 /* OpenSSL's SSL_CTX */

#define TLS_MAX_CERTS 4            /* SSLCertificateFile lines of one site */
#define TLS_MAX_CMDS 16            /* SSLOpenSSLConfCmd lines of one site */

/* SSLProtocol bits. */
#define TLS_P_SSLV3 1u
#define TLS_P_TLS1 2u
#define TLS_P_TLS11 4u
#define TLS_P_TLS12 8u
#define TLS_P_TLS13 16u
#define TLS_P_ALL (TLS_P_TLS1 | TLS_P_TLS11 | TLS_P_TLS12 | TLS_P_TLS13) /* Apache's "all" */
#define TLS_P_DEFAULT (TLS_P_TLS12 | TLS_P_TLS13)

/* Where a directive stood, for messages after parsing. */
struct tls_where {
    const char *file;             /* in the config's files (valid while it lives) */
    int line;
};

struct tls_path {
    char *path;                   /* as written; absolute once tls_build ran; owned */
    struct tls_where at;
};

struct tls_cmd {
    char *name, *value;           /* owned */
    struct tls_where at;
};

/* One site's SSL* directives (-1: not set here). */
struct tls_conf {
    int engine;                   /* SSLEngine */
    struct tls_path certs[TLS_MAX_CERTS]; /* SSLCertificateFile, in order */
    int n_certs;
    struct tls_path keys[TLS_MAX_CERTS];  /* SSLCertificateKeyFile: keys[i] goes with
                                   * certs[i]; missing: the key is in the cert file */
    int n_keys;
    int protocols;                /* SSLProtocol: TLS_P_* bits */
    char *ciphers;                /* SSLCipherSuite [SSL] (TLS 1.2 and below); owned */
    char *ciphers13;              /* SSLCipherSuite TLSv1.3; owned */
    int honor_order;              /* SSLHonorCipherOrder */
    int tickets;                  /* SSLSessionTickets */
    int ticket_lifetime;          /* SSLSessionTicketKeyLifetime (main server only) */
    int session_timeout;          /* SSLSessionCacheTimeout: seconds a session (ticket)
                                   * may be resumed */
    struct tls_cmd cmds[TLS_MAX_CMDS];    /* SSLOpenSSLConfCmd, in order */
    int n_cmds;
    struct tls_where engine_at;   /* where SSLEngine was set, for messages */
    struct tls_where ciphers_at, ciphers13_at; /* where SSLCipherSuite was */
    struct ssl_ctx_st *ctx;       /* built by tls_build (owned); NULL: no TLS here */
    struct tls_keys *ticket_keys; /* the server's ticket keys (tls_use_keys), not owned */
    struct evp_cipher_st *ticket_cipher; /* AES-256-CBC, fetched once (tls_use_keys): an
                                   * EVP_aes_256_cbc() looks it up on every ticket */
};

extern const struct conf_module tls_conf_module;

#define TLS_TICKET_LIFETIME_DEFAULT 43200  /* seconds a ticket key encrypts */
/* The defaults, as config text (documented in the reference). */
#define TLS_CIPHERS_DEFAULT "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERS13_DEFAULT "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:" \
    "TLS_CHACHA20_POLY1305_SHA256"

/* SITE's TLS settings (the main server's when SITE sets none), or NULL. */
const struct tls_conf *tls_site_conf(const struct config *site);

/* The site whose context CTX is (set by tls_build). */
const struct config *tls_ctx_site(const struct ssl_ctx_st *ctx);

/* Build every site's SSL_CTX and mark the TLS Listen sockets of CFG
 * (config_load calls it).  Returns 0, or -1 with "FILE:LINE: Directive:
 * reason" in ERR. */
int tls_build(struct config *cfg, char *err, size_t errlen);

/* Move the handshake on SSL to SITE's context (SNI): its certificates,
 * and what SSL_set_SSL_CTX leaves behind (options, versions, ciphers,
 * tickets, its SSLOpenSSLConfCmd lines), as mod_ssl does.  No-op when
 * SITE has no TLS or is the current one. */
struct ssl_st;
void tls_switch_site(struct ssl_st *ssl, const struct config *site);

/* Two sites can serve each other's requests on one TLS connection
 * (Apache's ssl_server_compatible: same certificates, keys, protocols
 * and ciphers). */
int tls_compatible(const struct config *a, const struct config *b);

/* Whether this kernel can do TLS in the kernel (/proc/net/tls_stat). */
int tls_kernel_available(void);

/* ---- session-ticket keys ------------------------------------------------ */

struct tls_ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
};

/* Shared, one per server: made by tls_keys_create in the supervisor,
 * inherited by every child through fork.  SEQ is odd while the
 * supervisor writes. */
#define TLS_KEY_WORDS (sizeof(struct tls_ticket_key) / sizeof(uint64_t))
_Static_assert(sizeof(struct tls_ticket_key) % sizeof(uint64_t) == 0, "a key is whole words");

struct tls_keys {
    _Atomic uint32_t seq;
    _Atomic uint64_t current[TLS_KEY_WORDS];  /* struct tls_ticket_key, word by word, so */
    _Atomic uint64_t previous[TLS_KEY_WORDS]; /* a reader never races the writer (and */
    _Atomic int has_previous;                 /* no fence: ThreadSanitizer has none) */
    int64_t made;                 /* monotonic second CURRENT was made (supervisor's) */
};

/* A consistent copy of the keys (any process, any thread). */
void tls_keys_read(const struct tls_keys *k, struct tls_ticket_key *cur,
                   struct tls_ticket_key *prev, int *has_prev);

/* A new shared mapping with a fresh key (never written to disk, not in
 * core dumps), or NULL with errno set. */
struct tls_keys *tls_keys_create(void);
/* Make a new key when the current one is LIFETIME seconds old (NOW in
 * monotonic seconds); the old one becomes the previous.  Supervisor only.
 * Returns 1 when it rotated. */
int tls_keys_rotate(struct tls_keys *k, int lifetime, int64_t now);
void tls_keys_destroy(struct tls_keys *k);
/* Hand KEYS to every context of CFG (supervisor, before forking). */
void tls_use_keys(struct config *cfg, struct tls_keys *keys);

#endif
