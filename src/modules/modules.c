/* modules.c: the registry of modules, in the order their indexes take
 * (module.h, handler.h).  Adding a module is one line in each list. */
#include "config.h"

#include "mpmd/core/module.h"
#include "mpmd/core/tls.h"
#include "mpmd/http/handler.h"
#include "mpmd/modules/alias.h"
#include "mpmd/modules/autoindex.h"
#include "mpmd/modules/auth.h"
#include "mpmd/modules/cgi.h"
#include "mpmd/modules/compress.h"
#include "mpmd/modules/expires.h"
#include "mpmd/modules/fileetag.h"
#include "mpmd/modules/proxy.h"
#include "mpmd/modules/static.h"
#include "mpmd/modules/status.h"

const struct conf_module *const mpmd_conf_modules[] = {
    &static_conf_module,
    &alias_conf_module,
    &proxy_conf_module,
    &cgi_conf_module,
    &status_conf_module,
    &metrics_conf_module,
    &auth_conf_module,            /* before tls: a handler's index is its module's */
    &tls_conf_module,
    &compress_conf_module,
    &expires_conf_module,
    &autoindex_conf_module,       /* configuration only from here on */
    &fileetag_conf_module,
    NULL,
};

/* The core's TLS directives answer no request: a place in the list keeps
 * the two lists in step. */
static const struct handler tls_handler = {.name = "tls", .conf = &tls_conf_module};

const struct handler *const mpmd_handlers[] = {
    &static_handler,
    &alias_handler,
    &proxy_handler,
    &cgi_handler,
    &status_handler,
    &metrics_handler,
    &auth_handler,
    &tls_handler,
    &compress_handler,
    &expires_handler,
    NULL,
};
