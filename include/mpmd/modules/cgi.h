/* cgi.h: CGI scripts (RFC 3875, Apache's mod_cgi): ScriptAlias,
 * AddHandler/SetHandler cgi-script with Options ExecCGI, CGIScriptTimeout.
 * The handler runs a script per request with posix_spawn, in a process
 * group of its own, and streams its output. */
#ifndef MPMD_CGI_H
#define MPMD_CGI_H

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

extern const struct conf_module cgi_conf_module;
extern const struct handler cgi_handler;

#endif
