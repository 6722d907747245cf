/* fuzz_config.c: libFuzzer harness for the configuration parser.
 *
 * Each input is the text of a server.conf: it goes to
 * config_parse_text("fuzz.conf", TEXT, SANDBOX, ...) as is (nothing
 * prepended; the text ends at the input's first NUL byte, as a C string
 * would), and what comes back is checked and freed:
 *   - NULL: ERR holds one line ("FILE:LINE: ..." or "FILE: ..."), NUL
 *     terminated, naming fuzz.conf or a file of the sandbox;
 *   - a config: ServerRoot is the sandbox, DocumentRoot absolute, every
 *     file read inside the sandbox, at least one Listen, the counts within
 *     their limits; the -S / DUMP_INCLUDES
 *     printers and the AddType lookup run on it (output to /dev/null);
 *     then config_free (ASan's leak check sees what it misses).
 *
 * Files.  The parser reads files for Include/IncludeOptional (stat,
 * glob, scandir and fread of whatever they name) and stats DocumentRoot,
 * <Directory> and TypesConfig paths.  A stat is harmless; reading is not:
 * `Include /` walks the whole file system, `Include /dev/stdin` or a FIFO
 * blocks, `Include /proc/self/...` depends on the machine.  Two measures:
 *   1. ServerRoot is a sandbox: a fresh directory made once per process
 *      (mkdtemp under $TMPDIR or /tmp), holding only the empty
 *      directories htdocs (the default DocumentRoot) and www, www/a,
 *      www/b (what the seed corpus names), and conf.d/ with one small
 *      file for Include to find.  config_parse_text's SERVER_ROOT wins
 *      over a ServerRoot line (mpmd -d), so relative paths land there.
 *      It is removed at exit (not after a crash: abort() and the
 *      sanitizers skip atexit, so a crashed run leaves its
 *      $TMPDIR/mpmd-fuzz-config.XXXXXX behind).
 *   2. Include lines that could leave the sandbox are turned into
 *      comments before parsing: a logical line (split exactly as the
 *      parser splits them: backslash-newline joins, CRLF) whose first
 *      word, unquoted, begins with "include" (case-insensitive: Include,
 *      IncludeOptional and any later Include*) is kept only if the rest
 *      of it is made of letters, digits, blanks, quotes and "_-.*?/",
 *      no word starts with '/' and no path component starts with '.'
 *      (no "..", and no ".*" that glob would let match ".."); otherwise it
 *      becomes "#" plus its newlines, so line numbers do not move.
 *      Kept Includes can only name the sandbox's files.
 * A sandbox alone is not enough (an absolute Include path ignores
 * ServerRoot), and the filter alone would leave relative paths to the
 * default ServerRoot (the install prefix), where DocumentRoot may not
 * exist and Include would read what is installed; together the harness
 * reads nothing outside the sandbox but the user/group databases and the
 * stat()s above.
 *
 * MPMD_FUZZ_VERBOSE=1 in the environment prints each input's outcome
 * (the error line, or what loaded) to stderr: for looking at a corpus.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); one input
 * at a time; everything but the sandbox is per input.  Invariant failures
 * abort() with a message on stderr; memory errors are for ASan/UBSan. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_NAME "fuzz_config"
#include "fuzz_target.h"
#include "mpmd/core/config.h"

#define CONF_NAME "fuzz.conf"
#define MAX_INPUT (256 * 1024)    /* bigger inputs are skipped: nothing new, only slow */


/* ---- the sandbox ServerRoot --------------------------------------------- */

static char sandbox[4096];        /* absolute, no trailing slash; "" until made */
static FILE *devnull;
static int verbose;               /* MPMD_FUZZ_VERBOSE */

/* Directories made in the sandbox, parents first (removed in reverse). */
static const char *const sandbox_dirs[] = { "htdocs", "www", "www/a", "www/b", "conf.d" };
#define N_SANDBOX_DIRS (sizeof sandbox_dirs / sizeof sandbox_dirs[0])
#define SANDBOX_FILE "conf.d/extra.conf"
static const char sandbox_file_text[] =
    "# read by Include conf.d or conf.d/*.conf in the fuzz input\n"
    "AddType text/x-fuzz fuzz\n"
    "DirectoryIndex index.html index.htm\n";

static void sandbox_remove(void)
{
    char path[sizeof sandbox + 64];
    if (sandbox[0] == '\0')
        return;
    snprintf(path, sizeof path, "%s/%s", sandbox, SANDBOX_FILE);
    unlink(path);
    for (size_t i = N_SANDBOX_DIRS; i-- > 0;) {
        snprintf(path, sizeof path, "%s/%s", sandbox, sandbox_dirs[i]);
        rmdir(path);
    }
    rmdir(sandbox);
    sandbox[0] = '\0';
}

