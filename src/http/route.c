/* route.c: choosing the site (virtual host) of a request, the sections
 * that apply to its path, and the settings they fold into (route.h).
 * Any thread: reads the finished configuration only. */
#include "config.h"

#include "mpmd/http/route.h"

#include "mpmd/core/dirconf.h"
#include "mpmd/core/secindex.h"
#include "mpmd/http/path.h"

#include <fnmatch.h>
#include <sys/stat.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

size_t route_host_name(const char *value, size_t len, const char **host)
{
    size_t n = len;
    if (len > 0 && value[0] == '[') {
        const char *end = memchr(value, ']', len);
        n = end ? (size_t)(end - value) + 1 : len;
    } else {
        const char *colon = memchr(value, ':', len);
        if (colon)
            n = (size_t)(colon - value);
    }
    if (n > 1 && value[n - 1] == '.')
        n--;
    *host = value;
    return n;
}

/* The connection's own address, taken apart once per request. */
struct local_addr {
    int family;                   /* AF_INET (also for v4-mapped IPv6) or AF_INET6 */
    int port;
    const unsigned char *ip;
    size_t iplen;
};

static int local_addr_parse(const struct sockaddr *sa, struct local_addr *l)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        *l = (struct local_addr){ AF_INET, ntohs(in->sin_port),
                                  (const unsigned char *)&in->sin_addr, 4 };
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *l = (struct local_addr){ AF_INET6, ntohs(in6->sin6_port), in6->sin6_addr.s6_addr, 16 };
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {   /* 127.0.0.1 on a [::] socket */
            l->family = AF_INET;
            l->ip += 12;
            l->iplen = 4;
        }
        return 0;
    }
    return -1;
}

static int addr_matches(const struct vhost_addr *a, const struct local_addr *l)
{
    if (a->port && a->port != l->port)
        return 0;
    return a->any_ip || (a->family == l->family && memcmp(a->ip, l->ip, l->iplen) == 0);
}

int route_addr_matches(const struct vhost_addr *a, const struct sockaddr *local)
{
    struct local_addr l;
    return local_addr_parse(local, &l) == 0 && addr_matches(a, &l);
}

/* How well virtual host V's addresses match L: 2 an IP-specific address,
 * 1 a "*" one, 0 none. */
static int addr_match_rank(const struct vhost *v, const struct local_addr *l)
{
    int best = 0;
    for (int i = 0; i < v->n_addrs && best < 2; i++)
        if (addr_matches(&v->addrs[i], l) && (v->addrs[i].any_ip ? 1 : 2) > best)
            best = v->addrs[i].any_ip ? 1 : 2;
    return best;
}

static int name_is(const char *name, const char *host, size_t hostlen)
{
    return strlen(name) == hostlen && strncasecmp(name, host, hostlen) == 0;
}

static int alias_matches(const char *pattern, const char *host, size_t hostlen)
{
    char buf[256];
    if (strpbrk(pattern, "*?") == NULL)
        return name_is(pattern, host, hostlen);
    if (hostlen >= sizeof buf)
        return 0;
    memcpy(buf, host, hostlen);
    buf[hostlen] = '\0';
    return fnmatch(pattern, buf, FNM_CASEFOLD) == 0;
}

/* Whether virtual host configuration VC answers to HOST. */
static int answers_to(const struct config *vc, const char *host, size_t hostlen)
{
    if (vc->server_name && name_is(vc->server_name, host, hostlen))
        return 1;
    for (int i = 0; i < vc->n_server_alias; i++)
        if (alias_matches(vc->server_alias[i], host, hostlen))
            return 1;
    return 0;
}

const struct config *route_site(const struct config *cfg, const struct sockaddr *local,
                                const char *host, size_t hostlen)
{
    struct local_addr l;
    if (local_addr_parse(local, &l) == -1)
        return cfg;
    /* One pass: the best address rank so far, its first site (the
     * default) and its first site answering to HOST. */
    int rank = 0;
    const struct config *first = NULL, *named = NULL;
    for (int i = 0; i < cfg->n_vhosts; i++) {
        int r = addr_match_rank(&cfg->vhosts[i], &l);
        if (r == 0 || r < rank)
            continue;
        const struct config *vc = cfg->vhosts[i].cfg;
        if (r > rank) {
            rank = r;
            first = vc;
            named = NULL;
        }
        if (named == NULL && host != NULL && answers_to(vc, host, hostlen))
            named = vc;
    }
    return named ? named : first ? first : cfg;
}

