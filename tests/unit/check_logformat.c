/* check_logformat.c: unit tests for the access-log format compiler and
 * line formatter (src/core/logformat.c): every directive against one
 * request, Apache and JSON escaping, missing values, status conditions,
 * the time cache, truncation, and compile errors.  JSON lines are checked
 * with the strict checker of json_valid.h.  Runs in the single Check
 * runner (check_main.c); each test sets TZ to a fixed offset (no tzdata
 * needed) in its own forked process. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <time.h>

#include "check_suites.h"
#include "json_valid.h"
#include "mpmd/core/logformat.h"

/* 2000-10-10 13:55:36.123456789 at UTC-7: Apache's documented example. */
#define START_SEC 971211336
#define START_NSEC 123456789L

struct hdr {
    const char *name, *value;
};

/* The headers the test request carries (tests may change them). */
static struct hdr req_hdrs[8], resp_hdrs[4];

static const char *find_hdr(const struct hdr *h, size_t n, const char *name, size_t len,
                            size_t *vlen)
{
    for (size_t i = 0; i < n && h[i].name != NULL; i++) {
        if (strlen(h[i].name) == len && strncasecmp(h[i].name, name, len) == 0) {
            *vlen = strlen(h[i].value);
            return h[i].value;
        }
    }
    return NULL;
}

static const char *req_header(const void *ctx, const char *name, size_t len, size_t *vlen)
{
    (void)ctx;
    return find_hdr(req_hdrs, sizeof req_hdrs / sizeof *req_hdrs, name, len, vlen);
}

static const char *resp_header(const void *ctx, const char *name, size_t len, size_t *vlen)
{
    (void)ctx;
    return find_hdr(resp_hdrs, sizeof resp_hdrs / sizeof *resp_hdrs, name, len, vlen);
}

static struct sockaddr_in peer4, local4;

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void set_str(const char **s, size_t *len, const char *value)
{
    *s = value;
    *len = value != NULL ? strlen(value) : 0;
}

/* The request every test starts from (and UTC-7, no DST). */
static void base_request(struct log_request *r)
{
    set_tz("XYZ7");
    memset(r, 0, sizeof *r);
    memset(req_hdrs, 0, sizeof req_hdrs);
    memset(resp_hdrs, 0, sizeof resp_hdrs);
    req_hdrs[0] = (struct hdr){ "Referer", "http://example.com/from?q=\"x\"" };
    req_hdrs[1] = (struct hdr){ "User-Agent", "Mozilla/5.0 (X11)" };
    req_hdrs[2] = (struct hdr){ "Cookie", "a=1; B = two ; c=3=4;noeq; d=" };
    req_hdrs[3] = (struct hdr){ "X-Ctl", "a\tb\nc\x01\x7f\xff\\\"" };
    resp_hdrs[0] = (struct hdr){ "Content-Type", "text/html" };
    peer4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(51234) };
    inet_pton(AF_INET, "192.0.2.7", &peer4.sin_addr);
    local4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(8080) };
    inet_pton(AF_INET, "198.51.100.1", &local4.sin_addr);
    r->peer = (const struct sockaddr *)&peer4;
    r->local = (const struct sockaddr *)&local4;
    set_str(&r->method, &r->method_len, "GET");
    set_str(&r->target, &r->target_len, "/a/b%20c?x=1&y=2");
    set_str(&r->protocol, &r->protocol_len, "HTTP/1.1");
    set_str(&r->request_line, &r->request_line_len, "GET /a/b%20c?x=1&y=2 HTTP/1.1");
    r->status = 200;
    r->body_bytes = 1234;
    r->bytes_in = 345;
    r->bytes_out = 1500;
    r->start = (struct timespec){ START_SEC, START_NSEC };
    r->duration_us = 2345678;
    r->server_name = "www.example.com";
    set_str(&r->host, &r->host_len, "example.com");
    r->server_port = 80;
    r->pid = 4242;
    r->tid = 4243;
    r->conn_status = '+';
    r->keepalive_count = 3;
    r->user = "alice";
    r->filename = "/srv/www/a/b c";
    r->log_id = "YXBjZGVm";
    r->handler = "static";
    r->req_header = req_header;
    r->resp_header = resp_header;
}

static char line_buf[LOGFORMAT_LINE_MAX + 1];

/* FMT compiled in ESC (must compile) applied to R with CAP bytes: the line
 * without its '\n' (checked to be there, once, at the end). */
static const char *format_cap(const char *fmt, enum logformat_escape esc,
                              const struct log_request *r, size_t cap)
{
    char err[256];
    struct logformat *f = logformat_compile(fmt, esc, err, sizeof err);
    ck_assert_msg(f != NULL, "compiling '%s': %s", fmt, err);
    struct logformat_clock clk = { 0 };
    ck_assert_uint_le(cap, sizeof line_buf - 1);
    size_t n = logformat_line(f, r, &clk, line_buf, cap);
    logformat_free(f);
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, cap);
    ck_assert_int_eq(line_buf[n - 1], '\n');
    line_buf[n - 1] = '\0';
    return line_buf;
}

static const char *format(const char *fmt, enum logformat_escape esc, const struct log_request *r)
{
    return format_cap(fmt, esc, r, LOGFORMAT_LINE_MAX);
}

