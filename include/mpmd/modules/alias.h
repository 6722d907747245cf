/* alias.h: mod_alias's directives: Alias (a URL prefix served from
 * another directory), Redirect and RedirectMatch (answered before any
 * section applies, on the listener thread). */
#ifndef MPMD_ALIAS_H
#define MPMD_ALIAS_H

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

extern const struct conf_module alias_conf_module;
extern const struct handler alias_handler;

#endif
