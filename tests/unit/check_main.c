/* check_main.c: the single Check runner for every unit suite; prints TAP
 * on stdout so automake's tap-driver counts each test case. */
#include <stdlib.h>

#include "check_suites.h"

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_add_suite(sr, conffile_suite());
    srunner_add_suite(sr, route_suite());
    srunner_add_suite(sr, sections_suite());
    srunner_add_suite(sr, path_suite());
    srunner_add_suite(sr, mime_suite());
    srunner_add_suite(sr, log_suite());
    srunner_add_suite(sr, logformat_suite());
    srunner_add_suite(sr, http_suite());
    srunner_add_suite(sr, workq_suite());
    srunner_add_suite(sr, response_suite());
    srunner_add_suite(sr, filecache_suite());
    srunner_add_suite(sr, precond_suite());
    srunner_add_suite(sr, scoreboard_suite());
    srunner_add_suite(sr, sbview_suite());
    srunner_add_suite(sr, bind_suite());
    srunner_add_suite(sr, balance_suite());
    srunner_add_suite(sr, fcgi_record_suite());
    srunner_add_suite(sr, expires_suite());
    srunner_add_suite(sr, cgihead_suite());
    srunner_add_suite(sr, proxyproto_suite());
    srunner_add_suite(sr, proxy_resp_suite());
    srunner_add_suite(sr, upstream_suite());
    srunner_add_suite(sr, proxy_conf_suite());
    srunner_add_suite(sr, tls_suite());
    srunner_add_suite(sr, compress_suite());
    srunner_add_suite(sr, autoindex_suite());
    srunner_add_suite(sr, auth_suite());
    srunner_add_suite(sr, upgrade_suite());
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