static const char *apache(const char *fmt, const struct log_request *r)
{
    return format(fmt, LOGFORMAT_ESCAPE_APACHE, r);
}

static const char *json(const char *fmt, const struct log_request *r)
{
    return format(fmt, LOGFORMAT_ESCAPE_JSON, r);
}

/* The compile error of FMT, which must not compile. */
static const char *compile_error(const char *fmt, enum logformat_escape esc)
{
    static char err[256];
    memset(err, 'X', sizeof err);
    struct logformat *f = logformat_compile(fmt, esc, err, sizeof err);
    ck_assert_msg(f == NULL, "'%s' compiled", fmt ? fmt : "(null)");
    ck_assert_ptr_nonnull(memchr(err, '\0', sizeof err));
    return err;
}

/* ---- every directive ---------------------------------------------------- */

static const struct {
    const char *fmt, *want;
} directives[] = {
    { "%%", "%" },
    { "100%% sure", "100% sure" },
    { "%a", "192.0.2.7" },
    { "%{c}a", "192.0.2.7" },
    { "%h", "192.0.2.7" },
    { "%A", "198.51.100.1" },
    { "%b", "1234" },
    { "%B", "1234" },
    { "%{HOME}e", "-" },
    { "%f", "/srv/www/a/b c" },
    { "%H", "HTTP/1.1" },
    { "%{Referer}i", "http://example.com/from?q=\\\"x\\\"" },
    { "%{user-AGENT}i", "Mozilla/5.0 (X11)" },
    { "%{X-None}i", "-" },
    { "%{}i", "-" },
    { "%k", "3" },
    { "%l", "-" },
    { "%L", "YXBjZGVm" },
    { "%{c}L", "-" },
    { "%m", "GET" },
    { "%{note}n", "-" },
    { "%{content-type}o", "text/html" },
    { "%{X-None}o", "-" },
    { "%p", "80" },
    { "%{canonical}p", "80" },
    { "%{local}p", "8080" },
    { "%{LOCAL}p", "8080" },
    { "%{remote}p", "51234" },
    { "%P", "4242" },
    { "%{pid}P", "4242" },
    { "%{tid}P", "4243" },
    { "%{hextid}P", "1093" },
    { "%q", "?x=1&y=2" },
    { "%r", "GET /a/b%20c?x=1&y=2 HTTP/1.1" },
    { "%R", "static" },
    { "%s", "200" },
    { "%>s", "200" },
    { "%<s", "200" },
    { "%t", "[10/Oct/2000:13:55:36 -0700]" },
    { "%{}t", "[10/Oct/2000:13:55:36 -0700]" },
    { "%{begin}t", "[10/Oct/2000:13:55:36 -0700]" },
    { "%{begin:}t", "[10/Oct/2000:13:55:36 -0700]" },
    { "%{end}t", "[10/Oct/2000:13:55:38 -0700]" },
    { "%{sec}t", "971211336" },
    { "%{msec}t", "971211336123" },
    { "%{usec}t", "971211336123456" },
    { "%{msec_frac}t", "123" },
    { "%{usec_frac}t", "123456" },
    { "%{begin:sec}t", "971211336" },
    { "%{end:sec}t", "971211338" },
    { "%{end:msec}t", "971211338469" },
    { "%{end:msec_frac}t", "469" },
    { "%{end:usec_frac}t", "469134" },
    { "%{%Y-%m-%dT%H:%M:%S%z}t", "2000-10-10T13:55:36-0700" },
    { "%{begin:%d/%b/%Y}t", "10/Oct/2000" },
    { "%{end:%H:%M:%S}t", "13:55:38" },
    { "%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t", "10/Oct/2000 13:55:36.123 -0700" },
    { "%{msecs}t", "msecs" },
    { "%{beginx}t", "beginx" },
    { "%{%c}t", "Tue Oct 10 13:55:36 2000" },
    { "%{%Z %-d %_m|%5Y|%Ey|%k}t", "XYZ 10 10|02000|00|13" },
    { "%{%}t", "%" },
    { "%T", "2" },
    { "%{s}T", "2" },
    { "%{ms}T", "2345" },
    { "%{MS}T", "2345" },
    { "%{us}T", "2345678" },
    { "%D", "2345678" },
    { "%u", "alice" },
    { "%U", "/a/b%20c" },
    { "%v", "www.example.com" },
    { "%V", "example.com" },
    { "%X", "+" },
    { "%I", "345" },
    { "%O", "1500" },
    { "%S", "1845" },
    { "%{a}C", "1" },
    { "%{b}C", "two" },
    { "%{c}C", "3=4" },
    { "%{noeq}C", "-" },
    { "%{d}C", "-" },
    { "%{zz}C", "-" },
    { "%{SSL_PROTOCOL}x", "-" },
    { "%{version}c", "-" },
    { "%F", "-" },
    { "%^ti %^to", "- -" },
    { "%200s", "200" },
    { "%!200s", "-" },
    { "%404s", "-" },
    { "%!404s", "200" },
    { "%400,501{User-agent}i", "-" },
    { "%200,304{User-agent}i", "Mozilla/5.0 (X11)" },
    { "%!200,304{Referer}i", "-" },
    { "%!,!200{Referer}i", "http://example.com/from?q=\\\"x\\\"" },
    { "%>200,404{x}s", "200" },
    { "a\\tb\\nc\\\\d\\qe\\rf\\", "a\tb\nc\\d\\qe\rf\\" },
    { "\\%m", "\\GET" },
    { "", "" },
    { "%h %l %u %t \"%r\" %>s %b",
      "192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] \"GET /a/b%20c?x=1&y=2 HTTP/1.1\" 200 1234" },
    { "%{X-Ctl}i", "a\\tb\\nc\\x01\\x7f\\xff\\\\\\\"" },
};

