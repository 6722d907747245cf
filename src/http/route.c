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

int route_addr_matches(const struct vhost_addr *a, const struct sockaddr *local)
{
    int port;
    const unsigned char *ip;
    size_t iplen;
    int family = local->sa_family;
    if (family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)local;
        port = ntohs(in->sin_port);
        ip = (const unsigned char *)&in->sin_addr;
        iplen = 4;
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)local;
        port = ntohs(in6->sin6_port);
        ip = in6->sin6_addr.s6_addr;
        iplen = 16;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {   /* 127.0.0.1 on a [::] socket */
            family = AF_INET;
            ip += 12;
            iplen = 4;
        }
    } else {
        return 0;
    }
    if (a->port && a->port != port)
        return 0;
    return a->any_ip || (a->family == family && memcmp(a->ip, ip, iplen) == 0);
}

/* How well virtual host V's addresses match LOCAL: 2 an IP-specific
 * address, 1 a "*" one, 0 none. */
static int addr_match_rank(const struct vhost *v, const struct sockaddr *local)
{
    int best = 0;
    for (int i = 0; i < v->n_addrs; i++)
        if (route_addr_matches(&v->addrs[i], local)) {
            int rank = v->addrs[i].any_ip ? 1 : 2;
            if (rank > best)
                best = rank;
        }
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
    int rank = 0;
    for (int i = 0; i < cfg->n_vhosts; i++) {
        int r = addr_match_rank(&cfg->vhosts[i], local);
        if (r > rank)
            rank = r;
    }
    if (rank == 0)
        return cfg;
    const struct config *first = NULL;
    for (int i = 0; i < cfg->n_vhosts; i++) {
        if (addr_match_rank(&cfg->vhosts[i], local) != rank)
            continue;
        const struct config *vc = cfg->vhosts[i].cfg;
        if (first == NULL)
            first = vc;
        if (host != NULL && answers_to(vc, host, hostlen))
            return vc;
    }
    return first;
}
