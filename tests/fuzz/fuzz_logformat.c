/* fuzz_logformat.c: libFuzzer harness for the access-log format compiler
 * and line formatter (src/core/logformat.c).
 *
 * Input format (so a corpus file is a LogFormat string after 1 byte):
 *   byte 0  bit 0: compile in JSON mode (else Apache mode).
 *   rest    the format, up to the first NUL; the whole rest is also the
 *           client's side of a request (request line, target, headers).
 *
 * 1. The format is compiled.  Refused: the message is NUL-terminated, one
 *    line, and names an offset (or the length limit).  Compiled: it is
 *    applied to a full request with hostile values and to an empty one,
 *    into malloc'd buffers of exactly CAP bytes for several CAPs (a write
 *    past one is an ASan report).  Checked: the length is 1..CAP, the last
 *    byte '\n'; the same call again gives the same bytes; and when neither
 *    the format's literal text nor its time formats can make a control
 *    byte (no control byte, backslash or %{..n..}t / %{..t..}t in it), the
 *    line has none but the final '\n'.
 * 2. The predefined json format is applied to a request whose client
 *    values are the input: every line, cut or not, is valid JSON
 *    (json_valid.h) once CAP holds its literal text; the combined format
 *    gives one line with no control byte.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all memory
 * is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FUZZ_NAME "fuzz_logformat"
#include "fuzz_target.h"
#include "mpmd/core/logformat.h"
#include "../unit/json_valid.h"

#define MAX_INPUT (64 * 1024)      /* bigger inputs are skipped: nothing new, only slow */
#define JSON_MIN_CAP 1024          /* the json format's literal text fits in this */

static const size_t caps[] = { 1, 2, 7, 33, 120, 512, 2048, LOGFORMAT_LINE_MAX };

/* The client's values for the requests: the input (or fixed hostile text). */
struct client {
    const char *text;
    size_t len;
};

/* Any header: a hostile value for names starting a..m (any case), the
 * input for the rest but "Cookie" and names from n on, which are absent. */