START_TEST(test_directive)
{
    struct log_request r;
    base_request(&r);
    ck_assert_str_eq(apache(directives[_i].fmt, &r), directives[_i].want);
}
END_TEST

START_TEST(test_predefined)
{
    struct log_request r;
    enum logformat_escape esc = LOGFORMAT_ESCAPE_JSON;
    base_request(&r);
    const char *common = logformat_predefined("common", &esc);
    ck_assert_int_eq(esc, LOGFORMAT_ESCAPE_APACHE);
    ck_assert_str_eq(apache(common, &r), "192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "
                                         "\"GET /a/b%20c?x=1&y=2 HTTP/1.1\" 200 1234");
    ck_assert_str_eq(apache(logformat_predefined("combined", &esc), &r),
                     "192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "
                     "\"GET /a/b%20c?x=1&y=2 HTTP/1.1\" 200 1234 "
                     "\"http://example.com/from?q=\\\"x\\\"\" \"Mozilla/5.0 (X11)\"");
    ck_assert_str_eq(apache(logformat_predefined("vhost_combined", NULL), &r),
                     "www.example.com:80 192.0.2.7 - alice [10/Oct/2000:13:55:36 -0700] "
                     "\"GET /a/b%20c?x=1&y=2 HTTP/1.1\" 200 1500 "
                     "\"http://example.com/from?q=\\\"x\\\"\" \"Mozilla/5.0 (X11)\"");
    ck_assert_str_eq(apache(logformat_predefined("referer", NULL), &r),
                     "http://example.com/from?q=\\\"x\\\" -> /a/b%20c");
    ck_assert_str_eq(apache(logformat_predefined("agent", NULL), &r), "Mozilla/5.0 (X11)");
    const char *j = logformat_predefined("json", &esc);
    ck_assert_int_eq(esc, LOGFORMAT_ESCAPE_JSON);
    ck_assert_str_eq(json(j, &r),
                     "{\"time\":\"2000-10-10T13:55:36-0700\",\"remote_addr\":\"192.0.2.7\","
                     "\"remote_user\":\"alice\",\"request\":\"GET /a/b%20c?x=1&y=2 HTTP/1.1\","
                     "\"method\":\"GET\",\"uri\":\"/a/b%20c\",\"query\":\"?x=1&y=2\","
                     "\"protocol\":\"HTTP/1.1\",\"status\":200,\"body_bytes\":1234,"
                     "\"bytes_in\":345,\"bytes_out\":1500,\"duration_us\":2345678,"
                     "\"host\":\"example.com\",\"server_name\":\"www.example.com\","
                     "\"referer\":\"http://example.com/from?q=\\\"x\\\"\","
                     "\"user_agent\":\"Mozilla/5.0 (X11)\",\"pid\":4242,\"tid\":4243,"
                     "\"keepalive\":3,\"conn_status\":\"+\"}");
    ck_assert(json_valid(line_buf, strlen(line_buf)));
    ck_assert_ptr_null(logformat_predefined("Combined", &esc));
    ck_assert_ptr_null(logformat_predefined("nope", NULL));
    ck_assert_ptr_null(logformat_predefined(NULL, NULL));
}
END_TEST

/* ---- values: addresses, targets, missing things ---------------------- */

START_TEST(test_addresses)
{
    struct log_request r;
    struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = htons(443) };
    struct sockaddr_in6 mapped = { .sin6_family = AF_INET6, .sin6_port = htons(8443) };
    struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
    base_request(&r);
    inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &mapped.sin6_addr);
    r.peer = (const struct sockaddr *)&v6;
    r.local = (const struct sockaddr *)&mapped;
    ck_assert_str_eq(apache("%a %h %{remote}p %A %{local}p", &r),
                     "2001:db8::1 2001:db8::1 443 10.1.2.3 8443");
    r.peer = (const struct sockaddr *)&un;
    r.local = NULL;
    ck_assert_str_eq(apache("%a %{remote}p %A %{local}p %p", &r), "- - - - 80");
    ck_assert_str_eq(json("{\"a\":\"%a\",\"p\":%{local}p,\"A\":%A}", &r),
                     "{\"a\":\"\",\"p\":null,\"A\":null}");
    r.peer = NULL;
    ck_assert_str_eq(apache("%a", &r), "-");
    /* Behind a PROXY header: %a is the client, %{c}a the balancer. */
    r.peer = (const struct sockaddr *)&v6;
    r.conn_peer = (const struct sockaddr *)&mapped;
    ck_assert_str_eq(apache("%a %h %{c}a", &r), "2001:db8::1 2001:db8::1 10.1.2.3");
}
END_TEST

