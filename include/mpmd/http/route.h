/* route.h: where a request goes: the site (the <VirtualHost> chosen by
 * the address the connection came in on and the request's Host, as
 * Apache chooses name-based virtual hosts), then the sections that apply
 * to its path and so its per-directory configuration and handler.
 *
 * Pure functions of the finished configuration: any thread, no locks, no
 * allocation.  A struct route lives on the stack of the thread that
 * answers the request. */
#ifndef MPMD_ROUTE_H
#define MPMD_ROUTE_H

#include <stddef.h>
#include <sys/socket.h>

#include "mpmd/core/config.h"
#include "mpmd/http/response.h"

#define ROUTE_PATH_MAX 4096
#define ROUTE_MAX_CHAIN CONFIG_MAX_CHAIN /* checked at load: no request can exceed it */

/* One request's route.  CHAIN holds the per-directory configurations
 * that apply, in merge order: the main server's, the virtual host's,
 * then the sections' (<Directory> shortest first, <Files>, <Location>);
 * a later one wins per directive.  Settings are read through the
 * route_* functions below, which fold the chain. */
struct route {
    const struct config *site;
    int path_ok;                  /* PATH holds the request's normalised path */
    char path[ROUTE_PATH_MAX];    /* decoded, no dot segments or repeated slashes */
    size_t path_len;
    const char *fs_base;          /* directory PATH maps into: DocumentRoot or an Alias */
    size_t fs_skip;               /* leading bytes of PATH that FS_BASE replaces */
    const struct dirconf *chain[ROUTE_MAX_CHAIN];
    int n_chain;
    const void *forced_data;      /* what that translate step matched (the ProxyPass
                                   * entry, the ScriptAlias), for its handler */
    int handler_forced;           /* set by a translate step (ProxyPass, ScriptAlias):
                                   * module index + 1, over SetHandler; 0: none */
};

/* Start RT for SITE and the raw path RAW (RAWLEN bytes, no query):
 * normalised into RT->path (path_ok 0 when it cannot be: a bad escape,
 * ".." above the root, ...), mapped into DocumentRoot. */
void route_begin(struct route *rt, const struct config *site, const char *raw, size_t rawlen);

/* Fill RT's chain: the site's own per-directory settings, then (with
 * SECTIONS) those of the sections that apply to RT's path, found after
 * Alias may have moved fs_base.  Without SECTIONS: an answer made before
 * any section applies (Redirect), as Apache's. */
void route_sections(struct route *rt, int sections);

/* The file-system path of RT's path into BUF (CAP bytes): fs_base, then
 * the path after fs_skip.  NULL when it does not fit. */
const char *route_fs_path(const struct route *rt, char *buf, size_t cap);

/* The folded settings. */
int route_handler_index(const struct route *rt);       /* registry index; 0: static */
/* SetEnv's value of NAME (the latest along the chain), NULL when unset. */
const char *route_env(const struct route *rt, const char *name);
unsigned route_options(const struct route *rt);
const struct authz *route_require(const struct route *rt); /* NULL: everyone */
const struct error_doc *route_error_doc(const struct route *rt, int status); /* or NULL */

/* Apply the Header directives of RT to the head H, in merge order; with
 * ERROR (an answer that is not a success: 4xx/5xx, a redirect made by
 * the server) only those marked "always". */
void route_apply_headers(const struct route *rt, struct response_head *h, int error);

/* The length of PREFIX (a URL path: Alias, ProxyPass, ScriptAlias) when
 * it covers PATH (PLEN bytes) by whole segments -- "/app" covers "/app"
 * and "/app/x", not "/apple"; "/app/" covers what is below it -- else 0. */
size_t route_prefix_len(const char *prefix, const char *path, size_t plen);

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
