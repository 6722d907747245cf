/* logformat.c: Apache mod_log_config formats, compiled and applied (see
 * logformat.h).
 *
 * logformat_compile parses the format the way mod_log_config's
 * parse_log_item does (literal text with \n \t \r \\, then %[!][<>][codes]
 * [{arg}]X directives) into one allocation: the struct, its items, their
 * status lists and the text they point into.  Adjacent literal text is one
 * item.  In JSON mode it also follows the quotes of the literal text, so
 * each directive knows whether it sits inside a JSON string.
 *
 * logformat_line runs on the request path of any thread.  Each directive's
 * getter yields a value (a number, safe text, client text to escape, or
 * nothing) without allocating; emit() writes it in the escape mode.  The
 * line is built in the caller's buffer in one pass; only when something
 * did not fit is it built again, with the room shared fairly among the
 * text values by what each of them wanted in the first pass (max-min
 * fairness), so literal text, numbers and times survive and a huge header
 * cannot push out the fields after it.
 *
 * Deliberate differences from Apache: %h is the address (no
 * HostnameLookups); %U is the raw path of the request-target, not its
 * decoded form; a bad {argument} of %p, %P and %T is refused at compile
 * time instead of being logged as is; %e %n %l %x %c %F %^ti %^to and
 * %{c}L have nothing behind them and print "-". */
#ifdef HAVE_CONFIG_H
#include "config.h"     /* _GNU_SOURCE (AC_USE_SYSTEM_EXTENSIONS): tm_gmtoff */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "mpmd/core/logformat.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FORMAT_MAX 65536        /* longest format accepted (Apache's lines are 8 KB) */
#define STATUS_MAX 999          /* biggest status code in a condition list */
#define SCRATCH_MAX 256         /* one value built on the stack: a number, an
                                 * address, a custom time (cut at this length) */
#define TEXT_TRACKED 64         /* text values a line shares room between; any
                                 * after these get what is left */

enum lf_type {
    LF_LITERAL, LF_MISSING, LF_REMOTE_ADDR, LF_LOCAL_ADDR, LF_BYTES_CLF, LF_BYTES,
    LF_BYTES_IN, LF_BYTES_OUT, LF_BYTES_ALL, LF_COOKIE, LF_DURATION, LF_FILENAME,
    LF_PROTOCOL, LF_REQ_HEADER, LF_RESP_HEADER, LF_KEEPALIVE, LF_LOG_ID, LF_METHOD,
    LF_PORT, LF_LOCAL_PORT, LF_REMOTE_PORT, LF_PID, LF_TID, LF_HEXTID, LF_QUERY,
    LF_REQUEST_LINE, LF_HANDLER, LF_STATUS, LF_TIME, LF_USER, LF_PATH, LF_SERVER_NAME,
    LF_HOST, LF_CONN_STATUS, LF_SSL_VAR, LF_CONN_ADDR,
    LF_NTYPES
};

/* LF_TIME's sub: what to print, | TIME_END for the end of the request. */
enum { TIME_CLF, TIME_SEC, TIME_MSEC, TIME_USEC, TIME_MSEC_FRAC, TIME_USEC_FRAC, TIME_CUSTOM };
#define TIME_END 0x80u

struct lf_item {
    unsigned char type;         /* enum lf_type */
    unsigned char sub;          /* LF_TIME: TIME_*; LF_DURATION: divisor index */
    unsigned char quoted;       /* JSON mode: inside a string of the literal text */
    unsigned char negate;       /* "%!200,304{...}i": print when the status is NOT listed */
    unsigned n_cond, cond;      /* status codes f->conds[cond .. cond + n_cond) */
    unsigned arg, arg_len;      /* literal text or the {argument}, in f->text (NUL after) */
};

struct logformat {
    enum logformat_escape esc;
    unsigned needs;             /* LOGFORMAT_NEEDS_* */
    unsigned n_items;
    const struct lf_item *items;
    const unsigned short *conds;
    const char *text;
};

static const long long duration_div[] = { 1, 1000, 1000000 };   /* us, ms, s */

