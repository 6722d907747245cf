/* dirconf.h: the per-directory directives (SetHandler's companions:
 * Options, Require, Header, ErrorDocument) parsed into a struct dirconf
 * (config.h), and the Require rules evaluated.
 *
 * Parsing runs where the configuration is loaded; authz_check is a pure
 * function of a finished rule and may run on any thread. */
#ifndef MPMD_DIRCONF_H
#define MPMD_DIRCONF_H

#include <stddef.h>
#include <sys/socket.h>

#include "mpmd/core/config.h"

/* The setters: apply one directive's arguments (ARGV, ARGC of them, the
 * name not included) to D.  On a bad value: -1 and one sentence in ERR
 * saying what was expected and what was given. */
int dirconf_set_options(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);
int dirconf_add_header(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);
int dirconf_add_error_doc(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);

/* SetEnv NAME [VALUE] and UnsetEnv NAME... */
int dirconf_set_env(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);
int dirconf_unset_env(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);

/* AllowOverride None and HostnameLookups Off: the only values mpmd has,
 * accepted so that Apache configs load; anything else is refused. */
int dirconf_allow_override(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);
int dirconf_hostname_lookups(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);

/* Free what D owns and clear it. */
void dirconf_free(struct dirconf *d);

/* A new, empty container of KIND (AUTHZ_ANY or AUTHZ_ALL), or NULL. */
struct authz *authz_new(enum authz_kind kind);

/* Add the rule "Require ARGV..." to the container C.  NEGATED rules
 * ("Require not ...") are refused outside a <RequireAll> container, as
 * Apache refuses them (they could never grant). */
int authz_add_require(struct authz *c, int argc, char **argv, char *err, size_t errlen);

/* Add KID (owned from then on) to the container C.  -1: out of memory
 * (KID is freed). */
int authz_add_kid(struct authz *c, struct authz *kid);

void authz_free(struct authz *a);

/* Whether rule A lets the client at PEER in: 1 granted, 0 denied.
 * <RequireAll>: every rule that is not negated grants and no negated
 * rule matches; <RequireAny>: one rule grants. */
int authz_check(const struct authz *a, const struct sockaddr *peer);

/* The Options value after applying D's Options over BASE (Apache's
 * merge: "Options A B" replaces, "+A -B" adjusts). */
unsigned dirconf_options(const struct dirconf *d, unsigned base);

#endif
