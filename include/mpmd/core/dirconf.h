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

/* TEXT (ADDR, ADDR/BITS, IPV4/NETMASK or a partial IPv4 address, as
 * `Require ip` takes) into N; -1 if it is none of those. */
int authz_parse_net(const char *text, struct authz_net *n);

/* Whether PEER (IPv4-mapped IPv6 counts as IPv4) is in one of NETS[0..N). */
int authz_nets_match(const struct authz_net *nets, int n, const struct sockaddr *peer);

/* What a rule says, as mod_authz_core's providers answer. */
enum authz_result {
    AZ_DENIED = 0,
    AZ_GRANTED = 1,
    AZ_NEUTRAL = 2,               /* a negated rule that did not match */
    AZ_DENIED_NO_USER = 3,        /* denied, but an authenticated user could be granted */
};

/* The authenticated user a rule is evaluated for. */
struct authz_user {
    const char *name;
    /* Whether NAME is in GROUP: 1 or 0.  NULL: in no group. */
    int (*in_group)(void *ctx, const char *group);
    void *ctx;
};

/* What rule A says of the client at PEER, authenticated as U (NULL: no
 * user yet), with Apache's logic: <RequireAll> is denied by one denial
 * and granted when nothing denies and one grants; <RequireAny> is
 * granted by one grant; "not" turns a grant into a denial and a denial
 * into neutral; a user rule without a user is AZ_DENIED_NO_USER, which
 * a container keeps over a plain denial where a user could still change
 * the result (then authentication is asked for: 401).  Any thread. */
enum authz_result authz_eval(const struct authz *a, const struct sockaddr *peer,
                             const struct authz_user *u);

/* authz_eval without a user: 1 granted, 0 otherwise. */
int authz_check(const struct authz *a, const struct sockaddr *peer);

/* Whether A has a Require group rule (the group file is needed). */
int authz_needs_group(const struct authz *a);

/* The Options value after applying D's Options over BASE (Apache's
 * merge: "Options A B" replaces, "+A -B" adjusts). */
unsigned dirconf_options(const struct dirconf *d, unsigned base);

#endif
