/* autoindex.c: directory listings (autoindex.h), as Apache 2.4's
 * mod_autoindex writes them, and mpmd's JSON listing.
 *
 * Configuration (IndexOptions, IndexIgnore, IndexIgnoreReset,
 * IndexOrderDefault): where the configuration loads (module.h).  Nothing
 * is merged per request: autoindex_reply folds the site's and the
 * sections' objects along the route (handler_dir_confs), the way Apache
 * merges them.  The listing: a handler thread (static.c calls
 * autoindex_reply for a directory without an index file): it reads the
 * directory, stats every entry, sorts, and writes the page into one
 * growing buffer that goes with the reply.  Never cached. */
#include "config.h"

#include "mpmd/modules/autoindex.h"
#include "mpmd/modules/compress.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/sbview.h"

#define AI_WIDTH_AUTO (-1)        /* NameWidth=* */
#define AI_NAME_WIDTH 23          /* Apache's DEFAULT_NAME_WIDTH */

/* One place's settings (a server, a virtual host, a section). */
struct ai_conf {
    int replace;                  /* an IndexOptions keyword without +/-: OPTS replaces
                                   * what is inherited */
    unsigned opts, add, remove;   /* AI_* bits */
    int name_width;               /* NameWidth=N, AI_WIDTH_AUTO, or 0: unset */
    char *charset;                /* Charset=, or NULL */
    char *type;                   /* Type=, or NULL */
    int old_date;                 /* UseOldDateFormat: 1, or 0: unset */
    char key, order;              /* IndexOrderDefault; 0: unset */
    int ignore_reset;             /* IndexIgnoreReset: 1 on, 0 off, -1 unset */
    char **ignore;                /* IndexIgnore patterns */
    int n_ignore;
};

/* ---- configuration ------------------------------------------------------- */

static void *ai_create(void)
{
    struct ai_conf *c = calloc(1, sizeof *c);
    if (c)
        c->ignore_reset = -1;
    return c;
}

static void ai_destroy(void *conf)
{
    struct ai_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_ignore; i++)
        free(c->ignore[i]);
    free(c->ignore);
    free(c->charset);
    free(c->type);
    free(c);
}

static int push_pattern(struct ai_conf *c, const char *p)
{
    char **all = realloc(c->ignore, (size_t)(c->n_ignore + 1) * sizeof *all);
    if (all == NULL)
        return -1;
    c->ignore = all;
    if ((all[c->n_ignore] = strdup(p)) == NULL)
        return -1;
    c->n_ignore++;
    return 0;
}