static const char *header(const void *ctx, const char *name, size_t name_len, size_t *vlen)
{
    const struct client *c = ctx;
    if (name_len == 6 && strncasecmp(name, "Cookie", 6) == 0) {
        static const char cookie[] = "a=1; B = \"two\" ; c=\x01\xff; =x; d=";
        *vlen = sizeof cookie - 1;
        return cookie;
    }
    if (name_len > 0 && (name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'm') {
        static const char v[] = "v\"al\\ue\x01\n\t\x7f\x80\xc3\xa9\xed\xa0\x80 end";
        *vlen = sizeof v - 1;
        return v;
    }
    if (name_len > 0 && (name[0] | 0x20) > 'm')
        return NULL;
    *vlen = c->len;
    return c->text;
}

static struct sockaddr_in6 peer6;
static struct sockaddr_in local4;

/* A request with every field set; client values from C. */
static void full_request(struct log_request *r, const struct client *c)
{
    memset(r, 0, sizeof *r);
    peer6.sin6_family = AF_INET6;
    peer6.sin6_port = htons(40000);
    inet_pton(AF_INET6, "2001:db8::42", &peer6.sin6_addr);
    local4.sin_family = AF_INET;
    local4.sin_port = htons(8443);
    inet_pton(AF_INET, "10.0.0.1", &local4.sin_addr);
    r->peer = (const struct sockaddr *)&peer6;
    r->local = (const struct sockaddr *)&local4;
    r->method = c->text;
    r->method_len = c->len < 8 ? c->len : 8;
    r->target = c->text;
    r->target_len = c->len;
    r->protocol = "HTTP/1.1";
    r->protocol_len = 8;
    r->request_line = c->text;
    r->request_line_len = c->len;
    r->status = 404;
    r->body_bytes = 123456789;
    r->bytes_in = 512;
    r->bytes_out = 123457000;
    r->start = (struct timespec){ 1700000000, 999999999 };
    r->duration_us = 1999999;
    r->server_name = "www.example.org";
    r->host = c->text;
    r->host_len = c->len < 64 ? c->len : 64;
    r->server_port = 443;
    r->pid = 31337;
    r->tid = 31338;
    r->conn_status = 'X';
    r->keepalive_count = 99;
    r->user = "u\"ser\x01";
    r->filename = "/srv/\xff\n";
    r->log_id = "id";
    r->handler = "h\\";
    r->req_header = header;
    r->resp_header = header;
    r->ctx = c;
}

static int is_control(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* Whether the format itself could put a control byte into a line: one in
 * its text, a backslash escape, or an 'n' or 't' in a {...} (a strftime
 * %n or %t, with or without flags). */
static int format_may_emit_controls(const char *fmt)
{
    int in_brace = 0;
    for (const unsigned char *p = (const unsigned char *)fmt; *p != '\0'; p++) {
        if (is_control(*p) || *p == '\\')
            return 1;
        if (*p == '{')
            in_brace = 1;
        else if (*p == '}')
            in_brace = 0;
        else if (in_brace && (*p == 'n' || *p == 't'))
            return 1;
    }
    return 0;
}

/* Format R with F into a buffer of exactly CAP bytes, twice; check the
 * line.  Returns the line (malloc'd, CAP bytes) and its length in *LEN. */
static char *line(const struct logformat *f, const struct log_request *r, size_t cap,
                  size_t *len)
{
    struct logformat_clock clk = { 0 };
    char *buf = malloc(cap), *again = malloc(cap);
    CHECK(buf != NULL && again != NULL, "out of memory for %zu bytes", cap);
    size_t n = logformat_line(f, r, &clk, buf, cap);
    CHECK(n >= 1 && n <= cap, "length %zu for a buffer of %zu", n, cap);
    CHECK(buf[n - 1] == '\n', "line of %zu bytes does not end in a newline", n);
    size_t m = logformat_line(f, r, &clk, again, cap);
    CHECK(m == n && memcmp(buf, again, n) == 0, "two calls, two lines (%zu, %zu bytes)", n, m);
    free(again);
    *len = n;
    return buf;
}

static void check_no_controls(const char *buf, size_t n, const char *what)
{
    for (size_t i = 0; i + 1 < n; i++)
        CHECK(!is_control((unsigned char)buf[i]), "%s: control byte 0x%02x at %zu of %zu", what,
              (unsigned char)buf[i], i, n);
}

static void check_error(const char *err, size_t errlen)
{
    CHECK(memchr(err, '\0', errlen) != NULL, "error message not NUL-terminated");
    CHECK(err[0] != '\0', "refused without a message");
    CHECK(strchr(err, '\n') == NULL, "error message of more than one line: %s", err);
    CHECK(strstr(err, " at offset ") != NULL || strstr(err, "longer than") != NULL,
          "error message names no offset: %s", err);
}

/* Part 1: the input as a format. */
static void fuzz_format(const char *fmt, enum logformat_escape esc, const struct client *c)
{
    char err[256];
    memset(err, 'X', sizeof err);
    struct logformat *f = logformat_compile(fmt, esc, err, sizeof err);
    if (f == NULL) {
        check_error(err, sizeof err);
        return;
    }
    int clean = !format_may_emit_controls(fmt);
    struct log_request full, empty;
    full_request(&full, c);
    memset(&empty, 0, sizeof empty);
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t n;
        char *buf = line(f, &full, caps[i], &n);
        if (clean)
            check_no_controls(buf, n, "full request");
        free(buf);
        buf = line(f, &empty, caps[i], &n);
        if (clean)
            check_no_controls(buf, n, "empty request");
        free(buf);
    }
    logformat_free(f);
}

/* Part 2: the input as a client's values, in the json and combined formats. */
static void fuzz_values(const struct client *c)
{
    char err[256];
    enum logformat_escape json_esc, combined_esc;
    const char *json_fmt = logformat_predefined("json", &json_esc);
    const char *combined_fmt = logformat_predefined("combined", &combined_esc);
    struct logformat *json = logformat_compile(json_fmt, json_esc, err, sizeof err);
    struct logformat *combined = logformat_compile(combined_fmt, combined_esc, err, sizeof err);
    CHECK(json != NULL && combined != NULL, "a predefined format does not compile: %s", err);
    struct log_request r;
    full_request(&r, c);
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t n;
        char *buf = line(json, &r, caps[i], &n);
        CHECK(caps[i] < JSON_MIN_CAP || json_valid(buf, n - 1), "json line of %zu bytes"
              " (buffer %zu) is not valid JSON: %.*s", n, caps[i], (int)n, buf);
        check_no_controls(buf, n, "json");
        free(buf);
        buf = line(combined, &r, caps[i], &n);
        check_no_controls(buf, n, "combined");
        free(buf);
    }
    logformat_free(json);
    logformat_free(combined);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    enum logformat_escape esc = data[0] & 1 ? LOGFORMAT_ESCAPE_JSON : LOGFORMAT_ESCAPE_APACHE;
    char *fmt = malloc(size);
    CHECK(fmt != NULL, "out of memory for %zu bytes", size);
    memcpy(fmt, data + 1, size - 1);
    fmt[size - 1] = '\0';
    struct client c = { (const char *)data + 1, size - 1 };
    fuzz_format(fmt, esc, &c);
    fuzz_values(&c);
    free(fmt);
    return 0;
}
