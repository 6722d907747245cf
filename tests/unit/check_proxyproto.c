/* check_proxyproto.c: the PROXY protocol parser (src/http/proxyproto.c):
 * v1 TCP4/TCP6/UNKNOWN, v2 PROXY/LOCAL over IPv4/IPv6/UNIX/UNSPEC with
 * TLVs, every header split at every offset (NEED_MORE until the last
 * byte), and the refusals the spec asks for. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/http/proxyproto.h"

static const unsigned char SIG[12] = "\r\n\r\n\0\r\nQUIT\n";

/* A v2 header with command CMD, family/protocol FP and BODY (N bytes)
 * into OUT; returns its length. */
static size_t v2(unsigned char *out, int cmd, int fp, const void *body, size_t n)
{
    memcpy(out, SIG, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)fp;
    out[14] = (unsigned char)(n >> 8);
    out[15] = (unsigned char)n;
    memcpy(out + 16, body, n);
    return 16 + n;
}

/* The IPv4 TCP address block for 192.0.2.7:51000 -> 10.0.0.1:80. */
static size_t block4(unsigned char *b)
{
    inet_pton(AF_INET, "192.0.2.7", b);
    inet_pton(AF_INET, "10.0.0.1", b + 4);
    b[8] = 51000 >> 8, b[9] = 51000 & 0xff, b[10] = 0, b[11] = 80;
    return 12;
}

static enum pp_status parse_str(const char *s, struct pp_result *r)
{
    return pp_parse((const unsigned char *)s, strlen(s), r);
}

/* SRC is AF_INET ADDR:PORT. */
static void check_v4(const struct sockaddr_storage *ss, const char *addr, int port)
{
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    char text[INET_ADDRSTRLEN];
    ck_assert_int_eq(in->sin_family, AF_INET);
    ck_assert_str_eq(inet_ntop(AF_INET, &in->sin_addr, text, sizeof text), addr);
    ck_assert_int_eq(ntohs(in->sin_port), port);
}

static void check_v6(const struct sockaddr_storage *ss, const char *addr, int port)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    char text[INET6_ADDRSTRLEN];
    ck_assert_int_eq(in6->sin6_family, AF_INET6);
    ck_assert_str_eq(inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text), addr);
    ck_assert_int_eq(ntohs(in6->sin6_port), port);
}

/* Every proper prefix of BUF (N bytes, a whole header of HDR bytes then
 * more) is NEED_MORE; BUF itself is DONE consuming HDR. */
static void check_split(const unsigned char *buf, size_t n, size_t hdr)
{
    struct pp_result r;
    for (size_t i = 0; i < hdr; i++)
        ck_assert_msg(pp_parse(buf, i, &r) == PP_NEED_MORE, "prefix %zu", i);
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_uint_eq(r.consumed, hdr);
}

START_TEST(test_v1_tcp4)
{
    const char *s = "PROXY TCP4 192.0.2.7 10.0.0.1 51000 80\r\nGET / HTTP/1.1\r\n";
    struct pp_result r;
    ck_assert_int_eq(parse_str(s, &r), PP_DONE);
    ck_assert_uint_eq(r.consumed, strlen("PROXY TCP4 192.0.2.7 10.0.0.1 51000 80\r\n"));
    ck_assert_int_eq(r.version, 1);
    ck_assert_int_eq(r.local, 0);
    check_v4(&r.src, "192.0.2.7", 51000);
    check_v4(&r.dst, "10.0.0.1", 80);
    check_split((const unsigned char *)s, strlen(s), r.consumed);
}
END_TEST

START_TEST(test_v1_tcp6)
{
    struct pp_result r;
    ck_assert_int_eq(parse_str("PROXY TCP6 2001:db8::7 ::1 65535 0\r\n", &r), PP_DONE);
    check_v6(&r.src, "2001:db8::7", 65535);
    check_v6(&r.dst, "::1", 0);
    /* HAProxy writes v4-mapped addresses with inet_ntop. */
    ck_assert_int_eq(parse_str("PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n", &r), PP_DONE);
    check_v6(&r.src, "::ffff:192.0.2.7", 1);
}
END_TEST

