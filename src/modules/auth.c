/* auth.c: Basic authentication for Require valid-user / user / group
 * (auth.h), as mod_auth_basic, mod_authn_file, mod_authz_user and
 * mod_authz_groupfile do it.
 *
 * Configuration: where the configuration loads; the last AuthType,
 * AuthName, AuthUserFile and AuthGroupFile along the request's sections
 * apply.
 *
 * Requests: dispatch.c calls auth_authorize when a Require rule could
 * only grant to a user.  Each child keeps (struct auth_state, its
 * child_init result, one mutex):
 *   - the user and group files it has read, with their identity (device,
 *     inode, mtime, size) and a generation bumped when that changes;
 *   - AUTH_CACHE_SLOTS verified credentials: SHA-256 of (a per-child
 *     random secret, the user file's slot, user, password) with the
 *     file's generation.  No password is stored; only credentials that
 *     passed are; a changed file invalidates its entries.
 * The listener answers only from that state: a credential found in the
 * cache, its file stat'ed at most once a second and unchanged (group
 * files too), passes with no hashing; a missing or malformed
 * Authorization gets its 401 at once; everything else is declined to a
 * handler thread, which reads changed files, checks the password (the
 * slow hash runs without the lock) and fills the cache.  An unknown user
 * costs the same hash as a known one: the password is checked against
 * the file's first hash and the answer thrown away. */
#include "config.h"

#include "mpmd/modules/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpmd/core/config.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/core/log.h"
#include "mpmd/http/response.h"
#include "mpmd/modules/htpasswd.h"

enum auth_type { AUTH_UNSET = 0, AUTH_NONE, AUTH_BASIC };

struct auth_conf {
    enum auth_type type;
    char *name;                   /* AuthName; NULL: not set here */
    char *user_file;              /* AuthUserFile as given (relative: to ServerRoot) */
    char *group_file;             /* AuthGroupFile as given */
};

/* ---- configuration ------------------------------------------------------- */

static void *auth_create(void)
{
    return calloc(1, sizeof(struct auth_conf));
}

static void auth_destroy(void *conf)
{
    struct auth_conf *c = conf;
    if (c == NULL)
        return;
    free(c->name);
    free(c->user_file);
    free(c->group_file);
    free(c);
}

/* A copy of ADD's field if set, else BASE's; -1 when out of memory. */
static int merge_str(char **out, const char *base, const char *add)
{
    const char *v = add ? add : base;
    *out = v ? strdup(v) : NULL;
    return v && *out == NULL ? -1 : 0;
}

static void *auth_merge(const void *base_v, const void *add_v)
{
    const struct auth_conf empty = {0};
    const struct auth_conf *base = base_v ? base_v : &empty, *add = add_v ? add_v : &empty;
    struct auth_conf *c = auth_create();
    if (c == NULL)
        return NULL;
    c->type = add->type ? add->type : base->type;
    if (merge_str(&c->name, base->name, add->name) == -1 ||
        merge_str(&c->user_file, base->user_file, add->user_file) == -1 ||
        merge_str(&c->group_file, base->group_file, add->group_file) == -1) {
        auth_destroy(c);
        return NULL;
    }
    return c;
}

static int set_type(void *conf, const struct directive_place *at, int argc, char **argv,
                    char *err, size_t errlen)
{
    struct auth_conf *c = conf;
    (void)at, (void)argc;
    if (strcasecmp(argv[0], "Basic") == 0)
        c->type = AUTH_BASIC;
    else if (strcasecmp(argv[0], "None") == 0)
        c->type = AUTH_NONE;
    else {
        snprintf(err, errlen, "expected Basic or None (Digest and Form are not supported), "
                 "got '%s'", argv[0]);
        return -1;
    }
    return 0;
}

/* Replace *FIELD with a copy of V. */
static int set_str(char **field, const char *v, char *err, size_t errlen)
{
    char *copy = strdup(v);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(*field);
    *field = copy;
    return 0;
}

