/* secindex.c: sections indexed by path segments (secindex.h).  Built in
 * the supervisor; read by any thread of a child without locks. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mpmd/core/secindex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fnmatch.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

/* One path segment of the tree.  AT_END and BELOW are precomputed: the
 * sections that apply to a path that ends at this node ("/a"), or goes
 * on below it ("/a/", "/a/b"), in merge order. */
struct node {
    const char *seg;                  /* into a section's pattern */
    size_t len;
    struct node **kids;
    int n_kids;
    const struct section **own_plain, **own_slash;  /* "/a" and "/a/" patterns */
    int n_plain, n_slash;
    const struct section **at_end, **below;
    int n_end, n_below;
};

struct section_index {
    struct node *loc, *dir;           /* trees; NULL when no plain section of the kind */
    const struct section **loc_other; /* wildcard <Location>, <LocationMatch> */
    const struct section **dir_other; /* wildcard <Directory> */
    const struct section **files;     /* <Files>, <FilesMatch> */
    int n_loc_other, n_dir_other, n_files;
    int max_dir, max_loc;             /* longest precomputed list of each tree */
};

static int push(const struct section ***list, int *n, const struct section *s)
{
    const struct section **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (l == NULL)
        return -1;
    l[(*n)++] = s;
    *list = l;
    return 0;
}

static void node_free(struct node *nd)
{
    if (nd == NULL)
        return;
    for (int i = 0; i < nd->n_kids; i++)
        node_free(nd->kids[i]);
    free(nd->kids);
    free(nd->own_plain);
    free(nd->own_slash);
    free(nd->at_end);
    free(nd->below);
    free(nd);
}

static struct node *child(struct node *nd, const char *seg, size_t len, int create)
{
    for (int i = 0; i < nd->n_kids; i++)
        if (nd->kids[i]->len == len && memcmp(nd->kids[i]->seg, seg, len) == 0)
            return nd->kids[i];
    if (!create)
        return NULL;
    struct node **kids = realloc(nd->kids, (size_t)(nd->n_kids + 1) * sizeof *kids);
    if (kids == NULL)
        return NULL;
    nd->kids = kids;
    struct node *k = calloc(1, sizeof *k);
    if (k == NULL)
        return NULL;
    k->seg = seg;
    k->len = len;
    kids[nd->n_kids++] = k;
    return k;
}

/* Put S under its pattern's segments in the tree at *ROOT. */
static int insert(struct node **root, const struct section *s)
{
    if (*root == NULL && (*root = calloc(1, sizeof **root)) == NULL)
        return -1;
    struct node *nd = *root;
    const char *p = s->pattern;
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        size_t len = strcspn(p, "/");
        if ((nd = child(nd, p, len, 1)) == NULL)
            return -1;
        p += len;
    }
    size_t plen = strlen(s->pattern);
    int slash = plen > 1 && s->pattern[plen - 1] == '/' && s->kind == SEC_LOCATION;
    return slash ? push(&nd->own_slash, &nd->n_slash, s) : push(&nd->own_plain, &nd->n_plain, s);
}

static int components(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++)
        n += *p == '/' && p[1] != '/' && p[1] != '\0';
    return n;
}

/* Merge order: <Directory> shortest path first; everything else in file
 * order. */