START_TEST(test_v1_unknown)
{
    struct pp_result r;
    ck_assert_int_eq(parse_str("PROXY UNKNOWN\r\nGET", &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    ck_assert_uint_eq(r.consumed, 15);
    ck_assert_int_eq(parse_str("PROXY UNKNOWN whatever is here\r\n", &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    const char *longest = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    ck_assert_uint_eq(strlen(longest), PP_V1_MAX);
    ck_assert_int_eq(parse_str(longest, &r), PP_DONE);
    ck_assert_int_eq(parse_str("PROXY UNKNOWNX\r\n", &r), PP_ERROR);
    /* one byte more: the CRLF would end at byte 108 (found by fuzz_proxyproto) */
    char over[PP_V1_MAX + 2];
    memcpy(over, longest, PP_V1_MAX - 2);
    memcpy(over + PP_V1_MAX - 2, "5\r\n", 4);
    ck_assert_int_eq(pp_parse((unsigned char *)over, PP_V1_MAX, &r), PP_ERROR);
    ck_assert_int_eq(pp_parse((unsigned char *)over, sizeof over, &r), PP_ERROR);
}
END_TEST

static const char *const v1_bad[] = {
    "PROXY TCP4 192.0.2.07 10.0.0.1 1 2\r\n",     /* leading zero, address */
    "PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n",     /* leading zero, port */
    "PROXY TCP4 192.0.2.7 10.0.0.1 1 65536\r\n",  /* port too big */
    "PROXY TCP4 256.0.2.7 10.0.0.1 1 2\r\n",      /* octet too big */
    "PROXY TCP4 192.0.2 10.0.0.1 1 2\r\n",        /* three octets */
    "PROXY TCP4 192.0.2.7. 10.0.0.1 1 2\r\n",
    "PROXY TCP4  192.0.2.7 10.0.0.1 1 2\r\n",     /* two spaces */
    "PROXY TCP4 192.0.2.7 10.0.0.1 1 2 \r\n",     /* trailing space */
    "PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n",        /* a field short */
    "PROXY TCP4 2001:db8::1 ::1 1 2\r\n",         /* family mismatch */
    "PROXY TCP6 192.0.2.7 10.0.0.1 1 2\r\n",
    "PROXY TCP5 192.0.2.7 10.0.0.1 1 2\r\n",
    "PROXY tcp4 192.0.2.7 10.0.0.1 1 2\r\n",
    "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\n",        /* LF without CR */
    "PROXY TCP4 192.0.2.7 10.0.0.1 1 2\rX",
    "PROXY TCP4 192.0.2.7\t10.0.0.1 1 2\r\n",
    "PROXY TCP4 192.0.2.7 10.0.0.1 +1 2\r\n",
    "PROXY \r\n",
    "GET / HTTP/1.1\r\n",                          /* no header at all */
    "proxy TCP4",
    NULL,
};

START_TEST(test_v1_refusals)
{
    struct pp_result r;
    for (int i = 0; v1_bad[i]; i++) {
        ck_assert_msg(parse_str(v1_bad[i], &r) == PP_ERROR, "accepted %s", v1_bad[i]);
        ck_assert_ptr_nonnull(r.error);
    }
}
END_TEST

START_TEST(test_v1_no_crlf_in_107)
{
    char line[200];
    memset(line, '1', sizeof line);
    memcpy(line, "PROXY UNKNOWN ", 14);
    struct pp_result r;
    ck_assert_int_eq(pp_parse((unsigned char *)line, PP_V1_MAX - 1, &r), PP_NEED_MORE);
    ck_assert_int_eq(pp_parse((unsigned char *)line, PP_V1_MAX, &r), PP_ERROR);
    ck_assert_int_eq(pp_parse((unsigned char *)line, sizeof line, &r), PP_ERROR);
}
END_TEST

START_TEST(test_v2_tcp4)
{
    unsigned char b[12], buf[64];
    size_t n = v2(buf, 1, 0x11, b, block4(b));
    memcpy(buf + n, "GET", 3);
    struct pp_result r;
    ck_assert_int_eq(pp_parse(buf, n + 3, &r), PP_DONE);
    ck_assert_uint_eq(r.consumed, 28);
    ck_assert_int_eq(r.version, 2);
    ck_assert_int_eq(r.local, 0);
    check_v4(&r.src, "192.0.2.7", 51000);
    check_v4(&r.dst, "10.0.0.1", 80);
    check_split(buf, n + 3, n);
}
END_TEST

START_TEST(test_v2_tcp6_with_tlvs)
{
    unsigned char b[64], buf[128];
    inet_pton(AF_INET6, "2001:db8::7", b);
    inet_pton(AF_INET6, "::1", b + 16);
    b[32] = 0x12, b[33] = 0x34, b[34] = 0x01, b[35] = 0xbb;
    /* PP2_TYPE_NOOP, empty; PP2_TYPE_AUTHORITY "abc" */
    memcpy(b + 36, "\x04\x00\x00\x02\x00\x03" "abc", 9);
    size_t n = v2(buf, 1, 0x21, b, 45);
    struct pp_result r;
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_uint_eq(r.consumed, 16 + 45);
    check_v6(&r.src, "2001:db8::7", 0x1234);
    check_v6(&r.dst, "::1", 443);
    check_split(buf, n, n);
    /* a TLV running past the header */
    b[37] = 0, b[38] = 9;
    n = v2(buf, 1, 0x21, b, 45);
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_ERROR);
    /* a TLV header cut short */
    n = v2(buf, 1, 0x21, b, 38);
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_ERROR);
}
END_TEST

START_TEST(test_v2_local_and_fallbacks)
{
    unsigned char b[216] = {0}, buf[300];
    struct pp_result r;
    size_t n = v2(buf, 0, 0x00, b, 0);           /* HAProxy's health check */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    ck_assert_uint_eq(r.consumed, 16);
    n = v2(buf, 0, 0x11, b, 12);                 /* LOCAL ignores the block */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    ck_assert_uint_eq(r.consumed, 28);
    n = v2(buf, 1, 0x31, b, 216);                /* UNIX: keep the socket's */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    n = v2(buf, 1, 0x12, b, 12);                 /* UDP: likewise */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
    n = v2(buf, 1, 0x00, b, 0);                  /* PROXY UNSPEC */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_DONE);
    ck_assert_int_eq(r.local, 1);
}
END_TEST

START_TEST(test_v2_refusals)
{
    unsigned char b[64] = {0}, buf[128];
    struct pp_result r;
    size_t n = v2(buf, 1, 0x11, b, block4(b));
    buf[12] = 0x11;                              /* version 1 */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_ERROR);
    buf[12] = 0x22;                              /* command 2 */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_ERROR);
    buf[12] = 0x21;
    static const int bad_fp[] = {0x01, 0x10, 0x13, 0x23, 0x33, 0x41, 0xff};
    for (size_t i = 0; i < sizeof bad_fp / sizeof bad_fp[0]; i++) {
        buf[13] = (unsigned char)bad_fp[i];
        ck_assert_msg(pp_parse(buf, n, &r) == PP_ERROR, "family 0x%02x", bad_fp[i]);
    }
    n = v2(buf, 1, 0x21, b, 12);                 /* IPv6 with an IPv4-sized block */
    ck_assert_int_eq(pp_parse(buf, n, &r), PP_ERROR);
    /* refused as soon as the fixed part shows it, without the body */
    ck_assert_int_eq(pp_parse(buf, 16, &r), PP_ERROR);
    memcpy(buf, SIG, 12);
    buf[5] = 'X';                                /* signature broken mid-way */
    ck_assert_int_eq(pp_parse(buf, 6, &r), PP_ERROR);
}
END_TEST