static int set_name(void *conf, const struct directive_place *at, int argc, char **argv,
                    char *err, size_t errlen)
{
    (void)at, (void)argc;
    if (argv[0][0] == '\0') {
        snprintf(err, errlen, "expected a realm name, got an empty one");
        return -1;
    }
    return set_str(&((struct auth_conf *)conf)->name, argv[0], err, errlen);
}

static int set_user_file(void *conf, const struct directive_place *at, int argc, char **argv,
                         char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_str(&((struct auth_conf *)conf)->user_file, argv[0], err, errlen);
}

static int set_group_file(void *conf, const struct directive_place *at, int argc, char **argv,
                          char *err, size_t errlen)
{
    (void)at, (void)argc;
    return set_str(&((struct auth_conf *)conf)->group_file, argv[0], err, errlen);
}

static int set_provider(void *conf, const struct directive_place *at, int argc, char **argv,
                        char *err, size_t errlen)
{
    (void)conf, (void)at;
    for (int i = 0; i < argc; i++)
        if (strcasecmp(argv[i], "file") != 0) {
            snprintf(err, errlen, "only the 'file' provider (AuthUserFile) is supported, "
                     "got '%s'", argv[i]);
            return -1;
        }
    return 0;
}

static const struct module_directive auth_directives[] = {
    {"AuthType", "Basic|None", "How clients authenticate here: Basic (user and password "
     "checked against AuthUserFile), None (no authentication)", CTX_DIR, 1, 1, set_type, "none",
     "Only needed where a Require rule names users (valid-user, user, group). `None` "
     "switches an enclosing section's authentication off: pair it with a Require that needs "
     "no user (Require all granted); a user rule then answers 500, as in Apache. Digest and "
     "Form are not supported."},
    {"AuthName", "REALM", "The realm the browser shows when it asks for a password "
     "(WWW-Authenticate: Basic realm=\"REALM\")", CTX_DIR, 1, 1, set_name, "none",
     "Required with AuthType Basic: without it a request that needs a user gets 500, as in "
     "Apache."},
    {"AuthBasicProvider", "file", "Where Basic credentials are checked: only 'file' "
     "(AuthUserFile)", CTX_DIR, 1, 1, set_provider, "file", NULL},
    {"AuthUserFile", "FILE", "The htpasswd file of users and password hashes (relative: to "
     "ServerRoot)", CTX_DIR, 1, 1, set_user_file, "none",
     "Made by Apache's htpasswd: bcrypt ($2y$), APR1-MD5 ($apr1$), SHA-crypt ($5$, $6$), "
     "{SHA}, MD5-crypt ($1$) and DES crypt. Read again when it changes (checked at most "
     "once a second); a missing file is not a configuration error, but requests that need "
     "it get 500."},
    {"AuthGroupFile", "FILE", "Groups for Require group: lines 'group: user1 user2' "
     "(relative: to ServerRoot)", CTX_DIR, 1, 1, set_group_file, "none",
     "Read again when it changes; a missing file gives 500 to requests that need it."},
    {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

const struct conf_module auth_conf_module = {
    .name = "auth",
    .directives = auth_directives,
    .create = auth_create,
    .merge = auth_merge,
    .destroy = auth_destroy,
};

/* The settings that apply to RQ: each field from the last section that
 * sets it. */
static struct auth_conf auth_settings(const struct req_ctx *rq)
{
    const void *confs[CONFIG_MAX_CHAIN];
    int n = handler_dir_confs(rq, &auth_conf_module, confs, CONFIG_MAX_CHAIN);
    struct auth_conf s = {0};
    for (int i = 0; i < n; i++) {
        const struct auth_conf *c = confs[i];
        s.type = c->type ? c->type : s.type;
        s.name = c->name ? c->name : s.name;
        s.user_file = c->user_file ? c->user_file : s.user_file;
        s.group_file = c->group_file ? c->group_file : s.group_file;
    }
    return s;
}

/* ---- per-child state ------------------------------------------------------ */

/* A user or group file as last read. */
struct auth_file {
    char *path;                   /* absolute; owned */
    int err;                      /* errno of the last failed read, 0 */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
    off_t size;
    unsigned gen;                 /* bumped whenever the file is found changed */
    long checked_s;               /* monotonic second of the last stat */
    char *text;                   /* owned: its content, NULL when not read */
    size_t len;
};

struct cred_slot {
    unsigned char key[SHA256_DIGEST_LENGTH];
    int file;                     /* the user file's index + 1; 0: empty slot */
    unsigned gen;                 /* its generation when the password was checked */
};

struct auth_state {
    unsigned char secret[32];     /* random per child; read only after child_init */
    EVP_MD *sha256;               /* fetched in child_init; read only */
    pthread_mutex_t lock;         /* guards everything below */
    struct auth_file files[AUTH_MAX_FILES];
    int n_files;
    struct cred_slot cache[AUTH_CACHE_SLOTS];
};

static void *auth_child_init(const struct handler_env *env, char *err, size_t errlen)
{
    (void)env;
    struct auth_state *s = calloc(1, sizeof *s);
    if (s == NULL || RAND_bytes(s->secret, sizeof s->secret) != 1) {
        snprintf(err, errlen, "auth: %s", s ? "no random bytes for the credential cache"
                                            : "out of memory");
        free(s);
        return NULL;
    }
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (s->sha256 == NULL) {
        snprintf(err, errlen, "auth: OpenSSL has no SHA-256");
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void auth_child_exit(void *state)
{
    struct auth_state *s = state;
    for (int i = 0; i < s->n_files; i++) {
        free(s->files[i].path);
        free(s->files[i].text);
    }
    pthread_mutex_destroy(&s->lock);
    EVP_MD_free(s->sha256);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* The index of PATH's record, made when MAKE is set; -1 when unknown or
 * full.  Caller holds the lock. */
static int file_index(struct auth_state *s, const char *path, int make)
{
    for (int i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return i;
    if (!make || s->n_files == AUTH_MAX_FILES)
        return -1;
    struct auth_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    if ((f->path = strdup(path)) == NULL)
        return -1;
    f->checked_s = -1;
    return s->n_files++;
}

static int same_identity(const struct auth_file *f, const struct stat *st)
{
    return f->dev == st->st_dev && f->ino == st->st_ino && f->size == st->st_size &&
           f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* Listener: whether F's content is known to be current, stat'ing it at
 * most once a second.  Caller holds the lock. */
static int file_current(struct auth_file *f, long now)
{
    struct stat st;
    if (f->text == NULL)
        return 0;
    if (f->checked_s == now)
        return 1;
    if (stat(f->path, &st) == -1 || !same_identity(f, &st))
        return 0;
    f->checked_s = now;
    return 1;
}

/* F's whole content from the open descriptor FD (whose stat is ST). */
static int file_load(struct auth_file *f, int fd, const struct stat *st)
{
    if (st->st_size > AUTH_FILE_MAX) {
        f->err = EFBIG;
        return -1;
    }
    size_t len = (size_t)st->st_size, got = 0;
    char *text = malloc(len + 1);
    if (text == NULL) {
        f->err = ENOMEM;
        return -1;
    }
    while (got < len) {
        ssize_t n = read(fd, text + got, len - got);
        if (n == -1 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    text[got] = '\0';
    free(f->text);
    f->text = text;
    f->len = got;
    return 0;
}

/* Handler thread: F read again when it changed (stat'ed each time: this
 * path checks a password anyway).  0, or -1 with f->err set.  Caller
 * holds the lock. */
static int file_refresh(struct auth_file *f, long now)
{
    struct stat st;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || fstat(fd, &st) == -1) {
        f->err = errno;
        if (fd != -1)
            close(fd);
        free(f->text);
        f->text = NULL;
        f->gen++;
        return -1;
    }
    int r = 0;
    if (f->text == NULL || !same_identity(f, &st)) {
        f->gen++;
        r = file_load(f, fd, &st);
        f->dev = st.st_dev, f->ino = st.st_ino, f->size = st.st_size, f->mtime = st.st_mtim;
        f->err = r == 0 ? 0 : f->err;
    }
    close(fd);
    f->checked_s = now;
    return r;
}

/* ---- the credential cache ---------------------------------------------------- */

/* The cache key of USER:PW checked against user file FILE. */
static void cred_key(const struct auth_state *s, int file, const char *user, const char *pw,
                     unsigned char key[SHA256_DIGEST_LENGTH])
{
    char buf[sizeof s->secret + sizeof file + ACCESS_USER_MAX + 1024 + 2];
    size_t ul = strlen(user), pl = strlen(pw), n = 0;
    if (ul >= ACCESS_USER_MAX || pl > 1024)
        ul = pl = 0;              /* basic_credentials refuses those: never reached */
    memcpy(buf, s->secret, sizeof s->secret), n += sizeof s->secret;
    memcpy(buf + n, &file, sizeof file), n += sizeof file;
    memcpy(buf + n, user, ul + 1), n += ul + 1;
    memcpy(buf + n, pw, pl + 1), n += pl + 1;
    /* The digest fetched once (SHA256() fetches it on every call in OpenSSL 3). */
    if (EVP_Digest(buf, n, key, NULL, s->sha256, NULL) != 1)
        memset(key, 0, SHA256_DIGEST_LENGTH);       /* matches no slot: checked again */
    OPENSSL_cleanse(buf, n);
}

static struct cred_slot *cred_slot(struct auth_state *s, const unsigned char *key)
{
    unsigned idx = ((unsigned)key[0] << 8 | key[1]) % AUTH_CACHE_SLOTS;
    return &s->cache[idx];
}

/* Whether KEY was verified against FILE as it is now.  Caller holds the
 * lock. */
static int cred_cached(struct auth_state *s, int file, const unsigned char *key)
{
    const struct cred_slot *c = cred_slot(s, key);
    return c->file == file + 1 && c->gen == s->files[file].gen &&
           CRYPTO_memcmp(c->key, key, SHA256_DIGEST_LENGTH) == 0;
}

static void cred_remember(struct auth_state *s, int file, unsigned gen, const unsigned char *key)
{
    struct cred_slot *c = cred_slot(s, key);
    memcpy(c->key, key, SHA256_DIGEST_LENGTH);
    c->file = file + 1;
    c->gen = gen;
}

/* ---- answers ------------------------------------------------------------------- */

/* 401 with the realm REALM (quotes and backslashes escaped). */
static int refuse_401(const struct req_ctx *rq, const char *realm, struct reply *rp)
{
    char v[512];
    size_t n = (size_t)snprintf(v, sizeof v, "Basic realm=\"");
    for (const char *p = realm; *p && n < sizeof v - 3; p++) {
        if (*p == '"' || *p == '\\')
            v[n++] = '\\';
        v[n++] = *p;
    }
    v[n++] = '"';
    reply_error(rp, rq->date, 401);
    response_head_add(&rp->out.head, "WWW-Authenticate", v, n);
    return ACCESS_ANSWERED;
}

static int refuse_500(const struct req_ctx *rq, struct reply *rp)
{
    reply_error(rp, rq->date, 500);
    return ACCESS_ANSWERED;
}

/* PATH made absolute against ServerRoot into OUT (CAP bytes); -1 when
 * it does not fit. */
static int abs_path(const struct req_ctx *rq, const char *path, char *out, size_t cap)
{
    size_t len = strlen(path);
    if (path[0] == '/' && len < cap) {      /* the usual case, every request: no printf */
        memcpy(out, path, len + 1);
        return 0;
    }
    int n = snprintf(out, cap, "%s/%s", rq->env->cfg->server_root, path);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* What the rule evaluation needs of the group file: its record (NULL: no
 * AuthGroupFile), the user. */
struct group_ctx {
    const struct req_ctx *rq;
    const struct auth_file *file;
    const char *user;
    int logged;
};

/* Whether the user is in GROUP; a group file that is not configured or
 * cannot be read puts nobody in any group, logged once per request
 * (Apache: AH01664, AH01666, then 401). */
static int in_group(void *ctx, const char *group)
{
    struct group_ctx *g = ctx;
    if (g->file && g->file->text)
        return htgroup_member(g->file->text, g->file->len, group, g->user);
    if (g->logged)
        return 0;
    g->logged = 1;
    if (g->file == NULL)
        handler_log(g->rq, LOGM_CORE, LOGL_ERROR, "AH01664: No group file was specified "
                    "in the configuration");
    else
        handler_log(g->rq, LOGM_CORE, LOGL_ERROR, "AH01666: Could not open group file: %s "
                    "(%s)", g->file->path, strerror(g->file->err));
    return 0;
}

/* RULE for USER, its answer.  Caller holds the lock; GF the group file's
 * record or NULL. */
static int decide(const struct req_ctx *rq, const struct authz *rule, const struct auth_conf *ac,
                  const char *user, const struct auth_file *gf, struct reply *rp, char *out,
                  size_t cap)
{
    struct group_ctx g = {.rq = rq, .file = gf, .user = user};
    struct authz_user u = {.name = user, .in_group = in_group, .ctx = &g};
    switch (authz_eval(rule, rq->peer, &u)) {
    case AZ_GRANTED:
        snprintf(out, cap, "%s", user);
        return ACCESS_GRANTED;
    case AZ_DENIED_NO_USER:
        return refuse_500(rq, rp);
    default:
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01631: user %s: authorization failure for "
                    "\"%s\": ", user, rq->route->path);
        return refuse_401(rq, ac->name, rp);
    }
}

/* The request's credentials parsed, its configuration checked. */
struct attempt {
    struct auth_conf ac;
    char user_file[4096], group_file[4096];
    int needs_group;
    char user[ACCESS_USER_MAX];
    char pw[1024];
};

#define PREPARED (-1)              /* prepare's "go on": not an enum access_result */

/* Everything that needs no file: the configuration, the header.
 * PREPARED to go on, else the answer (ACCESS_ANSWERED). */
static int prepare(const struct req_ctx *rq, const struct authz *rule, struct attempt *a,
                   struct reply *rp)
{
    a->ac = auth_settings(rq);
    if (a->ac.type != AUTH_BASIC) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH00027: No authentication done but request "
                    "not allowed without authentication for %s. Authentication not "
                    "configured?", rq->route->path);
        return refuse_500(rq, rp);
    }
    if (a->ac.name == NULL) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01615: need AuthName: %s", rq->route->path);
        return refuse_500(rq, rp);
    }
    a->needs_group = authz_needs_group(rule);
    a->group_file[0] = '\0';
    if ((a->ac.user_file && abs_path(rq, a->ac.user_file, a->user_file, sizeof a->user_file)) ||
        (a->ac.group_file && abs_path(rq, a->ac.group_file, a->group_file, sizeof a->group_file))) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AuthUserFile or AuthGroupFile path too long");
        return refuse_500(rq, rp);
    }
    size_t len;
    const char *v = http_request_header(rq->req, "Authorization", &len);
    if (v == NULL)
        return refuse_401(rq, a->ac.name, rp);
    enum basic_verdict b = basic_credentials(v, len, a->user, sizeof a->user, a->pw, sizeof a->pw);
    if (b == BASIC_OTHER_SCHEME)
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01614: client used wrong authentication "
                    "scheme: %s", rq->route->path);
    else if (b == BASIC_MALFORMED)
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "malformed Basic credentials (not base64 of "
                    "user:password, or too long): %s", rq->route->path);
    return b == BASIC_OK ? PREPARED : refuse_401(rq, a->ac.name, rp);
}

/* Listener: the answer from the cache, or ACCESS_THREAD.  Caller holds
 * the lock. */
static int from_cache(const struct req_ctx *rq, const struct authz *rule, struct auth_state *s,
                      const struct attempt *a, struct reply *rp, char *out, size_t cap)
{
    long now = monotonic_seconds();
    int fi = a->ac.user_file ? file_index(s, a->user_file, 0) : -1;
    if (fi < 0 || !file_current(&s->files[fi], now))
        return ACCESS_THREAD;
    unsigned char key[SHA256_DIGEST_LENGTH];
    cred_key(s, fi, a->user, a->pw, key);
    if (!cred_cached(s, fi, key))
        return ACCESS_THREAD;
    const struct auth_file *gf = NULL;
    if (a->needs_group && a->ac.group_file) {
        int gi = file_index(s, a->group_file, 0);
        if (gi < 0 || !file_current(&s->files[gi], now))
            return ACCESS_THREAD;
        gf = &s->files[gi];
    }
    handler_log(rq, LOGM_CORE, LOGL_DEBUG, "user %s: credentials found in the cache", a->user);
    return decide(rq, rule, &a->ac, a->user, gf, rp, out, cap);
}

/* Handler thread, lock held: the user file read if changed, the hash
 * to check USER's password against (the first user's for an unknown
 * user) into HASH.  Returns the file's index, or -1 (it cannot be read:
 * f->err); *FOUND whether the user is in it, *CACHED whether the
 * credentials were verified already, *GEN the generation read. */
static int look_up(struct auth_state *s, const struct attempt *a, char *hash, size_t cap,
                   int *found, int *cached, unsigned *gen, int *err)
{
    int fi = file_index(s, a->user_file, 1);
    *err = ENOMEM;
    if (fi < 0)
        return -1;
    struct auth_file *f = &s->files[fi];
    if (file_refresh(f, monotonic_seconds()) == -1) {
        *err = f->err;
        return -1;
    }
    unsigned char key[SHA256_DIGEST_LENGTH];
    cred_key(s, fi, a->user, a->pw, key);
    *cached = cred_cached(s, fi, key);
    *found = htpasswd_find(f->text, f->len, a->user, hash, cap);
    if (!*found && !htpasswd_find(f->text, f->len, NULL, hash, cap))
        hash[0] = '\0';
    *gen = f->gen;
    return fi;
}

/* Handler thread: check the password with the slow hash (lock not
 * held); 1 it matched, else the 401 logged as Apache logs it. */
static int check_password(const struct req_ctx *rq, const struct attempt *a, const char *hash,
                          int found)
{
    enum htpasswd_verdict v = hash[0] ? htpasswd_verify(hash, a->pw) : HTPASSWD_MISMATCH;
    if (!found) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01618: user %s not found: %s", a->user,
                    rq->route->path);
        return 0;
    }
    if (v == HTPASSWD_UNKNOWN)
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "user %s: the hash in %s is of a format mpmd "
                    "does not know; treated as a mismatch", a->user, a->user_file);
    if (v != HTPASSWD_MATCH)
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01617: user %s: authentication failure for "
                    "\"%s\": Password Mismatch", a->user, rq->route->path);
    return v == HTPASSWD_MATCH;
}