START_TEST(test_targets)
{
    static const struct {
        const char *target, *path, *query;
    } cases[] = {
        { "/p/q?x=1", "/p/q", "?x=1" },
        { "/p/q", "/p/q", "" },
        { "/p?", "/p", "?" },
        { "/p?a?b", "/p", "?a?b" },
        { "http://h.example/p/q?x", "/p/q", "?x" },
        { "http://h.example", "/", "" },
        { "http://h.example?x", "/", "?x" },
        { "*", "*", "" },
        { "", "", "" },
        { "/a\"b\x01?c\"", "/a\\\"b\\x01", "?c\\\"" },
    };
    struct log_request r;
    char want[256];
    base_request(&r);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        set_str(&r.target, &r.target_len, cases[i].target);
        snprintf(want, sizeof want, "[%s][%s]", cases[i].path, cases[i].query);
        ck_assert_str_eq(apache("[%U][%q]", &r), want);
    }
    r.target = NULL;
    ck_assert_str_eq(apache("[%U][%q]", &r), "[-][]");
    ck_assert_str_eq(json("[\"%U\",\"%q\"]", &r), "[\"\",\"\"]");
}
END_TEST

/* A request that never got parsed: everything optional missing. */
START_TEST(test_missing_values)
{
    struct log_request r;
    memset(&r, 0, sizeof r);
    set_tz("XYZ7");
    r.start = (struct timespec){ START_SEC, 0 };
    r.status = 400;
    ck_assert_str_eq(apache(logformat_predefined("combined", NULL), &r),
                     "- - - [10/Oct/2000:13:55:36 -0700] \"-\" 400 - \"-\" \"-\"");
    ck_assert_str_eq(apache("%m %U %q| %H %v %V %f %L %R %u %X %k %b %B %I %O %S %D %T %P", &r),
                     "- - | - - - - - - - - 0 - 0 0 0 0 0 0 0");
    r.status = 0;
    ck_assert_str_eq(apache("%s %>s", &r), "- -");
    ck_assert_str_eq(json("%s %b", &r), "0 0");
    const char *j = logformat_predefined("json", NULL);
    ck_assert_str_eq(json(j, &r),
                     "{\"time\":\"2000-10-10T13:55:36-0700\",\"remote_addr\":\"\","
                     "\"remote_user\":\"\",\"request\":\"\",\"method\":\"\",\"uri\":\"\","
                     "\"query\":\"\",\"protocol\":\"\",\"status\":0,\"body_bytes\":0,"
                     "\"bytes_in\":0,\"bytes_out\":0,\"duration_us\":0,\"host\":\"\","
                     "\"server_name\":\"\",\"referer\":\"\",\"user_agent\":\"\",\"pid\":0,"
                     "\"tid\":0,\"keepalive\":0,\"conn_status\":\"-\"}");
    ck_assert(json_valid(line_buf, strlen(line_buf)));
}
END_TEST

START_TEST(test_odd_values)
{
    struct log_request r;
    base_request(&r);
    r.user = "";
    r.body_bytes = 0;
    r.conn_status = 'X';
    r.host = NULL;
    r.bytes_in = -5;
    r.duration_us = -1;
    ck_assert_str_eq(apache("%u|%b|%B|%X|%V|%I|%D", &r), "\"\"|-|0|X|www.example.com|0|0");
    ck_assert_str_eq(json("\"%u|%b|%B\" %u", &r), "\"|0|0\" \"\"");
    r.conn_status = '\0';
    r.server_name = NULL;
    r.tid = 0x7fffffffL;
    r.server_port = 0;
    ck_assert_str_eq(apache("%X %V %{hextid}P %p", &r), "- - 7fffffff 0");
    r.bytes_in = 0x7fffffffffffffffLL;
    r.bytes_out = 0x7fffffffffffffffLL;
    r.body_bytes = 0x7fffffffffffffffLL;
    ck_assert_str_eq(apache("%S %b", &r), "18446744073709551614 9223372036854775807");
    r.req_header = NULL;
    r.resp_header = NULL;
    ck_assert_str_eq(apache("%{Referer}i %{Content-Type}o %{a}C", &r), "- - -");
}
END_TEST

/* ---- escaping ---------------------------------------------------------- */

START_TEST(test_apache_escaping)
{
    struct log_request r;
    base_request(&r);
    set_str(&r.request_line, &r.request_line_len, "GET /\"\\\b\n\r\t\v\x1b\x7f\x80\xc3\xa9 ok");
    r.request_line_len++;                   /* and the NUL after it */
    ck_assert_str_eq(apache("\"%r\"", &r),
                     "\"GET /\\\"\\\\\\b\\n\\r\\t\\v\\x1b\\x7f\\x80\\xc3\\xa9 ok\\x00\"");
    r.user = "bob \"the\" user";
    r.method = "G\nET";
    r.method_len = 4;
    r.server_name = "a\tb";
    r.filename = "/x\ny";
    r.handler = "h\x01";
    r.log_id = "id\"";
    ck_assert_str_eq(apache("%u|%m|%v|%f|%R|%L", &r),
                     "bob \\\"the\\\" user|G\\nET|a\\tb|/x\\ny|h\\x01|id\\\"");
    /* times and literal text are the format's own: not escaped */
    ck_assert_str_eq(apache("%{%n%t}t\"\\n", &r), "\n\t\"\n");
}
END_TEST