static int copy_patterns(struct ai_conf *to, const struct ai_conf *from)
{
    for (int i = 0; from && i < from->n_ignore; i++)
        if (push_pattern(to, from->ignore[i]) == -1)
            return -1;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* IndexOptions of ADD over BASE, as folding them one after the other. */
static void merge_options(struct ai_conf *m, const struct ai_conf *b, const struct ai_conf *a)
{
    if (a->replace) {
        m->replace = 1;
        m->opts = a->opts;
        m->add = a->add;
        m->remove = a->remove;
    } else {
        m->replace = b->replace;
        m->opts = b->opts;
        m->add = (b->add | a->add) & ~a->remove;
        m->remove = (b->remove | a->remove) & ~a->add;
    }
}

/* A virtual host's: its own settings over the main server's (Apache's
 * merge_autoindex_configs); its IndexIgnore patterns added to the main
 * server's unless it says IndexIgnoreReset On. */
static void *ai_merge(const void *base, const void *add)
{
    static const struct ai_conf none = { .ignore_reset = -1 };
    const struct ai_conf *b = base ? base : &none, *a = add ? add : &none;
    struct ai_conf *m = ai_create();
    if (m == NULL)
        return NULL;
    merge_options(m, b, a);
    m->name_width = a->name_width ? a->name_width : b->name_width;
    m->old_date = a->old_date ? a->old_date : b->old_date;
    m->key = a->key ? a->key : b->key;
    m->order = a->order ? a->order : b->order;
    m->ignore_reset = a->ignore_reset != -1 ? a->ignore_reset : b->ignore_reset;
    m->charset = dup_or_null(a->charset ? a->charset : b->charset);
    m->type = dup_or_null(a->type ? a->type : b->type);
    if ((a->charset || b->charset) != (m->charset != NULL) ||
        (a->type || b->type) != (m->type != NULL) || copy_patterns(m, a) == -1 ||
        (a->ignore_reset != 1 && copy_patterns(m, b) == -1)) {
        ai_destroy(m);
        return NULL;
    }
    return m;
}

/* The IndexOptions keywords that are a bit. */
static const struct { const char *word; unsigned bit; } option_words[] = {
    { "FancyIndexing", AI_FANCY },
    { "HTMLTable", AI_TABLE },
    { "FoldersFirst", AI_FOLDERS_FIRST },
    { "IgnoreCase", AI_IGNORE_CASE },
    { "IgnoreClient", AI_IGNORE_CLIENT },
    { "SuppressColumnSorting", AI_SUPPRESS_COLSORT },
    { "SuppressLastModified", AI_SUPPRESS_LAST_MOD },
    { "SuppressSize", AI_SUPPRESS_SIZE },
    { "SuppressDescription", AI_SUPPRESS_DESC },
    { "SuppressIcon", AI_SUPPRESS_ICON },
    { "SuppressRules", AI_SUPPRESS_RULES },
    { "VersionSort", AI_VERSION_SORT },
};

/* Apache's keywords mpmd has no use for yet: refused by name. */
static const char *const unsupported_words[] = {
    "IconsAreLinks", "IconHeight", "IconWidth", "ScanHTMLTitles", "ShowForbidden",
    "AddAltClass", "SuppressHTMLPreamble", "TrackModified", "XHTML",
};

/* A keyword with a value (NameWidth=, DescriptionWidth=, Charset=,
 * Type=) or without a bit (None, UseOldDateFormat, -NameWidth,
 * DescriptionWidth).  Returns 1 when W was one, 0 when not, -1 (ERR)
 * when its value is bad. */
static int set_valued_option(struct ai_conf *c, char action, const char *w, char *err,
                             size_t errlen)
{
    if (strcasecmp(w, "NameWidth") == 0 || strncasecmp(w, "NameWidth=", 10) == 0) {
        if ((action == '-') != (w[9] == '\0')) {
            snprintf(err, errlen, "expected NameWidth=N, NameWidth=* or -NameWidth, got '%c%s'",
                     action ? action : ' ', w);
            return -1;
        }
        if (action == '-' || (w[10] == '*' && w[11] == '\0')) {
            c->name_width = action == '-' ? AI_NAME_WIDTH : AI_WIDTH_AUTO;
            return 1;
        }
        char *end;
        long n = strtol(w + 10, &end, 10);
        if (*end || end == w + 10 || n < 5 || n > 1000) {
            snprintf(err, errlen, "expected NameWidth=* or a width from 5 to 1000, got '%s'", w);
            return -1;
        }
        c->name_width = (int)n;
        return 1;
    }
    /* No descriptions in mpmd (AddDescription is not supported): the
     * width of an always empty column changes nothing. */
    if (strcasecmp(w, "DescriptionWidth") == 0 || strncasecmp(w, "DescriptionWidth=", 17) == 0)
        return 1;
    if (strncasecmp(w, "Charset=", 8) == 0 || strncasecmp(w, "Type=", 5) == 0) {
        int cs = w[0] == 'C' || w[0] == 'c';
        const char *v = w + (cs ? 8 : 5);
        if (*v == '\0' || strpbrk(v, " \t\r\n;\"")) {
            snprintf(err, errlen, "expected %s=VALUE without blanks, ';' or quotes, got '%s'",
                     cs ? "Charset" : "Type", w);
            return -1;
        }
        char **slot = cs ? &c->charset : &c->type;
        free(*slot);
        if ((*slot = strdup(v)) == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        return 1;
    }
    if (strcasecmp(w, "UseOldDateFormat") == 0) {
        c->old_date = 1;
        return 1;
    }
    return 0;
}

/* The bit of keyword W, 0 when it is none; -1 (ERR) when mpmd refuses it. */
static long option_bit(const char *w, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof option_words / sizeof *option_words; i++)
        if (strcasecmp(w, option_words[i].word) == 0)
            return option_words[i].bit;
    for (size_t i = 0; i < sizeof unsupported_words / sizeof *unsupported_words; i++) {
        size_t n = strlen(unsupported_words[i]);
        if (strncasecmp(w, unsupported_words[i], n) == 0 && (w[n] == '\0' || w[n] == '=')) {
            snprintf(err, errlen, "IndexOptions %s is not supported by mpmd (listings have no "
                     "icons, descriptions or header files)", w);
            return -1;
        }
    }
    snprintf(err, errlen, "unknown IndexOptions keyword '%s'", w);
    return -1;
}

static int apply_option(struct ai_conf *c, const char *arg, char *err, size_t errlen)
{
    char action = (*arg == '+' || *arg == '-') ? *arg : '\0';
    const char *w = arg + (action != '\0');
    if (strcasecmp(w, "None") == 0) {
        if (action) {
            snprintf(err, errlen, "'None' takes no '+' or '-', got '%s'", arg);
            return -1;
        }
        c->replace = 1;
        c->opts = c->add = c->remove = 0;
        return 0;
    }
    int v = set_valued_option(c, action, w, err, errlen);
    if (v != 0)
        return v == 1 ? 0 : -1;
    long bit = option_bit(w, err, errlen);
    if (bit == -1)
        return -1;
    unsigned b = (unsigned)bit;
    if (action == '\0') {
        c->replace = 1;
        c->opts |= b;
        c->add = c->remove = 0;
    } else if (action == '+') {
        c->add |= b;
        c->remove &= ~b;
    } else {
        c->remove |= b;
        c->add &= ~b;
    }
    return 0;
}

static int set_index_options(void *conf, const struct directive_place *at, int argc,
                             char **argv, char *err, size_t errlen)
{
    (void)at;
    for (int i = 0; i < argc; i++)
        if (apply_option(conf, argv[i], err, errlen) == -1)
            return -1;
    return 0;
}

static int set_index_ignore(void *conf, const struct directive_place *at, int argc,
                            char **argv, char *err, size_t errlen)
{
    (void)at;
    for (int i = 0; i < argc; i++)
        if (push_pattern(conf, argv[i]) == -1) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    return 0;
}

static int set_ignore_reset(void *conf, const struct directive_place *at, int argc,
                            char **argv, char *err, size_t errlen)
{
    (void)at, (void)argc;
    struct ai_conf *c = conf;
    if (strcasecmp(argv[0], "On") != 0 && strcasecmp(argv[0], "Off") != 0) {
        snprintf(err, errlen, "expected On or Off, got '%s'", argv[0]);
        return -1;
    }
    c->ignore_reset = strcasecmp(argv[0], "On") == 0;
    return 0;
}

static int set_order_default(void *conf, const struct directive_place *at, int argc,
                             char **argv, char *err, size_t errlen)
{
    (void)at, (void)argc;
    static const struct { const char *word; char key; } keys[] = {
        { "Name", 'N' }, { "Date", 'M' }, { "Size", 'S' }, { "Description", 'D' },
    };
    struct ai_conf *c = conf;
    if (strcasecmp(argv[0], "Ascending") != 0 && strcasecmp(argv[0], "Descending") != 0) {
        snprintf(err, errlen, "expected Ascending or Descending first, got '%s'", argv[0]);
        return -1;
    }
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strcasecmp(argv[1], keys[i].word) == 0) {
            c->key = keys[i].key;
            c->order = strcasecmp(argv[0], "Ascending") == 0 ? 'A' : 'D';
            return 0;
        }
    snprintf(err, errlen, "expected Name, Date, Size or Description second, got '%s'", argv[1]);
    return -1;
}

