/* cgi.c: the "cgi-script" handler (cgi.h).
 *
 * Configuration where it loads: ScriptAlias URL-PATH DIRECTORY (server,
 * virtual host: the path's files are scripts), CGIScriptTimeout.
 * cgi_translate (any thread, never blocks) maps a ScriptAlias path;
 * cgi_handle (handler threads) finds the script and its PATH_INFO,
 * checks Options ExecCGI (ScriptAlias implies it), and runs it:
 *
 *   posix_spawn (vfork semantics: no copy of the child's page tables,
 *   however large the process and however many threads it runs), stdin,
 *   stdout and stderr on pipes, every other descriptor closed
 *   (closefrom), signals reset to their defaults, a process group of its
 *   own, the working directory the script's.  One poll loop then feeds
 *   the body to stdin, relays stdout (cgienv.h's cgi_output) and logs
 *   stderr; when nothing comes for CGIScriptTimeout seconds the whole
 *   group is killed. */
#include "config.h"

#include "mpmd/modules/cgi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/modules/cgienv.h"

#define CGI_IO_CHUNK 65536

struct script_alias {
    char *from;                   /* URL prefix, slashes squeezed */
    char *to;                     /* directory (absolute) */
};

struct cgi_conf {
    struct script_alias *alias;
    int n_alias;
    int timeout;                  /* CGIScriptTimeout; -1: not set (Timeout) */
};

/* ---- configuration ------------------------------------------------------- */

static void *cgi_create(void)
{
    struct cgi_conf *c = calloc(1, sizeof *c);
    if (c)
        c->timeout = -1;
    return c;
}

static void cgi_destroy(void *conf)
{
    struct cgi_conf *c = conf;
    if (c == NULL)
        return;
    for (int i = 0; i < c->n_alias; i++) {
        free(c->alias[i].from);
        free(c->alias[i].to);
    }
    free(c->alias);
    free(c);
}

static int copy_aliases(struct cgi_conf *to, const struct cgi_conf *from)
{
    for (int i = 0; from && i < from->n_alias; i++) {
        struct script_alias *a = &to->alias[to->n_alias++];
        a->from = strdup(from->alias[i].from);
        a->to = strdup(from->alias[i].to);
        if (a->from == NULL || a->to == NULL)
            return -1;
    }
    return 0;
}

/* A virtual host's ScriptAlias entries first, then the main server's. */
static void *cgi_merge(const void *base, const void *add)
{
    const struct cgi_conf *b = base, *a = add;
    struct cgi_conf *m = cgi_create();
    int n = (a ? a->n_alias : 0) + (b ? b->n_alias : 0);
    if (m == NULL || (n && (m->alias = calloc((size_t)n, sizeof *m->alias)) == NULL) ||
        copy_aliases(m, a) == -1 || copy_aliases(m, b) == -1) {
        cgi_destroy(m);
        return NULL;
    }
    m->timeout = a && a->timeout != -1 ? a->timeout : b ? b->timeout : -1;
    return m;
}

