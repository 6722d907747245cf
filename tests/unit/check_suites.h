/* check_suites.h: one Check suite per module; check_main.c runs them all
 * with TAP output (automake's tap-driver reads it). */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

Suite *config_suite(void);
Suite *conffile_suite(void);
Suite *route_suite(void);
Suite *path_suite(void);
Suite *mime_suite(void);
Suite *log_suite(void);
Suite *http_suite(void);
Suite *workq_suite(void);
Suite *response_suite(void);
Suite *filecache_suite(void);
Suite *precond_suite(void);
Suite *scoreboard_suite(void);
Suite *bind_suite(void);
Suite *balance_suite(void);

#endif
