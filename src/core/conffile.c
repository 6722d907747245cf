/* conffile.c: configuration files on disk (see conffile.h).
 *
 * Runs in whatever thread loads a config (the supervisor, mpmd -t). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpmd/core/conffile.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *conffile_read(const char *path, char *why, size_t whylen)
{
    char *buf = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    if ((buf = malloc(CONFFILE_MAX_SIZE + 1)) == NULL) {
        snprintf(why, whylen, "cannot read: out of memory");
        goto fail;
    }
    size_t len = fread(buf, 1, CONFFILE_MAX_SIZE + 1, f);
    if (ferror(f)) {
        snprintf(why, whylen, "cannot read: %s", strerror(errno));
        goto fail;
    }
    if (len > CONFFILE_MAX_SIZE) {
        snprintf(why, whylen, "cannot read: larger than %d bytes; is it a configuration file?",
                 CONFFILE_MAX_SIZE);
        goto fail;
    }
    if (memchr(buf, '\0', len) != NULL) {
        snprintf(why, whylen, "cannot read: contains a NUL byte; is it a text file?");
        goto fail;
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
fail:
    free(buf);
    fclose(f);
    return NULL;
}

void conffile_free_list(char **files, int n)
{
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
}

/* The growing result of one expansion. */
struct file_list {
    char **files;
    int n, cap, max;
    char *why;
    size_t whylen;
};

static int list_add(struct file_list *l, const char *path)
{
    if (l->n == l->max) {
        snprintf(l->why, l->whylen, "names more than %d files", l->max);
        return -1;
    }
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **f = realloc(l->files, (size_t)cap * sizeof *f);
        if (f == NULL)
            goto oom;
        l->files = f;
        l->cap = cap;
    }
    if ((l->files[l->n] = strdup(path)) == NULL)
        goto oom;
    l->n++;
    return 0;
oom:
    snprintf(l->why, l->whylen, "out of memory");
    return -1;
}

static int add_path(struct file_list *l, const char *path);

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_dots(const struct dirent *e)
{
    return strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
}

/* Every file below directory DIR, names in byte order (Apache sorts
 * with strcmp too), subdirectories where their name sorts. */
static int add_directory(struct file_list *l, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, skip_dots, by_name);
    if (n < 0) {
        snprintf(l->why, l->whylen, "cannot read directory '%s': %s", dir, strerror(errno));
        return -1;
    }
    int status = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        int len = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (status == 0 && (len < 0 || (size_t)len >= sizeof path)) {
            snprintf(l->why, l->whylen, "path too long under '%s'", dir);
            status = -1;
        }
        if (status == 0)
            status = add_path(l, path);
        free(names[i]);
    }
    free(names);
    return status;
}

/* One existing path: a file, or a directory standing for its files. */
static int add_path(struct file_list *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) == -1) {
        snprintf(l->why, l->whylen, "cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    return S_ISDIR(st.st_mode) ? add_directory(l, path) : list_add(l, path);
}

static int has_wildcard(const char *path)
{
    return strpbrk(path, "*?[") != NULL;
}

int conffile_expand(const char *path, int optional, int max, char ***files, int *n, char *why,
                    size_t whylen)
{
    struct file_list l = { .max = max, .why = why, .whylen = whylen };
    int status = 0;
    *files = NULL;
    *n = 0;
    if (!has_wildcard(path)) {
        struct stat st;
        if (optional && stat(path, &st) == -1 && errno == ENOENT)
            return 0;
        status = add_path(&l, path);
    } else {
        glob_t g;
        int r = glob(path, 0, NULL, &g);
        if (r == GLOB_NOMATCH) {
            if (!optional) {
                snprintf(why, whylen, "no file matches '%s'", path);
                status = -1;
            }
        } else if (r != 0) {
            snprintf(why, whylen, "cannot expand '%s': %s", path,
                     r == GLOB_NOSPACE ? "out of memory" : "read error");
            status = -1;
        } else {
            for (size_t i = 0; i < g.gl_pathc && status == 0; i++)
                status = add_path(&l, g.gl_pathv[i]);
        }
        globfree(&g);
    }
    if (status == -1) {
        conffile_free_list(l.files, l.n);
        return -1;
    }
    *files = l.files;
    *n = l.n;
    return 0;
}