START_TEST(test_json_escaping)
{
    struct log_request r;
    base_request(&r);
    ck_assert_str_eq(json("\"%{X-Ctl}i\"", &r), "\"a\\tb\\nc\\u0001\\u007f\\u00ff\\\\\\\"\"");
    /* valid UTF-8 as is; invalid bytes one by one */
    req_hdrs[1].value = "\xc3\xa9|\xf0\x9f\x98\x80|\xe2\x82\xac|\xc0\xaf|\xed\xa0\x80|"
                        "\xf4\x90\x80\x80|\xe2\x82";
    ck_assert_str_eq(json("\"%{User-Agent}i\"", &r),
                     "\"\xc3\xa9|\xf0\x9f\x98\x80|\xe2\x82\xac|\\u00c0\\u00af|"
                     "\\u00ed\\u00a0\\u0080|\\u00f4\\u0090\\u0080\\u0080|\\u00e2\\u0082\"");
    ck_assert(json_valid(line_buf, strlen(line_buf)));
    set_str(&r.request_line, &r.request_line_len, "\b\f\r\x1f/");
    ck_assert_str_eq(json("\"%r\"", &r), "\"\\b\\f\\r\\u001f/\"");
    /* a custom time is escaped in JSON (not in Apache mode) */
    ck_assert_str_eq(json("\"%{\"%n}t\"", &r), "\"\\\"\\n\"");
}
END_TEST

/* JSON mode: a value outside the format's quotes is a JSON value of its
 * own; inside them it is bare. */
START_TEST(test_json_context)
{
    struct log_request r;
    base_request(&r);
    r.user = NULL;
    ck_assert_str_eq(json("{\"a\":%a,\"u\":%u,\"s\":%>s,\"m\":%{x}i,\"t\":%{msec_frac}t,"
                          "\"h\":%{hextid}P,\"c\":%!200s,\"r\":%r,\"x\":%X,\"T\":%{%H}t}", &r),
                     "{\"a\":\"192.0.2.7\",\"u\":null,\"s\":200,\"m\":null,\"t\":\"123\","
                     "\"h\":\"1093\",\"c\":null,\"r\":\"GET /a/b%20c?x=1&y=2 HTTP/1.1\","
                     "\"x\":\"+\",\"T\":\"13\"}");
    ck_assert(json_valid(line_buf, strlen(line_buf)));
    /* an escaped quote in the literal text does not end the string */
    r.user = "al\"ice";
    ck_assert_str_eq(json("{\"k\":\"say \\\"%u\\\"\",\"n\":%u}", &r),
                     "{\"k\":\"say \\\"al\\\"ice\\\"\",\"n\":\"al\\\"ice\"}");
    ck_assert(json_valid(line_buf, strlen(line_buf)));
    ck_assert_str_eq(json("[\"%!200s\",%%,%%%k]", &r), "[\"\",%,%3]");
}
END_TEST

/* Every JSON line of the predefined format is valid JSON, whatever the
 * client sent. */
START_TEST(test_json_nasty_values)
{
    static char big[3000];
    struct log_request r;
    base_request(&r);
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i * 7 % 256 == 0 ? 1 : i * 7 % 256);
    big[sizeof big - 1] = '\0';
    req_hdrs[0].value = big;
    req_hdrs[1].value = "\"\\\"\\";
    set_str(&r.request_line, &r.request_line_len, "\xff\xfe\"{}[]:,");
    set_str(&r.target, &r.target_len, "/\x80?\"");
    r.user = "\\";
    const char *j = logformat_predefined("json", NULL);
    json(j, &r);
    ck_assert_msg(json_valid(line_buf, strlen(line_buf)), "invalid: %s", line_buf);
}
END_TEST

/* ---- the time cache ------------------------------------------------------ */

START_TEST(test_clock_cache)
{
    struct log_request r;
    char err[128], buf[256];
    base_request(&r);
    struct logformat *f = logformat_compile("%t %{%H}t", LOGFORMAT_ESCAPE_APACHE, err, sizeof err);
    ck_assert_ptr_nonnull(f);
    struct logformat_clock clk = { 0 };
    size_t n = logformat_line(f, &r, &clk, buf, sizeof buf);
    buf[n] = '\0';
    ck_assert_int_eq(clk.valid, 1);
    ck_assert_int_eq(clk.sec, START_SEC);
    ck_assert_int_eq(clk.gmtoff, -7 * 3600);
    ck_assert_str_eq(clk.clf, "[10/Oct/2000:13:55:36 -0700]");
    ck_assert_uint_eq(clk.clf_len, 28);
    ck_assert_str_eq(buf, "[10/Oct/2000:13:55:36 -0700] 13\n");
    /* within the same second the cache is used as it is */
    memcpy(clk.clf, "[cached]", 9);
    clk.clf_len = 8;
    clk.tm.tm_hour = 99;
    n = logformat_line(f, &r, &clk, buf, sizeof buf);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "[cached] 99\n");
    /* a new second is looked up again */
    r.start.tv_sec += 3600;
    n = logformat_line(f, &r, &clk, buf, sizeof buf);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "[10/Oct/2000:14:55:36 -0700] 14\n");
    /* no clock: no cache */
    n = logformat_line(f, &r, NULL, buf, sizeof buf);
    buf[n] = '\0';
    ck_assert_str_eq(buf, "[10/Oct/2000:14:55:36 -0700] 14\n");
    logformat_free(f);
}
END_TEST

