/* mime.c: the extension -> Content-Type table.
 *
 * Loaded once per process, before threads start (supervisor or child
 * startup); read-only afterwards, so lookups from handler threads need no
 * lock and never allocate.  An open-addressing hash table (linear probing,
 * power-of-two size, at most half full) maps lower-case extensions to
 * types.  Entries from /etc/mime.types point into one buffer holding the
 * file's text, NUL-terminated in place; built-in entries point at string
 * constants.  /etc/mime.types wins where it lists an extension, later
 * lines over earlier ones (as Apache's mod_mime does); the built-ins fill
 * the gaps.  "js" and "mjs" are always text/javascript (RFC 9239). */
#ifdef HAVE_CONFIG_H
#include "config.h"     /* _GNU_SOURCE (AC_USE_SYSTEM_EXTENSIONS) */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "mpmd/modules/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIME_DEFAULT_FILE "/etc/mime.types"
#define MIME_FALLBACK "application/octet-stream"
#define MIME_FILE_MAX (16u << 20)   /* ignore absurdly large files */
#define MIME_MIN_SLOTS 128

struct mime_entry {
    const char *ext;    /* lower case, NUL-terminated; NULL: empty slot */
    const char *type;
};

struct mime_table {
    struct mime_entry *slots;
    size_t mask;        /* number of slots - 1 */
    size_t count;
    char *text;         /* the file's contents, owned; NULL if none */
};

struct mime_builtin {
    const char *ext;
    const char *type;
};

/* Always present unless the file says otherwise (text without charset,
 * like Apache's default). */
static const struct mime_builtin builtin_types[] = {
    { "html", "text/html" },          { "htm", "text/html" },
    { "css", "text/css" },            { "js", "text/javascript" },
    { "mjs", "text/javascript" },     { "json", "application/json" },
    { "txt", "text/plain" },          { "xml", "application/xml" },
    { "svg", "image/svg+xml" },       { "png", "image/png" },
    { "jpg", "image/jpeg" },          { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },           { "webp", "image/webp" },
    { "ico", "image/vnd.microsoft.icon" },
    { "pdf", "application/pdf" },     { "wasm", "application/wasm" },
    { "woff", "font/woff" },          { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },            { "otf", "font/otf" },
    { "mp3", "audio/mpeg" },          { "mp4", "video/mp4" },
    { "webm", "video/webm" },         { "ogg", "audio/ogg" },
    { "zip", "application/zip" },     { "gz", "application/gzip" },
    { "tar", "application/x-tar" },   { "bz2", "application/x-bzip2" },
    { "xz", "application/x-xz" },     { "csv", "text/csv" },
    { "md", "text/markdown" },
};

/* Override whatever the file says. */
static const struct mime_builtin forced_types[] = {
    { "js", "text/javascript" },
    { "mjs", "text/javascript" },
};

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

/* FNV-1a of the lower-cased bytes S[0..LEN). */
static size_t hash_ext(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= ascii_lower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

/* Does KEY (lower case, NUL-terminated) equal S[0..LEN) ignoring case? */
static int ext_equal(const char *key, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (key[i] == '\0' || key[i] != (char)ascii_lower((unsigned char)s[i]))
            return 0;
    return key[len] == '\0';
}

/* The slot holding S[0..LEN), or the empty slot where it would go. */
static struct mime_entry *find_slot(const struct mime_table *t, const char *s, size_t len)
{
    size_t i = hash_ext(s, len) & t->mask;
    while (t->slots[i].ext != NULL && !ext_equal(t->slots[i].ext, s, len))
        i = (i + 1) & t->mask;
    return &t->slots[i];
}

/* Double the slot array.  -1 when out of memory (table unchanged). */
static int grow(struct mime_table *t)
{
    size_t nslots = (t->mask + 1) * 2;
    struct mime_entry *old = t->slots;
    size_t oldn = t->mask + 1;

    struct mime_entry *slots = calloc(nslots, sizeof *slots);
    if (slots == NULL)
        return -1;
    t->slots = slots;
    t->mask = nslots - 1;
    for (size_t i = 0; i < oldn; i++)
        if (old[i].ext != NULL)
            *find_slot(t, old[i].ext, strlen(old[i].ext)) = old[i];
    free(old);
    return 0;
}

/* Map EXT (lower case) to TYPE; REPLACE: overwrite an existing mapping.
 * -1 when out of memory. */
static int insert(struct mime_table *t, const char *ext, const char *type, int replace)
{
    size_t len = strlen(ext);
    struct mime_entry *e = find_slot(t, ext, len);
    if (e->ext != NULL) {
        if (replace)
            e->type = type;
        return 0;
    }
    if ((t->count + 1) * 2 > t->mask + 1) {
        if (grow(t) == -1)
            return -1;
        e = find_slot(t, ext, len);
    }
    e->ext = ext;
    e->type = type;
    t->count++;
    return 0;
}

/* Read all of FILE into a new NUL-terminated buffer of *LEN bytes, or NULL
 * if it cannot be read (not an error: the built-ins still apply). */
static char *read_file(const char *file, size_t *len)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > MIME_FILE_MAX)
        goto fail;
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size + 1);
    if (buf == NULL)
        goto fail;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;              /* error, or the file shrank: use what we have */
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
    close(fd);
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Cut the next blank-separated token from the line at *P (a '#' starts
 * a comment to the end of the line), NUL-terminate it in place and return
 * it; NULL when the line has no more tokens.  Advances *P past it. */