/* Handler thread, lock held: the group file read if needed, then RULE. */
static int decide_fresh(const struct req_ctx *rq, const struct authz *rule, struct auth_state *s,
                        const struct attempt *a, struct reply *rp, char *out, size_t cap)
{
    const struct auth_file *gf = NULL;
    if (a->needs_group && a->ac.group_file) {
        int gi = file_index(s, a->group_file, 1);
        if (gi < 0)
            return refuse_500(rq, rp);
        file_refresh(&s->files[gi], monotonic_seconds());
        gf = &s->files[gi];
    }
    return decide(rq, rule, &a->ac, a->user, gf, rp, out, cap);
}

/* Handler thread: the whole check. */
static int verify(const struct req_ctx *rq, const struct authz *rule, struct auth_state *s,
                  const struct attempt *a, struct reply *rp, char *out, size_t cap)
{
    char hash[256];
    int found, cached, err;
    unsigned gen;
    if (a->ac.user_file == NULL) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01620: Could not open password file: (null)");
        return refuse_500(rq, rp);
    }
    pthread_mutex_lock(&s->lock);
    int fi = look_up(s, a, hash, sizeof hash, &found, &cached, &gen, &err);
    pthread_mutex_unlock(&s->lock);
    if (fi < 0) {
        handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01620: Could not open password file: %s (%s)",
                    a->user_file, strerror(err));
        return refuse_500(rq, rp);
    }
    if (!cached && !check_password(rq, a, hash, found)) {
        OPENSSL_cleanse(hash, sizeof hash);
        return refuse_401(rq, a->ac.name, rp);
    }
    OPENSSL_cleanse(hash, sizeof hash);
    unsigned char key[SHA256_DIGEST_LENGTH];
    cred_key(s, fi, a->user, a->pw, key);
    pthread_mutex_lock(&s->lock);
    if (!cached)
        cred_remember(s, fi, gen, key);
    int r = decide_fresh(rq, rule, s, a, rp, out, cap);
    pthread_mutex_unlock(&s->lock);
    handler_log(rq, LOGM_CORE, LOGL_DEBUG, "user %s: %s", a->user,
                cached ? "credentials found in the cache" : "password checked");
    return r;
}

