/* expires.c: mod_expires' directives and output step (expires.h).
 *
 * Configuration: where the configuration loads (module.h).  A place's
 * object holds what was said there; nothing is merged ahead of time: the
 * output step folds the route's objects (handler_dir_confs) when it needs
 * a rule, newest place first, as Apache's merge would (ExpiresActive and
 * ExpiresDefault: the most specific setting; ExpiresByType: per type).
 * Output (expires_apply): the listener thread and handler threads, on the
 * reply's head only; no allocation. */
#include "config.h"

#include "mpmd/modules/expires.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/config.h"
#include "mpmd/http/response.h"

#define EXPIRES_MAX_SECS ((long)INT_MAX)   /* Apache keeps the sum in an int */
#define EXPIRES_MAX_CONFS ROUTE_MAX_CHAIN  /* places along one route: all of them */

enum { ACTIVE_UNSET = -1, ACTIVE_OFF = 0, ACTIVE_ON = 1 };

struct expires_type {
    char *type;                   /* "text/css" or "text/ *" (no blank), lower case */
    struct expires_code code;
};

struct expires_conf {
    int active;                   /* ACTIVE_* */
    struct expires_code def;      /* ExpiresDefault; base 0: not set here */
    struct expires_type *types;   /* ExpiresByType, in the order given */
    int n_types;
    /* Some entry here is a major/ * one.  Only the most specific place's
     * flag counts (Apache's merge takes the added config's), so a section
     * with Expires directives but no wildcard entry turns the outer
     * wildcard entries off for its requests, as in Apache. */
    int wildcards;
};

/* ---- parsing rules --------------------------------------------------------- */

/* The next blank-separated word of *P into W (CAP bytes); 0 at the end. */
static size_t next_word(const char **p, char *w, size_t cap)
{
    const char *s = *p;
    size_t n = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    while (*s && *s != ' ' && *s != '\t') {
        if (n + 1 < cap)
            w[n++] = *s;
        s++;
    }
    w[n] = '\0';
    *p = s;
    return n;
}

/* Seconds in the unit WORD, Apache's way (first letters), or 0. */
static long unit_seconds(const char *w)
{
    if (strncasecmp(w, "years", 1) == 0)
        return 60L * 60 * 24 * 365;
    if (strncasecmp(w, "months", 2) == 0)
        return 60L * 60 * 24 * 30;
    if (strncasecmp(w, "weeks", 1) == 0)
        return 60L * 60 * 24 * 7;
    if (strncasecmp(w, "days", 1) == 0)
        return 60L * 60 * 24;
    if (strncasecmp(w, "hours", 1) == 0)
        return 60L * 60;
    if (strncasecmp(w, "minutes", 2) == 0)
        return 60;
    if (strncasecmp(w, "seconds", 1) == 0)
        return 1;
    return 0;
}

/* Digits only, at most EXPIRES_MAX_SECS: into *OUT; else -1. */
static int parse_count(const char *w, long *out)
{
    if (*w < '0' || *w > '9' || strspn(w, "0123456789") != strlen(w) || strlen(w) > 10)
        return -1;
    long long v = strtoll(w, NULL, 10);
    if (v > EXPIRES_MAX_SECS)
        return -1;
    *out = (long)v;
    return 0;
}

/* The "<base> [plus] {<num> <type>}*" form. */
static int parse_words(const char *text, struct expires_code *out, char *err, size_t errlen)
{
    char w[64];
    const char *p = text;
    next_word(&p, w, sizeof w);
    if (strncasecmp(w, "now", 1) == 0 || strncasecmp(w, "access", 1) == 0)
        out->base = 'A';
    else if (strncasecmp(w, "modification", 1) == 0)
        out->base = 'M';
    else {
        snprintf(err, errlen, "expected 'access', 'now' or 'modification' to begin '%s', or "
                 "the A<seconds> / M<seconds> form", text);
        return -1;
    }
    next_word(&p, w, sizeof w);
    if (strncasecmp(w, "plus", 1) == 0)
        next_word(&p, w, sizeof w);
    long total = 0, num, unit;
    while (w[0]) {
        if (parse_count(w, &num) == -1) {
            snprintf(err, errlen, "expected a number in '%s', got '%s'", text, w);
            return -1;
        }
        if (next_word(&p, w, sizeof w) == 0) {
            snprintf(err, errlen, "expected a unit (years, months, weeks, days, hours, "
                     "minutes, seconds) after %ld in '%s'", num, text);
            return -1;
        }
        if ((unit = unit_seconds(w)) == 0) {
            snprintf(err, errlen, "expected a unit (years, months, weeks, days, hours, "
                     "minutes, seconds) in '%s', got '%s'", text, w);
            return -1;
        }
        if (num > (EXPIRES_MAX_SECS - total) / unit) {
            snprintf(err, errlen, "'%s' is more than %ld seconds", text, EXPIRES_MAX_SECS);
            return -1;
        }
        total += num * unit;
        next_word(&p, w, sizeof w);
    }
    out->secs = total;
    return 0;
}

