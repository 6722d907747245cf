/* proxyproto.c: parses the PROXY protocol header, versions 1 (a text
 * line) and 2 (binary), as HAProxy's proxy-protocol.txt specifies it.
 *
 * Pure functions over the bytes received so far; conn.c calls pp_parse
 * on the listener thread (or a handler thread, MPM worker) each time more
 * of a connection's first bytes arrive.  Nothing here keeps state. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "mpmd/http/proxyproto.h"

static const unsigned char v2_sig[12] = "\r\n\r\n\0\r\nQUIT\n";
static const char v1_sig[6] = "PROXY ";

static enum pp_status fail(struct pp_result *r, const char *why)
{
    r->error = why;
    return PP_ERROR;
}

/* ---- version 1 ------------------------------------------------------------ */

/* A decimal number of at most MAXLEN digits and no leading zero, the
 * whole of [S, S+N), no greater than MAX.  Returns it, or -1. */
static long v1_number(const char *s, size_t n, size_t maxlen, long max)
{
    if (n == 0 || n > maxlen || (n > 1 && s[0] == '0'))
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

/* An IPv4 address in the spec's form: four numbers 0..255 without
 * leading zeroes, one dot between them. */
static int v1_ipv4(const char *s, size_t n, struct in_addr *out)
{
    unsigned char b[4];
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        size_t end = at;
        while (end < n && s[end] != '.')
            end++;
        long v = v1_number(s + at, end - at, 3, 255);
        if (v < 0 || (i < 3) != (end < n))
            return -1;
        b[i] = (unsigned char)v;
        at = end + 1;
    }
    memcpy(out, b, 4);
    return 0;
}

static int v1_ipv6(const char *s, size_t n, struct in6_addr *out)
{
    char tmp[INET6_ADDRSTRLEN];
    /* inet_pton also takes "::ffff:192.0.2.7": the spec asks for hex groups,
     * but HAProxy writes a v4-mapped address that way (inet_ntop). */
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET6, tmp, out) == 1 ? 0 : -1;
}

/* Store address TEXT and port PORT of family FAM (AF_INET / AF_INET6)
 * into SS.  Returns 0, or -1 when either is malformed. */
static int v1_endpoint(int fam, const char *a, size_t an, const char *p, size_t pn,
                       struct sockaddr_storage *ss)
{
    long port = v1_number(p, pn, 5, 65535);
    memset(ss, 0, sizeof *ss);
    if (port < 0)
        return -1;
    if (fam == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        return v1_ipv4(a, an, &in->sin_addr);
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    return v1_ipv6(a, an, &in6->sin6_addr);
}

/* Split LINE (N bytes, no CRLF) at single spaces into at most MAX
 * fields.  Returns the count, or -1 on an empty field or too many. */
static int v1_fields(const char *line, size_t n, const char **f, size_t *len, int max)
{
    int k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ' ')
            continue;
        if (i == start || k == max)
            return -1;
        f[k] = line + start, len[k] = i - start, k++;
        start = i + 1;
    }
    return k;
}

