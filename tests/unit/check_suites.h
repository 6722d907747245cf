/* check_suites.h: one Check suite per module; check_main.c runs them all
 * with TAP output (automake's tap-driver reads it). */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

struct config;

/* check_sandbox.c: ROOT (LEN bytes) gets a new directory under /tmp named
 * after NAME, holding the directories DIRS (NULL-terminated); removed
 * with everything in it by sandbox_remove. */
void sandbox_create(char *root, size_t len, const char *name, const char *const *dirs);
void sandbox_remove(const char *root);

/* Config TEXT (named NAME in messages) parsed with ROOT as ServerRoot:
 * must load (the config, to free), or must be refused with exactly WANT. */
struct config *sandbox_parse_ok(const char *root, const char *name, const char *text);
void sandbox_parse_fails(const char *root, const char *name, const char *text, const char *want);

Suite *config_suite(void);
Suite *conffile_suite(void);
Suite *route_suite(void);
Suite *sections_suite(void);
Suite *path_suite(void);
Suite *mime_suite(void);
Suite *log_suite(void);
Suite *logformat_suite(void);
Suite *http_suite(void);
Suite *workq_suite(void);
Suite *response_suite(void);
Suite *filecache_suite(void);
Suite *precond_suite(void);
Suite *scoreboard_suite(void);
Suite *sbview_suite(void);
Suite *bind_suite(void);
Suite *balance_suite(void);
Suite *fcgi_record_suite(void);
Suite *cgihead_suite(void);
Suite *proxyproto_suite(void);
Suite *proxy_resp_suite(void);
Suite *upstream_suite(void);
Suite *proxy_conf_suite(void);
Suite *tls_suite(void);
Suite *compress_suite(void);
Suite *autoindex_suite(void);
Suite *expires_suite(void);
Suite *auth_suite(void);
Suite *upgrade_suite(void);

#endif