#define AI_CTX (CTX_SERVER | CTX_VHOST | CTX_DIR)

static const struct module_directive ai_directives[] = {
    { "IndexOptions", "[+|-]option ...", "How directory listings look and sort", AI_CTX, 1, 64,
      set_index_options, "none (a plain list)",
      "Options: FancyIndexing (a <pre> table with Last modified, Size and Description "
      "columns), HTMLTable (an HTML table), FoldersFirst, IgnoreCase, IgnoreClient (the "
      "query's C=, O=, F=, P= and V= are ignored), SuppressColumnSorting, "
      "SuppressLastModified, SuppressSize, SuppressDescription, SuppressIcon, SuppressRules, "
      "VersionSort, NameWidth=N|* (-NameWidth: 23), Charset=NAME (default UTF-8), "
      "Type=MEDIA-TYPE, UseOldDateFormat, DescriptionWidth (accepted: mpmd has no "
      "descriptions), None.  A keyword without + or - replaces the inherited options, "
      "+X and -X adjust them, as Apache's mod_autoindex does.  Icons, header and readme "
      "files (IconsAreLinks, ScanHTMLTitles, ...) are refused.  docs/listings.md." },
    { "IndexIgnore", "pattern ...", "Names left out of directory listings", AI_CTX, 1, 64,
      set_index_ignore, "none (only . and ..)",
      "Wildcards '*' and '?' as Apache's (a leading '.' is not special: \".??*\" hides "
      "dot files of three or more characters); the patterns of every section that applies "
      "are added together, a section's IndexIgnoreReset On dropping the inherited ones.  "
      "\"..\" hides the Parent Directory link.  Debian's autoindex.conf sets "
      "IndexIgnore .??* *~ *# HEADER* README* RCS CVS *,v *,t" },
    { "IndexIgnoreReset", "On|Off", "Drop the IndexIgnore patterns inherited from above",
      AI_CTX, 1, 1, set_ignore_reset, "Off", NULL },
    { "IndexOrderDefault", "Ascending|Descending Name|Date|Size|Description",
      "The order of a listing requested without ?C=...;O=...", AI_CTX, 2, 2,
      set_order_default, "Ascending Name", NULL },
    { NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

const struct conf_module autoindex_conf_module = {
    .name = "autoindex",
    .directives = ai_directives,
    .create = ai_create,
    .merge = ai_merge,
    .destroy = ai_destroy,
};

/* ---- what applies to one request ------------------------------------------ */

/* The settings along the route, folded as Apache merges them. */
struct ai_view {
    unsigned opts;
    int name_width;
    const char *charset, *type;
    int old_date;
    char key, order;
    const struct ai_conf *ignore[CONFIG_MAX_CHAIN]; /* whose IndexIgnore patterns apply */
    int n_ignore;
};

static void fold_view(const struct req_ctx *rq, struct ai_view *v)
{
    const void *confs[CONFIG_MAX_CHAIN];
    int n = handler_dir_confs(rq, &autoindex_conf_module, confs, CONFIG_MAX_CHAIN);
    *v = (struct ai_view){ .name_width = AI_NAME_WIDTH, .key = 'N', .order = 'A' };
    for (int i = 0; i < n; i++) {
        const struct ai_conf *c = confs[i];
        if (c->replace)
            v->opts = c->opts;
        v->opts = (v->opts | c->add) & ~c->remove;
        v->name_width = c->name_width ? c->name_width : v->name_width;
        v->charset = c->charset ? c->charset : v->charset;
        v->type = c->type ? c->type : v->type;
        v->old_date |= c->old_date;
        if (c->key)
            v->key = c->key, v->order = c->order;
        if (c->ignore_reset == 1)
            v->n_ignore = 0;
        v->ignore[v->n_ignore++] = c;
    }
}

static int view_ignores(const struct ai_view *v, const char *name)
{
    for (int i = 0; i < v->n_ignore; i++)
        for (int k = 0; k < v->ignore[i]->n_ignore; k++)
            if (autoindex_ignore_match(v->ignore[i]->ignore[k], name))
                return 1;
    return 0;
}

/* The query string: after a local redirect its own, else the request's. */
static void request_query(const struct req_ctx *rq, struct ai_query *q)
{
    size_t qlen;
    const char *query = handler_query(rq, &qlen);
    autoindex_parse_query(query, qlen, q);
}

/* Whether the header value H (LEN bytes) holds NEEDLE, in any case. */
static int header_has(const char *h, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; h && i + n <= len; i++)
        if (strncasecmp(h + i, needle, n) == 0)
            return 1;
    return 0;
}

/* The format: the query's F=, else JSON for a client that accepts JSON
 * and not HTML (*VARY: the answer depends on Accept), else IndexOptions'. */
static int choose_format(const struct req_ctx *rq, const struct ai_view *v,
                         const struct ai_query *q, int *vary)
{
    size_t len;
    *vary = 0;
    if (q->format != AI_FORMAT_NONE)
        return q->format;
    *vary = 1;
    const char *accept = http_request_header(rq->req, "Accept", &len);
    if (header_has(accept, len, "application/json") && !header_has(accept, len, "text/html"))
        return AI_FORMAT_JSON;
    if (v->opts & AI_TABLE)
        return AI_FORMAT_TABLE;
    return (v->opts & AI_FANCY) ? AI_FORMAT_FANCY : AI_FORMAT_PLAIN;
}

/* The P= pattern percent-decoded into OUT (CAP bytes): 0, or -1 when it
 * is bad (Apache then ignores it). */
static int decode_pattern(const char *p, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        char hex[3] = { 0 };
        if (o + 1 >= cap)
            return -1;
        if (p[i] != '%') {
            out[o++] = p[i];
            continue;
        }
        if (i + 2 >= len || !isxdigit((unsigned char)p[i + 1]) ||
            !isxdigit((unsigned char)p[i + 2]))
            return -1;
        memcpy(hex, p + i + 1, 2);
        sscanf(hex, "%x", &v);
        if (v == 0 || v == '/')
            return -1;
        out[o++] = (char)v;
        i += 2;
    }
    out[o] = '\0';
    return 0;
}