START_TEST(test_time_zones)
{
    struct log_request r;
    base_request(&r);
    set_tz("XYZ-5:30");
    ck_assert_str_eq(apache("%t %{%z}t", &r), "[11/Oct/2000:02:25:36 +0530] +0530");
    set_tz("XYZ3:30");
    ck_assert_str_eq(apache("%t", &r), "[10/Oct/2000:17:25:36 -0330]");
    set_tz("UTC0");
    r.start.tv_sec = 0;
    ck_assert_str_eq(apache("%t", &r), "[01/Jan/1970:00:00:00 +0000]");
    r.start.tv_sec = -1;
    ck_assert_str_eq(apache("%t", &r), "[31/Dec/1969:23:59:59 +0000]");
}
END_TEST

/* Times no clock shows: a year of ten digits fits the cache; one beyond
 * localtime_r prints as zeros; the numbers do not overflow. */
START_TEST(test_absurd_times)
{
    struct log_request r;
    base_request(&r);
    set_tz("XYZ11");
    r.start = (struct timespec){ 60000000000000000LL, 999999999L };
    r.duration_us = 0x7fffffffffffffffLL;
    const char *t = apache("%t", &r);
    ck_assert_msg(strlen(t) == 34 && t[0] == '[' && strcmp(t + 28, "-1100]") == 0, "%s", t);
    r.start.tv_sec = 0x7fffffffffffffffLL;
    ck_assert_str_eq(apache("%t %{sec}t %{usec_frac}t", &r),
                     "[00/Jan/1900:00:00:00 +0000] 9223372036854775807 999999");
    apache("%{end}t %{end:msec}t %{end:usec}t %{end:%Y %s}t %{%c}t", &r);
}
END_TEST

/* The conversions done by hand give what strftime gives. */
START_TEST(test_strftime_equivalence)
{
    static const char *const zones[] = { "UTC0", "XYZ7", "XYZ-5:45", "XYZ11" };
    static const long long times[] = { 0, 971211336, 951782400, 1709251199, 4102444800LL,
                                       1234567890, 86399, 1700000000 };
    static const char conv[] = "aAbhBdeHIjmMnpSstuwyYz%DFRTr";
    struct log_request r;
    char fmt[8], want[128], got_fmt[16];
    base_request(&r);
    for (size_t z = 0; z < sizeof zones / sizeof *zones; z++) {
        set_tz(zones[z]);
        for (size_t t = 0; t < sizeof times / sizeof *times; t++) {
            time_t sec = (time_t)times[t];
            struct tm tm;
            ck_assert_ptr_nonnull(localtime_r(&sec, &tm));
            r.start.tv_sec = sec;
            for (const char *c = conv; *c != '\0'; c++) {
                snprintf(fmt, sizeof fmt, "%%%c", *c);
                snprintf(got_fmt, sizeof got_fmt, "[%%{%%%c}t]", *c);
                want[0] = '[';
                size_t n = strftime(want + 1, sizeof want - 2, fmt, &tm);
                memcpy(want + 1 + n, "]", 2);
                const char *got = apache(got_fmt, &r);
                ck_assert_msg(strcmp(got, want) == 0, "%s at %lld in %s: got '%s', want '%s'",
                              fmt, times[t], zones[z], got, want);
            }
        }
    }
}
END_TEST

/* ---- truncation ---------------------------------------------------------- */

static char *filled(size_t n, char c)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* A huge Referer is cut; what comes after it survives. */
START_TEST(test_truncate_keeps_later_fields)
{
    struct log_request r;
    base_request(&r);
    char *ref = filled(20000, 'r');
    req_hdrs[0].value = ref;
    const char *line = apache(logformat_predefined("combined", NULL), &r);
    size_t n = strlen(line);
    ck_assert_uint_eq(n, LOGFORMAT_LINE_MAX - 1);       /* every byte used */
    ck_assert_ptr_nonnull(strstr(line, "\"GET /a/b%20c?x=1&y=2 HTTP/1.1\" 200 1234 \"rrr"));
    const char *tail = "rrr\" \"Mozilla/5.0 (X11)\"";
    ck_assert_str_eq(line + n - strlen(tail), tail);
    free(ref);
}
END_TEST

/* Fair shares: the short field keeps all of itself, the long ones split
 * the rest evenly. */
START_TEST(test_truncate_fair_shares)
{
    struct log_request r;
    base_request(&r);
    char *a = filled(10000, 'a'), *c = filled(10000, 'c');
    req_hdrs[0] = (struct hdr){ "A", a };
    req_hdrs[1] = (struct hdr){ "B", "0123456789" };
    req_hdrs[2] = (struct hdr){ "C", c };
    const char *line = format_cap("%{A}i|%{B}i|%{C}i|%>s", LOGFORMAT_ESCAPE_APACHE, &r, 1001);
    /* room 1000: "|" "|" "|200" fixed (6), B 10, A and C 492 each */
    ck_assert_uint_eq(strlen(line), 1000);
    ck_assert_uint_eq(strspn(line, "a"), 492);
    ck_assert_int_eq(memcmp(line + 492, "|0123456789|", 12), 0);
    ck_assert_uint_eq(strspn(line + 504, "c"), 492);
    ck_assert_str_eq(line + 996, "|200");
    free(a);
    free(c);
}
END_TEST

