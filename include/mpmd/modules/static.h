/* static.h: the static-file handler: GET, HEAD and OPTIONS of files
 * under DocumentRoot (DirectoryIndex, redirects to a directory's slash
 * form, conditional and range requests, the per-child file cache). */
#ifndef MPMD_STATIC_H
#define MPMD_STATIC_H

#include "mpmd/http/handler.h"

extern const struct handler static_handler;
extern const struct conf_module static_conf_module;

#endif
