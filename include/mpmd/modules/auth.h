/* auth.h: HTTP Basic authentication against htpasswd files (Apache's
 * mod_auth_basic, mod_authn_file, mod_authz_user, mod_authz_groupfile):
 * AuthType, AuthName, AuthBasicProvider, AuthUserFile, AuthGroupFile,
 * and the authorize entry point that lets Require valid-user / user /
 * group rules in (docs/auth.md).
 *
 * Configuration where it loads (module.h).  authorize runs on the
 * listener (answers from the child's cache of verified credentials, or
 * declines) and on handler threads (checks passwords: bcrypt is slow on
 * purpose); the per-child state locks itself. */
#ifndef MPMD_AUTH_H
#define MPMD_AUTH_H

#include "mpmd/http/handler.h"

extern const struct conf_module auth_conf_module;
extern const struct handler auth_handler;

#define AUTH_CACHE_SLOTS 1024     /* verified credentials each child keeps */
#define AUTH_MAX_FILES 64         /* user and group files each child follows */
#define AUTH_FILE_MAX (16L << 20) /* a bigger user or group file is refused (500) */

#endif