/* A cut never splits an escape sequence ("\x01" is four bytes). */
START_TEST(test_truncate_whole_escapes)
{
    struct log_request r;
    base_request(&r);
    char *ctl = filled(3000, '\x01');
    set_str(&r.request_line, &r.request_line_len, ctl);
    for (size_t cap = 20; cap < 200; cap++) {
        const char *line = format_cap("\"%r\" %>s", LOGFORMAT_ESCAPE_APACHE, &r, cap);
        size_t n = strlen(line);
        ck_assert_str_eq(line + n - 5, "\" 200");
        ck_assert_uint_eq((n - 6) % 4, 0);
        for (size_t i = 1; i + 5 < n; i += 4)
            ck_assert_int_eq(memcmp(line + i, "\\x01", 4), 0);
    }
    free(ctl);
}
END_TEST

/* JSON lines stay valid JSON when cut, UTF-8 characters whole. */
START_TEST(test_truncate_json)
{
    struct log_request r;
    base_request(&r);
    static char ua[6000];
    for (size_t i = 0; i + 10 < sizeof ua; i += 10)
        memcpy(ua + i, "\xc3\xa9\xf0\x9f\x98\x80\"\x01\xff\\", 10);
    req_hdrs[1].value = ua;
    req_hdrs[0].value = ua + 3;
    const char *j = logformat_predefined("json", NULL);
    for (size_t cap = 560; cap <= LOGFORMAT_LINE_MAX; cap += cap < 1200 ? 7 : 301) {
        const char *line = format_cap(j, LOGFORMAT_ESCAPE_JSON, &r, cap);
        ck_assert_msg(json_valid(line, strlen(line)), "cap %zu: %s", cap, line);
        ck_assert_ptr_nonnull(strstr(line, "\"keepalive\":3,\"conn_status\":\"+\"}"));
    }
}
END_TEST

/* Tiny buffers: still one line, '\n' last, nothing written past CAP. */
START_TEST(test_truncate_tiny)
{
    struct log_request r;
    char err[64], buf[128];
    base_request(&r);
    struct logformat *f = logformat_compile(logformat_predefined("combined", NULL),
                                            LOGFORMAT_ESCAPE_APACHE, err, sizeof err);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(logformat_line(f, &r, NULL, buf, 0), 0);
    for (size_t cap = 1; cap < 100; cap++) {
        memset(buf, '#', sizeof buf);
        size_t n = logformat_line(f, &r, NULL, buf, cap);
        ck_assert_uint_ge(n, 1);
        ck_assert_uint_le(n, cap);
        ck_assert_int_eq(buf[n - 1], '\n');
        ck_assert_ptr_null(memchr(buf, '\n', n - 1));
        ck_assert_int_eq(buf[cap], '#');
        ck_assert_int_eq(memcmp(buf, "192.0.2.7 - ", n - 1 < 12 ? n - 1 : 12), 0);
    }
    logformat_free(f);
}
END_TEST

/* ---- compiling ------------------------------------------------------------ */

START_TEST(test_compile_errors)
{
    const enum logformat_escape a = LOGFORMAT_ESCAPE_APACHE;
    ck_assert_str_eq(compile_error("abc%Y", a), "unknown format directive %Y at offset 3");
    ck_assert_str_eq(compile_error("%h %!200{x}Q", a),
                     "unknown format directive %!200{x}Q at offset 3");
    ck_assert_str_eq(compile_error("%{Referer", a), "unterminated %{ at offset 0");
    ck_assert_str_eq(compile_error("ok %{a}i %{b", a), "unterminated %{ at offset 9");
    ck_assert_str_eq(compile_error("x %", a), "incomplete format directive % at offset 2");
    ck_assert_str_eq(compile_error("%>", a), "incomplete format directive %> at offset 0");
    ck_assert_str_eq(compile_error("%400,", LOGFORMAT_ESCAPE_JSON),
                     "incomplete format directive %400, at offset 0");
    ck_assert_str_eq(compile_error("%{foo}p", a),
                     "bad argument in format directive %{foo}p at offset 0");
    ck_assert_str_eq(compile_error("%{x}P", a),
                     "bad argument in format directive %{x}P at offset 0");
    ck_assert_str_eq(compile_error("%{min}T", a),
                     "bad argument in format directive %{min}T at offset 0");
    ck_assert_str_eq(compile_error("%1000s", a),
                     "status code above 999 in the format directive at offset 0");
    ck_assert_str_eq(compile_error("%^xx", a), "unknown format directive %^ at offset 0");
    ck_assert_str_eq(compile_error("%\x01", a), "unknown format directive %\\x01 at offset 0");
    ck_assert_str_eq(compile_error("%{a b}Z", a),
                     "unknown format directive %{a\\x20b}Z at offset 0");
    ck_assert_str_eq(compile_error(NULL, a), "no log format");
    char *huge = filled(70000, 'x');
    ck_assert_str_eq(compile_error(huge, a), "log format longer than 65536 bytes");
    free(huge);
    /* a long directive is shown shortened */
    char longarg[300] = "%{";
    memset(longarg + 2, 'n', 200);
    strcpy(longarg + 202, "}Z");
    const char *e = compile_error(longarg, a);
    ck_assert_msg(strncmp(e, "unknown format directive %{nnn", 30) == 0 &&
                      strstr(e, "... at offset 0") != NULL && strlen(e) < 100, "%s", e);
    /* a short buffer gets a cut message, NUL-terminated; none at all is fine */
    char small[10];
    ck_assert_ptr_null(logformat_compile("%Y", a, small, sizeof small));
    ck_assert_str_eq(small, "unknown f");
    ck_assert_ptr_null(logformat_compile("%Y", a, NULL, 0));
}
END_TEST

