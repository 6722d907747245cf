/* fileetag.h: FileETag, which parts of a file make its ETag (Apache's
 * core directive: INode, MTime, Size, All, None, and +/- forms merged
 * along the sections the way Apache merges them).
 *
 * The directive is parsed where the configuration loads (module.h);
 * fileetag_bits and fileetag_format run on handler threads when a file
 * is read from disk (the file cache keeps the ETag made then, so the
 * listener's cache hits never look here).  Pure functions otherwise. */
#ifndef MPMD_FILEETAG_H
#define MPMD_FILEETAG_H

#include <stddef.h>
#include <sys/stat.h>

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

extern const struct conf_module fileetag_conf_module;

/* Apache's bits (http_core.h). */
enum {
    FILEETAG_UNSET = 0,
    FILEETAG_NONE = 1 << 0,
    FILEETAG_MTIME = 1 << 1,
    FILEETAG_INODE = 1 << 2,
    FILEETAG_SIZE = 1 << 3,
    FILEETAG_ALL = FILEETAG_MTIME | FILEETAG_INODE | FILEETAG_SIZE,
    FILEETAG_DEFAULT = FILEETAG_MTIME | FILEETAG_SIZE,   /* Apache 2.4's "MTime Size" */
};

/* What one place said: Apache's etag_bits, etag_add, etag_remove. */
struct fileetag_conf {
    unsigned bits, add, remove;
};

/* Apply "FileETag ARGV..." (ARGC words) to C.  0, or -1 with one
 * sentence in ERR. */
int fileetag_parse(struct fileetag_conf *c, int argc, char **argv, char *err, size_t errlen);

/* ADD over BASE, as Apache's merge_core_dir_configs. */
struct fileetag_conf fileetag_merge(struct fileetag_conf base, struct fileetag_conf add);

/* The parts C asks for: FILEETAG_NONE, or a set of MTIME, INODE, SIZE
 * (the default when nothing was said). */
unsigned fileetag_effective(struct fileetag_conf c);

/* The parts along RQ's route (the sections' FileETag over the site's). */
unsigned fileetag_bits(const struct req_ctx *rq);

/* The most bytes an ETag takes, NUL included: three 64-bit numbers in
 * hex, two '-', two '"'. */
#define FILEETAG_MAX (3 * 16 + 2 + 2 + 1)

/* The ETag of the file ST for BITS into OUT (>= FILEETAG_MAX bytes): "" for
 * FILEETAG_NONE, else a quoted list of lower-case hex numbers joined by
 * '-', in the order inode, mtime (seconds), size, each present when its
 * bit is (the default gives precond_etag's "mtime-size").  Returns the
 * length. */
size_t fileetag_format(char *out, unsigned bits, const struct stat *st);

#endif