static void sandbox_make(void)
{
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/')
        tmp = "/tmp";
    char path[sizeof sandbox + 64];
    snprintf(sandbox, sizeof sandbox, "%s/mpmd-fuzz-config.XXXXXX", tmp);
    CHECK(mkdtemp(sandbox) != NULL, "mkdtemp(%s): %s", sandbox, strerror(errno));
    /* The parser normalises ServerRoot; give it the normal form so the
     * checks below can compare (no "//", no trailing slash). */
    char *real = realpath(sandbox, NULL);
    CHECK(real != NULL && strlen(real) < sizeof sandbox, "realpath(%s)", sandbox);
    strcpy(sandbox, real);
    free(real);
    atexit(sandbox_remove);
    for (size_t i = 0; i < N_SANDBOX_DIRS; i++) {
        snprintf(path, sizeof path, "%s/%s", sandbox, sandbox_dirs[i]);
        CHECK(mkdir(path, 0755) == 0, "mkdir(%s): %s", path, strerror(errno));
    }
    snprintf(path, sizeof path, "%s/%s", sandbox, SANDBOX_FILE);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL && fputs(sandbox_file_text, f) >= 0 && fclose(f) == 0, "writing %s",
          path);
    const char *v = getenv("MPMD_FUZZ_VERBOSE");
    verbose = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
    devnull = fopen("/dev/null", "w");
    CHECK(devnull != NULL, "/dev/null: %s", strerror(errno));
}

/* ---- the Include filter ------------------------------------------------- */

static int blank(char c)          /* config.c's is_blank */
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* config.c's next_logical_line, reading TEXT from START and writing the
 * joined line to LINE (room for the rest of TEXT plus 1).  Returns where
 * the next logical line starts; *NEWLINES gets the '\n's consumed. */
static size_t logical_line(const char *text, size_t start, char *line, int *newlines)
{
    size_t r = start;
    char *w = line;
    *newlines = 0;
    while (text[r] != '\0') {
        char c = text[r++];
        if (c != '\n') {
            *w++ = c;
            continue;
        }
        ++*newlines;
        if (w > line && w[-1] == '\r')
            w--;
        if (w > line && w[-1] == '\\') {
            w--;
            continue;
        }
        break;
    }
    *w = '\0';
    return r;
}

/* Whether the arguments ARGS of an Include can only name sandbox files. */
static int include_args_safe(const char *args)
{
    char prev = ' ';
    for (const char *s = args; *s != '\0'; prev = *s++) {
        unsigned char c = (unsigned char)*s;
        if (!isalnum(c) && !blank((char)c) && strchr("\"_-.*?/", c) == NULL)
            return 0;
        int starts_word = blank(prev) || prev == '"';
        if (c == '/' && starts_word)
            return 0;                    /* absolute */
        if (c == '.' && (starts_word || prev == '/'))
            return 0;                    /* ".", "..", ".*", ".?" as a component */
    }
    return 1;
}

