/* htpasswd.c: user and group files as Apache's htpasswd and
 * mod_authz_groupfile know them, password hashes, Basic credentials
 * (htpasswd.h).
 *
 * No state and no I/O: any thread.  libcrypt (libxcrypt) computes
 * bcrypt, MD5-crypt, SHA-crypt and DES; APR1-MD5 is md5-crypt under the
 * magic "$apr1$", which libcrypt does not know, so it is done here with
 * OpenSSL's MD5; {SHA} is base64(SHA-1). */
#include "config.h"

#include "mpmd/modules/htpasswd.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HASH_MAX 256              /* longer hash fields are not any format we know */
#define CREDENTIALS_MAX 1024      /* "user:password" decoded; longer is refused */

/* Equal lengths and bytes, in time that depends on the length only. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- APR1-MD5 ------------------------------------------------------------- */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static char *to64(char *s, unsigned long v, int n)
{
    while (n-- > 0) {
        *s++ = itoa64[v & 0x3f];
        v >>= 6;
    }
    return s;
}

static int md5_of(const void *a, size_t alen, const void *b, size_t blen, const void *c,
                  size_t clen, unsigned char out[16])
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestInit_ex(m, EVP_md5(), NULL) && EVP_DigestUpdate(m, a, alen) &&
             EVP_DigestUpdate(m, b, blen) && EVP_DigestUpdate(m, c, clen) &&
             EVP_DigestFinal_ex(m, out, NULL);
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

/* The first MD5 of md5-crypt: password, magic, salt, then the
 * "alternate" sum and the bits of the password's length. */
static int apr1_initial(const char *pw, size_t pl, const char *salt, size_t sl,
                        unsigned char fin[16])
{
    unsigned char alt[16];
    if (md5_of(pw, pl, salt, sl, pw, pl, alt) == -1)
        return -1;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestInit_ex(m, EVP_md5(), NULL) && EVP_DigestUpdate(m, pw, pl) &&
             EVP_DigestUpdate(m, "$apr1$", 6) && EVP_DigestUpdate(m, salt, sl);
    for (size_t left = pl; ok && left > 0; left -= left > 16 ? 16 : left)
        ok = EVP_DigestUpdate(m, alt, left > 16 ? 16 : left);
    for (size_t i = pl; ok && i; i >>= 1)
        ok = EVP_DigestUpdate(m, (i & 1) ? "" : pw, 1);
    ok = ok && EVP_DigestFinal_ex(m, fin, NULL);
    EVP_MD_CTX_free(m);
    return ok ? 0 : -1;
}