/* The line LINE (N bytes without its CRLF, "PROXY " included). */
static enum pp_status v1_line(const char *line, size_t n, struct pp_result *r)
{
    const char *f[6];
    size_t len[6];
    if (n >= 13 && memcmp(line, "PROXY UNKNOWN", 13) == 0 && (n == 13 || line[13] == ' ')) {
        r->local = 1;        /* the rest of the line is to be ignored */
        return PP_DONE;
    }
    if (v1_fields(line, n, f, len, 6) != 6)
        return fail(r, "v1: expected PROXY TCP4|TCP6|UNKNOWN SRC DST SPORT DPORT");
    int fam;
    if (len[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
        fam = AF_INET;
    else if (len[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
        fam = AF_INET6;
    else
        return fail(r, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
    if (v1_endpoint(fam, f[2], len[2], f[4], len[4], &r->src) == -1 ||
        v1_endpoint(fam, f[3], len[3], f[5], len[5], &r->dst) == -1)
        return fail(r, "v1: malformed address or port");
    return PP_DONE;
}

static enum pp_status parse_v1(const unsigned char *buf, size_t len, struct pp_result *r)
{
    size_t lim = len < PP_V1_MAX ? len : PP_V1_MAX;
    for (size_t i = 0; i < lim; i++) {
        if (buf[i] == '\r') {
            if (i + 2 > PP_V1_MAX)    /* its LF would be byte 108 */
                break;
            if (i + 1 == len)
                return PP_NEED_MORE;
            if (buf[i + 1] != '\n')
                return fail(r, "v1: CR not followed by LF");
            r->consumed = i + 2;
            r->version = 1;
            return v1_line((const char *)buf, i, r);
        }
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            return fail(r, "v1: a control or non-ASCII byte in the line");
    }
    return len < PP_V1_MAX ? PP_NEED_MORE : fail(r, "v1: no CRLF in the first 107 bytes");
}

/* ---- version 2 ------------------------------------------------------------ */

/* The TLVs in [P, P+N) must tile it exactly. */
static int v2_tlvs_fit(const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (n < 3)
            return -1;
        size_t l = 3 + ((size_t)p[1] << 8 | p[2]);
        if (l > n)
            return -1;
        p += l, n -= l;
    }
    return 0;
}

/* The addresses of an AF_INET (ALEN 4) or AF_INET6 (16) block at A. */
static void v2_endpoints(const unsigned char *a, size_t alen, struct pp_result *r)
{
    const unsigned char *ports = a + 2 * alen;
    memset(&r->src, 0, sizeof r->src);
    memset(&r->dst, 0, sizeof r->dst);
    if (alen == 4) {
        struct sockaddr_in *s = (struct sockaddr_in *)&r->src, *d = (struct sockaddr_in *)&r->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4), memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, ports, 2), memcpy(&d->sin_port, ports + 2, 2);
        return;
    }
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r->src, *d = (struct sockaddr_in6 *)&r->dst;
    s->sin6_family = d->sin6_family = AF_INET6;
    memcpy(&s->sin6_addr, a, 16), memcpy(&d->sin6_addr, a + 16, 16);
    memcpy(&s->sin6_port, ports, 2), memcpy(&d->sin6_port, ports + 2, 2);
}

/* The address block's size for family/protocol byte FP (0: none), or -1
 * for a value the spec leaves unassigned. */
static int v2_addr_size(unsigned fp)
{
    switch (fp) {
    case 0x00: return 0;
    case 0x11: case 0x12: return 12;
    case 0x21: case 0x22: return 36;
    case 0x31: case 0x32: return 216;
    default: return -1;
    }
}

static enum pp_status parse_v2(const unsigned char *buf, size_t len, struct pp_result *r)
{
    if (len < PP_V2_FIXED)
        return PP_NEED_MORE;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f, fp = buf[13];
    size_t body = (size_t)buf[14] << 8 | buf[15];
    int asize = v2_addr_size(fp);
    if (ver != 2)
        return fail(r, "v2: version is not 2");
    if (cmd > 1)
        return fail(r, "v2: command is neither LOCAL nor PROXY");
    if (asize < 0)
        return fail(r, "v2: unassigned address family or protocol");
    if (cmd == 1 && body < (size_t)asize)
        return fail(r, "v2: address block shorter than its family needs");
    if (len < PP_V2_FIXED + body)
        return PP_NEED_MORE;
    r->consumed = PP_V2_FIXED + body;
    r->version = 2;
    if (cmd == 0) {          /* LOCAL: a health check; ignore the block */
        r->local = 1;
        return PP_DONE;
    }
    if (v2_tlvs_fit(buf + PP_V2_FIXED + asize, body - (size_t)asize) == -1)
        return fail(r, "v2: a TLV runs past the header");
    /* Only TCP over IPv4/IPv6 names a client we can use; UNSPEC, UDP and
     * UNIX fall back to the socket's endpoints, as the spec allows. */
    if (fp == 0x11 || fp == 0x21)
        v2_endpoints(buf + PP_V2_FIXED, fp == 0x11 ? 4 : 16, r);
    else
        r->local = 1;
    return PP_DONE;
}

enum pp_status pp_parse(const unsigned char *buf, size_t len, struct pp_result *r)
{
    memset(r, 0, sizeof *r);
    size_t n1 = len < sizeof v1_sig ? len : sizeof v1_sig;
    size_t n2 = len < sizeof v2_sig ? len : sizeof v2_sig;
    if (len == 0)
        return PP_NEED_MORE;
    if (memcmp(buf, v1_sig, n1) == 0)
        return len < sizeof v1_sig ? PP_NEED_MORE : parse_v1(buf, len, r);
    if (memcmp(buf, v2_sig, n2) == 0)
        return len < sizeof v2_sig ? PP_NEED_MORE : parse_v2(buf, len, r);
    return fail(r, "no PROXY protocol header (v1 or v2) at the start of the connection");
}