/* Whether the logical line LINE is an Include the sandbox cannot hold. */
static int unsafe_include(char *line)
{
    char *s = line;
    while (blank(*s))
        s++;
    if (*s == '\0' || *s == '#' || *s == '<')
        return 0;
    /* The directive name, unquoted as config.c's take_quoted does. */
    char name[16];
    size_t n = 0;
    if (*s == '"') {
        for (s++; *s != '\0' && *s != '"'; s++) {
            if (s[0] == '\\' && s[1] == '"')
                s++;
            if (n < sizeof name - 1)
                name[n++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        for (; *s != '\0' && !blank(*s); s++)
            if (n < sizeof name - 1)
                name[n++] = *s;
    }
    name[n] = '\0';
    if (strncasecmp(name, "include", 7) != 0)
        return 0;
    return !include_args_safe(s);
}

/* TEXT with every unsafe Include made a comment, in a new buffer. */
static char *filter_includes(const char *text, size_t len)
{
    char *out = malloc(len + 1), *line = malloc(len + 1);
    CHECK(out != NULL && line != NULL, "out of memory for %zu bytes", len);
    size_t pos = 0, o = 0;
    while (text[pos] != '\0') {
        int newlines;
        size_t next = logical_line(text, pos, line, &newlines);
        if (unsafe_include(line)) {
            /* "#" and the same newlines: at most as long as the original */
            out[o++] = '#';
            for (int i = 0; i < newlines; i++)
                out[o++] = '\n';
        } else {
            memcpy(out + o, text + pos, next - pos);
            o += next - pos;
        }
        pos = next;
    }
    out[o] = '\0';
    free(line);
    return out;
}

/* ---- checks ---------------------------------------------------------- */

static int in_sandbox(const char *path)
{
    size_t n = strlen(sandbox);
    return strncmp(path, sandbox, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void check_error(const char *err, size_t errlen)
{
    CHECK(memchr(err, '\0', errlen) != NULL, "error message not NUL-terminated");
    CHECK(err[0] != '\0', "config_parse_text failed without a message");
    CHECK(strchr(err, '\n') == NULL, "error message of more than one line: %s", err);
    size_t n = strlen(CONF_NAME);
    CHECK((strncmp(err, CONF_NAME, n) == 0 && err[n] == ':') || in_sandbox(err),
          "error message names neither %s nor a sandbox file: %s", CONF_NAME, err);
}

static void check_site(const struct config *c, const char *what)
{
    CHECK(c->document_root != NULL && c->document_root[0] == '/',
          "%s: DocumentRoot '%s' not absolute", what,
          c->document_root ? c->document_root : "(null)");
    CHECK(c->n_server_alias >= 0 && c->n_server_alias <= CONFIG_MAX_ALIAS,
          "%s: %d ServerAlias names", what, c->n_server_alias);
    CHECK(c->n_directory_index >= 0 && c->n_directory_index <= CONFIG_MAX_INDEX,
          "%s: %d DirectoryIndex names", what, c->n_directory_index);
    CHECK(c->n_add_types >= 0 && c->n_add_types <= CONFIG_MAX_ADD_TYPES,
          "%s: %d AddType entries", what, c->n_add_types);
    for (int i = 0; i < c->n_directory_index; i++)
        CHECK(c->directory_index[i] != NULL, "%s: DirectoryIndex %d is NULL", what, i);
    for (int i = 0; i < c->n_server_alias; i++)
        CHECK(c->server_alias[i] != NULL, "%s: ServerAlias %d is NULL", what, i);
}

static void check_config(const struct config *c)
{
    CHECK(c->server_root != NULL && strcmp(c->server_root, sandbox) == 0,
          "ServerRoot '%s', not the sandbox '%s'", c->server_root ? c->server_root : "(null)",
          sandbox);
    CHECK(c->n_listen >= 1 && c->n_listen <= CONFIG_MAX_LISTEN, "%d Listen", c->n_listen);
    CHECK(c->n_files >= 1 && c->n_files <= CONFIG_MAX_FILES, "%d files", c->n_files);
    CHECK(strcmp(c->files[0].path, CONF_NAME) == 0, "file 0 is '%s'", c->files[0].path);
    for (int i = 1; i < c->n_files; i++)
        CHECK(in_sandbox(c->files[i].path), "read '%s', outside the sandbox", c->files[i].path);
    CHECK(c->n_vhosts >= 0 && c->n_vhosts <= CONFIG_MAX_VHOSTS, "%d vhosts", c->n_vhosts);
    CHECK(c->server_name != NULL, "no ServerName after loading");
    check_site(c, "main server");
    for (int i = 0; i < c->n_vhosts; i++) {
        const struct vhost *v = &c->vhosts[i];
        CHECK(v->cfg != NULL, "vhost %d has no config", i);
        CHECK(v->n_addrs >= 1 && v->n_addrs <= CONFIG_MAX_VHOST_ADDRS, "vhost %d: %d addresses",
              i, v->n_addrs);
        check_site(v->cfg, "virtual host");
    }
    config_print_vhosts(c, devnull);
    config_print_includes(c, devnull);
    static const char *const names[] = { "a.html", "b.FUZZ", "noext", "x.", ".htaccess" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *t = config_added_type(c, names[i], strlen(names[i]));
        CHECK(t == NULL || t[0] != '\0', "empty AddType type for %s", names[i]);
    }
    fflush(devnull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sandbox[0] == '\0')
        sandbox_make();
    if (size > MAX_INPUT)
        return 0;
    char *text = malloc(size + 1);
    CHECK(text != NULL, "out of memory for %zu bytes", size);
    memcpy(text, data, size);
    text[size] = '\0';
    char *conf = filter_includes(text, strlen(text));
    free(text);

    char err[512];
    memset(err, 'X', sizeof err);     /* so an unterminated message shows */
    struct config *c = config_parse_text(CONF_NAME, conf, sandbox, err, sizeof err);
    if (c == NULL)
        check_error(err, sizeof err);
    else
        check_config(c);
    if (verbose && c == NULL)
        fprintf(stderr, "fuzz_config: refused: %s\n", err);
    else if (verbose)
        fprintf(stderr, "fuzz_config: loaded: %d Listen, %d virtual hosts, %d files\n",
                c->n_listen, c->n_vhosts, c->n_files);
    config_free(c);
    free(conf);
    return 0;
}