static int set_script_alias(void *conf, const struct directive_place *at, int argc, char **argv,
                            char *err, size_t errlen)
{
    struct cgi_conf *c = conf;
    (void)at, (void)argc;
    if (argv[0][0] != '/') {
        snprintf(err, errlen, "expected a URL path starting with '/', got '%s'", argv[0]);
        return -1;
    }
    if (argv[1][0] != '/') {
        snprintf(err, errlen, "expected an absolute directory path, got '%s'", argv[1]);
        return -1;
    }
    struct script_alias *all = realloc(c->alias, (size_t)(c->n_alias + 1) * sizeof *all);
    if (all == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    c->alias = all;
    struct script_alias a = {strdup(argv[0]), strdup(argv[1])};
    if (a.from == NULL || a.to == NULL) {
        free(a.from);
        free(a.to);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    config_squeeze_slashes(a.from);
    c->alias[c->n_alias++] = a;
    return 0;
}

static int set_timeout(void *conf, const struct directive_place *at, int argc, char **argv,
                       char *err, size_t errlen)
{
    struct cgi_conf *c = conf;
    char *end;
    long n = strtol(argv[0], &end, 10);
    (void)at, (void)argc;
    if (*argv[0] == '\0' || *end != '\0' || n < 1 || n > 86400) {
        snprintf(err, errlen, "expected seconds (1 to 86400), got '%s'", argv[0]);
        return -1;
    }
    c->timeout = (int)n;
    return 0;
}

static const struct module_directive cgi_directives[] = {
    {"ScriptAlias", "URL-PATH DIRECTORY", "Run the files of DIRECTORY as CGI scripts for "
     "URL-PATH and below (Options ExecCGI implied)", CTX_SERVER | CTX_VHOST, 2, 2,
     set_script_alias, NULL, NULL},
    {"CGIScriptTimeout", "SECONDS", "How long a CGI script may go without output before its "
     "process group is killed", CTX_SERVER | CTX_VHOST | CTX_DIR, 1, 1, set_timeout,
     "Timeout", NULL},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module cgi_conf_module = {
    .name = "cgi",
    .handler = "cgi-script",
    .directives = cgi_directives,
    .create = cgi_create,
    .merge = cgi_merge,
    .destroy = cgi_destroy,
};

/* ---- translation ------------------------------------------------------- */

static const struct script_alias *alias_for(const struct cgi_conf *c, const struct route *rt)
{
    for (int i = 0; c && rt->path_ok && i < c->n_alias; i++)
        if (route_prefix_len(c->alias[i].from, rt->path, rt->path_len))
            return &c->alias[i];
    return NULL;
}

static int cgi_translate(const struct req_ctx *rq, struct route *rt, struct reply *rp)
{
    (void)rp;
    const struct script_alias *a = alias_for(handler_site_conf(rq, &cgi_conf_module), rt);
    if (a && rt->fs_skip == 0) {          /* an Alias listed for the path wins */
        rt->fs_base = a->to;
        rt->fs_skip = strlen(a->from);
        rt->handler_forced = module_index(&cgi_conf_module) + 1;
        rt->forced_data = a;
    }
    return HANDLER_DECLINED;
}

/* ---- the script ---------------------------------------------------------- */

/* Find the script in FILE (a file-system path; its first BASE bytes are
 * the mapped directory): the longest prefix that is a regular file, the
 * rest being PATH_INFO.  Returns 0 (FILE cut to the script, *INFO_LEN
 * set), or the status: 404 nothing, 403 a directory. */
static int find_script(char *file, size_t base, size_t *info_len)
{
    size_t full = strlen(file), len = full;
    for (;;) {
        struct stat st;
        if (stat(file, &st) == 0) {
            *info_len = full - len;
            if (S_ISREG(st.st_mode))
                return 0;
            return len != full ? 404 : 403;
        }
        if (errno != ENOENT && errno != ENOTDIR)
            return errno == EACCES ? 403 : 404;
        char *slash = memrchr(file, '/', len);
        if (slash == NULL || (size_t)(slash - file) <= base)
            return 404;
        len = (size_t)(slash - file);
        *slash = '\0';
    }
}

/* The environment as a NULL-terminated array of "NAME=VALUE" strings. */
struct envv {
    char **v;
    int n, cap;
};

static int env_add(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct envv *e = ctx;
    if (e->n + 2 > e->cap) {
        int cap = e->cap ? e->cap * 2 : 64;
        char **v = realloc(e->v, (size_t)cap * sizeof *v);
        if (v == NULL)
            return -1;
        e->v = v;
        e->cap = cap;
    }
    char *s = malloc(nlen + vlen + 2);
    if (s == NULL)
        return -1;
    memcpy(s, name, nlen);
    s[nlen] = '=';
    memcpy(s + nlen + 1, value, vlen);
    s[nlen + 1 + vlen] = '\0';
    for (size_t i = nlen + 1; i < nlen + 1 + vlen; i++)
        if (s[i] == '\0')
            s[i] = ' ';           /* a NUL would cut the variable short */
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

static void env_free(struct envv *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

/* A running script: its pid (= its process group) and our pipe ends. */
struct child_proc {
    pid_t pid;
    int in, out, err;            /* -1 once closed */
};

static void close_fd(int *fd)
{
    if (*fd != -1) {
        close(*fd);
        *fd = -1;
    }
}

/* Start FILE (in directory DIR) with ENVP.  0, or -1 with errno. */
static int spawn(struct child_proc *cp, const char *file, const char *dir, char **envp)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, e = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1) {
        e = errno;
        goto fail;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    posix_spawn_file_actions_addchdir_np(&fa, dir);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETPGROUP);
    char *argv[] = {(char *)file, NULL};
    e = posix_spawn(&cp->pid, file, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (e != 0)
        goto fail;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    cp->in = in[1];
    cp->out = out[0];
    cp->err = err[0];
    fcntl(cp->in, F_SETFL, O_NONBLOCK);
    fcntl(cp->out, F_SETFL, O_NONBLOCK);
    fcntl(cp->err, F_SETFL, O_NONBLOCK);
    return 0;
fail:
    for (int i = 0; i < 2; i++) {
        close_fd(&in[i]);
        close_fd(&out[i]);
        close_fd(&err[i]);
    }
    errno = e;
    return -1;
}

/* Reap CP: wait up to GRACE_S seconds for it to exit, then kill its
 * process group and wait for it. */
static void reap(struct child_proc *cp, int grace_s)
{
    for (int i = 0; i < grace_s * 100; i++) {
        pid_t r = waitpid(cp->pid, NULL, WNOHANG);
        if (r == cp->pid || (r == -1 && errno != EINTR))
            return;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(-cp->pid, SIGKILL);
    while (waitpid(cp->pid, NULL, 0) == -1 && errno == EINTR)
        ;
}

/* The request body, from the client or a spool file. */
struct body_src {
    const struct req_ctx *rq;
    int spool_fd;                 /* -1: read from the client */
    int left;                     /* more may come */
    char *buf;
    size_t len, off;              /* bytes waiting for the script's stdin */
};

/* Refill SRC's buffer once it is empty.  0, or -1 when the client's body
 * failed (*STATUS). */
static int body_refill(struct body_src *b, int *status)
{
    if (b->off < b->len || !b->left)
        return 0;
    ssize_t n = b->spool_fd != -1 ? read(b->spool_fd, b->buf, CGI_IO_CHUNK)
                                  : handler_read_body(b->rq, b->buf, CGI_IO_CHUNK, status);
    if (n < 0)
        return -1;
    b->len = (size_t)n;
    b->off = 0;
    b->left = n > 0;
    return 0;
}

/* Run the loop of one script: body in, output out, errors logged.
 * Returns 0 when its stdout ended, 1 on the timeout, -1 when the rest is
 * not wanted (client gone, bad head, bad body: *STATUS). */
static int pump(struct child_proc *cp, struct body_src *b, struct cgi_output *out,
                int timeout_s, int *status)
{
    char buf[CGI_IO_CHUNK];
    while (cp->out != -1) {
        if (cp->in != -1 && body_refill(b, status) == -1)
            return -1;
        if (cp->in != -1 && b->off == b->len && !b->left)
            close_fd(&cp->in);             /* all of the body is in: EOF for the script */
        struct pollfd p[3] = {{cp->out, POLLIN, 0}, {cp->err, POLLIN, 0},
                              {cp->in, POLLOUT, 0}};
        int n = poll(p, 3, timeout_s * 1000);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            return 1;
        if (p[2].revents) {
            ssize_t w = write(cp->in, b->buf + b->off, b->len - b->off);
            if (w > 0)
                b->off += (size_t)w;
            else if (w == -1 && errno != EAGAIN && errno != EINTR)
                close_fd(&cp->in);         /* the script stopped reading: fine */
        }
        if (p[1].revents) {
            ssize_t r = read(cp->err, buf, sizeof buf);
            if (r > 0)
                cgi_output_stderr(out, buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                close_fd(&cp->err);
        }
        if (p[0].revents) {
            ssize_t r = read(cp->out, buf, sizeof buf);
            if (r > 0 && cgi_output_feed(out, buf, (size_t)r) == -1)
                return -1;
            if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
                close_fd(&cp->out);
        }
    }
    /* What is left on stderr (the script may still write it as it exits). */
    for (int i = 0; cp->err != -1 && i < 100; i++) {
        struct pollfd p = {cp->err, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0)
            break;
        ssize_t r = read(cp->err, buf, sizeof buf);
        if (r <= 0)
            break;
        cgi_output_stderr(out, buf, (size_t)r);
    }
    return 0;
}

/* Run the script FILE for RQ, its PATH_INFO INFO (INFO_LEN bytes). */
static void run_script(const struct req_ctx *rq, struct reply *rp, const char *file,
                       const char *info, size_t info_len, int timeout_s)
{
    const struct request *r = rq->req;
    long long length = -1;
    int status = 0;
    struct body_src b = {.rq = rq, .spool_fd = -1};
    if (http_request_body_pending(r)) {
        length = http_request_body_left(r);
        if (length < 0 && (b.spool_fd = cgi_body_spool(rq, &length, &status)) == -1) {
            reply_error(rp, rq->date, status ? status : 400);
            return;
        }
        b.left = length > 0;
    }
    struct cgi_script s = {.filename = file, .name = rq->route->path,
                           .name_len = rq->route->path_len - info_len,
                           .path_info = info_len ? info : NULL, .path_info_len = info_len};
    struct envv env = {0};
    struct cgi_output out;
    struct child_proc cp = {.in = -1, .out = -1, .err = -1};
    char dir[ROUTE_PATH_MAX + 1024];
    snprintf(dir, sizeof dir, "%s", file);
    *strrchr(dir, '/') = '\0';
    b.buf = malloc(CGI_IO_CHUNK);
    if (b.buf == NULL || cgi_env_build(rq, &s, length, env_add, &env) == -1 ||
        cgi_output_init(&out, rq, rp, file, 500) == -1) {
        reply_error(rp, rq->date, 500);
        goto done_early;
    }
    if (spawn(&cp, file, dir[0] ? dir : "/", env.v) == -1) {
        handler_log(rq, LOGM_CGI, LOGL_ERROR, "cannot run CGI script %s: %s", file,
                    strerror(errno));
        reply_error(rp, rq->date, errno == EACCES ? 403 : 500);
        cgi_output_free(&out);
        goto done_early;
    }
    int r2 = pump(&cp, &b, &out, timeout_s, &status);
    if (r2 == 1) {
        out.bad_status = 504;
        kill(-cp.pid, SIGKILL);
        cgi_output_end(&out, 0, "no output from the script for CGIScriptTimeout; its process "
                                "group was killed");
    } else if (r2 == -1) {
        kill(-cp.pid, SIGKILL);
        if (status)
            out.bad_status = status;
        cgi_output_end(&out, 0, status ? "the request body failed" : NULL);
    } else {
        cgi_output_end(&out, 1, NULL);
    }
    close_fd(&cp.in);
    close_fd(&cp.out);
    close_fd(&cp.err);
    reap(&cp, timeout_s);
    cgi_output_free(&out);
done_early:
    env_free(&env);
    free(b.buf);
    if (b.spool_fd != -1)
        close(b.spool_fd);
}

static int script_timeout(const struct req_ctx *rq)
{
    const void *confs[CONFIG_MAX_CHAIN];
    int n = handler_dir_confs(rq, &cgi_conf_module, confs, CONFIG_MAX_CHAIN);
    const struct cgi_conf *site = handler_site_conf(rq, &cgi_conf_module);
    int t = site ? site->timeout : -1;
    for (int i = 0; i < n; i++)
        if (((const struct cgi_conf *)confs[i])->timeout != -1)
            t = ((const struct cgi_conf *)confs[i])->timeout;
    return t > 0 ? t : rq->env->cfg->timeout;
}

static int cgi_handle(const struct req_ctx *rq, struct reply *rp)
{
    const struct route *rt = rq->route;
    char file[ROUTE_PATH_MAX + 1024];
    if (!rt->path_ok || route_fs_path(rt, file, sizeof file) == NULL) {
        reply_error(rp, rq->date, 404);
        return HANDLER_DONE;
    }
    /* A ScriptAlias that mapped the path implies ExecCGI. */
    int by_alias = rt->handler_forced == module_index(&cgi_conf_module) + 1 && rt->forced_data;
    if (!by_alias && !(route_options(rt) & OPT_EXEC_CGI)) {
        handler_log(rq, LOGM_CGI, LOGL_ERROR, "Options ExecCGI is off in this directory: %s", file);
        reply_error(rp, rq->date, 403);
        return HANDLER_DONE;
    }
    size_t info_len;
    int st = find_script(file, strlen(rt->fs_base), &info_len);
    if (st != 0) {
        reply_error(rp, rq->date, st);
        return HANDLER_DONE;
    }
    if (access(file, X_OK) != 0) {
        handler_log(rq, LOGM_CGI, LOGL_ERROR, "CGI script %s is not executable", file);
        reply_error(rp, rq->date, 403);
        return HANDLER_DONE;
    }
    const char *info = rt->path + rt->path_len - info_len;
    run_script(rq, rp, file, info, info_len, script_timeout(rq));
    return HANDLER_DONE;
}

const struct handler cgi_handler = {
    .name = "cgi-script",
    .conf = &cgi_conf_module,
    .translate = cgi_translate,
    .handle = cgi_handle,
};