START_TEST(test_needs)
{
    static const struct {
        const char *fmt;
        unsigned needs;
    } cases[] = {
        { "%h %l %u %t \"%r\" %>s %b", 0 },
        { "%{Referer}i", LOGFORMAT_NEEDS_REQ_HEADERS },
        { "%{sid}C", LOGFORMAT_NEEDS_REQ_HEADERS },
        { "%{Content-Type}o", LOGFORMAT_NEEDS_RESP_HEADERS },
        { "%A", LOGFORMAT_NEEDS_LOCAL_ADDR },
        { "%{local}p %p %{remote}p", LOGFORMAT_NEEDS_LOCAL_ADDR },
        { "%{tid}P %{hextid}P %P", LOGFORMAT_NEEDS_TID },
        { "%f %R %L %{c}L", LOGFORMAT_NEEDS_FILENAME | LOGFORMAT_NEEDS_HANDLER |
                                LOGFORMAT_NEEDS_LOG_ID },
        { "%{}i %{}o", 0 },
        { "%{Referer}i %{X}o %A %{tid}P", LOGFORMAT_NEEDS_REQ_HEADERS |
              LOGFORMAT_NEEDS_RESP_HEADERS | LOGFORMAT_NEEDS_LOCAL_ADDR | LOGFORMAT_NEEDS_TID },
    };
    char err[128];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct logformat *f = logformat_compile(cases[i].fmt, LOGFORMAT_ESCAPE_APACHE, err,
                                                sizeof err);
        ck_assert_ptr_nonnull(f);
        ck_assert_msg(logformat_needs(f) == cases[i].needs, "%s: %#x", cases[i].fmt,
                      logformat_needs(f));
        logformat_free(f);
    }
    ck_assert_uint_eq(logformat_needs(NULL), 0);
    logformat_free(NULL);
}
END_TEST

/* Many directives and literal pieces: the arrays grow; conditions stay
 * with their items. */
START_TEST(test_long_format)
{
    struct log_request r;
    static char fmt[40000], want[40000];
    size_t fl = 0, wl = 0;
    base_request(&r);
    for (int i = 0; i < 2000; i++) {
        fl += (size_t)snprintf(fmt + fl, sizeof fmt - fl, "%s", i % 2 ? "%!20%d" : "<%200,404>s>");
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", i % 2 ? "%!20%d" : "<200>");
    }
    /* '%' is no directive letter: "%!20%" is refused where it starts */
    ck_assert_str_eq(compile_error(fmt, LOGFORMAT_ESCAPE_APACHE),
                     "unknown format directive %!20% at offset 12");
    fl = wl = 0;
    for (int i = 0; i < 2000; i++) {
        fl += (size_t)snprintf(fmt + fl, sizeof fmt - fl, "%s", i % 2 ? "%%" : "<%200,404>s>");
        wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s", i % 2 ? "%" : "<200>");
    }
    ck_assert_str_eq(format_cap(fmt, LOGFORMAT_ESCAPE_APACHE, &r, LOGFORMAT_LINE_MAX), want);
}
END_TEST

Suite *logformat_suite(void)
{
    Suite *s = suite_create("logformat");
    TCase *tc = tcase_create("directives");
    tcase_add_loop_test(tc, test_directive, 0, (int)(sizeof directives / sizeof *directives));
    tcase_add_test(tc, test_predefined);
    tcase_add_test(tc, test_addresses);
    tcase_add_test(tc, test_targets);
    tcase_add_test(tc, test_missing_values);
    tcase_add_test(tc, test_odd_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("escaping");
    tcase_add_test(tc, test_apache_escaping);
    tcase_add_test(tc, test_json_escaping);
    tcase_add_test(tc, test_json_context);
    tcase_add_test(tc, test_json_nasty_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_add_test(tc, test_clock_cache);
    tcase_add_test(tc, test_time_zones);
    tcase_add_test(tc, test_absurd_times);
    tcase_add_test(tc, test_strftime_equivalence);
    suite_add_tcase(s, tc);

    tc = tcase_create("truncation");
    tcase_add_test(tc, test_truncate_keeps_later_fields);
    tcase_add_test(tc, test_truncate_fair_shares);
    tcase_add_test(tc, test_truncate_whole_escapes);
    tcase_add_test(tc, test_truncate_json);
    tcase_add_test(tc, test_truncate_tiny);
    suite_add_tcase(s, tc);

    tc = tcase_create("compile");
    tcase_add_test(tc, test_compile_errors);
    tcase_add_test(tc, test_needs);
    tcase_add_test(tc, test_long_format);
    suite_add_tcase(s, tc);
    return s;
}