/* No Require applies: AuthType Basic here is a configuration mistake
 * that Apache answers with 500 rather than serve without a password. */
static int no_require(const struct req_ctx *rq, struct reply *rp)
{
    if (auth_settings(rq).type != AUTH_BASIC)
        return ACCESS_GRANTED;
    handler_log(rq, LOGM_CORE, LOGL_ERROR, "AH01627: AuthType configured with no "
                "corresponding authorization directives");
    return refuse_500(rq, rp);
}

static int auth_authorize(const struct req_ctx *rq, const struct authz *rule, struct reply *rp,
                          int listener, char *out, size_t cap)
{
    if (rule == NULL)
        return no_require(rq, rp);
    struct auth_state *s = handler_state(rq, &auth_handler);
    struct attempt *a = malloc(sizeof *a);   /* ~10 KiB: off the handler thread's stack */
    if (a)
        a->pw[0] = '\0';
    if (s == NULL || a == NULL) {
        free(a);
        return listener ? ACCESS_THREAD : refuse_500(rq, rp);
    }
    int r = prepare(rq, rule, a, rp);
    if (r == PREPARED && cap > 0) {     /* Apache logs the user whatever the outcome */
        size_t ul = strnlen(a->user, cap - 1);
        memcpy(out, a->user, ul);
        out[ul] = '\0';
    }
    if (r == PREPARED && listener) {
        if (pthread_mutex_trylock(&s->lock) != 0) {
            r = ACCESS_THREAD;
        } else {
            r = from_cache(rq, rule, s, a, rp, out, cap);
            pthread_mutex_unlock(&s->lock);
        }
    } else if (r == PREPARED) {
        r = verify(rq, rule, s, a, rp, out, cap);
    }
    OPENSSL_cleanse(a->pw, strnlen(a->pw, sizeof a->pw));
    free(a);
    return r;
}

const struct handler auth_handler = {
    .name = "auth",
    .conf = &auth_conf_module,
    .child_init = auth_child_init,
    .child_exit = auth_child_exit,
    .authorize = auth_authorize,
};