/* ---- reading the directory ---------------------------------------------- */

struct listing {
    struct ai_entry *e;
    size_t n, cap;
    int fancy;                    /* sizes and dates are read (not a plain list) */
    int index_dates;              /* an HTML page: directories dated as Apache dates them */
    const char *pattern;          /* P=, decoded, or NULL */
    struct route *sub;            /* an entry's route, for its Require (or NULL) */
};

static void listing_free(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].name);
    free(l->e);
    free(l->sub);
}

static int listing_add(struct listing *l, const char *name, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct ai_entry *e = realloc(l->e, cap * sizeof *e);
        if (e == NULL)
            return -1;
        l->e = e;
        l->cap = cap;
    }
    int dir = S_ISDIR(st->st_mode);
    size_t len = strlen(name);
    char *copy = malloc(len + 2);
    if (copy == NULL)
        return -1;
    memcpy(copy, name, len);
    if (dir)
        copy[len++] = '/';
    copy[len] = '\0';
    l->e[l->n++] = (struct ai_entry){ .name = copy, .len = len, .is_dir = dir,
                                      .size = l->fancy && !dir ? (long long)st->st_size : -1,
                                      .mtime = l->fancy ? st->st_mtim.tv_sec : -1,
                                      .mtime_us = l->fancy ? (long long)st->st_mtim.tv_sec *
                                                                 1000000 +
                                                             st->st_mtim.tv_nsec / 1000
                                                           : 0 };
    return 0;
}

