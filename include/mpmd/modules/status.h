/* status.h: the "server-status" handler (Apache's mod_status: HTML,
 * ?auto, ?json) and the "metrics" handler (Prometheus text format), both
 * reading the server's scoreboard. */
#ifndef MPMD_STATUS_H
#define MPMD_STATUS_H

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

extern const struct conf_module status_conf_module;
extern const struct handler status_handler;

extern const struct conf_module metrics_conf_module;
extern const struct handler metrics_handler;

#endif