START_TEST(test_empty_and_signature_prefixes)
{
    struct pp_result r;
    ck_assert_int_eq(pp_parse((const unsigned char *)"", 0, &r), PP_NEED_MORE);
    ck_assert_int_eq(parse_str("PROX", &r), PP_NEED_MORE);
    ck_assert_int_eq(pp_parse(SIG, 5, &r), PP_NEED_MORE);
    ck_assert_int_eq(parse_str("PROXX", &r), PP_ERROR);
    ck_assert_int_eq(parse_str("\x16\x03\x01", &r), PP_ERROR);  /* a TLS hello */
}
END_TEST

Suite *proxyproto_suite(void)
{
    Suite *s = suite_create("proxyproto");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_v1_tcp4);
    tcase_add_test(tc, test_v1_tcp6);
    tcase_add_test(tc, test_v1_unknown);
    tcase_add_test(tc, test_v1_refusals);
    tcase_add_test(tc, test_v1_no_crlf_in_107);
    tcase_add_test(tc, test_v2_tcp4);
    tcase_add_test(tc, test_v2_tcp6_with_tlvs);
    tcase_add_test(tc, test_v2_local_and_fallbacks);
    tcase_add_test(tc, test_v2_refusals);
    tcase_add_test(tc, test_empty_and_signature_prefixes);
    suite_add_tcase(s, tc);
    return s;
}