/* A directory's date as Apache shows it: its index file's when it has
 * one (Apache's listing asks mod_dir for the directory, which answers
 * with the index file), else its own. */
static void index_file_time(const struct req_ctx *rq, int dirfd, const char *name, int follow,
                            struct stat *st)
{
    const struct config *cfg = rq->site;
    char path[NAME_MAX * 2 + 2];
    struct stat ist;
    for (int i = 0; i < cfg->n_directory_index; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", name, cfg->directory_index[i]);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        if (fstatat(dirfd, path, &ist, follow ? 0 : AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(ist.st_mode)) {
            st->st_mtim = ist.st_mtim;
            return;
        }
    }
}

/* Whether the sections' Require would refuse the entry NAME (Apache
 * lists only what its subrequest may see).  Only sites with sections. */
static int entry_denied(const struct req_ctx *rq, struct listing *l, const char *name, int dir)
{
    const struct route *rt = rq->route;
    if (rt->site->index == NULL || rq->peer == NULL)
        return 0;
    if (l->sub == NULL) {
        if ((l->sub = malloc(sizeof *l->sub)) == NULL)
            return 1;
        *l->sub = *rt;
    }
    struct route *s = l->sub;
    size_t n = strlen(name);
    if (rt->path_len + n + 2 > sizeof s->path)
        return 1;
    memcpy(s->path + rt->path_len, name, n);
    s->path_len = rt->path_len + n;
    if (dir)
        s->path[s->path_len++] = '/';
    s->path[s->path_len] = '\0';
    s->n_chain = 0;
    route_sections(s, 1);
    const struct authz *rule = route_require(s);
    return rule && !authz_check(rule, rq->peer);
}

/* Whether entry NAME of DIRFD goes into the listing; its stat into ST. */
static int entry_listed(const struct req_ctx *rq, struct listing *l, const struct ai_view *v,
                        int dirfd, int follow, const char *name, struct stat *st)
{
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
        return 0;
    if (l->pattern && fnmatch(l->pattern, name, FNM_NOESCAPE | FNM_PERIOD) != 0)
        return 0;
    if (view_ignores(v, name) || fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == -1)
        return 0;
    /* A link is served only with FollowSymLinks, and only when it leads
     * somewhere: list it then, as what it points to. */
    if (S_ISLNK(st->st_mode) && (!follow || fstatat(dirfd, name, st, 0) == -1))
        return 0;
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
        return 0;
    if (S_ISDIR(st->st_mode) && l->index_dates)
        index_file_time(rq, dirfd, name, follow, st);
    return !entry_denied(rq, l, name, S_ISDIR(st->st_mode));
}

/* Read the directory open on DIRFD into L: 0, or -1 with errno. */
static int read_entries(const struct req_ctx *rq, struct listing *l, const struct ai_view *v,
                        int dirfd, int follow)
{
    int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = fd == -1 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        if (fd != -1)
            close(fd);
        errno = err;
        return -1;
    }
    rewinddir(d);
    struct dirent *de;
    struct stat st;
    int rc = 0;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (entry_listed(rq, l, v, dirfd, follow, de->d_name, &st) &&
            listing_add(l, de->d_name, &st) == -1)
            rc = -1;
        errno = 0;
    }
    int err = rc == -1 ? ENOMEM : errno;
    closedir(d);
    errno = err;
    return err ? -1 : 0;
}

/* ---- writing the page ------------------------------------------------------ */

/* One page being written. */
struct page {
    struct tbuf b;
    const struct ai_view *v;
    unsigned opts;                /* v->opts with the query's and the format's changes */
    int format;
    char key, order;              /* the sort in effect */
    char colargs[300];            /* ";F=1;V=1;P=..." kept in the column links */
    int name_width;               /* the Name column's, for this page */
    int adjust;                   /* NameWidth=*: in a table, names are not padded */
};

static void put_spaces(struct tbuf *b, int n)
{
    static const char sp[] = "                                ";
    while (n > 0) {
        int k = n < 32 ? n : 32;
        tb_put(b, sp, (size_t)k);
        n -= k;
    }
}

static int has(const struct page *pg, unsigned bit)
{
    return (pg->opts & bit) != 0;
}

/* A column's title, a link that sorts by it (the other way round when
 * it is the column in effect, ascending). */
static void put_column(struct page *pg, const char *title, char col)
{
    if (has(pg, AI_SUPPRESS_COLSORT)) {
        tb_puts(&pg->b, title);
        return;
    }
    char order = pg->key == col && pg->order == 'A' ? 'D' : 'A';
    tb_printf(&pg->b, "<a href=\"?C=%c;O=%c%s\">%s</a>", col, order, pg->colargs, title);
}

