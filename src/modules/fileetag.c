/* fileetag.c: the FileETag directive and the ETag it makes (fileetag.h).
 *
 * Configuration: where the configuration loads (module.h); a place's
 * object is what FileETag said there, and the route's objects are
 * merged when a file is read from disk (handler threads), with Apache's
 * rules: an absolute list replaces what came before, "+X"/"-X" edit it. */
#include "config.h"

#include "mpmd/modules/fileetag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpmd/core/config.h"
#include "mpmd/modules/precond.h"
#define FILEETAG_MAX_CONFS ROUTE_MAX_CHAIN

/* The bit KEYWORD names, or -1. */
static int keyword_bit(const char *w)
{
    static const struct { const char *word; unsigned bit; } words[] = {
        {"None", FILEETAG_NONE}, {"All", FILEETAG_ALL}, {"Size", FILEETAG_SIZE},
        {"MTime", FILEETAG_MTIME}, {"LMTime", FILEETAG_MTIME},
        {"LastModified", FILEETAG_MTIME}, {"INode", FILEETAG_INODE},
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcasecmp(w, words[i].word) == 0)
            return (int)words[i].bit;
    return -1;
}

/* One word of the list: ACTION '+', '-' or '*' (absolute). */
static void apply_word(struct fileetag_conf *c, char action, unsigned bit)
{
    if (action == '+') {
        c->add |= bit;
        c->remove &= ~bit;
    } else if (action == '-') {
        c->remove |= bit;
        c->add &= ~bit;
    } else {
        c->bits = bit == FILEETAG_NONE || bit == FILEETAG_ALL ? bit : c->bits | bit;
        c->add = c->remove = FILEETAG_UNSET;
    }
}

int fileetag_parse(struct fileetag_conf *c, int argc, char **argv, char *err, size_t errlen)
{
    int first = 1;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        char action = '*';
        if (*w == '+' || *w == '-')
            action = *w++;
        else if (first) {               /* an absolute word forgets what came before */
            *c = (struct fileetag_conf){0, 0, 0};
            first = 0;
        }
        int bit = keyword_bit(w);
        if (bit == -1) {
            snprintf(err, errlen, "expected INode, MTime, Size, All or None (or +/- before "
                     "the first three), got '%s'%s", argv[i],
                     strcasecmp(w, "Digest") == 0 ? " (Digest is not supported)" : "");
            return -1;
        }
        if (action != '*' && (bit == FILEETAG_NONE || bit == FILEETAG_ALL)) {
            snprintf(err, errlen, "'%s' cannot be used with '+' or '-'", w);
            return -1;
        }
        apply_word(c, action, (unsigned)bit);
    }
    return 0;
}

struct fileetag_conf fileetag_merge(struct fileetag_conf base, struct fileetag_conf add)
{
    struct fileetag_conf m = add;
    if (add.bits == FILEETAG_UNSET) {
        m.add = (base.add & ~add.remove) | add.add;
        m.remove = (base.remove & ~add.add) | add.remove;
        m.bits = (base.bits & ~m.remove) | m.add;
    }
    if (m.bits != FILEETAG_NONE)
        m.bits &= ~(unsigned)FILEETAG_NONE;
    return m;
}

unsigned fileetag_effective(struct fileetag_conf c)
{
    unsigned bits = (c.bits & ~c.remove) | c.add;
    if (bits & FILEETAG_NONE)
        return FILEETAG_NONE;
    return bits == FILEETAG_UNSET ? FILEETAG_DEFAULT : bits;
}

unsigned fileetag_bits(const struct req_ctx *rq)
{
    const void *confs[FILEETAG_MAX_CONFS];
    int n = handler_dir_confs(rq, &fileetag_conf_module, confs, FILEETAG_MAX_CONFS);
    struct fileetag_conf m = {0, 0, 0};
    for (int k = 0; k < n; k++)          /* the first unmerged, as Apache's server config */
        m = k ? fileetag_merge(m, *(const struct fileetag_conf *)confs[k])
              : *(const struct fileetag_conf *)confs[k];
    return fileetag_effective(m);
}

size_t fileetag_format(char *out, unsigned bits, const struct stat *st)
{
    const struct { unsigned bit; unsigned long long v; } parts[] = {
        {FILEETAG_INODE, (unsigned long long)st->st_ino},
        {FILEETAG_MTIME, (unsigned long long)st->st_mtime},
        {FILEETAG_SIZE, (unsigned long long)st->st_size},
    };
    char *p = out;
    out[0] = '\0';
    if (bits & FILEETAG_NONE || (bits & FILEETAG_ALL) == 0)
        return 0;
    *p++ = '"';
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (bits & parts[i].bit) {
            if (p > out + 1)
                *p++ = '-';
            p = precond_put_hex(p, parts[i].v);
        }
    *p++ = '"';
    *p = '\0';
    return (size_t)(p - out);
}

/* ---- configuration ---------------------------------------------------------- */

static void *fileetag_create(void)
{
    return calloc(1, sizeof(struct fileetag_conf));
}

static void *fileetag_merge_objects(const void *base, const void *add)
{
    static const struct fileetag_conf none = {0, 0, 0};
    struct fileetag_conf *m = malloc(sizeof *m);
    if (m)
        *m = fileetag_merge(base ? *(const struct fileetag_conf *)base : none,
                            add ? *(const struct fileetag_conf *)add : none);
    return m;
}

static int set_fileetag(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)at;
    return fileetag_parse(conf, argc, argv, err, errlen);
}

static const struct module_directive fileetag_directives[] = {
    {"FileETag", "[+|-]PART ...", "Which parts of a file make its ETag: INode, MTime, Size, "
     "All, None; +PART and -PART edit what an outer place said",
     CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 4, set_fileetag, "MTime Size",
     "As Apache 2.4 (FileETag is core there): a list without signs replaces what came "
     "before, signed words edit it along the sections.  None sends no ETag (If-None-Match "
     "then never gives 304; If-Modified-Since still does).  The ETag is \"inode-mtime-size\" "
     "in hex with the parts asked for (Apache writes size before mtime, and mtime in "
     "microseconds), made when the file is read from disk and kept with it in the file "
     "cache.  Digest is not supported."},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module fileetag_conf_module = {
    .name = "fileetag",
    .directives = fileetag_directives,
    .create = fileetag_create,
    .merge = fileetag_merge_objects,
    .destroy = free,
};