int expires_parse_code(const char *text, struct expires_code *out, char *err, size_t errlen)
{
    *out = (struct expires_code){0, 0};
    if ((text[0] == 'A' || text[0] == 'M') && text[1] >= '0' && text[1] <= '9') {
        /* Apache's older form: A3600, M600 (Apache takes any word that
         * begins with A or M so; "Access plus 1 day" is then A0 there, the
         * words here). */
        if (parse_count(text + 1, &out->secs) == -1) {
            snprintf(err, errlen, "expected seconds (0 to %ld) after '%c' in '%s'",
                     EXPIRES_MAX_SECS, text[0], text);
            return -1;
        }
        out->base = text[0];
        return 0;
    }
    return parse_words(text, out, err, errlen);
}

/* ---- configuration ---------------------------------------------------------- */

static void *expires_create(void)
{
    struct expires_conf *c = calloc(1, sizeof *c);
    if (c)
        c->active = ACTIVE_UNSET;
    return c;
}

static void expires_destroy(void *conf)
{
    struct expires_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_types; i++)
        free(c->types[i].type);
    free(c->types);
    free(c);
}

/* Append TYPE with CODE to C (copied); -1 when out of memory. */
static int add_type(struct expires_conf *c, const char *type, struct expires_code code)
{
    struct expires_type *all = realloc(c->types, (size_t)(c->n_types + 1) * sizeof *all);
    if (all == NULL)
        return -1;
    c->types = all;
    char *t = strdup(type);
    if (t == NULL)
        return -1;
    for (char *q = t; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    all[c->n_types++] = (struct expires_type){t, code};
    return 0;
}

/* The virtual host's own settings win; its types come last, so they are
 * looked at first (by_type goes backwards). */
static void *expires_merge(const void *base, const void *add)
{
    const struct expires_conf *b = base, *a = add;
    struct expires_conf *m = expires_create();
    if (m == NULL)
        return NULL;
    m->active = a && a->active != ACTIVE_UNSET ? a->active : b ? b->active : ACTIVE_UNSET;
    m->def = a && a->def.base ? a->def : b ? b->def : (struct expires_code){0, 0};
    m->wildcards = a ? a->wildcards : b ? b->wildcards : 0;
    const struct expires_conf *order[2] = {b, a};
    for (int k = 0; k < 2; k++)
        for (int i = 0; order[k] && i < order[k]->n_types; i++)
            if (add_type(m, order[k]->types[i].type, order[k]->types[i].code) == -1) {
                expires_destroy(m);
                return NULL;
            }
    return m;
}

static int set_active(void *conf, const struct directive_place *at, int argc, char **argv,
                      char *err, size_t errlen)
{
    struct expires_conf *c = conf;
    (void)at, (void)argc;
    if (strcasecmp(argv[0], "on") == 0)
        c->active = ACTIVE_ON;
    else if (strcasecmp(argv[0], "off") == 0)
        c->active = ACTIVE_OFF;
    else {
        snprintf(err, errlen, "expected On or Off, got '%s'", argv[0]);
        return -1;
    }
    return 0;
}

static int set_default(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    struct expires_conf *c = conf;
    (void)at, (void)argc;
    return expires_parse_code(argv[0], &c->def, err, errlen);
}

static int set_by_type(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    struct expires_code code;
    (void)at, (void)argc;
    const char *slash = strchr(argv[0], '/');
    if (slash == NULL || slash == argv[0] || slash[1] == '\0') {
        snprintf(err, errlen, "expected a media type such as text/css or text/*, got '%s'",
                 argv[0]);
        return -1;
    }
    if (expires_parse_code(argv[1], &code, err, errlen) == -1)
        return -1;
    if (add_type(conf, argv[0], code) == -1) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strcmp(slash, "/*") == 0)
        ((struct expires_conf *)conf)->wildcards = 1;
    return 0;
}