/* The name shown for E (NAME, LEN bytes), cut to the column with "..>"
 * (at a character boundary) unless the column adjusts; its padding. */
static void put_name(struct page *pg, const char *name, size_t len, int pad)
{
    size_t w = (size_t)pg->name_width;
    int cut = !pg->adjust && len > w;
    size_t shown = len;
    if (cut) {
        shown = w - 3;
        while (shown > 0 && ((unsigned char)name[shown] & 0xc0) == 0x80)
            shown--;
    }
    char *tmp = strndup(name, shown);
    if (tmp == NULL) {
        pg->b.failed = 1;
        return;
    }
    tb_html(&pg->b, tmp);
    free(tmp);
    tb_puts(&pg->b, cut ? "..&gt;</a>" : "</a>");
    if (pad && !pg->adjust)
        put_spaces(&pg->b, (int)w - (int)(shown + (cut ? 3 : 0)));
}

static void put_date(struct page *pg, time_t t, char *out, size_t cap)
{
    struct tm tm;
    if (localtime_r(&t, &tm) == NULL ||
        strftime(out, cap, pg->v->old_date ? "%d-%b-%Y %H:%M" : "%Y-%m-%d %H:%M", &tm) == 0)
        snprintf(out, cap, "-");
}

/* One row: the parent (E NULL, its link PARENT) or an entry. */
static void put_row(struct page *pg, const struct ai_entry *e, const char *parent)
{
    struct tbuf *b = &pg->b;
    const char *name = e ? e->name : "Parent Directory";
    size_t len = e ? e->len : 16;
    long long size = e ? e->size : -1;
    char date[64] = "", sz[8];
    int table = pg->format == AI_FORMAT_TABLE;
    if (e && e->mtime != -1)
        put_date(pg, e->mtime, date, sizeof date);
    if (pg->format == AI_FORMAT_PLAIN) {
        tb_puts(b, "<li><a href=\"");
    } else if (table) {
        tb_puts(b, has(pg, AI_SUPPRESS_ICON) ? "<tr><td><a href=\""
                                             : "<tr><td valign=\"top\">&nbsp;</td><td><a href=\"");
    } else {
        tb_puts(b, has(pg, AI_SUPPRESS_ICON) ? "<a href=\"" : "      <a href=\"");
    }
    if (e)
        autoindex_put_href(b, e->name, e->len, 1);
    else
        tb_puts(b, parent);
    tb_puts(b, pg->format == AI_FORMAT_PLAIN ? "\"> " : "\">");
    if (pg->format == AI_FORMAT_PLAIN) {
        tb_html(b, name);
        tb_puts(b, "</a></li>\n");
        return;
    }
    put_name(pg, name, len, 1);
    if (!table)
        tb_puts(b, " ");
    if (!has(pg, AI_SUPPRESS_LAST_MOD)) {
        if (table && *date)
            tb_printf(b, "</td><td align=\"right\">%s  ", date);
        else if (table)
            tb_puts(b, "</td><td>&nbsp;");
        else if (*date)
            tb_printf(b, "%s  ", date);
        else
            put_spaces(b, 19);
    }
    if (!has(pg, AI_SUPPRESS_SIZE))
        tb_printf(b, table ? "</td><td align=\"right\">%s" : "%s  ",
                  autoindex_format_size(size, sz));
    if (!has(pg, AI_SUPPRESS_DESC) && table)
        tb_puts(b, "</td><td>&nbsp;");
    tb_puts(b, table ? "</td></tr>\n" : "\n");
}

static void put_pre_head(struct page *pg)
{
    struct tbuf *b = &pg->b;
    tb_puts(b, has(pg, AI_SUPPRESS_ICON) ? "<pre>" : "<pre>      ");
    put_column(pg, "Name", 'N');
    put_spaces(b, pg->name_width - 4);
    tb_puts(b, " ");
    if (!has(pg, AI_SUPPRESS_LAST_MOD)) {
        put_column(pg, "Last modified", 'M');
        tb_puts(b, "      ");
    }
    if (!has(pg, AI_SUPPRESS_SIZE)) {
        put_column(pg, "Size", 'S');
        tb_puts(b, "  ");
    }
    if (!has(pg, AI_SUPPRESS_DESC))
        put_column(pg, "Description", 'D');
    tb_puts(b, has(pg, AI_SUPPRESS_RULES) ? "\n" : "<hr>");
}