int htpasswd_apr1(const char *pw, const char *setting, char *out, size_t cap)
{
    if (strncmp(setting, "$apr1$", 6) != 0 || cap < 6 + 8 + 1 + 22 + 1)
        return -1;
    const char *salt = setting + 6;
    size_t sl = strcspn(salt, "$");
    sl = sl > 8 ? 8 : sl;
    size_t pl = strlen(pw);
    unsigned char fin[16];
    if (apr1_initial(pw, pl, salt, sl, fin) == -1)
        return -1;
    for (int i = 0; i < 1000; i++) {
        const void *first = (i & 1) ? (const void *)pw : fin;
        size_t flen = (i & 1) ? pl : 16;
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        int ok = m && EVP_DigestInit_ex(m, EVP_md5(), NULL) && EVP_DigestUpdate(m, first, flen);
        if (ok && i % 3)
            ok = EVP_DigestUpdate(m, salt, sl);
        if (ok && i % 7)
            ok = EVP_DigestUpdate(m, pw, pl);
        ok = ok && ((i & 1) ? EVP_DigestUpdate(m, fin, 16) : EVP_DigestUpdate(m, pw, pl));
        ok = ok && EVP_DigestFinal_ex(m, fin, NULL);
        EVP_MD_CTX_free(m);
        if (!ok)
            return -1;
    }
    char *p = out;
    memcpy(p, "$apr1$", 6);
    memcpy(p + 6, salt, sl);
    p += 6 + sl;
    *p++ = '$';
    static const int order[5][3] = {{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
    for (int k = 0; k < 5; k++)
        p = to64(p, ((unsigned long)fin[order[k][0]] << 16) |
                    ((unsigned long)fin[order[k][1]] << 8) | fin[order[k][2]], 4);
    p = to64(p, fin[11], 2);
    *p = '\0';
    return 0;
}

/* ---- verification ------------------------------------------------------------ */

/* {SHA}base64(SHA-1(pw)). */
static enum htpasswd_verdict verify_sha1(const char *hash, const char *pw)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    SHA1((const unsigned char *)pw, strlen(pw), md);
    EVP_EncodeBlock((unsigned char *)b64, md, SHA_DIGEST_LENGTH);
    return same_secret(hash + 5, b64) ? HTPASSWD_MATCH : HTPASSWD_MISMATCH;
}

/* Whatever libcrypt knows ($2y$, $1$, $5$, $6$, DES). */
static enum htpasswd_verdict verify_crypt(const char *hash, const char *pw)
{
    struct crypt_data *cd = calloc(1, sizeof *cd);   /* 32 KiB: not on a thread's stack */
    if (cd == NULL)
        return HTPASSWD_MISMATCH;
    const char *out = crypt_rn(pw, hash, cd, (int)sizeof *cd);
    enum htpasswd_verdict v = out == NULL || out[0] == '*' ? HTPASSWD_UNKNOWN
                              : same_secret(out, hash) ? HTPASSWD_MATCH
                                                       : HTPASSWD_MISMATCH;
    explicit_bzero(cd, sizeof *cd);
    free(cd);
    return v;
}

static int is_des_crypt(const char *hash)
{
    if (strlen(hash) != 13)
        return 0;
    for (const char *p = hash; *p; p++)
        if (strchr(itoa64, *p) == NULL)
            return 0;
    return 1;
}

enum htpasswd_verdict htpasswd_verify(const char *hash, const char *pw)
{
    if (strncmp(hash, "$apr1$", 6) == 0) {
        char out[64];
        if (htpasswd_apr1(pw, hash, out, sizeof out) == -1)
            return HTPASSWD_UNKNOWN;
        return same_secret(out, hash) ? HTPASSWD_MATCH : HTPASSWD_MISMATCH;
    }
    if (strncmp(hash, "{SHA}", 5) == 0)
        return verify_sha1(hash, pw);
    if (strncmp(hash, "$2y$", 4) == 0 || strncmp(hash, "$2a$", 4) == 0 ||
        strncmp(hash, "$2b$", 4) == 0 || strncmp(hash, "$1$", 3) == 0 ||
        strncmp(hash, "$5$", 3) == 0 || strncmp(hash, "$6$", 3) == 0 || is_des_crypt(hash))
        return verify_crypt(hash, pw);
    return HTPASSWD_UNKNOWN;
}

/* ---- files ------------------------------------------------------------------- */

/* The next line of [*P, END) into *LINE / *LLEN (no '\n', no '\r');
 * 0 at the end. */
static int next_line(const char **p, const char *end, const char **line, size_t *llen)
{
    if (*p >= end)
        return 0;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    *line = *p;
    *llen = (size_t)(stop - *p);
    if (*llen > 0 && (*line)[*llen - 1] == '\r')
        (*llen)--;
    *p = nl ? nl + 1 : end;
    return 1;
}

static int skip_line(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i == len || line[i] == '#';
}

int htpasswd_find(const char *text, size_t len, const char *user, char *hash, size_t cap)
{
    const char *p = text, *end = text + len, *line;
    size_t llen, ulen = user ? strlen(user) : 0;
    while (next_line(&p, end, &line, &llen)) {
        const char *colon = memchr(line, ':', llen);
        if (skip_line(line, llen) || colon == NULL)
            continue;
        if (user && ((size_t)(colon - line) != ulen || memcmp(line, user, ulen) != 0))
            continue;
        const char *h = colon + 1, *hend = line + llen;
        const char *next = memchr(h, ':', (size_t)(hend - h));
        size_t hlen = (size_t)((next ? next : hend) - h);
        if (hlen >= cap || hlen >= HASH_MAX)
            return 0;
        memcpy(hash, h, hlen);
        hash[hlen] = '\0';
        return 1;
    }
    return 0;
}

/* Whether the space-separated list [P, END) has NAME. */
static int list_has(const char *p, const char *end, const char *name, size_t nlen)
{
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        if ((size_t)(p - w) == nlen && nlen > 0 && memcmp(w, name, nlen) == 0)
            return 1;
    }
    return 0;
}

int htgroup_member(const char *text, size_t len, const char *group, const char *user)
{
    const char *p = text, *end = text + len, *line;
    size_t llen, glen = strlen(group), ulen = strlen(user);
    while (next_line(&p, end, &line, &llen)) {
        const char *colon = memchr(line, ':', llen);
        if (skip_line(line, llen) || colon == NULL)
            continue;
        const char *g = line;
        while (g < colon && (*g == ' ' || *g == '\t'))
            g++;
        if ((size_t)(colon - g) == glen && memcmp(g, group, glen) == 0 &&
            list_has(colon + 1, line + llen, user, ulen))
            return 1;
    }
    return 0;
}

/* ---- Authorization: Basic ------------------------------------------------------ */

/* The value of base64 digit C, or -1 (runs per byte of every header on
 * the listener: no search). */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Strict base64 of [S, S+LEN) into OUT (CAP bytes): its length, or -1. */
static long b64_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t n = 0;
    unsigned long acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned long)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)n;
}

enum basic_verdict basic_credentials(const char *value, size_t len, char *user, size_t ucap,
                                     char *pw, size_t pcap)
{
    size_t i = 0;
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    if (len - i < 5 || strncasecmp(value + i, "Basic", 5) != 0 ||
        (len - i > 5 && value[i + 5] != ' ' && value[i + 5] != '\t'))
        return BASIC_OTHER_SCHEME;
    for (i += 5; i < len && (value[i] == ' ' || value[i] == '\t'); i++)
        ;
    while (len > i && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    unsigned char dec[CREDENTIALS_MAX];
    long n = b64_decode(value + i, len - i, dec, sizeof dec);
    if (n <= 0 || memchr(dec, '\0', (size_t)n)) {
        explicit_bzero(dec, sizeof dec);   /* a partial decode may hold a password */
        return BASIC_MALFORMED;
    }
    const unsigned char *colon = memchr(dec, ':', (size_t)n);
    size_t ul = colon ? (size_t)(colon - dec) : 0, pl = colon ? (size_t)n - ul - 1 : 0;
    int ok = colon && ul < ucap && pl < pcap;
    if (ok) {
        memcpy(user, dec, ul);
        user[ul] = '\0';
        memcpy(pw, colon + 1, pl);
        pw[pl] = '\0';
    }
    explicit_bzero(dec, (size_t)n);
    return ok ? BASIC_OK : BASIC_MALFORMED;
}
