/* route.h: which site answers a request: the <VirtualHost> chosen by the
 * address the connection came in on and the request's Host, as Apache
 * chooses (name-based virtual hosts).
 *
 * Pure functions of the finished configuration: any thread, no locks. */
#ifndef MPMD_ROUTE_H
#define MPMD_ROUTE_H

#include <stddef.h>
#include <sys/socket.h>

#include "mpmd/core/config.h"

/* The host part of a Host header value (or of an absolute-form target's
 * authority): without ":port", without one trailing dot, IPv6 literals
 * with their brackets.  Returns its length; *HOST points into VALUE. */
size_t route_host_name(const char *value, size_t len, const char **host);

/* The configuration that answers: among the virtual hosts whose address
 * matches LOCAL (the connection's own address; IP-specific addresses win
 * over "*"), the first whose ServerName or ServerAlias matches HOST
 * (case-insensitive, '*' and '?' wildcards in aliases), else the first of
 * them (the default for that address); with no virtual host for LOCAL,
 * the main server (CFG itself).  HOST may be NULL (HTTP/1.0 without Host). */
const struct config *route_site(const struct config *cfg, const struct sockaddr *local,
                                const char *host, size_t hostlen);

/* Whether virtual host address A matches LOCAL. */
int route_addr_matches(const struct vhost_addr *a, const struct sockaddr *local);

#endif