static char *next_token(char **p)
{
    char *s = *p;
    while (is_blank(*s))
        s++;
    if (*s == '\0' || *s == '#') {
        *p = s;
        return NULL;
    }
    char *tok = s;
    while (*s != '\0' && *s != '#' && !is_blank(*s))
        s++;
    if (*s == '\0') {
        *p = s;
    } else {
        *p = *s == '#' ? s : s + 1;    /* stay on the '\0' that replaces '#' */
        *s = '\0';
    }
    return tok;
}

/* Parse one line at *P ("type ext ext ... # comment"), END being the end
 * of the text, and advance *P to the start of the next line.  -1 when out
 * of memory. */
static int parse_line(struct mime_table *t, char **p, char *end)
{
    char *eol = memchr(*p, '\n', (size_t)(end - *p));
    char *cur = *p;
    if (eol == NULL)
        eol = end;              /* already NUL */
    *eol = '\0';
    *p = eol == end ? end : eol + 1;

    char *type = next_token(&cur);
    if (type == NULL || strchr(type, '/') == NULL)
        return 0;
    for (char *ext; (ext = next_token(&cur)) != NULL;) {
        for (char *c = ext; *c; c++)
            *c = (char)ascii_lower((unsigned char)*c);
        if (insert(t, ext, type, 1) == -1)
            return -1;
    }
    return 0;
}

/* Parse the LEN bytes of T->text.  -1 when out of memory. */
static int parse_text(struct mime_table *t, size_t len)
{
    char *p = t->text, *end = t->text + len;
    while (p < end)
        if (parse_line(t, &p, end) == -1)
            return -1;
    return 0;
}

static int insert_list(struct mime_table *t, const struct mime_builtin *list, size_t n,
                       int replace)
{
    for (size_t i = 0; i < n; i++)
        if (insert(t, list[i].ext, list[i].type, replace) == -1)
            return -1;
    return 0;
}

struct mime_table *mime_load(const char *file)
{
    struct mime_table *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->slots = calloc(MIME_MIN_SLOTS, sizeof *t->slots);
    if (t->slots == NULL)
        goto fail;
    t->mask = MIME_MIN_SLOTS - 1;
    size_t len = 0;
    t->text = read_file(file ? file : MIME_DEFAULT_FILE, &len);
    if (t->text != NULL && parse_text(t, len) == -1)
        goto fail;
    if (insert_list(t, builtin_types, sizeof builtin_types / sizeof *builtin_types, 0) == -1
        || insert_list(t, forced_types, sizeof forced_types / sizeof *forced_types, 1) == -1)
        goto fail;
    return t;
fail:
    mime_free(t);
    return NULL;
}

void mime_free(struct mime_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t->text);
    free(t);
}

const char *mime_lookup(const struct mime_table *t, const char *path, size_t len)
{
    size_t seg = len, dot = 0;
    int have_dot = 0;

    while (seg > 0 && path[seg - 1] != '/') {
        seg--;
        if (!have_dot && path[seg] == '.') {
            dot = seg;
            have_dot = 1;
        }
    }
    /* no dot, a dotfile with no other dot (".bashrc"), or a trailing dot */
    if (t == NULL || !have_dot || dot == seg || dot + 1 == len)
        return MIME_FALLBACK;
    const struct mime_entry *e = find_slot(t, path + dot + 1, len - dot - 1);
    return e->ext != NULL ? e->type : MIME_FALLBACK;
}