static const struct module_directive expires_directives[] = {
    {"ExpiresActive", "On|Off", "Add Expires and Cache-Control max-age to answers that are not "
     "errors, by ExpiresByType and ExpiresDefault", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1,
     set_active, "Off", "Nothing is added unless ExpiresActive On applies to the request's "
     "place; an inner section's Off turns it off there.  An answer that has an Expires "
     "already (a script's, an upstream's) is left alone; errors (4xx, 5xx) get nothing."},
    {"ExpiresByType", "MEDIA-TYPE RULE", "The expiry of answers of MEDIA-TYPE (text/css, or "
     "text/* for any text): A<seconds>, M<seconds>, or \"access plus 1 month\"",
     CTX_SERVER | CTX_VHOST | CTX_DIR, 2, 2, set_by_type, NULL,
     "Matched against the answer's Content-Type without parameters, case-insensitively; "
     "an exact type wins over a major/* one, and an inner section's entry for a type "
     "over an outer one.  As in Apache, major/* entries count only when the innermost "
     "place with Expires directives has one too.  RULE as for ExpiresDefault."},
    {"ExpiresDefault", "RULE", "The expiry of answers no ExpiresByType matches: A<seconds> "
     "(from the request), M<seconds> (from the file's modification), or \"access|now|"
     "modification [plus] N unit ...\"", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1, set_default,
     NULL, "Units: years (365 days), months (30 days), weeks, days, hours, minutes, seconds, "
     "singular or plural.  Expires is the base plus the sum; Cache-Control gets "
     "max-age= the seconds from the request to then (0 when that is past).  "
     "Modification rules apply to static files only; other answers get nothing from "
     "them, as in Apache."},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module expires_conf_module = {
    .name = "expires",
    .directives = expires_directives,
    .create = expires_create,
    .merge = expires_merge,
    .destroy = expires_destroy,
};

/* ---- the rule for an answer ------------------------------------------------ */

/* Does the configured PATTERN (lower case) equal TYPE (TLEN bytes)? */
static int type_is(const char *pattern, const char *type, size_t tlen)
{
    return strlen(pattern) == tlen && strncasecmp(pattern, type, tlen) == 0;
}

/* The ExpiresByType rule for exactly TYPE along CONFS: the newest place
 * first, and in a place its last entry for TYPE (Apache's table set). */
static const struct expires_code *by_type(const void *const *confs, int n, const char *type,
                                          size_t tlen)
{
    for (int k = n - 1; k >= 0; k--) {
        const struct expires_conf *c = confs[k];
        for (int i = c->n_types - 1; i >= 0; i--)
            if (type_is(c->types[i].type, type, tlen))
                return &c->types[i].code;
    }
    return NULL;
}

const struct expires_code *expires_lookup(const void *const *confs, int n, const char *type,
                                          size_t tlen)
{
    int active = ACTIVE_UNSET;
    const struct expires_code *def = NULL, *code = NULL;
    for (int k = n - 1; k >= 0; k--) {
        const struct expires_conf *c = confs[k];
        if (active == ACTIVE_UNSET)
            active = c->active;
        if (def == NULL && c->def.base)
            def = &c->def;
    }
    if (active != ACTIVE_ON)
        return NULL;
    if (type && tlen > 0) {
        code = by_type(confs, n, type, tlen);
        const char *slash = memchr(type, '/', tlen);
        char major[128];
        size_t mlen = slash ? (size_t)(slash - type) + 1 : 0;
        int wild = ((const struct expires_conf *)confs[n - 1])->wildcards;
        if (code == NULL && wild && slash && mlen + 1 < sizeof major) {
            memcpy(major, type, mlen);
            major[mlen] = '*';
            code = by_type(confs, n, major, mlen + 1);
        }
    }
    return code ? code : def;
}

/* ---- the fields ------------------------------------------------------------ */

int expires_compute(const struct expires_code *code, time_t now, long now_usec, time_t mtime,
                    time_t *expires, long *max_age)
{
    if (code->base == 'A') {
        *expires = now + (time_t)code->secs;
        *max_age = code->secs;
        return 0;
    }
    if (mtime == 0)
        return -1;
    time_t t = mtime + (time_t)code->secs;
    if (t <= now) {                 /* past (or within this second): now, as Apache */
        *expires = now;
        *max_age = 0;
        return 0;
    }
    *expires = t;
    *max_age = (long)(t - now) - (now_usec > 0);   /* whole seconds left, rounded down */
    return 0;
}

/* "max-age=AGE" (AGE >= 0) into OUT (>= 32 bytes); returns its length.
 * Per reply on the hot path: no printf. */
static size_t format_max_age(char *out, long age)
{
    char digits[24];
    size_t n = 0, len = 8;
    memcpy(out, "max-age=", len);
    do {
        digits[n++] = (char)('0' + age % 10);
        age /= 10;
    } while (age > 0);
    while (n)
        out[len++] = digits[--n];
    out[len] = '\0';
    return len;
}

/* Cache-Control gets max-age=AGE: a new field, or appended to the first
 * one's value (Apache's apr_table_mergen); a value too long to extend
 * where it stands gets a second field, which means the same (RFC 9110
 * 5.3). */
static void merge_cache_control(struct response_head *h, long age)
{
    char v[1024], ma[32];
    size_t old = 0, n = format_max_age(ma, age);
    const char *cur = response_head_get(h, "Cache-Control", &old);
    if (cur && old + 2 + n < sizeof v) {
        memcpy(v, cur, old);
        memcpy(v + old, ", ", 2);
        memcpy(v + old + 2, ma, n);
        response_head_replace_first(h, "Cache-Control", v, old + 2 + n);
        return;
    }
    response_head_add(h, "Cache-Control", ma, n);
}

void expires_set_fields(struct response_head *h, const struct expires_code *code, time_t now,
                        long now_usec, time_t mtime)
{
    time_t t;
    long age;
    size_t len;
    char date[32];
    if (response_head_get(h, "Expires", &len) ||
        expires_compute(code, now, now_usec, mtime, &t, &age) == -1)
        return;
    merge_cache_control(h, age);
    response_head_add(h, "Expires", date, http_date_format(t, date));
}

/* The media type of RP without parameters: its Content-Type, or for a
 * file's 304 the file's type.  *LEN its length; NULL when none. */
static const char *answer_type(const struct reply *rp, size_t *len)
{
    const char *t = response_head_get(&rp->out.head, "Content-Type", len);
    if (t == NULL && rp->file_type)
        t = rp->file_type, *len = strlen(t);
    if (t == NULL)
        return NULL;
    size_t n = 0;
    while (n < *len && t[n] != ';' && t[n] != ' ' && t[n] != '\t')
        n++;
    *len = n;
    return t;
}

void expires_apply(const struct req_ctx *rq, struct reply *rp, int server_made)
{
    const void *confs[EXPIRES_MAX_CONFS];
    if (server_made || rp->status >= 400)
        return;
    int n = handler_dir_confs(rq, &expires_conf_module, confs, EXPIRES_MAX_CONFS);
    if (n == 0)
        return;
    size_t tlen = 0;
    const char *type = answer_type(rp, &tlen);
    const struct expires_code *code = expires_lookup(confs, n, type, tlen);
    if (code == NULL)
        return;
    /* The request's time is the second of the reply's own Date field (so
     * Expires - Date is exactly N), with the sub-second part of its start. */
    time_t now = rq->date->sec ? rq->date->sec : time(NULL);
    long usec = (long)(rq->start_us % 1000000);
    expires_set_fields(&rp->out.head, code, now, usec < 0 ? 0 : usec, rp->file_mtime);
}

/* No requests of its own: the output step only (handler.h). */
const struct handler expires_handler = {
    .name = "expires",
    .conf = &expires_conf_module,
    .finish = expires_apply,
};