/* The table's head row; the rule row into BREAKROW (or ""). */
static void put_table_head(struct page *pg, char *breakrow, size_t cap)
{
    struct tbuf *b = &pg->b;
    int cols = 1;
    tb_puts(b, "  <table>\n   <tr>");
    if (!has(pg, AI_SUPPRESS_ICON))
        tb_puts(b, "<th valign=\"top\">&nbsp;</th>"), cols++;
    tb_puts(b, "<th>");
    put_column(pg, "Name", 'N');
    static const struct { unsigned bit; const char *title; char col; } more[] = {
        { AI_SUPPRESS_LAST_MOD, "Last modified", 'M' },
        { AI_SUPPRESS_SIZE, "Size", 'S' },
        { AI_SUPPRESS_DESC, "Description", 'D' },
    };
    for (size_t i = 0; i < 3; i++)
        if (!has(pg, more[i].bit)) {
            tb_puts(b, "</th><th>");
            put_column(pg, more[i].title, more[i].col);
            cols++;
        }
    if (!has(pg, AI_SUPPRESS_RULES))
        snprintf(breakrow, cap, "   <tr><th colspan=\"%d\"><hr></th></tr>\n", cols);
    tb_printf(b, "</th></tr>\n%s", breakrow);
}

/* The path of the request's directory as a title: escaped, without its
 * trailing slashes. */
static void put_title(struct tbuf *b, const struct route *rt)
{
    size_t n = rt->path_len;
    while (n > 1 && rt->path[n - 1] == '/')
        n--;
    char *t = strndup(rt->path, n);
    if (t == NULL) {
        b->failed = 1;
        return;
    }
    tb_html(b, t);
    free(t);
}

/* The link to the parent directory ("/a/" for "/a/b/"), or "" at the root. */
static void parent_link(const struct route *rt, struct tbuf *out)
{
    size_t n = rt->path_len;
    while (n > 1 && rt->path[n - 1] == '/')
        n--;
    while (n > 0 && rt->path[n - 1] != '/')
        n--;
    if (n > 0 && rt->path_len > 1)
        autoindex_put_href(out, rt->path, n, 1);
}

static void write_html(struct page *pg, const struct req_ctx *rq, const struct listing *l,
                       int with_parent)
{
    struct tbuf *b = &pg->b, parent = { 0 };
    char breakrow[80] = "";
    if (with_parent)
        parent_link(rq->route, &parent);
    tb_puts(b, "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" "
               "\"http://www.w3.org/TR/html4/strict.dtd\">\n<html>\n <head>\n  <title>Index of ");
    put_title(b, rq->route);
    tb_puts(b, "</title>\n </head>\n <body>\n<h1>Index of ");
    put_title(b, rq->route);
    tb_puts(b, "</h1>\n");
    if (pg->format == AI_FORMAT_TABLE)
        put_table_head(pg, breakrow, sizeof breakrow);
    else if (pg->format == AI_FORMAT_FANCY)
        put_pre_head(pg);
    else
        tb_puts(b, "<ul>");
    if (parent.len && !parent.failed) {
        tb_put(&parent, "", 1);
        put_row(pg, NULL, parent.p);
    }
    for (size_t i = 0; i < l->n; i++)
        put_row(pg, &l->e[i], NULL);
    if (pg->format == AI_FORMAT_TABLE)
        tb_printf(b, "%s</table>\n", breakrow);
    else if (pg->format == AI_FORMAT_FANCY)
        tb_puts(b, has(pg, AI_SUPPRESS_RULES) ? "</pre>\n" : "<hr></pre>\n");
    else
        tb_puts(b, "</ul>\n");
    tb_puts(b, "</body></html>\n");
    b->failed |= parent.failed;
    free(parent.p);
}

static void write_json(struct tbuf *b, const struct listing *l)
{
    tb_puts(b, "[");
    for (size_t i = 0; i < l->n; i++) {
        const struct ai_entry *e = &l->e[i];
        size_t n = e->len - (size_t)e->is_dir;
        struct tm tm;
        char when[32] = "";
        if (gmtime_r(&e->mtime, &tm))
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        tb_puts(b, i ? ",\n {\"name\": " : "\n {\"name\": ");
        autoindex_put_json_string(b, e->name, n);
        tb_puts(b, ", \"href\": \"");
        autoindex_put_href(b, e->name, e->len, 1);
        tb_printf(b, "\", \"type\": \"%s\", \"size\": ", e->is_dir ? "directory" : "file");
        if (e->is_dir)
            tb_puts(b, "null");
        else
            tb_printf(b, "%lld", e->size);
        tb_printf(b, ", \"mtime\": \"%s\", \"mtime_epoch\": %lld}", when, (long long)e->mtime);
    }
    tb_puts(b, l->n ? "\n]\n" : "]\n");
}

/* ---- the answer ------------------------------------------------------------ */

static void release_body(void *a, void *b)
{
    (void)b;
    free(a);
}

/* The query's part that the column links keep (Apache's colargs); the
 * P= pattern (PATTERN, decoded) encoded again, so that nothing from the
 * query reaches the page unescaped. */