const char logformat_day_abbr[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const day_full[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
const char logformat_month_abbr[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const month_full[12] = {
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
};

static const char *const predefined[][2] = {
    { "common", "%h %l %u %t \"%r\" %>s %b" },
    { "combined", "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" },
    { "vhost_combined", "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" },
    { "referer", "%{Referer}i -> %U" },
    { "agent", "%{User-agent}i" },
    { "json", "{\"time\":\"%{%Y-%m-%dT%H:%M:%S%z}t\",\"remote_addr\":\"%a\","
              "\"remote_user\":\"%u\",\"request\":\"%r\",\"method\":\"%m\",\"uri\":\"%U\","
              "\"query\":\"%q\",\"protocol\":\"%H\",\"status\":%>s,\"body_bytes\":%B,"
              "\"bytes_in\":%I,\"bytes_out\":%O,\"duration_us\":%D,\"host\":\"%V\","
              "\"server_name\":\"%v\",\"referer\":\"%{Referer}i\","
              "\"user_agent\":\"%{User-Agent}i\",\"pid\":%P,\"tid\":%{tid}P,"
              "\"keepalive\":%k,\"conn_status\":\"%X\"}" },
};

const char *logformat_predefined(const char *nickname, enum logformat_escape *esc)
{
    for (size_t i = 0; nickname != NULL && i < sizeof predefined / sizeof *predefined; i++) {
        if (strcmp(nickname, predefined[i][0]) == 0) {
            if (esc != NULL)
                *esc = strcmp(nickname, "json") == 0 ? LOGFORMAT_ESCAPE_JSON
                                                     : LOGFORMAT_ESCAPE_APACHE;
            return predefined[i][1];
        }
    }
    return NULL;
}

/* ==== compiling ========================================================= */

/* The format being compiled: growing arrays, copied into one block at the
 * end. */
struct builder {
    const char *fmt;
    enum logformat_escape esc;
    struct lf_item *items;
    size_t n_items, cap_items;
    unsigned short *conds;
    size_t n_conds, cap_conds;
    char *text;
    size_t text_len, text_cap;
    unsigned needs;
    int in_string, backslash;   /* JSON mode: where the literal text has got to */
    int open_literal;           /* the last item is literal text still growing */
    char *err;
    size_t errlen;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (q == NULL)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int fail(struct builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct builder *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->errlen > 0)
        vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The directive FMT[START..END) as printable text for a message. */
static void directive_text(const struct builder *b, size_t start, size_t end, char *out,
                           size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = start; i < end; i++) {
        unsigned char c = (unsigned char)b->fmt[i];
        if (o + 8 > cap) {                  /* room for "\\xhh", "..." and NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c > 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            memcpy(out + o, "\\x", 2);
            out[o + 2] = hex[c >> 4];
            out[o + 3] = hex[c & 15];
            o += 4;
        }
    }
    out[o] = '\0';
}

/* Append N bytes to the text pool, NUL-terminated; their offset in *OFF. */
static int add_text(struct builder *b, const char *s, size_t n, unsigned *off)
{
    if (grow((void **)&b->text, &b->text_cap, b->text_len + n + 1, 1) == -1)
        return fail(b, "out of memory compiling a log format");
    memcpy(b->text + b->text_len, s, n);
    *off = (unsigned)b->text_len;
    b->text_len += n;
    b->text[b->text_len++] = '\0';
    return 0;
}

static struct lf_item *add_item(struct builder *b)
{
    if (grow((void **)&b->items, &b->cap_items, b->n_items + 1, sizeof *b->items) == -1) {
        fail(b, "out of memory compiling a log format");
        return NULL;
    }
    struct lf_item *it = &b->items[b->n_items++];
    memset(it, 0, sizeof *it);
    return it;
}

/* JSON mode: follow the quotes of literal text, byte C. */
static void track_json(struct builder *b, char c)
{
    if (b->backslash)
        b->backslash = 0;
    else if (b->in_string && c == '\\')
        b->backslash = 1;
    else if (c == '"')
        b->in_string = !b->in_string;
}

/* Append the literal byte C, growing the literal item at the end. */
static int add_literal_byte(struct builder *b, char c)
{
    if (b->esc == LOGFORMAT_ESCAPE_JSON)
        track_json(b, c);
    if (b->open_literal) {          /* its text is the last thing in the pool */
        if (grow((void **)&b->text, &b->text_cap, b->text_len + 1, 1) == -1)
            return fail(b, "out of memory compiling a log format");
        b->text[b->text_len - 1] = c;
        b->text[b->text_len++] = '\0';
        b->items[b->n_items - 1].arg_len++;
        return 0;
    }
    struct lf_item *it = add_item(b);
    if (it == NULL)
        return -1;
    it->type = LF_LITERAL;
    it->arg_len = 1;
    b->open_literal = 1;
    return add_text(b, &c, 1, &it->arg);
}

/* Literal text from *POS up to the next '%', with Apache's backslash
 * escapes (\n \r \t \\; any other backslash stays). */
static int parse_literal(struct builder *b, size_t *pos)
{
    const char *s = b->fmt;
    size_t p = *pos;
    while (s[p] != '\0' && s[p] != '%') {
        char c = s[p++];
        if (c == '\\') {
            switch (s[p]) {
            case '\\': c = '\\'; p++; break;
            case 'n': c = '\n'; p++; break;
            case 'r': c = '\r'; p++; break;
            case 't': c = '\t'; p++; break;
            default: break;                 /* kept, the next byte read as usual */
            }
        }
        if (add_literal_byte(b, c) == -1)
            return -1;
    }
    *pos = p;
    return 0;
}

/* %{ARG}t: Apache's begin:/end: prefixes and its sec, msec, usec,
 * msec_frac and usec_frac tokens; anything else is a strftime format. */
static void resolve_time(struct lf_item *it, const char *arg)
{
    const char *f = arg;
    unsigned end = 0;
    it->sub = TIME_CUSTOM;
    if (strncmp(f, "begin", 5) == 0 && (f[5] == '\0' || f[5] == ':')) {
        f += f[5] == ':' ? 6 : 5;
    } else if (strncmp(f, "end", 3) == 0 && (f[3] == '\0' || f[3] == ':')) {
        f += f[3] == ':' ? 4 : 3;
        end = TIME_END;
    }
    if (*f == '\0')
        it->sub = TIME_CLF;
    else if (strcmp(f, "sec") == 0)
        it->sub = TIME_SEC;
    else if (strcmp(f, "msec") == 0)
        it->sub = TIME_MSEC;
    else if (strcmp(f, "usec") == 0)
        it->sub = TIME_USEC;
    else if (strcmp(f, "msec_frac") == 0)
        it->sub = TIME_MSEC_FRAC;
    else if (strcmp(f, "usec_frac") == 0)
        it->sub = TIME_USEC_FRAC;
    it->sub |= end;
    it->arg_len -= (unsigned)(f - arg);     /* the custom format, past its prefix */
    it->arg += (unsigned)(f - arg);
}

/* An {argument} among WORDS (any case); its index, or -1. "" is the first. */
static int arg_choice(const char *arg, const char *const *words, int n)
{
    if (*arg == '\0')
        return 0;
    for (int i = 0; i < n; i++)
        if (strcasecmp(arg, words[i]) == 0)
            return i;
    return -1;
}

/* Directives whose {argument} picks a variant: %p, %P, %T. */
static int resolve_variant(struct lf_item *it, char c, const char *arg)
{
    static const char *const ports[] = { "canonical", "local", "remote" };
    static const char *const pids[] = { "pid", "tid", "hextid" };
    static const char *const units[] = { "s", "ms", "us" };
    static const unsigned char port_types[] = { LF_PORT, LF_LOCAL_PORT, LF_REMOTE_PORT };
    static const unsigned char pid_types[] = { LF_PID, LF_TID, LF_HEXTID };
    int i;
    switch (c) {
    case 'p':
        if ((i = arg_choice(arg, ports, 3)) == -1)
            return -1;
        it->type = port_types[i];
        return 0;
    case 'P':
        if ((i = arg_choice(arg, pids, 3)) == -1)
            return -1;
        it->type = pid_types[i];
        return 0;
    default:        /* 'T' */
        if ((i = arg_choice(arg, units, 3)) == -1)
            return -1;
        it->type = LF_DURATION;
        it->sub = (unsigned char)(2 - i);
        return 0;
    }
}

/* The type of directive letter C, by the table of Apache 2.4's letters;
 * LF_NTYPES if unknown, LF_LITERAL for the letters resolve_variant takes. */
static int letter_type(char c)
{
    switch (c) {
    case 'a': case 'h': return LF_REMOTE_ADDR;
    case 'A': return LF_LOCAL_ADDR;
    case 'b': return LF_BYTES_CLF;
    case 'B': return LF_BYTES;
    case 'C': return LF_COOKIE;
    case 'D': return LF_DURATION;
    case 'c': case 'e': case 'F': case 'l': case 'n': return LF_MISSING;
    case 'x': return LF_SSL_VAR;
    case 'f': return LF_FILENAME;
    case 'H': return LF_PROTOCOL;
    case 'i': return LF_REQ_HEADER;
    case 'I': return LF_BYTES_IN;
    case 'k': return LF_KEEPALIVE;
    case 'L': return LF_LOG_ID;
    case 'm': return LF_METHOD;
    case 'o': return LF_RESP_HEADER;
    case 'O': return LF_BYTES_OUT;
    case 'q': return LF_QUERY;
    case 'r': return LF_REQUEST_LINE;
    case 'R': return LF_HANDLER;
    case 's': return LF_STATUS;
    case 'S': return LF_BYTES_ALL;
    case 't': return LF_TIME;
    case 'u': return LF_USER;
    case 'U': return LF_PATH;
    case 'v': return LF_SERVER_NAME;
    case 'V': return LF_HOST;
    case 'X': return LF_CONN_STATUS;
    case 'p': case 'P': case 'T': return LF_LITERAL;
    default: return LF_NTYPES;
    }
}

static const unsigned needs_of[LF_NTYPES] = {
    [LF_REQ_HEADER] = LOGFORMAT_NEEDS_REQ_HEADERS, [LF_COOKIE] = LOGFORMAT_NEEDS_REQ_HEADERS,
    [LF_RESP_HEADER] = LOGFORMAT_NEEDS_RESP_HEADERS, [LF_LOCAL_ADDR] = LOGFORMAT_NEEDS_LOCAL_ADDR,
    [LF_LOCAL_PORT] = LOGFORMAT_NEEDS_LOCAL_ADDR, [LF_TID] = LOGFORMAT_NEEDS_TID,
    [LF_HEXTID] = LOGFORMAT_NEEDS_TID, [LF_FILENAME] = LOGFORMAT_NEEDS_FILENAME,
    [LF_HANDLER] = LOGFORMAT_NEEDS_HANDLER, [LF_LOG_ID] = LOGFORMAT_NEEDS_LOG_ID,
};

/* Give IT (its argument already in the pool) the type of letter C.
 * START..END is the directive in the format, for messages. */
static int resolve(struct builder *b, struct lf_item *it, char c, size_t start, size_t end)
{
    char shown[64];
    const char *arg = b->text + it->arg;
    int type = letter_type(c);
    if (type == LF_NTYPES || (type == LF_LITERAL && resolve_variant(it, c, arg) == -1)) {
        directive_text(b, start, end, shown, sizeof shown);
        return fail(b, "%s format directive %s at offset %zu",
                    type == LF_NTYPES ? "unknown" : "bad argument in", shown, start);
    }
    if (type != LF_LITERAL)
        it->type = (unsigned char)type;
    if (it->type == LF_TIME)
        resolve_time(it, arg);
    else if (it->type == LF_DURATION && c == 'D')
        it->sub = 0;
    else if (it->type == LF_LOG_ID && strcmp(arg, "c") == 0)
        it->type = LF_MISSING;          /* the connection's log id: none */
    else if (it->type == LF_REMOTE_ADDR && c == 'a' && strcmp(arg, "c") == 0)
        it->type = LF_CONN_ADDR;        /* %{c}a: the connection's own peer */
    else if ((it->type == LF_REQ_HEADER || it->type == LF_RESP_HEADER ||
              it->type == LF_COOKIE || it->type == LF_SSL_VAR) && it->arg_len == 0)
        it->type = LF_MISSING;
    b->needs |= needs_of[it->type];
    return 0;
}

/* A status code of a condition list, at *POS (a digit). */
static int parse_status(struct builder *b, struct lf_item *it, size_t start, size_t *pos)
{
    const char *s = b->fmt;
    unsigned long v = 0;
    size_t p = *pos;
    while (s[p] >= '0' && s[p] <= '9') {
        if ((v = v * 10 + (unsigned long)(s[p++] - '0')) > STATUS_MAX)
            return fail(b, "status code above %d in the format directive at offset %zu",
                        STATUS_MAX, start);
    }
    if (it->n_cond == 0)
        it->cond = (unsigned)b->n_conds;
    if (grow((void **)&b->conds, &b->cap_conds, b->n_conds + 1, sizeof *b->conds) == -1)
        return fail(b, "out of memory compiling a log format");
    b->conds[b->n_conds++] = (unsigned short)v;
    it->n_cond++;
    *pos = p;
    return 0;
}

/* The {argument} at *POS ('{'), into the pool as IT's. */
static int parse_arg(struct builder *b, struct lf_item *it, size_t start, size_t *pos)
{
    const char *open = b->fmt + *pos + 1;
    const char *close = strchr(open, '}');
    if (close == NULL)
        return fail(b, "unterminated %%{ at offset %zu", start);
    if (add_text(b, open, (size_t)(close - open), &it->arg) == -1)
        return -1;
    it->arg_len = (unsigned)(close - open);
    *pos = (size_t)(close + 1 - b->fmt);
    return 0;
}

/* One %-directive at *POS ('%'), as mod_log_config's parse_log_item reads
 * it: '!', '<', '>', ',', status codes and one {argument} in any order,
 * then the letter (or "^ti" / "^to"). */
static int parse_directive(struct builder *b, size_t *pos)
{
    const char *s = b->fmt;
    size_t start = *pos, p = start + 1;
    if (s[p] == '%') {
        *pos = p + 1;
        return add_literal_byte(b, '%');
    }
    b->open_literal = 0;
    struct lf_item *it = add_item(b);
    if (it == NULL || add_text(b, "", 0, &it->arg) == -1)
        return -1;
    it->quoted = (unsigned char)b->in_string;
    for (;;) {
        char c = s[p];
        if (c == '\0') {
            char shown[64];
            directive_text(b, start, p, shown, sizeof shown);
            return fail(b, "incomplete format directive %s at offset %zu", shown, start);
        }
        if (c == '!' || c == '<' || c == '>' || c == ',') {
            it->negate ^= c == '!';
            p++;
        } else if (c == '{') {
            if (parse_arg(b, it, start, &p) == -1)
                return -1;
        } else if (c >= '0' && c <= '9') {
            if (parse_status(b, it, start, &p) == -1)
                return -1;
        } else if (c == '^' && s[p + 1] == 't' && (s[p + 2] == 'i' || s[p + 2] == 'o')) {
            it->type = LF_MISSING;      /* trailers: none */
            *pos = p + 3;
            return 0;
        } else {
            *pos = p + 1;
            return resolve(b, it, c, start, p + 1);
        }
    }
}

/* The builder's arrays copied into one block. */
static struct logformat *finish(struct builder *b)
{
    size_t items = b->n_items * sizeof *b->items;
    size_t conds = b->n_conds * sizeof *b->conds;
    size_t head = (sizeof(struct logformat) + 15) & ~(size_t)15;
    struct logformat *f = malloc(head + items + conds + b->text_len + 1);
    if (f == NULL) {
        fail(b, "out of memory compiling a log format");
        return NULL;
    }
    char *p = (char *)f + head;
    f->esc = b->esc;
    f->needs = b->needs;
    f->n_items = (unsigned)b->n_items;
    f->items = (const struct lf_item *)p;
    f->conds = (const unsigned short *)(p + items);
    f->text = p + items + conds;
    if (items > 0)                  /* (an empty array may be NULL) */
        memcpy(p, b->items, items);
    if (conds > 0)
        memcpy(p + items, b->conds, conds);
    if (b->text_len > 0)
        memcpy(p + items + conds, b->text, b->text_len);
    p[items + conds + b->text_len] = '\0';
    return f;
}

struct logformat *logformat_compile(const char *fmt, enum logformat_escape esc, char *err,
                                    size_t errlen)
{
    struct builder b = { .fmt = fmt, .esc = esc, .err = err, .errlen = errlen };
    struct logformat *f = NULL;
    size_t pos = 0;
    if (errlen > 0)
        err[0] = '\0';
    if (fmt == NULL) {
        fail(&b, "no log format");
        return NULL;
    }
    if (strlen(fmt) > FORMAT_MAX) {
        fail(&b, "log format longer than %d bytes", FORMAT_MAX);
        return NULL;
    }
    while (fmt[pos] != '\0') {
        int rc = fmt[pos] == '%' ? parse_directive(&b, &pos) : parse_literal(&b, &pos);
        if (rc == -1)
            goto out;
    }
    f = finish(&b);
out:
    free(b.items);
    free(b.conds);
    free(b.text);
    return f;
}

void logformat_free(struct logformat *f)
{
    free(f);
}

unsigned logformat_needs(const struct logformat *f)
{
    return f != NULL ? f->needs : 0;
}

/* ==== values ============================================================ */

/* What a directive yields for one request. */
enum val_kind {
    V_MISSING,      /* nothing: "-" (Apache), "" or null (JSON) */
    V_NUM,          /* a JSON number: digits, maybe a '-' */
    V_SAFE,         /* text that needs no escaping in either mode */
    V_TEXT,         /* text from the client or the site: escaped in both modes */
    V_RAW,          /* text from the format (a custom time): escaped for JSON only */
};

struct val {
    enum val_kind kind;
    const char *s;
    size_t n;
};

/* Everything a getter may read. */
struct ctx {
    const struct logformat *f;
    const struct lf_item *it;
    const struct log_request *r;
    struct logformat_clock *clk;
    char *scratch;              /* SCRATCH_MAX bytes for the value's text */
};

typedef void getter(const struct ctx *c, struct val *v);

static size_t put_ull(char *out, unsigned long long v)
{
    char tmp[20];
    size_t n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

static size_t put_ll(char *out, long long v)
{
    if (v >= 0)
        return put_ull(out, (unsigned long long)v);
    out[0] = '-';
    return 1 + put_ull(out + 1, 0ULL - (unsigned long long)v);
}

/* V in decimal, zero-padded to WIDTH digits (a '-' before them). */
static size_t put_padded(char *out, long long v, size_t width)
{
    char tmp[24];
    size_t o = 0, n;
    if (v < 0)
        out[o++] = '-';
    n = put_ull(tmp, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
    for (; n < width; width--)
        out[o++] = '0';
    memcpy(out + o, tmp, n);
    return o + n;
}

static void set_num(const struct ctx *c, struct val *v, long long n)
{
    v->kind = V_NUM;
    v->s = c->scratch;
    v->n = put_ll(c->scratch, n);
}

static void set_str(struct val *v, enum val_kind kind, const char *s, size_t n)
{
    v->kind = s != NULL ? kind : V_MISSING;
    v->s = s;
    v->n = n;
}

static void set_cstr(struct val *v, const char *s)
{
    set_str(v, V_TEXT, s, s != NULL ? strlen(s) : 0);
}

static size_t put_ipv4(char *out, const unsigned char *a)
{
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        if (i > 0)
            out[o++] = '.';
        o += put_ull(out + o, a[i]);
    }
    return o;
}

size_t logformat_addr_text(char *out, const struct sockaddr *sa)
{
    if (sa != NULL && sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return put_ipv4(out, (const unsigned char *)&in->sin_addr);
    }
    if (sa == NULL || sa->sa_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        return put_ipv4(out, &in6->sin6_addr.s6_addr[12]);
    if (inet_ntop(AF_INET6, &in6->sin6_addr, out, INET6_ADDRSTRLEN) == NULL)
        return 0;
    return strlen(out);
}

int logformat_addr_port(const struct sockaddr *sa)
{
    if (sa != NULL && sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa != NULL && sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return -1;
}

static void get_missing(const struct ctx *c, struct val *v)
{
    (void)c;
    v->kind = V_MISSING;
}

static void get_addr(const struct sockaddr *sa, const struct ctx *c, struct val *v)
{
    v->n = logformat_addr_text(c->scratch, sa);
    v->s = c->scratch;
    v->kind = v->n > 0 ? V_SAFE : V_MISSING;
}

static void get_remote_addr(const struct ctx *c, struct val *v)
{
    get_addr(c->r->peer, c, v);
}

/* %{c}a: the peer of the connection itself (mod_remoteip's "underlying
 * peer IP"): a balancer that sent a PROXY header; else the client. */
static void get_conn_addr(const struct ctx *c, struct val *v)
{
    get_addr(c->r->conn_peer ? c->r->conn_peer : c->r->peer, c, v);
}

static void get_local_addr(const struct ctx *c, struct val *v)
{
    get_addr(c->r->local, c, v);
}

static long long not_negative(long long n)
{
    return n > 0 ? n : 0;
}

/* %b: "-" for no body (but 0 in JSON, where it is a number). */
static void get_bytes_clf(const struct ctx *c, struct val *v)
{
    if (c->r->body_bytes > 0 || c->f->esc == LOGFORMAT_ESCAPE_JSON)
        set_num(c, v, not_negative(c->r->body_bytes));
    else
        v->kind = V_MISSING;
}

static void get_bytes(const struct ctx *c, struct val *v)
{
    set_num(c, v, not_negative(c->r->body_bytes));
}

static void get_bytes_in(const struct ctx *c, struct val *v)
{
    set_num(c, v, not_negative(c->r->bytes_in));
}

static void get_bytes_out(const struct ctx *c, struct val *v)
{
    set_num(c, v, not_negative(c->r->bytes_out));
}

static void get_bytes_all(const struct ctx *c, struct val *v)
{
    unsigned long long in = (unsigned long long)not_negative(c->r->bytes_in);
    unsigned long long sum = in + (unsigned long long)not_negative(c->r->bytes_out);
    v->kind = V_NUM;
    v->s = c->scratch;
    v->n = put_ull(c->scratch, sum);
}

/* Header NAME (LEN bytes) of the request or the response; V_MISSING
 * without one. */
static void header(const struct ctx *c, int resp, const char *name, size_t len, struct val *v)
{
    const struct log_request *r = c->r;
    const char *(*fn)(const void *, const char *, size_t, size_t *) =
        resp ? r->resp_header : r->req_header;
    size_t n = 0;
    const char *s = fn != NULL ? fn(r->ctx, name, len, &n) : NULL;
    set_str(v, V_TEXT, s, n);
}

static void get_req_header(const struct ctx *c, struct val *v)
{
    header(c, 0, c->f->text + c->it->arg, c->it->arg_len, v);
}

static void get_resp_header(const struct ctx *c, struct val *v)
{
    header(c, 1, c->f->text + c->it->arg, c->it->arg_len, v);
}

/* %{NAME}x: mod_ssl's variables (SSL_PROTOCOL, SSL_CIPHER, ...); "-" on
 * a plain connection or for a name the connection layer does not know. */
static void get_ssl_var(const struct ctx *c, struct val *v)
{
    const struct log_request *r = c->r;
    size_t n = 0;
    const char *s = r->ssl_var ? r->ssl_var(r->ctx, c->f->text + c->it->arg, c->it->arg_len, &n)
                               : NULL;
    set_str(v, V_TEXT, s, n);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* S[*A..*B) without Apache's whitespace: leading blanks and tabs, trailing
 * white space. */
static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && (s[*a] == ' ' || s[*a] == '\t'))
        ++*a;
    while (*b > *a && is_space(s[*b - 1]))
        --*b;
}

/* %{NAME}C: the value of cookie NAME in the Cookie header, as Apache's
 * log_cookie finds it ("a=1; NAME = v; c" gives "v"; names in any case). */
static void get_cookie(const struct ctx *c, struct val *v)
{
    const char *name = c->f->text + c->it->arg;
    size_t name_len = c->it->arg_len, n, pos = 0;
    header(c, 0, "Cookie", 6, v);
    if (v->kind == V_MISSING)
        return;
    const char *s = v->s;
    n = v->n;
    v->kind = V_MISSING;
    while (pos < n) {
        size_t end = pos, eq;
        while (end < n && s[end] != ';')
            end++;
        for (eq = pos; eq < end && s[eq] != '='; eq++)
            ;
        size_t na = pos, nb = eq, va = eq + 1, vb = end;
        pos = end + 1;
        if (eq >= end || va == vb)
            continue;                       /* no '=', or nothing after it */
        trim(s, &na, &nb);
        if (nb - na == name_len && strncasecmp(s + na, name, name_len) == 0) {
            trim(s, &va, &vb);
            set_str(v, V_TEXT, s + va, vb - va);
            return;
        }
    }
}

static void get_duration(const struct ctx *c, struct val *v)
{
    set_num(c, v, not_negative(c->r->duration_us) / duration_div[c->it->sub]);
}

static void get_filename(const struct ctx *c, struct val *v)
{
    set_cstr(v, c->r->filename);
}

static void get_protocol(const struct ctx *c, struct val *v)
{
    set_str(v, V_TEXT, c->r->protocol, c->r->protocol_len);
}

static void get_keepalive(const struct ctx *c, struct val *v)
{
    set_num(c, v, c->r->keepalive_count);
}

static void get_log_id(const struct ctx *c, struct val *v)
{
    set_cstr(v, c->r->log_id);
}

static void get_method(const struct ctx *c, struct val *v)
{
    set_str(v, V_TEXT, c->r->method, c->r->method_len);
}

static void get_port(const struct ctx *c, struct val *v)
{
    set_num(c, v, c->r->server_port);
}

static void get_addr_port(const struct sockaddr *sa, const struct ctx *c, struct val *v)
{
    int port = logformat_addr_port(sa);
    if (port >= 0)
        set_num(c, v, port);
    else
        v->kind = V_MISSING;
}

static void get_local_port(const struct ctx *c, struct val *v)
{
    get_addr_port(c->r->local, c, v);
}

static void get_remote_port(const struct ctx *c, struct val *v)
{
    get_addr_port(c->r->peer, c, v);
}

static void get_pid(const struct ctx *c, struct val *v)
{
    set_num(c, v, c->r->pid);
}

static void get_tid(const struct ctx *c, struct val *v)
{
    set_num(c, v, c->r->tid);
}

/* %{hextid}P: lower-case hex, no "0x" (a string in JSON: not a number). */
static void get_hextid(const struct ctx *c, struct val *v)
{
    static const char hex[] = "0123456789abcdef";
    unsigned long t = (unsigned long)c->r->tid;
    char tmp[sizeof t * 2];
    size_t n = 0;
    do
        tmp[n++] = hex[t & 15];
    while ((t >>= 4) != 0);
    for (size_t i = 0; i < n; i++)
        c->scratch[i] = tmp[n - 1 - i];
    set_str(v, V_SAFE, c->scratch, n);
}

/* The path of the request-target: "/a/b" of "/a/b?x" or of
 * "http://host/a/b?x"; "*" stays "*". */
static void get_path(const struct ctx *c, struct val *v)
{
    const char *t = c->r->target;
    size_t n = c->r->target_len, a = 0, b;
    if (t == NULL) {
        v->kind = V_MISSING;
        return;
    }
    if (n > 0 && t[0] != '/' && t[0] != '*') {          /* absolute-form */
        const char *sep = memchr(t, '/', n);
        if (sep != NULL && (size_t)(sep - t) + 1 < n && sep[1] == '/')
            sep = memchr(sep + 2, '/', n - (size_t)(sep + 2 - t));
        if (sep == NULL || memchr(t, '?', (size_t)(sep - t)) != NULL) {
            set_str(v, V_TEXT, "/", 1);
            return;
        }
        a = (size_t)(sep - t);
    }
    for (b = a; b < n && t[b] != '?'; b++)
        ;
    set_str(v, V_TEXT, t + a, b - a);
}

/* "?query", or "" (not missing: Apache prints nothing) without one. */
static void get_query(const struct ctx *c, struct val *v)
{
    const char *t = c->r->target;
    const char *q = t != NULL ? memchr(t, '?', c->r->target_len) : NULL;
    if (q == NULL)
        set_str(v, V_TEXT, "", 0);
    else
        set_str(v, V_TEXT, q, c->r->target_len - (size_t)(q - t));
}

static void get_request_line(const struct ctx *c, struct val *v)
{
    set_str(v, V_TEXT, c->r->request_line, c->r->request_line_len);
}

static void get_handler(const struct ctx *c, struct val *v)
{
    set_cstr(v, c->r->handler);
}

/* %s: "-" when there is none yet (a number, 0, in JSON). */
static void get_status(const struct ctx *c, struct val *v)
{
    if (c->r->status > 0 || c->f->esc == LOGFORMAT_ESCAPE_JSON)
        set_num(c, v, c->r->status > 0 ? c->r->status : 0);
    else
        v->kind = V_MISSING;
}

/* %u: Apache prints an empty user as "" (two quotes). */
static void get_user(const struct ctx *c, struct val *v)
{
    const char *u = c->r->user;
    if (u != NULL && u[0] == '\0' && c->f->esc == LOGFORMAT_ESCAPE_APACHE)
        set_str(v, V_SAFE, "\"\"", 2);
    else
        set_cstr(v, u);
}

static void get_server_name(const struct ctx *c, struct val *v)
{
    set_cstr(v, c->r->server_name);
}

static void get_host(const struct ctx *c, struct val *v)
{
    if (c->r->host != NULL && c->r->host_len > 0)
        set_str(v, V_TEXT, c->r->host, c->r->host_len);
    else
        set_cstr(v, c->r->server_name);
}

static void get_conn_status(const struct ctx *c, struct val *v)
{
    char s = c->r->conn_status;
    set_str(v, V_SAFE, s == 'X' ? "X" : s == '+' ? "+" : "-", 1);
}

/* ---- times -------------------------------------------------------------- */

/* "[10/Oct/2000:13:55:36 -0700]" of TM into OUT (40 bytes: a year of up
 * to 11 characters); its length. */
static size_t put_clf(char *out, const struct tm *tm, long gmtoff)
{
    size_t o = 0;
    long off = gmtoff < 0 ? -gmtoff : gmtoff;
    out[o++] = '[';
    o += put_padded(out + o, tm->tm_mday, 2);
    out[o++] = '/';
    memcpy(out + o, logformat_month_abbr[(unsigned)tm->tm_mon % 12], 3);
    o += 3;
    out[o++] = '/';
    o += put_ll(out + o, (long long)tm->tm_year + 1900);
    for (int i = 0; i < 3; i++) {
        out[o++] = ':';
        o += put_padded(out + o, i == 0 ? tm->tm_hour : i == 1 ? tm->tm_min : tm->tm_sec, 2);
    }
    out[o++] = ' ';
    out[o++] = gmtoff < 0 ? '-' : '+';
    o += put_padded(out + o, off / 3600 % 100, 2);
    o += put_padded(out + o, off % 3600 / 60, 2);
    out[o++] = ']';
    return o;
}

/* The clock CLK set to second SEC (localtime_r only for a new second). */
static void clock_at(struct logformat_clock *clk, time_t sec)
{
    if (clk->valid && clk->sec == sec)
        return;
    if (localtime_r(&sec, &clk->tm) == NULL)
        memset(&clk->tm, 0, sizeof clk->tm);
    clk->gmtoff = clk->tm.tm_gmtoff;
    clk->sec = sec;
    clk->valid = 1;
    clk->clf_len = put_clf(clk->clf, &clk->tm, clk->gmtoff);
}

/* Output of render_time: OUT with room for CAP bytes. */
struct tbuf {
    char *out;
    size_t len, cap;
};

static void tput(struct tbuf *t, const char *s, size_t n)
{
    if (n > t->cap - t->len)
        n = t->cap - t->len;
    memcpy(t->out + t->len, s, n);
    t->len += n;
}

static void tnum(struct tbuf *t, long long v, size_t width, char pad)
{
    char tmp[32];
    if (width == 2 && pad == '0' && v >= 0 && v < 100) {      /* the usual case */
        tmp[0] = (char)('0' + v / 10);
        tmp[1] = (char)('0' + v % 10);
        tput(t, tmp, 2);
        return;
    }
    size_t n = put_padded(tmp, v, pad == '0' ? width : 0);
    for (size_t k = n; pad == ' ' && k < width; k++)
        tput(t, " ", 1);
    tput(t, tmp, n);
}

/* The strftime conversion C of TM by hand (the common ones, in the C
 * locale, as Apache without setlocale prints them); 0 if C is not one. */
static int fast_conversion(struct tbuf *t, char c, const struct tm *tm, long gmtoff, time_t sec)
{
    int h12 = tm->tm_hour % 12 == 0 ? 12 : tm->tm_hour % 12;
    unsigned wday = (unsigned)tm->tm_wday % 7, mon = (unsigned)tm->tm_mon % 12;
    long off = gmtoff < 0 ? -gmtoff : gmtoff;
    switch (c) {
    case 'a': tput(t, logformat_day_abbr[wday], 3); return 1;
    case 'A': tput(t, day_full[wday], strlen(day_full[wday])); return 1;
    case 'b': case 'h': tput(t, logformat_month_abbr[mon], 3); return 1;
    case 'B': tput(t, month_full[mon], strlen(month_full[mon])); return 1;
    case 'd': tnum(t, tm->tm_mday, 2, '0'); return 1;
    case 'e': tnum(t, tm->tm_mday, 2, ' '); return 1;
    case 'H': tnum(t, tm->tm_hour, 2, '0'); return 1;
    case 'I': tnum(t, h12, 2, '0'); return 1;
    case 'j': tnum(t, tm->tm_yday + 1, 3, '0'); return 1;
    case 'm': tnum(t, tm->tm_mon + 1, 2, '0'); return 1;
    case 'M': tnum(t, tm->tm_min, 2, '0'); return 1;
    case 'n': tput(t, "\n", 1); return 1;
    case 'p': tput(t, tm->tm_hour < 12 ? "AM" : "PM", 2); return 1;
    case 'S': tnum(t, tm->tm_sec, 2, '0'); return 1;
    case 's': tnum(t, (long long)sec, 0, 0); return 1;
    case 't': tput(t, "\t", 1); return 1;
    case 'u': tnum(t, tm->tm_wday == 0 ? 7 : tm->tm_wday, 0, 0); return 1;
    case 'w': tnum(t, tm->tm_wday, 0, 0); return 1;
    case 'y': tnum(t, ((tm->tm_year + 1900) % 100 + 100) % 100, 2, '0'); return 1;
    case 'Y': tnum(t, (long long)tm->tm_year + 1900, 0, 0); return 1;
    case 'z':
        tput(t, gmtoff < 0 ? "-" : "+", 1);
        tnum(t, off / 3600 % 100, 2, '0');
        tnum(t, off % 3600 / 60, 2, '0');
        return 1;
    case '%': tput(t, "%", 1); return 1;
    default: return 0;
    }
}

/* Conversions made of others, expanded; 0 if C is not one. */
static const char *composite(char c)
{
    switch (c) {
    case 'D': return "%m/%d/%y";
    case 'F': return "%Y-%m-%d";
    case 'R': return "%H:%M";
    case 'T': return "%H:%M:%S";
    case 'r': return "%I:%M:%S %p";
    default: return NULL;
    }
}

static void render_time(struct tbuf *t, const char *fmt, const struct tm *tm, long gmtoff,
                        time_t sec);

/* The conversion at FMT ('%'); returns the bytes of FMT it took.  Flags,
 * widths, E/O modifiers and the conversions not done by hand go to
 * strftime. */
static size_t conversion(struct tbuf *t, const char *fmt, const struct tm *tm, long gmtoff,
                         time_t sec)
{
    const char *sub;
    if (fast_conversion(t, fmt[1], tm, gmtoff, sec))
        return 2;
    if ((sub = composite(fmt[1])) != NULL) {
        render_time(t, sub, tm, gmtoff, sec);
        return 2;
    }
    size_t n = 1;
    while (fmt[n] != '\0' && strchr("_-0^#", fmt[n]) != NULL && n < 8)
        n++;
    while (fmt[n] >= '0' && fmt[n] <= '9' && n < 12)
        n++;
    if (fmt[n] == 'E' || fmt[n] == 'O')
        n++;
    if (fmt[n] == '\0') {               /* a '%' at the end: kept as is */
        tput(t, fmt, n);
        return n;
    }
    char spec[16], out[SCRATCH_MAX];
    memcpy(spec, fmt, n + 1);
    spec[n + 1] = '\0';
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t len = strftime(out, sizeof out, spec, tm);
#pragma GCC diagnostic pop
    tput(t, out, len);
    return n + 1;
}

/* strftime(FMT) of TM, done by hand where it is simple. */
static void render_time(struct tbuf *t, const char *fmt, const struct tm *tm, long gmtoff,
                        time_t sec)
{
    size_t p = 0;
    while (fmt[p] != '\0' && t->len < t->cap) {
        if (fmt[p] != '%') {
            size_t q = p;
            while (fmt[q] != '\0' && fmt[q] != '%')
                q++;
            tput(t, fmt + p, q - p);
            p = q;
        } else {
            p += conversion(t, fmt + p, tm, gmtoff, sec);
        }
    }
}

/* %t and %{...}t, of the start of the request or of its end. */
static void get_time(const struct ctx *c, struct val *v)
{
    const struct log_request *r = c->r;
    /* unsigned arithmetic: a nonsense time wraps instead of overflowing */
    unsigned long long dur = (unsigned long long)not_negative(r->duration_us);
    unsigned long long sec = (unsigned long long)r->start.tv_sec;
    unsigned long long usec = (unsigned long long)(r->start.tv_nsec / 1000 % 1000000);
    if (c->it->sub & TIME_END) {
        usec += dur % 1000000;
        sec += dur / 1000000 + usec / 1000000;
        usec %= 1000000;
    }
    switch (c->it->sub & ~TIME_END) {
    case TIME_SEC: set_num(c, v, (long long)sec); return;
    case TIME_MSEC: set_num(c, v, (long long)(sec * 1000 + usec / 1000)); return;
    case TIME_USEC: set_num(c, v, (long long)(sec * 1000000 + usec)); return;
    case TIME_MSEC_FRAC:
        set_str(v, V_SAFE, c->scratch, put_padded(c->scratch, (long long)usec / 1000, 3));
        return;
    case TIME_USEC_FRAC:
        set_str(v, V_SAFE, c->scratch, put_padded(c->scratch, (long long)usec, 6));
        return;
    default: break;
    }
    clock_at(c->clk, (time_t)sec);
    if ((c->it->sub & ~TIME_END) == TIME_CLF) {
        set_str(v, V_SAFE, c->clk->clf, c->clk->clf_len);
        return;
    }
    struct tbuf t = { c->scratch, 0, SCRATCH_MAX };
    render_time(&t, c->f->text + c->it->arg, &c->clk->tm, c->clk->gmtoff, (time_t)sec);
    set_str(v, V_RAW, c->scratch, t.len);
}

static getter *const getters[LF_NTYPES] = {
    [LF_LITERAL] = get_missing, [LF_MISSING] = get_missing,
    [LF_REMOTE_ADDR] = get_remote_addr, [LF_LOCAL_ADDR] = get_local_addr,
    [LF_BYTES_CLF] = get_bytes_clf, [LF_BYTES] = get_bytes, [LF_BYTES_IN] = get_bytes_in,
    [LF_BYTES_OUT] = get_bytes_out, [LF_BYTES_ALL] = get_bytes_all, [LF_COOKIE] = get_cookie,
    [LF_DURATION] = get_duration, [LF_FILENAME] = get_filename, [LF_PROTOCOL] = get_protocol,
    [LF_REQ_HEADER] = get_req_header, [LF_RESP_HEADER] = get_resp_header,
    [LF_KEEPALIVE] = get_keepalive, [LF_LOG_ID] = get_log_id, [LF_METHOD] = get_method,
    [LF_PORT] = get_port, [LF_LOCAL_PORT] = get_local_port, [LF_REMOTE_PORT] = get_remote_port,
    [LF_PID] = get_pid, [LF_TID] = get_tid, [LF_HEXTID] = get_hextid, [LF_QUERY] = get_query,
    [LF_REQUEST_LINE] = get_request_line, [LF_HANDLER] = get_handler, [LF_STATUS] = get_status,
    [LF_TIME] = get_time, [LF_USER] = get_user, [LF_PATH] = get_path,
    [LF_SERVER_NAME] = get_server_name, [LF_HOST] = get_host,
    [LF_CONN_STATUS] = get_conn_status, [LF_SSL_VAR] = get_ssl_var,
    [LF_CONN_ADDR] = get_conn_addr,
};

/* ==== escaping ========================================================== */

enum esc_mode { ESC_NONE, ESC_APACHE, ESC_JSON };

static const char hexdigits[] = "0123456789abcdef";

/* Apache's ap_escape_logitem, quotes included: the escape of byte C into
 * SEQ; its length (1: C needs none). */
static size_t apache_escape(unsigned char c, char *seq)
{
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        seq[0] = (char)c;
        return 1;
    }
    seq[0] = '\\';
    switch (c) {
    case '\b': seq[1] = 'b'; return 2;
    case '\n': seq[1] = 'n'; return 2;
    case '\r': seq[1] = 'r'; return 2;
    case '\t': seq[1] = 't'; return 2;
    case '\v': seq[1] = 'v'; return 2;
    case '"': case '\\': seq[1] = (char)c; return 2;
    default:
        seq[1] = 'x';
        seq[2] = hexdigits[c >> 4];
        seq[3] = hexdigits[c & 15];
        return 4;
    }
}

size_t logformat_utf8_char(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;       /* not overlong */
        hi = c == 0xed ? 0x9f : 0xbf;       /* not a surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;       /* not overlong */
        hi = c == 0xf4 ? 0x8f : 0xbf;       /* not above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* The JSON escape of the character at S (N bytes left) into SEQ (6
 * bytes), or, for a valid multi-byte UTF-8 character, that character
 * itself (*COPY set, nothing in SEQ).  Returns the bytes of S used; *OUT
 * the bytes of output. */
static size_t json_escape(const unsigned char *s, size_t n, char *seq, size_t *out, int *copy)
{
    unsigned char c = s[0];
    size_t k;
    *copy = 0;
    if (c >= 0x80 && (k = logformat_utf8_char(s, n)) > 0) {
        *copy = 1;
        *out = k;
        return k;
    }
    seq[0] = '\\';
    *out = 2;
    switch (c) {
    case '"': case '\\': seq[1] = (char)c; break;
    case '\b': seq[1] = 'b'; break;
    case '\f': seq[1] = 'f'; break;
    case '\n': seq[1] = 'n'; break;
    case '\r': seq[1] = 'r'; break;
    case '\t': seq[1] = 't'; break;
    default:
        memcpy(seq + 1, "u00", 3);
        seq[4] = hexdigits[c >> 4];
        seq[5] = hexdigits[c & 15];
        *out = 6;
    }
    return 1;
}

/* The bytes copied as they are in both escape modes: printable ASCII but
 * '"' and '\\'. */
static const unsigned char plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Escape S[0..N) in MODE into DST (ROOM bytes; DST NULL: count only).
 * Stops before a character whose escape does not fit.  Returns the bytes
 * written; *USED the bytes of S consumed. */
static size_t escape(char *dst, size_t room, const char *s, size_t n, enum esc_mode mode,
                     size_t *used)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, w = 0;
    if (mode == ESC_NONE) {
        *used = n < room ? n : room;
        if (dst != NULL)
            memcpy(dst, s, *used);
        return *used;
    }
    while (i < n) {
        size_t j = i;
        while (j < n && plain[u[j]])
            j++;
        size_t run = j - i < room - w ? j - i : room - w;
        if (dst != NULL)
            memcpy(dst + w, s + i, run);
        w += run;
        i += run;
        if (i < j || i == n)
            break;
        char seq[6];
        size_t k, take = 1;
        int copy = 0;
        if (mode == ESC_APACHE)
            k = apache_escape(u[i], seq);
        else
            take = json_escape(u + i, n - i, seq, &k, &copy);
        if (k > room - w)
            break;
        if (dst != NULL)
            memcpy(dst + w, copy ? s + i : seq, k);
        w += k;
        i += take;
    }
    *used = i;
    return w;
}

/* ==== the line ========================================================== */

/* A line being built in the caller's buffer; the byte for '\n' is not in
 * ROOM. */
struct out {
    char *buf;
    size_t len, room;
    size_t fixed;           /* bytes of all but the text values (fitting or not) */
    int cut;                /* something did not fit */
    int full;               /* a fixed piece did not fit: nothing more is written */
    unsigned n_text;        /* text values so far */
    size_t *want;           /* first pass: each text value's whole length */
    const size_t *limit;    /* second pass: each text value's share */
};

/* A piece kept whole or not at all: literal text, numbers, addresses. */
static void put_fixed(struct out *o, const char *s, size_t n)
{
    o->fixed += n;
    if (o->full || n > o->room - o->len) {
        o->cut = o->full = 1;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* A text value, escaped in MODE, cut to its share when it must be. */
static void put_text(struct out *o, const char *s, size_t n, enum esc_mode mode)
{
    unsigned idx = o->n_text++;
    size_t room = o->full ? 0 : o->room - o->len, used;
    if (o->limit != NULL && idx < TEXT_TRACKED && o->limit[idx] < room)
        room = o->limit[idx];
    size_t w = escape(o->buf + o->len, room, s, n, mode, &used);
    o->len += w;
    if (used < n) {
        o->cut = 1;
        if (o->want != NULL)      /* the first pass measures what a cut value wanted */
            w += escape(NULL, SIZE_MAX, s + used, n - used, mode, &used);
    }
    if (o->want != NULL && idx < TEXT_TRACKED)
        o->want[idx] = w;
}

/* Value V of item IT, as the escape mode and (JSON) its place want it. */
static void emit(struct out *o, const struct logformat *f, const struct lf_item *it,
                 const struct val *v)
{
    int json = f->esc == LOGFORMAT_ESCAPE_JSON;
    int bare = json && !it->quoted;     /* a JSON value of its own */
    switch (v->kind) {
    case V_MISSING:
        if (!json)
            put_fixed(o, "-", 1);
        else if (bare)
            put_fixed(o, "null", 4);
        return;
    case V_NUM:
        put_fixed(o, v->s, v->n);
        return;
    case V_SAFE:
    case V_TEXT:
    case V_RAW:
        if (bare)
            put_fixed(o, "\"", 1);
        if (v->kind == V_SAFE)
            put_fixed(o, v->s, v->n);
        else
            put_text(o, v->s, v->n, json ? ESC_JSON : v->kind == V_TEXT ? ESC_APACHE : ESC_NONE);
        if (bare)
            put_fixed(o, "\"", 1);
        return;
    }
}

/* Does item IT print for STATUS (its list of codes, "!" reversing it)? */
static int condition_met(const struct logformat *f, const struct lf_item *it, int status)
{
    int listed = 0;
    for (unsigned i = 0; i < it->n_cond && !listed; i++)
        listed = f->conds[it->cond + i] == status;
    return listed != it->negate;
}

static void build(const struct logformat *f, const struct log_request *r,
                  struct logformat_clock *clk, struct out *o)
{
    char scratch[SCRATCH_MAX];
    struct ctx c = { f, NULL, r, clk, scratch };
    for (unsigned i = 0; i < f->n_items; i++) {
        const struct lf_item *it = &f->items[i];
        struct val v = { V_MISSING, NULL, 0 };
        if (it->type == LF_LITERAL) {
            put_fixed(o, f->text + it->arg, it->arg_len);
            continue;
        }
        c.it = it;
        if (it->n_cond == 0 || condition_met(f, it, r->status))
            getters[it->type](&c, &v);
        emit(o, f, it, &v);
    }
}

/* Max-min fair shares of BUDGET bytes among N text values that want WANT
 * bytes each: those wanting less than an equal share get all of it, the
 * rest split what is left. */
static void share(const size_t *want, unsigned n, size_t budget, size_t *limit)
{
    unsigned left = n;
    int done[TEXT_TRACKED] = { 0 };
    for (int again = 1; again && left > 0;) {
        size_t level = budget / left;
        again = 0;
        for (unsigned i = 0; i < n; i++) {
            if (!done[i] && want[i] <= level) {
                limit[i] = want[i];
                budget -= want[i];
                done[i] = again = 1;
                left--;
            }
        }
    }
    size_t extra = left > 0 ? budget % left : 0;      /* one more byte each for the first */
    for (unsigned i = 0; i < n; i++) {
        if (!done[i]) {
            limit[i] = budget / left + (extra > 0);
            extra -= extra > 0;
        }
    }
}

size_t logformat_line(const struct logformat *f, const struct log_request *r,
                      struct logformat_clock *clk, char *buf, size_t cap)
{
    struct logformat_clock own = { 0 };
    size_t want[TEXT_TRACKED], limit[TEXT_TRACKED];
    if (cap == 0)
        return 0;
    if (clk == NULL)
        clk = &own;
    struct out o = { .buf = buf, .room = cap - 1, .want = want };
    build(f, r, clk, &o);
    if (o.cut && o.fixed <= o.room) {      /* else no sharing helps: keep the prefix */
        unsigned n = o.n_text < TEXT_TRACKED ? o.n_text : TEXT_TRACKED;
        share(want, n, o.room - o.fixed, limit);
        o = (struct out){ .buf = buf, .room = cap - 1, .limit = limit };
        build(f, r, clk, &o);
    }
    buf[o.len++] = '\n';
    return o.len;
}