static int by_merge_order(const void *a, const void *b)
{
    const struct section *x = *(const struct section *const *)a;
    const struct section *y = *(const struct section *const *)b;
    if (x->kind == SEC_DIRECTORY && y->kind == SEC_DIRECTORY) {
        int cx = components(x->pattern), cy = components(y->pattern);
        if (cx != cy)
            return cx < cy ? -1 : 1;
    }
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* LIST := BASE + the sections of ADD (NA and NB of them), sorted. */
static int combine(const struct section ***list, int *n, const struct section *const *base,
                   int nbase, const struct section *const *a, int na,
                   const struct section *const *b, int nb)
{
    int total = nbase + na + nb;
    *n = 0;
    if (total == 0)
        return 0;
    if ((*list = malloc((size_t)total * sizeof **list)) == NULL)
        return -1;
    if (nbase)                    /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(*list, base, (size_t)nbase * sizeof *base);
    if (na)
        memcpy(*list + nbase, a, (size_t)na * sizeof *a);
    if (nb)
        memcpy(*list + nbase + na, b, (size_t)nb * sizeof *b);
    qsort(*list, (size_t)total, sizeof **list, by_merge_order);
    *n = total;
    return 0;
}

/* Fill every node's AT_END and BELOW from its parent's BELOW; *MAX gets
 * the longest list. */
static int precompute(struct node *nd, const struct section *const *parent, int nparent,
                      int *max)
{
    if (combine(&nd->at_end, &nd->n_end, parent, nparent, nd->own_plain, nd->n_plain, NULL, 0) ||
        combine(&nd->below, &nd->n_below, parent, nparent, nd->own_plain, nd->n_plain,
                nd->own_slash, nd->n_slash))
        return -1;
    if (nd->n_below > *max)
        *max = nd->n_below;
    for (int i = 0; i < nd->n_kids; i++)
        if (precompute(nd->kids[i], nd->below, nd->n_below, max) == -1)
            return -1;
    return 0;
}

static int is_wildcard(const struct section *s)
{
    return s->wildcard || s->regex != NULL;
}

static int add_section(struct section_index *ix, const struct section *s)
{
    switch (s->kind) {
    case SEC_LOCATION:
    case SEC_LOCATION_MATCH:
        return is_wildcard(s) ? push(&ix->loc_other, &ix->n_loc_other, s) : insert(&ix->loc, s);
    case SEC_DIRECTORY:
        return is_wildcard(s) ? push(&ix->dir_other, &ix->n_dir_other, s) : insert(&ix->dir, s);
    case SEC_DIRECTORY_MATCH:
        return push(&ix->dir_other, &ix->n_dir_other, s);
    case SEC_FILES:
    case SEC_FILES_MATCH:
        return push(&ix->files, &ix->n_files, s);
    }
    return -1;
}

struct section_index *secindex_build(const struct section *const *secs, int n)
{
    struct section_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        return NULL;
    for (int i = 0; i < n; i++)
        if (add_section(ix, secs[i]) == -1)
            goto fail;
    if ((ix->loc && precompute(ix->loc, NULL, 0, &ix->max_loc) == -1) ||
        (ix->dir && precompute(ix->dir, NULL, 0, &ix->max_dir) == -1))
        goto fail;
    return ix;
fail:
    secindex_free(ix);
    return NULL;
}

void secindex_free(struct section_index *ix)
{
    if (ix == NULL)
        return;
    node_free(ix->loc);
    node_free(ix->dir);
    free(ix->loc_other);
    free(ix->dir_other);
    free(ix->files);
    free(ix);
}

int secindex_needs_fs(const struct section_index *ix)
{
    return ix != NULL && (ix->dir || ix->n_dir_other || ix->n_files);
}

int secindex_max_match(const struct section_index *ix)
{
    return ix == NULL ? 0 : ix->max_dir + ix->n_dir_other + ix->n_files + ix->max_loc +
                            ix->n_loc_other;
}

/* The precomputed list for PATH (LEN bytes, starting with '/') in the
 * tree at ROOT: one step per segment. */
static const struct section *const *walk(const struct node *root, const char *path, size_t len,
                                         int *n)
{
    const struct node *nd = root;
    size_t pos = 0;
    for (;;) {
        while (pos < len && path[pos] == '/')
            pos++;
        if (pos == len)
            break;                        /* ends in '/' (or is "/"): below */
        size_t seg = pos;
        while (pos < len && path[pos] != '/')
            pos++;
        const struct node *k = NULL;
        for (int i = 0; i < nd->n_kids; i++)
            if (nd->kids[i]->len == pos - seg && memcmp(nd->kids[i]->seg, path + seg, pos - seg) == 0) {
                k = nd->kids[i];
                break;
            }
        if (k == NULL)
            break;                        /* goes on below ND */
        nd = k;
        if (pos == len) {
            *n = nd->n_end;
            return nd->at_end;
        }
    }
    *n = nd->n_below;
    return nd->below;
}

/* Whether regex RE matches S (LEN bytes) anywhere.  *MD is the match
 * data of the whole look-up, made on the first regex it tests. */
static int regex_matches(const void *re, const char *s, size_t len, pcre2_match_data **md)
{
    if (*md == NULL && (*md = pcre2_match_data_create(1, NULL)) == NULL)
        return 0;
    return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, *md, NULL) >= 0;
}

/* The first COUNT components of PATH ("/a/b/c", 2 -> "/a/b") into BUF. */
static const char *leading(const char *path, int count, char *buf, size_t cap)
{
    const char *p = path;
    for (int i = 0; i < count && *p; i++) {
        p++;
        p += strcspn(p, "/");
    }
    size_t n = (size_t)(p - path);
    if (n >= cap)
        return NULL;
    memcpy(buf, path, n);
    buf[n] = '\0';
    return buf;
}

