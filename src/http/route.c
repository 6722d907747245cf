/* route.c: choosing the site (virtual host) of a request (route.h).
 * Any thread: reads the finished configuration only. */
#include "config.h"

#include "mpmd/http/route.h"

#include <fnmatch.h>
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