/* ---- sections and per-directory settings -------------------------------- */

void route_begin(struct route *rt, const struct config *site, const char *raw, size_t rawlen)
{
    rt->site = site;
    long n = raw ? path_normalize(raw, rawlen, rt->path, sizeof rt->path) : -1;
    rt->path_ok = n > 0;
    rt->path_len = n > 0 ? (size_t)n : 0;
    if (n <= 0)
        rt->path[0] = '\0';
    rt->fs_base = site->document_root;
    rt->fs_skip = 0;
    rt->n_chain = 0;
    rt->handler_forced = 0;
    rt->forced_data = NULL;
}

const char *route_fs_path(const struct route *rt, char *buf, size_t cap)
{
    size_t blen = strlen(rt->fs_base), rest = rt->path_len - rt->fs_skip;
    const char *tail = rt->path + rt->fs_skip;
    if (blen > 0 && rt->fs_base[blen - 1] == '/' && rest > 0 && tail[0] == '/')
        tail++, rest--;               /* Alias /x/ /srv/x/ : no "//" */
    if (blen + rest + 1 > cap)
        return NULL;
    memcpy(buf, rt->fs_base, blen);
    memcpy(buf + blen, tail, rest);
    buf[blen + rest] = '\0';
    return buf;
}

static void chain_add(struct route *rt, const struct dirconf *d)
{
    if (rt->n_chain < ROUTE_MAX_CHAIN)
        rt->chain[rt->n_chain++] = d;
}

void route_sections(struct route *rt, int sections)
{
    const struct config *site = rt->site;
    /* The main server's own settings come first, for every site. */
    if (site->main_dir)
        chain_add(rt, site->main_dir);
    chain_add(rt, &site->dir);
    if (!sections || site->index == NULL || !rt->path_ok)
        return;
    const struct section *hits[ROUTE_MAX_CHAIN];
    char fsbuf[ROUTE_PATH_MAX * 2];
    char *fs = secindex_needs_fs(site->index) ? (char *)route_fs_path(rt, fsbuf, sizeof fsbuf)
                                              : NULL;
    size_t cut = secindex_files_prefix(site->index, fs);
    if (cut > 0) {
        /* "/a.php/more" with <FilesMatch \.php$>: the sections of the file
         * a.php when it is one, the rest being PATH_INFO (Apache's walk). */
        struct stat st;
        char keep = fs[cut];
        fs[cut] = '\0';
        if (stat(fs, &st) != 0 || !S_ISREG(st.st_mode))
            fs[cut] = keep;
    }
    int n = secindex_match(site->index, rt->path, rt->path_len, fs, hits,
                           ROUTE_MAX_CHAIN - rt->n_chain);
    for (int i = 0; i < n; i++)
        chain_add(rt, &hits[i]->dir);
}

/* The extension of the last segment of PATH (after its last dot), or NULL. */
static const char *path_extension(const char *path, size_t len, size_t *elen)
{
    for (size_t i = len; i > 0; i--) {
        if (path[i - 1] == '/')
            return NULL;
        if (path[i - 1] == '.') {
            *elen = len - i;
            return i > 1 && path[i - 2] != '/' && *elen > 0 ? path + i : NULL;
        }
    }
    return NULL;
}

/* AddHandler's choice for RT's file name, or 0. */
static int added_handler(const struct route *rt)
{
    int any = 0;
    for (int i = 0; i < rt->n_chain && !any; i++)
        any = rt->chain[i]->n_add_handlers > 0;
    if (!any)
        return 0;             /* the common case: no AddHandler anywhere on the route */
    size_t elen = 0;
    const char *ext = path_extension(rt->path, rt->path_len, &elen);
    if (ext == NULL)
        return 0;
    for (int i = rt->n_chain - 1; i >= 0; i--)
        for (int k = rt->chain[i]->n_add_handlers - 1; k >= 0; k--) {
            const struct add_handler *ah = &rt->chain[i]->add_handlers[k];
            if (strlen(ah->ext) == elen && strncasecmp(ah->ext, ext, elen) == 0)
                return ah->handler;
        }
    return 0;
}

