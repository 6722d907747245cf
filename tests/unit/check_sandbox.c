/* check_sandbox.c: throw-away directories for the unit tests that need
 * files (config Include, virtual hosts), and parsing config text with
 * one as ServerRoot.  Runs in the Check runner's
 * process; everything it makes, sandbox_remove removes. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_suites.h"
#include "mpmd/core/config.h"

void sandbox_create(char *root, size_t len, const char *name, const char *const *dirs)
{
    char path[256];
    snprintf(root, len, "/tmp/mpmd-check-%s-XXXXXX", name);
    ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
    for (int i = 0; dirs[i] != NULL; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
    }
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void sandbox_remove(const char *root)
{
    nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

struct config *sandbox_parse_ok(const char *root, const char *name, const char *text)
{
    char err[512] = "";
    struct config *cfg = config_parse_text(name, text, root, err, sizeof err);
    ck_assert_msg(cfg != NULL, "refused: %s\n%s", err, text);
    return cfg;
}

void sandbox_parse_fails(const char *root, const char *name, const char *text, const char *want)
{
    char err[512] = "";
    struct config *cfg = config_parse_text(name, text, root, err, sizeof err);
    config_free(cfg);
    ck_assert_msg(cfg == NULL, "accepted:\n%s", text);
    ck_assert_str_eq(err, want);
}