int secindex_regex_matches(const void *re, const char *s, size_t len)
{
    pcre2_match_data *md = NULL;
    int r = regex_matches(re, s, len, &md);
    pcre2_match_data_free(md);
    return r;
}

static int dir_other_matches(const struct section *s, const char *fs, pcre2_match_data **md)
{
    if (s->regex)
        return regex_matches(s->regex, fs, strlen(fs), md);
    char buf[4096];
    const char *prefix = leading(fs, components(s->pattern), buf, sizeof buf);
    return prefix && fnmatch(s->pattern, prefix, FNM_PATHNAME) == 0;
}

static int files_match(const struct section *s, const char *base, size_t len,
                       pcre2_match_data **md)
{
    if (s->regex)
        return regex_matches(s->regex, base, len, md);
    char buf[1024];
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, base, len);
    buf[len] = '\0';
    return s->wildcard ? fnmatch(s->pattern, buf, 0) == 0 : strcmp(s->pattern, buf) == 0;
}

static int loc_other_matches(const struct section *s, const char *url, size_t ulen,
                             pcre2_match_data **md)
{
    if (s->regex)
        return regex_matches(s->regex, url, ulen, md);
    char buf[4096];
    if (ulen >= sizeof buf)
        return 0;
    memcpy(buf, url, ulen);
    buf[ulen] = '\0';
    return fnmatch(s->pattern, buf, FNM_PATHNAME) == 0;
}

/* The last segment of PATH (no trailing slash: a directory has none). */
static const char *base_name(const char *path, size_t len, size_t *blen)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '/')
        i--;
    *blen = len - i;
    return path + i;
}

/* Whether some <Files> section matches the segment SEG (LEN bytes). */
static int any_files_match(const struct section_index *ix, const char *seg, size_t len,
                           pcre2_match_data **md)
{
    for (int i = 0; len > 0 && i < ix->n_files; i++)
        if (files_match(ix->files[i], seg, len, md))
            return 1;
    return 0;
}

size_t secindex_files_prefix(const struct section_index *ix, const char *fs)
{
    if (ix == NULL || ix->n_files == 0 || fs == NULL)
        return 0;
    pcre2_match_data *md = NULL;
    size_t len = strlen(fs), blen, cut = 0;
    const char *base = base_name(fs, len, &blen);
    if (!any_files_match(ix, base, blen, &md)) {
        size_t end = (size_t)(base - fs);            /* the '/' before the last segment */
        while (end > 1 && cut == 0) {
            size_t start = end - 1;
            while (start > 0 && fs[start - 1] != '/')
                start--;
            if (any_files_match(ix, fs + start, end - 1 - start, &md))
                cut = end - 1;
            end = start;
        }
    }
    pcre2_match_data_free(md);
    return cut;
}

int secindex_match(const struct section_index *ix, const char *url, size_t ulen,
                   const char *fs, const struct section **out, int max)
{
    int n = 0, k;
    pcre2_match_data *md = NULL;  /* one for every regex of this look-up */
    if (ix == NULL)
        return 0;
    if (fs && ix->dir) {
        const struct section *const *l = walk(ix->dir, fs, strlen(fs), &k);
        for (int i = 0; i < k && n < max; i++)
            out[n++] = l[i];
    }
    for (int i = 0; fs && i < ix->n_dir_other && n < max; i++)
        if (dir_other_matches(ix->dir_other[i], fs, &md))
            out[n++] = ix->dir_other[i];
    if (ix->n_files) {
        size_t blen;
        const char *base = fs ? base_name(fs, strlen(fs), &blen) : base_name(url, ulen, &blen);
        for (int i = 0; blen > 0 && i < ix->n_files && n < max; i++)
            if (files_match(ix->files[i], base, blen, &md))
                out[n++] = ix->files[i];
    }
    const struct section *const *loc = NULL;
    int nloc = 0, o = 0;
    if (ix->loc)
        loc = walk(ix->loc, url, ulen, &nloc);
    /* Merge the tree's list with the wildcard and regex ones, by file order. */
    for (int i = 0; (i < nloc || o < ix->n_loc_other) && n < max;) {
        while (o < ix->n_loc_other && !loc_other_matches(ix->loc_other[o], url, ulen, &md))
            o++;
        int take_other = o < ix->n_loc_other && (i >= nloc || ix->loc_other[o]->seq < loc[i]->seq);
        if (take_other)
            out[n++] = ix->loc_other[o++];
        else if (i < nloc)
            out[n++] = loc[i++];
    }
    pcre2_match_data_free(md);
    return n;
}
