/* replay_main.c: runs the fuzz harness on corpus files without libFuzzer,
 * printing TAP ("ok N - FILE") for the automake TAP driver.
 *
 * Usage: replay [FILE-OR-DIR...]; with no argument it replays
 * $MPMD_SRCDIR/REPLAY_CORPUS (or REPLAY_CORPUS), REPLAY_CORPUS being
 * tests/fuzz/corpus unless the build defines it (the config harness's
 * replayer: -DREPLAY_CORPUS='"tests/fuzz/corpus-config"').  Directories are
 * read in name order, dot files skipped.  An input that breaks an
 * invariant aborts the whole run (the harness calls abort()), which the
 * TAP driver reports as a failure.  Single-threaded. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_target.h"

#ifndef REPLAY_CORPUS
#define REPLAY_CORPUS "tests/fuzz/corpus"
#endif

struct file_list {
    char **names;          /* owned, each owned */
    size_t n, cap;
};

static int list_add(struct file_list *l, const char *dir, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->names, cap * sizeof *p);
        if (!p)
            return -1;
        l->names = p;
        l->cap = cap;
    }
    size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
    char *s = malloc(len);
    if (!s)
        return -1;
    snprintf(s, len, "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
    l->names[l->n++] = s;
    return 0;
}

static void list_free(struct file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

static int not_hidden(const struct dirent *d)
{
    return d->d_name[0] != '.';
}

/* Add ARG: a file, or every non-hidden entry of a directory in order. */
static int list_add_arg(struct file_list *l, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == -1) {
        fprintf(stderr, "replay: cannot stat %s: %s\n", arg, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return list_add(l, NULL, arg);
    struct dirent **ents;
    int n = scandir(arg, &ents, not_hidden, alphasort);
    if (n == -1) {
        fprintf(stderr, "replay: cannot read directory %s: %s\n", arg, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && list_add(l, arg, ents[i]->d_name) == -1)
            rc = -1;
        free(ents[i]);
    }
    free(ents);
    return rc;
}

/* Read all of PATH into a malloc'd buffer (*LEN bytes).  NULL on error. */
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *p = realloc(buf, cap);
            if (!p)
                goto fail;
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto fail;
    fclose(f);
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

int main(int argc, char **argv)
{
    struct file_list l = { 0 };
    char def[4096];
    int rc = 0;
    if (argc < 2) {
        const char *src = getenv("MPMD_SRCDIR");
        snprintf(def, sizeof def, "%s%s" REPLAY_CORPUS, src ? src : "", src ? "/" : "");
        rc = list_add_arg(&l, def);
    }
    for (int i = 1; i < argc && rc == 0; i++)
        rc = list_add_arg(&l, argv[i]);
    if (rc != 0 || l.n == 0) {
        printf("Bail out! %s\n", rc ? "cannot list the inputs" : "no inputs to replay");
        list_free(&l);
        return 1;
    }
    printf("1..%zu\n", l.n);
    fflush(stdout);
    int failed = 0;
    for (size_t i = 0; i < l.n; i++) {
        size_t len;
        uint8_t *data = read_file(l.names[i], &len);
        if (!data) {
            printf("not ok %zu - %s # cannot read: %s\n", i + 1, l.names[i], strerror(errno));
            failed = 1;
            continue;
        }
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        printf("ok %zu - %s\n", i + 1, l.names[i]);
        fflush(stdout);
    }
    list_free(&l);
    return failed;
}