int route_handler_index(const struct route *rt)
{
    if (rt->handler_forced > 0)
        return rt->handler_forced - 1;
    for (int i = rt->n_chain - 1; i >= 0; i--)
        if (rt->chain[i]->handler) {
            if (rt->chain[i]->handler > 0)
                return rt->chain[i]->handler - 1;
            break;                /* SetHandler none: back to what AddHandler says */
        }
    int added = added_handler(rt);
    return added > 0 ? added - 1 : 0;
}

size_t route_prefix_len(const char *prefix, const char *path, size_t plen)
{
    size_t n = strlen(prefix);
    if (n == 0 || n > plen || memcmp(prefix, path, n) != 0)
        return 0;
    return prefix[n - 1] == '/' || n == plen || path[n] == '/' ? n : 0;
}

const char *route_env(const struct route *rt, const char *name)
{
    for (int i = rt->n_chain - 1; i >= 0; i--)
        for (int k = rt->chain[i]->n_env - 1; k >= 0; k--)
            if (strcmp(rt->chain[i]->env[k].name, name) == 0)
                return rt->chain[i]->env[k].value;
    return NULL;
}

unsigned route_options(const struct route *rt)
{
    unsigned o = OPT_DEFAULT;
    for (int i = 0; i < rt->n_chain; i++)
        o = dirconf_options(rt->chain[i], o);
    return o;
}

const struct authz *route_require(const struct route *rt)
{
    for (int i = rt->n_chain - 1; i >= 0; i--)
        if (rt->chain[i]->require)
            return rt->chain[i]->require;
    return NULL;
}

const struct error_doc *route_error_doc(const struct route *rt, int status)
{
    for (int i = rt->n_chain - 1; i >= 0; i--)
        for (int k = rt->chain[i]->n_error_docs - 1; k >= 0; k--) {
            const struct error_doc *e = &rt->chain[i]->error_docs[k];
            if (e->status == status)
                return e->kind == ERRDOC_DEFAULT ? NULL : e;
        }
    return NULL;
}

/* Whether the comma-separated list V (LEN bytes) has the element WORD. */
static int list_has(const char *v, size_t len, const char *word)
{
    size_t wlen = strlen(word);
    for (size_t i = 0; i < len;) {
        while (i < len && (v[i] == ' ' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && v[end - 1] == ' ')
            end--;
        if (end - start == wlen && strncasecmp(v + start, word, wlen) == 0)
            return 1;
    }
    return 0;
}

static void apply_header(const struct header_op *op, struct response_head *h)
{
    size_t vlen;
    const char *old = response_head_get(h, op->name, &vlen);
    char joined[1024];
    switch (op->action) {
    case HDR_SET:
        response_head_remove(h, op->name);
        response_head_add(h, op->name, op->value, strlen(op->value));
        break;
    case HDR_UNSET:
        response_head_remove(h, op->name);
        break;
    case HDR_ADD:
        response_head_add(h, op->name, op->value, strlen(op->value));
        break;
    case HDR_SETIFEMPTY:
        if (old == NULL)
            response_head_add(h, op->name, op->value, strlen(op->value));
        break;
    case HDR_MERGE:
    case HDR_APPEND:
        if (old != NULL && op->action == HDR_MERGE && list_has(old, vlen, op->value))
            break;
        if (old == NULL) {
            response_head_add(h, op->name, op->value, strlen(op->value));
            break;
        }
        int n = snprintf(joined, sizeof joined, "%.*s, %s", (int)vlen, old, op->value);
        if (n < 0 || (size_t)n >= sizeof joined)
            break;                    /* too long to join: left as it was */
        response_head_replace_first(h, op->name, joined, (size_t)n); /* as apr_table_mergen */
        break;
    }
}

void route_apply_headers(const struct route *rt, struct response_head *h, int error)
{
    for (int i = 0; i < rt->n_chain; i++)
        for (int k = 0; k < rt->chain[i]->n_headers; k++) {
            const struct header_op *op = &rt->chain[i]->headers[k];
            if (op->always || !error)
                apply_header(op, h);
        }
}