static void make_colargs(struct page *pg, const struct ai_query *q, const char *pattern)
{
    struct tbuf t = { 0 };
    if (q->format >= 0 && q->format <= 2)
        tb_printf(&t, ";F=%d", q->format);
    if (q->version >= 0)
        tb_printf(&t, ";V=%d", q->version);
    if (pattern) {
        tb_puts(&t, ";P=");
        autoindex_put_href(&t, pattern, strlen(pattern), 0);
    }
    if (t.len && !t.failed && t.len < sizeof pg->colargs) {
        memcpy(pg->colargs, t.p, t.len);
        pg->colargs[t.len] = '\0';
    }
    free(t.p);
}

/* The page's settings: the view's, changed by the query Q (its P=
 * decoded: PATTERN, or NULL) and FORMAT. */
static void page_setup(struct page *pg, const struct ai_view *v, const struct ai_query *q,
                       const char *pattern, int format)
{
    pg->v = v;
    pg->opts = v->opts;
    pg->format = format;
    pg->key = q->key ? q->key : v->key;
    pg->order = q->order ? q->order : v->order;
    if (q->version == 0 || q->version == 1)
        pg->opts = q->version ? pg->opts | AI_VERSION_SORT : pg->opts & ~AI_VERSION_SORT;
    if (format == AI_FORMAT_PLAIN)
        pg->opts &= ~AI_FOLDERS_FIRST;   /* Apache knows no folders in a plain list */
    pg->adjust = v->name_width == AI_WIDTH_AUTO;
    pg->name_width = pg->adjust ? AI_NAME_WIDTH : v->name_width;
    make_colargs(pg, q, pattern);
}

/* NameWidth=* in a <pre> listing: the longest name's width (at least 23). */
static void fit_names(struct page *pg, const struct listing *l)
{
    if (!pg->adjust || pg->format != AI_FORMAT_FANCY)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (l->e[i].len > (size_t)pg->name_width)
            pg->name_width = (int)l->e[i].len;
    pg->adjust = 0;
}

static void send_page(struct reply *rp, const struct req_ctx *rq, struct page *pg, int vary)
{
    char type[200];
    if (pg->b.failed) {
        free(pg->b.p);
        reply_error(rp, rq->date, 500);
        return;
    }
    if (pg->format == AI_FORMAT_JSON)
        snprintf(type, sizeof type, "application/json");
    else
        snprintf(type, sizeof type, "%s;charset=%s", pg->v->type ? pg->v->type : "text/html",
                 pg->v->charset ? pg->v->charset : "UTF-8");
    reply_text(rp, rq->date, 200, type, pg->b.p ? pg->b.p : "", pg->b.len);
    if (vary)
        response_head_add(&rp->out.head, "Vary", "Accept", 6);
    rp->out.release = release_body;
    rp->out.release_a = pg->b.p;
    compress_reply_body(rq, rp);      /* a listing is text: Compress covers it */
}

void autoindex_reply(struct reply *rp, const struct req_ctx *rq, int dirfd, int follow)
{
    struct ai_view v;
    struct ai_query q;
    struct page pg = { 0 };
    struct listing l = { 0 };
    char pattern[256];
    int vary;
    if ((route_options(rq->route) & OPT_INDEXES) == 0) {
        reply_error(rp, rq->date, 403);
        return;
    }
    fold_view(rq, &v);
    if (v.opts & AI_IGNORE_CLIENT) {
        autoindex_parse_query(NULL, 0, &q);
        v.opts |= AI_SUPPRESS_COLSORT;
    } else {
        request_query(rq, &q);
    }
    if (q.pattern && decode_pattern(q.pattern, q.pattern_len, pattern, sizeof pattern) == 0)
        l.pattern = pattern;
    page_setup(&pg, &v, &q, l.pattern, choose_format(rq, &v, &q, &vary));
    l.fancy = pg.format != AI_FORMAT_PLAIN;
    l.index_dates = pg.format == AI_FORMAT_FANCY || pg.format == AI_FORMAT_TABLE;
    if (read_entries(rq, &l, &v, dirfd, follow) == -1) {
        int err = errno;
        handler_log(rq, LOGM_STATIC, LOGL_ERROR, "cannot list directory %s: %s", rq->route->path,
                    strerror(err));
        listing_free(&l);
        reply_error(rp, rq->date, err == ENOMEM ? 500 : 403);
        return;
    }
    struct ai_sort s = { .key = pg.key, .order = pg.order, .opts = pg.opts };
    autoindex_sort(l.e, l.n, &s);
    fit_names(&pg, &l);
    if (pg.format == AI_FORMAT_JSON)
        write_json(&pg.b, &l);
    else
        write_html(&pg, rq, &l, !view_ignores(&v, ".."));
    listing_free(&l);
    send_page(rp, rq, &pg, vary);
}
