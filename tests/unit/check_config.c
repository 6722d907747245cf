/* check_config.c: unit tests for src/core/config.c -- every default, every
 * directive's accepted values, every error message (exact text, file and
 * line), the file syntax (comments, quotes, continuation lines), the
 * cross-directive checks, config_load, and the generated reference
 * (docs/directives.md and docs/mpmd.conf.5, compared with the committed
 * copies when MPMD_SRCDIR is set, as `make check` does; every directive
 * documented).
 *
 * Each TCase gets a fresh directory under /tmp (an unchecked fixture, so
 * it is removed even when a test fails) used as ServerRoot; it holds
 * htdocs/ (the default DocumentRoot), www/, "my docs"/ and a regular file
 * afile. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "mpmd/core/config.h"
#include "mpmd/core/log.h"
#include "mpmd/core/logformat.h"

#ifndef MPMD_PREFIX
#define MPMD_PREFIX "/usr/local"
#endif

#define CONF "test.conf"

/* The test-only sandbox; set up and removed by the fixture (parent process). */
static char sandbox[64];

static const char *const sandbox_dirs[] = {"htdocs", "www", "my docs", NULL};
static const char *const sandbox_files[] = {"afile", "good.conf", "bad.conf", "nul.conf", NULL};

static void sandbox_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", sandbox, name);
}

static void sandbox_setup(void)
{
    char path[128];
    snprintf(sandbox, sizeof sandbox, "/tmp/mpmd-check-config-XXXXXX");
    ck_assert_msg(mkdtemp(sandbox) != NULL, "mkdtemp: %s", strerror(errno));
    for (int i = 0; sandbox_dirs[i] != NULL; i++) {
        sandbox_path(path, sizeof path, sandbox_dirs[i]);
        ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
    }
    sandbox_path(path, sizeof path, "afile");
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fclose(f);
}

static void sandbox_teardown(void)
{
    char path[128];
    for (int i = 0; sandbox_files[i] != NULL; i++) {
        sandbox_path(path, sizeof path, sandbox_files[i]);
        unlink(path);
    }
    for (int i = 0; sandbox_dirs[i] != NULL; i++) {
        sandbox_path(path, sizeof path, sandbox_dirs[i]);
        rmdir(path);
    }
    rmdir(sandbox);
}

/* ---- helpers ------------------------------------------------------------ */

static struct config *parse_ok(const char *text)
{
    char err[512] = "";
    struct config *cfg = config_parse_text(CONF, text, sandbox, err, sizeof err);
    ck_assert_msg(cfg != NULL, "refused:\n%s\nerror: %s", text, err);
    return cfg;
}

/* TEXT must be refused with exactly EXPECTED. */
static void expect_error(const char *text, const char *expected)
{
    char err[512] = "";
    struct config *cfg = config_parse_text(CONF, text, sandbox, err, sizeof err);
    int accepted = cfg != NULL;
    config_free(cfg);
    ck_assert_msg(!accepted, "accepted:\n%s", text);
    ck_assert_str_eq(err, expected);
}

/* The value of an int or long field at OFFSET. */
static long long int_field(const struct config *cfg, size_t offset, int is_long)
{
    const char *base = (const char *)cfg;
    return is_long ? *(const long *)(base + offset) : *(const int *)(base + offset);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- defaults ----------------------------------------------------------- */

START_TEST(test_defaults)
{
    struct config *cfg = parse_ok("Listen 8080\n");
    char path[128], host[256];
    ck_assert_str_eq(cfg->file, CONF);
    ck_assert_str_eq(cfg->server_root, sandbox);
    sandbox_path(path, sizeof path, "htdocs");
    ck_assert_str_eq(cfg->document_root, path);
    ck_assert_int_eq(gethostname(host, sizeof host), 0);
    ck_assert_str_eq(cfg->server_name, host);
    ck_assert_int_eq(cfg->n_directory_index, 1);
    ck_assert_str_eq(cfg->directory_index[0], "index.html");
    ck_assert_int_eq(cfg->mpm, MPM_EVENT);
    ck_assert_int_eq(cfg->start_servers, 3);
    ck_assert_int_eq(cfg->server_limit, 16);
    ck_assert_int_eq(cfg->threads_per_child, 25);
    ck_assert_int_eq(cfg->min_spare_threads, 75);
    ck_assert_int_eq(cfg->max_spare_threads, 250);
    ck_assert_int_eq(cfg->max_request_workers, 400);
    ck_assert_int_eq(cfg->max_connections_per_child, 0);
    ck_assert_int_eq(cfg->timeout, 60);
    ck_assert_int_eq(cfg->keepalive, 1);
    ck_assert_int_eq(cfg->keepalive_timeout, 5);
    ck_assert_int_eq(cfg->max_keepalive_requests, 100);
    ck_assert_str_eq(cfg->error_log, "stderr");
    ck_assert_int_eq(cfg->log_level, LOGL_WARN);
    ck_assert_ptr_null(cfg->access_log);
    ck_assert_int_eq(cfg->access_format, ACCESS_OFF);
    ck_assert_int_eq(cfg->n_logs, 0);
    ck_assert_int_eq(cfg->n_log_formats, 0);
    for (int i = 0; i < LOG_MODULES; i++)
        ck_assert_int_eq(cfg->log_module_level[i], 0);
    ck_assert_int_eq(cfg->extended_status, 1);
    ck_assert_ptr_null(cfg->pid_file);
    ck_assert_ptr_null(cfg->user);
    ck_assert_ptr_null(cfg->group);
    ck_assert_int_eq(cfg->n_listen, 1);
    ck_assert_str_eq(cfg->listen[0].text, "[::]:8080");
    int set = 0;
    for (int i = 0; i < CONFIG_MAX_DIRECTIVES; i++)
        set += cfg->directive_line[i] != 0;
    ck_assert_int_eq(set, 1); /* only Listen */
    config_free(cfg);
}
END_TEST

START_TEST(test_default_server_root)
{
    char text[256], err[512] = "";
    snprintf(text, sizeof text, "Listen 80\nDocumentRoot %s/htdocs\n", sandbox);
    struct config *cfg = config_parse_text(CONF, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->server_root, MPMD_PREFIX);
    config_free(cfg);
}
END_TEST

/* {directive, default as -V prints it} */
static const char *const printed_defaults[][2] = {
    {"ServerRoot", MPMD_PREFIX}, {"Listen", "none (required)"}, {"ListenBacklog", "511"},
    {"ServerName", "(host name)"},
    {"ServerAlias", "none"},
    {"User", "none"}, {"Group", "none"}, {"DocumentRoot", "htdocs"},
    {"DirectoryIndex", "index.html"}, {"ErrorLog", "stderr"}, {"LogLevel", "warn"},
    {"AccessLog", "off"}, {"CustomLog", "none"},
    {"LogFormat", "common, combined, vhost_combined, referer, agent, json"},
    {"ServerAdmin", "none"},
    {"ExpiresActive", "Off"}, {"ExpiresByType", "none"}, {"ExpiresDefault", "none"},
    {"FileETag", "MTime Size"},
    {"PidFile", "none"}, {"AddType", "none"},
    {"TypesConfig", "/etc/mime.types"},
    {"MPM", "event"}, {"StartServers", "3"},
    {"ServerLimit", "16"}, {"ThreadsPerChild", "25"}, {"MinSpareThreads", "75"},
    {"MaxSpareThreads", "250"}, {"MaxRequestWorkers", "400"},
    {"MaxConnectionsPerChild", "0"}, {"GracefulShutdownTimeout", "0"}, {"UpgradeTimeout", "30"},
    {"Timeout", "60"},
    {"ExtendedStatus", "On"}, {"RemoteIPProxyProtocol", "Off"}, {"RemoteIPProxyProtocolExceptions", "none"},
    {"KeepAlive", "On"}, {"KeepAliveTimeout", "5"}, {"MaxKeepAliveRequests", "100"},
    {"LimitRequestLine", "8190"}, {"LimitRequestFieldSize", "8190"},
    {"LimitRequestFields", "100"}, {"LimitRequestBody", "1073741824"},
    {"FileCacheSize", "16777216"}, {"FileCacheMaxFileSize", "65536"}, {"FileCacheValid", "1"},
    {"RequestReadTimeout", "header=20-40,MinRate=500 body=20,MinRate=500"},
    {"SetHandler", "none (the static-file handler)"}, {"AddHandler", "none"},
    {"SetEnv", "none"}, {"UnsetEnv", "none"}, {"Options", "FollowSymLinks"},
    {"Require", "none (all granted)"}, {"Header", "none"}, {"ErrorDocument", "none"},
    {"AllowOverride", "None"}, {"HostnameLookups", "Off"}, {"Define", "none"},
    {"Include", "none"},
    {"IncludeOptional", "none"},
    {"Alias", "none"}, {"Redirect", "none"}, {"RedirectMatch", "none"},
    {"ProxyPass", "none"}, {"ProxyPassReverse", "none"}, {"ProxyPreserveHost", "Off"},
    {"ProxyAddHeaders", "On"}, {"ProxyTimeout", "Timeout"}, {"ProxyTrustForwardedFrom", "none"},
    {"ProxyRequests", "Off"}, {"ProxyFCGIBackendType", "FPM"}, {"ScriptAlias", "none"},
    {"CGIScriptTimeout", "Timeout"},
    {"AuthType", "none"}, {"AuthName", "none"}, {"AuthBasicProvider", "file"},
    {"AuthUserFile", "none"}, {"AuthGroupFile", "none"},
    {"SSLEngine", "off"}, {"SSLCertificateFile", "none"},
    {"SSLCertificateKeyFile", "in the certificate file"},
    {"SSLProtocol", "TLSv1.2 TLSv1.3"}, {"SSLCipherSuite", "Mozilla intermediate"},
    {"SSLHonorCipherOrder", "on"}, {"SSLSessionTickets", "on"},
    {"SSLSessionTicketKeyLifetime", "43200"}, {"SSLOpenSSLConfCmd", "none"},
    {"SSLSessionCacheTimeout", "300"}, {"SSLSessionCache", "none"}, {"SSLRandomSeed", "none"},
    {"SSLPassPhraseDialog", "builtin"}, {"SSLOptions", "none"},
    {"AddOutputFilterByType", "none"}, {"SetOutputFilter", "none"}, {"Compress", "Off"},
    {"CompressMinSize", "256"}, {"CompressStatic", "Off"}, {"DeflateCompressionLevel", "6"},
    {"DeflateMemLevel", "8"}, {"DeflateWindowSize", "15"}, {"DeflateAlterETag", "AddSuffix"},
    {"BrotliCompressionQuality", "5"}, {"BrotliCompressionWindow", "18"},
    {"BrotliAlterETag", "AddSuffix"},
    {"IndexOptions", "none (a plain list)"}, {"IndexIgnore", "none (only . and ..)"},
    {"IndexIgnoreReset", "Off"}, {"IndexOrderDefault", "Ascending Name"},
    {"<VirtualHost>", "-"}, {"<Directory>", "-"}, {"<DirectoryMatch>", "-"}, {"<Files>", "-"},
    {"<FilesMatch>", "-"}, {"<Location>", "-"}, {"<LocationMatch>", "-"},
    {"<IfModule>", "-"}, {"<IfDefine>", "-"}, {"<RequireAny>", "-"}, {"<RequireAll>", "-"},
};
#define N_PRINTED ((int)(sizeof printed_defaults / sizeof printed_defaults[0]))

START_TEST(test_print_defaults)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    config_print_defaults(out);
    ck_assert_int_eq(fclose(out), 0);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    ck_assert_int_eq(lines, 1 + N_PRINTED);
    ck_assert_msg(strncmp(buf, "# Directive", 11) == 0, "header: %.40s", buf);
    for (int i = 0; i < N_PRINTED; i++) {
        char start[64];
        snprintf(start, sizeof start, "\n%s ", printed_defaults[i][0]);
        const char *line = strstr(buf, start);
        ck_assert_msg(line != NULL, "%s missing", printed_defaults[i][0]);
        line += strlen(start);
        line += strspn(line, " ");
        ck_assert_msg(strncmp(line, printed_defaults[i][1], strlen(printed_defaults[i][1])) == 0,
                      "%s: default '%s' expected, line: %.60s", printed_defaults[i][0],
                      printed_defaults[i][1], line);
        const char *help = line + strlen(printed_defaults[i][1]);
        ck_assert_msg(*help == ' ' && help[strspn(help, " ")] != '\n', "%s: no help",
                      printed_defaults[i][0]);
    }
    free(buf);
}
END_TEST

START_TEST(test_reference_md)
{
    char tmp[] = "/tmp/mpmd-directives-XXXXXX.md";
    int fd = mkstemps(tmp, 3);
    ck_assert_msg(fd != -1, "mkstemps: %s", strerror(errno));
    FILE *out = fdopen(fd, "w");
    ck_assert_ptr_nonnull(out);
    config_print_reference_md(out);
    ck_assert_int_eq(fclose(out), 0);
    size_t len;
    char *generated = read_all(tmp, &len);
    ck_assert_ptr_nonnull(generated);
    for (int i = 0; i < N_PRINTED; i++) {
        char heading[64];
        snprintf(heading, sizeof heading, "\n## %s\n", printed_defaults[i][0]);
        ck_assert_msg(strstr(generated, heading) != NULL, "no section for %s",
                      printed_defaults[i][0]);
    }
    const char *srcdir = getenv("MPMD_SRCDIR");
    if (srcdir != NULL) {
        char committed_path[PATH_MAX];
        size_t clen;
        snprintf(committed_path, sizeof committed_path, "%s/docs/directives.md", srcdir);
        char *committed = read_all(committed_path, &clen);
        ck_assert_msg(committed != NULL, "%s: %s", committed_path, strerror(errno));
        int same = clen == len && memcmp(committed, generated, len) == 0;
        free(committed);
        ck_assert_msg(same, "%s is out of date with the directive table in src/core/config.c; "
                      "the generated version is in %s: copy it there", committed_path, tmp);
    }
    free(generated);
    unlink(tmp);
}
END_TEST

/* Every reference entry (core, modules, sections) says what it takes and
 * what it does: a directive without them would be missing from
 * docs/directives.md and mpmd.conf(5) in all but name. */
START_TEST(test_every_directive_documented)
{
    struct config_doc doc;
    char buf[512];
    int n = 0, sections = 0;
    for (int i = 0; config_doc_entry(i, &doc, buf, sizeof buf) == 0; i++, n++) {
        ck_assert_msg(doc.name != NULL && doc.name[0] != '\0', "entry %d has no name", i);
        ck_assert_msg(doc.syntax != NULL && doc.syntax[0] != '\0', "%s: no syntax", doc.name);
        ck_assert_msg(doc.help != NULL && doc.help[0] != '\0', "%s: no help text", doc.name);
        size_t h = strlen(doc.help);
        ck_assert_msg(doc.help[h - 1] != '.' || (h > 3 && strcmp(doc.help + h - 3, "...") == 0),
                      "%s: the help sentence ends in '.'; the reference adds it", doc.name);
        ck_assert_msg(doc.ctx != 0, "%s: allowed in no context", doc.name);
        ck_assert_msg(doc.is_section || doc.def != NULL || doc.def_doc != NULL,
                      "%s: no default documented", doc.name);
        sections += doc.is_section;
    }
    ck_assert_int_eq(n, N_PRINTED);   /* what mpmd -V lists, one by one */
    ck_assert_int_gt(sections, 0);
}
END_TEST

/* mpmd.conf(5) from TEMPLATE (text) into a malloc'd string. */
static char *man_page(const char *template, size_t *len)
{
    char *text = NULL;
    FILE *in = fmemopen((void *)template, strlen(template), "r");
    FILE *out = open_memstream(&text, len);
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(config_print_man(out, in), 0);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
    return text;
}

/* The generated page has a .TP entry for every directive and section, and
 * the committed docs/mpmd.conf.5 is what its template generates. */
START_TEST(test_reference_man)
{
    size_t len;
    char *page = man_page(".TH T 5\n.\\\" @CORE@\n.PP\n.\\\" @MODULES@\n.SH S\n"
                          ".\\\" @SECTIONS@\n.SH END\n", &len);
    struct config_doc doc;
    char buf[512], tag[96];
    for (int i = 0; config_doc_entry(i, &doc, buf, sizeof buf) == 0; i++) {
        snprintf(tag, sizeof tag, "\n.TP\n\\fB%.*s\\fR", (int)strlen(doc.name) - doc.is_section,
                 doc.name);
        ck_assert_msg(strstr(page, tag) != NULL, "mpmd.conf(5) has no entry for %s", doc.name);
    }
    ck_assert_ptr_nonnull(strstr(page, ".SS \"Module ssl\"\n"));
    ck_assert_msg(strstr(page, "`") == NULL, "a Markdown backtick left in the page");
    ck_assert_ptr_nonnull(strstr(page, ".SH END\n"));
    free(page);
    const char *srcdir = getenv("MPMD_SRCDIR");
    if (srcdir == NULL)
        return;
    char path[PATH_MAX], committed_path[PATH_MAX];
    size_t tlen, clen;
    snprintf(path, sizeof path, "%s/docs/mpmd.conf.5.in", srcdir);
    snprintf(committed_path, sizeof committed_path, "%s/docs/mpmd.conf.5", srcdir);
    char *template = read_all(path, &tlen);
    ck_assert_msg(template != NULL, "%s: %s", path, strerror(errno));
    page = man_page(template, &len);
    char *committed = read_all(committed_path, &clen);
    ck_assert_msg(committed != NULL, "%s: %s", committed_path, strerror(errno));
    int same = clen == len && memcmp(committed, page, len) == 0;
    free(committed);
    free(template);
    free(page);
    ck_assert_msg(same, "%s is out of date with its template %s or the directive tables; "
                  "run make update-directives", committed_path, path);
}
END_TEST

/* ---- integer directives ------------------------------------------------- */

struct int_case {
    const char *text;      /* after "Listen 80\n" */
    size_t offset;
    int is_long;
    long long expected;
};

#define FIELD(f) offsetof(struct config, f)

static const struct int_case int_good[] = {
    {"StartServers 1", FIELD(start_servers), 0, 1},
    {"StartServers 16", FIELD(start_servers), 0, 16},
    {"ServerLimit 20000", FIELD(server_limit), 0, 20000},
    {"ServerLimit 16", FIELD(server_limit), 0, 16},
    {"ThreadsPerChild 1024\nMaxRequestWorkers 1024", FIELD(threads_per_child), 0, 1024},
    {"ThreadsPerChild 1\nMaxRequestWorkers 16", FIELD(threads_per_child), 0, 1},
    {"MinSpareThreads 1", FIELD(min_spare_threads), 0, 1},
    {"MinSpareThreads 250", FIELD(min_spare_threads), 0, 250},
    {"MaxSpareThreads 75", FIELD(max_spare_threads), 0, 75},
    {"MaxSpareThreads 20480000", FIELD(max_spare_threads), 0, 20480000},
    {"MaxRequestWorkers 25", FIELD(max_request_workers), 0, 25},
    {"ServerLimit 20000\nThreadsPerChild 1024\nMaxRequestWorkers 20480000",
     FIELD(max_request_workers), 0, 20480000},
    {"MaxConnectionsPerChild 0", FIELD(max_connections_per_child), 1, 0},
    {"MaxConnectionsPerChild 2147483647", FIELD(max_connections_per_child), 1, 2147483647},
    {"Timeout 1", FIELD(timeout), 0, 1},
    {"Timeout 86400", FIELD(timeout), 0, 86400},
    {"Timeout 007", FIELD(timeout), 0, 7},
    {"KeepAliveTimeout 1", FIELD(keepalive_timeout), 0, 1},
    {"KeepAliveTimeout 3600", FIELD(keepalive_timeout), 0, 3600},
    {"MaxKeepAliveRequests 0", FIELD(max_keepalive_requests), 0, 0},
    {"MaxKeepAliveRequests 1000000", FIELD(max_keepalive_requests), 0, 1000000},
};

START_TEST(test_int_good)
{
    const struct int_case *c = &int_good[_i];
    char text[256];
    snprintf(text, sizeof text, "Listen 80\n%s\n", c->text);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(int_field(cfg, c->offset, c->is_long), c->expected);
    config_free(cfg);
}
END_TEST

struct int_range {
    const char *name;
    long long min, max;
};

static const struct int_range int_ranges[] = {
    {"StartServers", 1, 20000}, {"ServerLimit", 1, 20000}, {"ThreadsPerChild", 1, 1024},
    {"MinSpareThreads", 1, 20480000}, {"MaxSpareThreads", 1, 20480000},
    {"MaxRequestWorkers", 1, 20480000}, {"MaxConnectionsPerChild", 0, 2147483647},
    {"Timeout", 1, 86400}, {"KeepAliveTimeout", 1, 3600}, {"MaxKeepAliveRequests", 0, 1000000},
};

/* min - 1 and max + 1 of every integer directive are refused. */
START_TEST(test_int_out_of_range)
{
    const struct int_range *r = &int_ranges[_i];
    char text[128], expected[256];
    long long bad[2] = {r->min - 1, r->max + 1};
    for (int k = 0; k < 2; k++) {
        snprintf(text, sizeof text, "Listen 80\n%s %lld\n", r->name, bad[k]);
        snprintf(expected, sizeof expected,
                 CONF ":2: %s: expected an integer from %lld to %lld, got '%lld'", r->name,
                 r->min, r->max, bad[k]);
        expect_error(text, expected);
    }
}
END_TEST

START_TEST(test_int_not_a_number)
{
    static const char *const bad[] = {"abc", "12abc", "+5", "1.5", "0x10", "-",
                                      "99999999999999999999999", "\"\"", "\" 5\""};
    static const char *const shown[] = {"abc", "12abc", "+5", "1.5", "0x10", "-",
                                        "99999999999999999999999", "", " 5"};
    char text[128], expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "Listen 80\nThreadsPerChild %s\n", bad[i]);
        snprintf(expected, sizeof expected,
                 CONF ":2: ThreadsPerChild: expected an integer from 1 to 1024, got '%s'",
                 shown[i]);
        expect_error(text, expected);
    }
}
END_TEST

/* ---- other single-value directives -------------------------------------- */

START_TEST(test_bool)
{
    static const char *const words[] = {"On", "off", "ON", "oFf"};
    for (int i = 0; i < 4; i++) {
        char text[64];
        snprintf(text, sizeof text, "Listen 80\nKeepAlive %s\n", words[i]);
        struct config *cfg = parse_ok(text);
        ck_assert_int_eq(cfg->keepalive, i % 2 == 0);
        config_free(cfg);
    }
    expect_error("Listen 80\nKeepAlive yes\n",
                 CONF ":2: KeepAlive: expected On or Off, got 'yes'");
    expect_error("Listen 80\nKeepAlive 1\n", CONF ":2: KeepAlive: expected On or Off, got '1'");
}
END_TEST

START_TEST(test_mpm)
{
    struct config *cfg = parse_ok("Listen 80\nMPM worker\n");
    ck_assert_int_eq(cfg->mpm, MPM_WORKER);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nMPM worker\nmpm EVENT\n");
    ck_assert_int_eq(cfg->mpm, MPM_EVENT);
    config_free(cfg);
    expect_error("Listen 80\nMPM prefork\n",
                 CONF ":2: MPM: expected one of event or worker, got 'prefork'");
}
END_TEST

static const char *const level_words[] = {"emerg", "alert", "crit", "error",
                                          "warn",  "notice", "info", "DEBUG"};

START_TEST(test_loglevel)
{
    char text[64];
    snprintf(text, sizeof text, "Listen 80\nLogLevel %s\n", level_words[_i]);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(cfg->log_level, LOGL_EMERG + _i);
    config_free(cfg);
}
END_TEST

#define LEVELS "one of emerg, alert, crit, error, warn, notice, info or debug"

/* Apache's trace1..trace8 are accepted and mean debug. */
START_TEST(test_loglevel_trace)
{
    static const char *const words[] = {"trace1", "trace3", "TRACE8"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "Listen 80\nLogLevel %s\n", words[i]);
        struct config *cfg = parse_ok(text);
        ck_assert_int_eq(cfg->log_level, LOGL_DEBUG);
        config_free(cfg);
    }
}
END_TEST

/* Per-module levels: MODULE:LEVEL stores LEVEL + 1 for that module (0:
 * the module follows log_level); Apache's module names (cgid, core, ...)
 * map to mpmd's. */
START_TEST(test_loglevel_modules)
{
    struct config *cfg = parse_ok("Listen 80\nLogLevel warn proxy:info cgid:debug trace3\n");
    ck_assert_int_eq(cfg->log_level, LOGL_DEBUG);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nLogLevel warn proxy:info cgid:debug\n");
    ck_assert_int_eq(cfg->log_level, LOGL_WARN);
    for (int m = 0; m < LOG_MODULES; m++) {
        int want = m == LOGM_PROXY ? LOGL_INFO + 1 : m == LOGM_CGI ? LOGL_DEBUG + 1 : 0;
        ck_assert_msg(cfg->log_module_level[m] == want, "module %d: %d, expected %d", m,
                      cfg->log_module_level[m], want);
    }
    config_free(cfg);
    cfg = parse_ok("Listen 80\nLogLevel proxy_fcgi:trace5 STATUS:Error proxy:emerg\n");
    ck_assert_int_eq(cfg->log_level, LOGL_WARN);              /* the default, untouched */
    ck_assert_int_eq(cfg->log_module_level[LOGM_PROXY_FCGI], LOGL_DEBUG + 1);
    ck_assert_int_eq(cfg->log_module_level[LOGM_STATUS], LOGL_ERROR + 1);
    ck_assert_int_eq(cfg->log_module_level[LOGM_PROXY], LOGL_EMERG + 1);  /* emerg is not 0 */
    ck_assert_int_eq(cfg->log_module_level[LOGM_CGI], 0);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nLogLevel proxy_wstunnel:notice log_config:info\n");
    ck_assert_int_eq(cfg->log_module_level[LOGM_PROXY_HTTP], LOGL_NOTICE + 1);
    ck_assert_int_eq(cfg->log_module_level[LOGM_LOG_CONFIG], LOGL_INFO + 1);
    config_free(cfg);
    /* Apache: a bare level resets every module's, so order matters */
    cfg = parse_ok("Listen 80\nLogLevel proxy:debug\nLogLevel warn\n");
    ck_assert_int_eq(cfg->log_module_level[LOGM_PROXY], 0);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nLogLevel proxy:info error\n");
    ck_assert_int_eq(cfg->log_module_level[LOGM_PROXY], 0);
    ck_assert_int_eq(cfg->log_level, LOGL_ERROR);
    config_free(cfg);
    /* core (and Apache's mpm_event) is the server's own messages */
    cfg = parse_ok("Listen 80\nLogLevel warn core:debug\n");
    ck_assert_int_eq(cfg->log_module_level[LOGM_CORE], LOGL_DEBUG + 1);
    ck_assert_int_eq(cfg->log_level, LOGL_WARN);
    struct logger lg;
    log_init_stderr(&lg, cfg->log_level);
    memcpy(lg.mod_level, cfg->log_module_level, sizeof lg.mod_level);
    ck_assert(log_enabled(&lg, LOGM_CORE, LOGL_DEBUG));
    ck_assert(!log_enabled(&lg, LOGM_PROXY, LOGL_INFO));
    config_free(cfg);
}
END_TEST

#define MODULES "static, alias, proxy, proxy_http, proxy_fcgi, cgi, status, log_config"

START_TEST(test_log_directive_arity)
{
    expect_error("Listen 80\nCustomLog a.log common env=!dontlog\n",
                 CONF ":2: CustomLog: conditional logging ('env=!dontlog') is not supported; "
                      "expected PATH FORMAT");
    expect_error("Listen 80\nCustomLog a.log common x y\n",
                 CONF ":2: CustomLog: expected PATH FORMAT, got 4 arguments");
    expect_error("Listen 80\nLogFormat \"%h\" n escape=json junk\n",
                 CONF ":2: LogFormat: expected FORMAT NICKNAME [escape=json], got 4 arguments");
}
END_TEST

START_TEST(test_loglevel_errors)
{
    expect_error("Listen 80\nLogLevel info ssl:warn\n",
                 CONF ":2: LogLevel: no module 'ssl' in mpmd; modules with their own level: "
                      MODULES);
    expect_error("Listen 80\nLogLevel mod_proxy:warn\n",
                 CONF ":2: LogLevel: no module 'mod_proxy' in mpmd; modules with their own "
                      "level: " MODULES);
    expect_error("Listen 80\nLogLevel verbose\n",
                 CONF ":2: LogLevel: unknown level 'verbose'; expected " LEVELS ", or "
                      "MODULE:LEVEL");
    expect_error("Listen 80\nLogLevel warn proxy:verbose\n",
                 CONF ":2: LogLevel: unknown level 'verbose'; expected " LEVELS ", or "
                      "MODULE:LEVEL");
    expect_error("Listen 80\nLogLevel proxy:\n",
                 CONF ":2: LogLevel: unknown level ''; expected " LEVELS ", or MODULE:LEVEL");
    expect_error("Listen 80\nLogLevel trace9\n",
                 CONF ":2: LogLevel: unknown level 'trace9'; expected " LEVELS ", or "
                      "MODULE:LEVEL");
    expect_error("Listen 80\nLogLevel trace0\n",
                 CONF ":2: LogLevel: unknown level 'trace0'; expected " LEVELS ", or "
                      "MODULE:LEVEL");
    expect_error("Listen 80\nLogLevel\n",
                 CONF ":2: LogLevel: expected 1 to 10 arguments, got 0 (usage: LogLevel "
                      "[MODULE:]LEVEL...)");
}
END_TEST

START_TEST(test_server_name)
{
    struct config *cfg = parse_ok("Listen 80\nServerName www.example.com\n");
    ck_assert_str_eq(cfg->server_name, "www.example.com");
    config_free(cfg);
    expect_error("Listen 80\nServerName \"\"\n",
                 CONF ":2: ServerName: expected a non-empty name, got ''");
}
END_TEST

/* ---- paths -------------------------------------------------------------- */

START_TEST(test_document_root)
{
    static const char *const given[] = {"www", "./www/", "\"my docs\"", "www//.//", NULL};
    static const char *const want[] = {"www", "www", "my docs", "www"};
    char text[256], path[128];
    for (int i = 0; given[i] != NULL; i++) {
        snprintf(text, sizeof text, "Listen 80\nDocumentRoot %s\n", given[i]);
        struct config *cfg = parse_ok(text);
        sandbox_path(path, sizeof path, want[i]);
        ck_assert_str_eq(cfg->document_root, path);
        config_free(cfg);
    }
    snprintf(text, sizeof text, "Listen 80\nDocumentRoot %s/www/\n", sandbox);
    struct config *cfg = parse_ok(text);
    sandbox_path(path, sizeof path, "www");
    ck_assert_str_eq(cfg->document_root, path);
    config_free(cfg);
}
END_TEST

START_TEST(test_document_root_errors)
{
    char expected[512], root[128];
    snprintf(expected, sizeof expected,
             CONF ":3: DocumentRoot: cannot use '%s/nowhere': No such file or directory; "
                  "expected an existing directory", sandbox);
    expect_error("Listen 80\n\nDocumentRoot nowhere\n", expected);
    snprintf(expected, sizeof expected,
             CONF ":2: DocumentRoot: '%s/afile' is not a directory; expected an existing "
                  "directory", sandbox);
    expect_error("Listen 80\nDocumentRoot afile\n", expected);
    expect_error("Listen 80\nDocumentRoot \"\"\n",
                 CONF ":2: DocumentRoot: expected an existing directory, got ''");
    /* The default, htdocs, missing under another ServerRoot. */
    sandbox_path(root, sizeof root, "www");
    char err[512] = "";
    struct config *cfg = config_parse_text(CONF, "Listen 80\n", root, err, sizeof err);
    ck_assert_ptr_null(cfg);
    snprintf(expected, sizeof expected,
             CONF ": DocumentRoot: cannot use '%s/htdocs' (default): No such file or directory; "
                  "expected an existing directory", root);
    ck_assert_str_eq(err, expected);
}
END_TEST

START_TEST(test_server_root)
{
    char text[256], err[512] = "", path[128];
    /* The directive, later in the file than the path it anchors. */
    snprintf(text, sizeof text, "Listen 80\nDocumentRoot www\nServerRoot %s///\n", sandbox);
    struct config *cfg = config_parse_text(CONF, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->server_root, sandbox);
    sandbox_path(path, sizeof path, "www");
    ck_assert_str_eq(cfg->document_root, path);
    config_free(cfg);
    /* The argument (mpmd -d) overrides the directive. */
    cfg = parse_ok("Listen 80\nServerRoot /nonexistent/elsewhere\n");
    ck_assert_str_eq(cfg->server_root, sandbox);
    config_free(cfg);
    /* "/" stays "/". */
    snprintf(text, sizeof text, "Listen 80\nServerRoot /\nDocumentRoot %s\n", sandbox + 1);
    cfg = config_parse_text(CONF, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->server_root, "/");
    ck_assert_str_eq(cfg->document_root, sandbox);
    config_free(cfg);
}
END_TEST

START_TEST(test_server_root_relative)
{
    char cwd[PATH_MAX], text[256], err[512] = "", expected[PATH_MAX + 32];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    snprintf(text, sizeof text, "Listen 80\nDocumentRoot %s/htdocs\n", sandbox);
    struct config *cfg = config_parse_text(CONF, text, "./some/dir/", err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    snprintf(expected, sizeof expected, "%s/some/dir", strcmp(cwd, "/") ? cwd : "");
    ck_assert_str_eq(cfg->server_root, expected);
    config_free(cfg);
    snprintf(text, sizeof text, "Listen 80\nServerRoot rel\nDocumentRoot %s/htdocs\n", sandbox);
    cfg = config_parse_text(CONF, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    snprintf(expected, sizeof expected, "%s/rel", strcmp(cwd, "/") ? cwd : "");
    ck_assert_str_eq(cfg->server_root, expected);
    config_free(cfg);
}
END_TEST

START_TEST(test_server_root_errors)
{
    char err[512] = "";
    struct config *cfg = config_parse_text(CONF, "Listen 80\n", "", err, sizeof err);
    ck_assert_ptr_null(cfg);
    ck_assert_str_eq(err, CONF ": ServerRoot: expected a path, got '' (from the command line)");
    expect_error("Listen 80\nServerRoot \"\"\n", CONF ":2: ServerRoot: expected a path, got ''");
    expect_error("Listen 80\nServerRoot a b\n",
                 CONF ":2: ServerRoot: expected 1 argument, got 2 (usage: ServerRoot DIRECTORY)");
}
END_TEST

START_TEST(test_error_log)
{
    static const char *const given[] = {"stderr", "STDERR", "logs/error.log", "./stderr",
                                        "/var/log/mpmd/error.log", NULL};
    char want[5][128];
    snprintf(want[0], sizeof want[0], "stderr");
    snprintf(want[1], sizeof want[1], "stderr");
    sandbox_path(want[2], sizeof want[2], "logs/error.log");
    sandbox_path(want[3], sizeof want[3], "stderr");
    snprintf(want[4], sizeof want[4], "/var/log/mpmd/error.log");
    for (int i = 0; given[i] != NULL; i++) {
        char text[128];
        snprintf(text, sizeof text, "Listen 80\nErrorLog %s\n", given[i]);
        struct config *cfg = parse_ok(text);
        ck_assert_str_eq(cfg->error_log, want[i]);
        config_free(cfg);
    }
    expect_error("Listen 80\nErrorLog \"\"\n",
                 CONF ":2: ErrorLog: expected a path or the word stderr, got ''");
}
END_TEST

START_TEST(test_access_log)
{
    char path[128];
    struct config *cfg = parse_ok("Listen 80\nAccessLog logs/access.log\n");
    sandbox_path(path, sizeof path, "logs/access.log");
    ck_assert_str_eq(cfg->access_log, path);
    ck_assert_int_eq(cfg->access_format, ACCESS_COMBINED);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nAccessLog /var/log/a.log common\n");
    ck_assert_str_eq(cfg->access_log, "/var/log/a.log");
    ck_assert_int_eq(cfg->access_format, ACCESS_COMMON);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nAccessLog a.log COMBINED\n");
    ck_assert_int_eq(cfg->access_format, ACCESS_COMBINED);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nAccessLog a.log common\nAccessLog Off\n");
    ck_assert_ptr_null(cfg->access_log);
    ck_assert_int_eq(cfg->access_format, ACCESS_OFF);
    config_free(cfg);
}
END_TEST

START_TEST(test_access_log_errors)
{
    expect_error("Listen 80\nAccessLog off common\n",
                 CONF ":2: AccessLog: 'off' takes no format, got 'common'; expected 'off' or "
                      "PATH [common|combined]");
    expect_error("Listen 80\nAccessLog a.log xml\n",
                 CONF ":2: AccessLog: unknown format 'xml'; expected common or combined "
                 "(LogFormat strings are not supported)");
    expect_error("Listen 80\nAccessLog a.log off\n",
                 CONF ":2: AccessLog: unknown format 'off'; expected common or combined "
                 "(LogFormat strings are not supported)");
    expect_error("Listen 80\nAccessLog \"\"\n",
                 CONF ":2: AccessLog: expected off, or a path and an optional format: common "
                      "or combined, got ''");
    expect_error("Listen 80\nAccessLog\n",
                 CONF ":2: AccessLog: expected 1 or 2 arguments, got 0 (usage: AccessLog "
                      "off|PATH [common|combined])");
    expect_error("Listen 80\nAccessLog a b c\n",
                 CONF ":2: AccessLog: expected 1 or 2 arguments, got 3 (usage: AccessLog "
                      "off|PATH [common|combined])");
}
END_TEST

START_TEST(test_pid_file)
{
    char path[128];
    struct config *cfg = parse_ok("Listen 80\nPidFile run/mpmd.pid\n");
    sandbox_path(path, sizeof path, "run/mpmd.pid");
    ck_assert_str_eq(cfg->pid_file, path);
    config_free(cfg);
    cfg = parse_ok("Listen 80\nPidFile /run/mpmd.pid\n");
    ck_assert_str_eq(cfg->pid_file, "/run/mpmd.pid");
    config_free(cfg);
    expect_error("Listen 80\nPidFile \"\"\n", CONF ":2: PidFile: expected a path, got ''");
}
END_TEST

/* TypesConfig: relative to ServerRoot; set in the file it must be
 * readable (the default may be missing: the built-in table serves). */
START_TEST(test_types_config)
{
    char path[128], want[512];
    struct config *cfg = parse_ok("Listen 80\nTypesConfig afile\n");
    sandbox_path(path, sizeof path, "afile");
    ck_assert_str_eq(cfg->types_config, path);
    config_free(cfg);
    cfg = parse_ok("Listen 80\n");
    ck_assert_str_eq(cfg->types_config, "/etc/mime.types");
    config_free(cfg);
    sandbox_path(path, sizeof path, "no-such.types");
    snprintf(want, sizeof want, CONF ":3: TypesConfig: cannot read '%s': No such file or "
             "directory", path);
    expect_error("Listen 80\n\nTypesConfig no-such.types\n", want);
}
END_TEST

START_TEST(test_user_group)
{
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());
    ck_assert_ptr_nonnull(pw);
    ck_assert_ptr_nonnull(gr);
    char user[64], group[64], text[256];
    snprintf(user, sizeof user, "%s", pw->pw_name);
    snprintf(group, sizeof group, "%s", gr->gr_name);
    snprintf(text, sizeof text, "Listen 80\nUser %s\nGroup %s\n", user, group);
    struct config *cfg = parse_ok(text);
    ck_assert_str_eq(cfg->user, user);
    ck_assert_str_eq(cfg->group, group);
    config_free(cfg);
    expect_error("Listen 80\nUser mpmd-no-such-user\n",
                 CONF ":2: User: unknown user 'mpmd-no-such-user'; expected the name of an "
                      "existing user");
    expect_error("Listen 80\n\nGroup mpmd-no-such-group\n",
                 CONF ":3: Group: unknown group 'mpmd-no-such-group'; expected the name of an "
                      "existing group");
    expect_error("Listen 80\nUser \"\"\n",
                 CONF ":2: User: unknown user ''; expected the name of an existing user");
}
END_TEST

/* ---- DirectoryIndex ----------------------------------------------------- */

START_TEST(test_directory_index)
{
    struct config *cfg = parse_ok("Listen 80\nDirectoryIndex index.htm \"my index.html\"\n");
    ck_assert_int_eq(cfg->n_directory_index, 2);
    ck_assert_str_eq(cfg->directory_index[0], "index.htm");
    ck_assert_str_eq(cfg->directory_index[1], "my index.html");
    config_free(cfg);
    /* Like Apache: later directives add to the list. */
    cfg = parse_ok("Listen 80\nDirectoryIndex a.html\nDirectoryIndex b.html c.html\n");
    ck_assert_int_eq(cfg->n_directory_index, 3);
    ck_assert_str_eq(cfg->directory_index[0], "a.html");
    ck_assert_str_eq(cfg->directory_index[2], "c.html");
    config_free(cfg);
    cfg = parse_ok("Listen 80\nDirectoryIndex 1 2 3 4 5 6 7 8\n");
    ck_assert_int_eq(cfg->n_directory_index, CONFIG_MAX_INDEX);
    ck_assert_str_eq(cfg->directory_index[7], "8");
    config_free(cfg);
}
END_TEST

START_TEST(test_directory_index_errors)
{
    static const char *const bad[][2] = {
        {"a/b.html", "a/b.html"}, {"..", ".."}, {".", "."}, {"\"\"", ""},
        {"/index.html", "/index.html"}};
    char text[128], expected[256];
    for (int i = 0; i < 5; i++) {
        snprintf(text, sizeof text, "Listen 80\nDirectoryIndex ok.html %s\n", bad[i][0]);
        snprintf(expected, sizeof expected,
                 CONF ":2: DirectoryIndex: expected 1 to 8 file names (not '.', '..', nor "
                      "containing '/'), got '%s'", bad[i][1]);
        expect_error(text, expected);
    }
    expect_error("Listen 80\nDirectoryIndex 1 2 3 4 5 6 7 8 9\n",
                 CONF ":2: DirectoryIndex: expected 1 to 8 arguments, got 9 (usage: "
                      "DirectoryIndex NAME...)");
    expect_error("Listen 80\nDirectoryIndex\n",
                 CONF ":2: DirectoryIndex: expected 1 to 8 arguments, got 0 (usage: "
                      "DirectoryIndex NAME...)");
    expect_error("Listen 80\nDirectoryIndex 1 2 3 4 5\nDirectoryIndex 6 7 8 9\n",
                 CONF ":3: DirectoryIndex: at most 8 names in all, got 9");
}
END_TEST

/* ---- Listen ------------------------------------------------------------- */

struct listen_case {
    const char *args;
    const char *text;
    int family;
    int port;
    const char *name;
};

static const struct listen_case listen_good[] = {
    {"80", "[::]:80", AF_INET6, 80, ""},
    {"127.0.0.1:8080", "127.0.0.1:8080", AF_INET, 8080, ""},
    {"[::1]:8080", "[::1]:8080", AF_INET6, 8080, ""},
    {"0.0.0.0:80", "0.0.0.0:80", AF_INET, 80, ""},
    {"[::]:443", "[::]:443", AF_INET6, 443, ""},
    {"[2001:DB8:0:0::1]:65535", "[2001:db8::1]:65535", AF_INET6, 65535, ""},
    {"192.0.2.1:1 web", "192.0.2.1:1", AF_INET, 1, "web"},
    {"8080 http-alt_1.x", "[::]:8080", AF_INET6, 8080, "http-alt_1.x"},
    {"\"[::1]:0080\" \"a\"", "[::1]:80", AF_INET6, 80, "a"},
};

START_TEST(test_listen_good)
{
    const struct listen_case *c = &listen_good[_i];
    char text[128];
    snprintf(text, sizeof text, "\nListen %s\n", c->args);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(cfg->n_listen, 1);
    const struct listen_spec *ls = &cfg->listen[0];
    ck_assert_str_eq(ls->text, c->text);
    ck_assert_str_eq(ls->name, c->name);
    ck_assert_int_eq(ls->line, 2);
    ck_assert_int_eq(ls->addr.ss_family, c->family);
    if (c->family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&ls->addr;
        ck_assert_uint_eq(ls->addrlen, sizeof *sin);
        ck_assert_int_eq(ntohs(sin->sin_port), c->port);
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ls->addr;
        ck_assert_uint_eq(ls->addrlen, sizeof *sin6);
        ck_assert_int_eq(ntohs(sin6->sin6_port), c->port);
    }
    config_free(cfg);
}
END_TEST

START_TEST(test_listen_any_and_many)
{
    struct config *cfg = parse_ok("Listen 80\nListen 127.0.0.1:80\nListen [::1]:8080 alt\n");
    ck_assert_int_eq(cfg->n_listen, 3);
    const struct sockaddr_in6 *any = (const struct sockaddr_in6 *)&cfg->listen[0].addr;
    ck_assert_int_eq(any->sin6_family, AF_INET6);
    ck_assert(memcmp(&any->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0);
    const struct sockaddr_in *lo = (const struct sockaddr_in *)&cfg->listen[1].addr;
    ck_assert_uint_eq(ntohl(lo->sin_addr.s_addr), INADDR_LOOPBACK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cfg->listen[i].line, i + 1);
    ck_assert_str_eq(cfg->listen[2].name, "alt");
    config_free(cfg);
}
END_TEST

/* The word "proxy" after the protocol word, before the NAME. */
START_TEST(test_listen_proxy_word)
{
    struct config *cfg = parse_ok("Listen 80 http proxy web\nListen 81 PROXY\nListen 82\n"
                                  "Listen 83 https proxy https\nListen 84 http http\n");
    ck_assert_int_eq(cfg->n_listen, 5);
    ck_assert_int_eq(cfg->listen[3].proxy, 1);
    ck_assert_str_eq(cfg->listen[3].name, "https");
    ck_assert_int_eq(cfg->listen[4].proxy, 0);
    ck_assert_str_eq(cfg->listen[4].name, "http");
    ck_assert_int_eq(cfg->listen[0].proxy, 1);
    ck_assert_int_eq(cfg->listen[0].proto, LISTEN_PROTO_HTTP);
    ck_assert_str_eq(cfg->listen[0].name, "web");
    ck_assert_int_eq(cfg->listen[1].proxy, 1);
    ck_assert_str_eq(cfg->listen[1].name, "");
    ck_assert_int_eq(cfg->listen[2].proxy, 0);
    config_free(cfg);
}
END_TEST

#define FORMS "expected PORT, IPV4:PORT or [IPV6]:PORT"

static const char *const listen_bad[][2] = {
    {"\"\"", CONF ":1: Listen: " FORMS ", got ''"},
    {"80x", CONF ":1: Listen: " FORMS ", got '80x'"},
    {"1.2.3.4", CONF ":1: Listen: " FORMS ", got '1.2.3.4'"},
    {"[::1]", CONF ":1: Listen: missing ']:PORT' after the IPv6 address; " FORMS ", got '[::1]'"},
    {"[::1", CONF ":1: Listen: missing ']:PORT' after the IPv6 address; " FORMS ", got '[::1'"},
    {"[::1]80", CONF ":1: Listen: missing ']:PORT' after the IPv6 address; " FORMS
                ", got '[::1]80'"},
    {"host.example:80", CONF ":1: Listen: 'host.example' is not a numeric IPv4 address (host "
                        "names are not looked up); " FORMS ", got 'host.example:80'"},
    {"[localhost]:80", CONF ":1: Listen: 'localhost' is not a numeric IPv6 address (host "
                       "names are not looked up); " FORMS ", got '[localhost]:80'"},
    {"[1.2.3.4]:80", CONF ":1: Listen: '1.2.3.4' is not a numeric IPv6 address (host names "
                     "are not looked up); " FORMS ", got '[1.2.3.4]:80'"},
    {"0", CONF ":1: Listen: expected a port from 1 to 65535, got '0'"},
    {"70000", CONF ":1: Listen: expected a port from 1 to 65535, got '70000'"},
    {"127.0.0.1:0", CONF ":1: Listen: expected a port from 1 to 65535, got '0'"},
    {"[::1]:65536", CONF ":1: Listen: expected a port from 1 to 65535, got '65536'"},
    {"127.0.0.1:http", CONF ":1: Listen: expected a numeric port from 1 to 65535 after ':', "
                       "got 'http' in '127.0.0.1:http'"},
    {"127.0.0.1:", CONF ":1: Listen: expected a numeric port from 1 to 65535 after ':', got '' "
                   "in '127.0.0.1:'"},
    {"-80", CONF ":1: Listen: " FORMS ", got '-80'"},
    {":80", CONF ":1: Listen: missing address before ':'; " FORMS ", got ':80'"},
    {"::1:80", CONF ":1: Listen: IPv6 addresses must be in brackets, e.g. '[::1]:8080', got "
               "'::1:80'"},
    {"80 a:b", CONF ":1: Listen: expected a NAME of 1 to 31 letters, digits, '.', '_' or '-', "
               "got 'a:b'"},
    {"80 \"\"", CONF ":1: Listen: expected a NAME of 1 to 31 letters, digits, '.', '_' or '-', "
                "got ''"},
    {"80 abcdefghijabcdefghijabcdefghij12", CONF ":1: Listen: expected a NAME of 1 to 31 "
     "letters, digits, '.', '_' or '-', got 'abcdefghijabcdefghijabcdefghij12'"},
    {"", CONF ":1: Listen: expected 1 to 4 arguments, got 0 (usage: Listen "
         "PORT|IPV4:PORT|[IPV6]:PORT [http|https] [proxy] [NAME])"},
    {"80 proxy https", CONF ":1: Listen: 'https' is a word of Listen, not a NAME here; "
                       "the words go in the order [http|https] [proxy]"},
    {"80 proxy http", CONF ":1: Listen: 'http' is a word of Listen, not a NAME here; "
                      "the words go in the order [http|https] [proxy]"},
    {"80 a b", CONF ":1: Listen: expected ADDRESS [http|https] [proxy] [NAME], got 'b' after 'a'"},
    {"80 https a b", CONF ":1: Listen: expected ADDRESS [http|https] [proxy] [NAME], got 'b' after 'a'"},
};

START_TEST(test_listen_bad)
{
    char text[128];
    snprintf(text, sizeof text, "Listen %s\n", listen_bad[_i][0]);
    expect_error(text, listen_bad[_i][1]);
}
END_TEST

START_TEST(test_listen_duplicate)
{
    expect_error("Listen 127.0.0.1:8080\nListen 8080\nListen 127.0.0.1:8080\n",
                 CONF ":3: Listen: duplicate address 127.0.0.1:8080 (already at line 1)");
    expect_error("Listen 80\n\nListen [::]:80 other\n",
                 CONF ":3: Listen: duplicate address [::]:80 (already at line 1)");
    expect_error("Listen [::1]:80\nListen [0:0::1]:80\n",
                 CONF ":2: Listen: duplicate address [::1]:80 (already at line 1)");
}
END_TEST

START_TEST(test_listen_limits)
{
    char text[CONFIG_MAX_LISTEN * 16 + 32];
    size_t n = 0;
    for (int i = 0; i < CONFIG_MAX_LISTEN; i++)
        n += snprintf(text + n, sizeof text - n, "Listen %d\n", 8000 + i);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(cfg->n_listen, CONFIG_MAX_LISTEN);
    ck_assert_str_eq(cfg->listen[CONFIG_MAX_LISTEN - 1].text, "[::]:8031");
    config_free(cfg);
    snprintf(text + n, sizeof text - n, "Listen 9999\n");
    expect_error(text, CONF ":33: Listen: too many Listen directives (at most 32)");
    expect_error("", CONF ": Listen: no Listen directive; add one, e.g. 'Listen 8080'");
    expect_error("# nothing\nTimeout 5\n",
                 CONF ": Listen: no Listen directive; add one, e.g. 'Listen 8080'");
}
END_TEST

/* ---- syntax ------------------------------------------------------------- */

START_TEST(test_unknown_directive)
{
    expect_error("Listen 80\n\nFrobnicate on\n", CONF ":3: Frobnicate: unknown directive");
    expect_error("Listen 80\n<Proxy *>\n",
                 CONF ":2: <Proxy>: unknown section (mpmd knows <VirtualHost>, <Directory>, <DirectoryMatch>, "
                 "<Files>, <FilesMatch>, <Location>, <LocationMatch>, <RequireAny>, "
                 "<RequireAll>, <IfModule>, <IfDefine>)");
    expect_error("Listen 80\n\"\"\n", CONF ":2: unknown directive ''");
}
END_TEST

START_TEST(test_arity_single)
{
    expect_error("Listen 80\nTimeout\n",
                 CONF ":2: Timeout: expected 1 argument, got 0 (usage: Timeout SECONDS)");
    expect_error("Listen 80\nTimeout 1 2\n",
                 CONF ":2: Timeout: expected 1 argument, got 2 (usage: Timeout SECONDS)");
    expect_error("Listen 80\nKeepAlive On Off\n",
                 CONF ":2: KeepAlive: expected 1 argument, got 2 (usage: KeepAlive On|Off)");
    expect_error("Listen 80\nMPM\n",
                 CONF ":2: MPM: expected 1 argument, got 0 (usage: MPM event|worker)");
    expect_error("Listen 80\nUser a b\n",
                 CONF ":2: User: expected 1 argument, got 2 (usage: User NAME)");
    expect_error("Listen 80\nDocumentRoot www x\n",
                 CONF ":2: DocumentRoot: expected 1 argument, got 2 (usage: DocumentRoot "
                      "DIRECTORY)");
}
END_TEST

START_TEST(test_too_many_words)
{
    char text[512] = "Listen 80\nDirectoryIndex";
    for (int i = 0; i < 64; i++)
        strcat(text, " x");
    expect_error(text, CONF ":2: DirectoryIndex: too many arguments (at most 63 on one line)");
}
END_TEST

START_TEST(test_case_insensitive_names)
{
    struct config *cfg = parse_ok("LISTEN 80\nkeepalive OFF\ntimeOUT 9\nloglevel Info\n");
    ck_assert_int_eq(cfg->keepalive, 0);
    ck_assert_int_eq(cfg->timeout, 9);
    ck_assert_int_eq(cfg->log_level, LOGL_INFO);
    ck_assert_int_eq(cfg->listen[0].line, 1);
    config_free(cfg);
}
END_TEST

START_TEST(test_comments_and_blanks)
{
    struct config *cfg = parse_ok("# a comment\n   \t# indented comment\n#Timeout 1\n\n"
                                  "   \n\t\nListen 80\n  Timeout\t7  \n#Frobnicate\n");
    ck_assert_int_eq(cfg->timeout, 7);
    ck_assert_int_eq(cfg->listen[0].line, 7);
    config_free(cfg);
    /* '#' after a directive is an argument, not a comment (as in Apache). */
    expect_error("Listen 80\nTimeout 5 # seconds\n",
                 CONF ":2: Timeout: expected 1 argument, got 3 (usage: Timeout SECONDS)");
    cfg = parse_ok("Listen 80\nServerName a#b\n");
    ck_assert_str_eq(cfg->server_name, "a#b");
    config_free(cfg);
}
END_TEST

START_TEST(test_continuation_lines)
{
    struct config *cfg = parse_ok("Listen 80\nDirectoryIndex a.html \\\n   b.html \\\n c.html\n"
                                  "Time\\\nout 9\n");
    ck_assert_int_eq(cfg->n_directory_index, 3);
    ck_assert_str_eq(cfg->directory_index[2], "c.html");
    ck_assert_int_eq(cfg->timeout, 9);
    config_free(cfg);
    /* A continued comment is all comment, as in Apache. */
    cfg = parse_ok("Listen 80\n# comment \\\nFrobnicate\nTimeout 8\n");
    ck_assert_int_eq(cfg->timeout, 8);
    config_free(cfg);
    /* Line numbers count physical lines; an error inside a continued
     * directive names its first line. */
    expect_error("Listen 80\nDirectoryIndex a \\\n b \\\n c\nFrobnicate\n",
                 CONF ":5: Frobnicate: unknown directive");
    expect_error("Listen 80\nTimeout \\\n abc\n",
                 CONF ":2: Timeout: expected an integer from 1 to 86400, got 'abc'");
    /* A backslash followed by a blank does not continue the line. */
    expect_error("Listen 80\nTimeout 5 \\ \n 6\n",
                 CONF ":2: Timeout: expected 1 argument, got 2 (usage: Timeout SECONDS)");
    expect_error("Listen 80\nServerName a \\ \nTimeout 6\n",
                 CONF ":2: ServerName: expected 1 argument, got 2 (usage: ServerName NAME)");
}
END_TEST

START_TEST(test_crlf_and_no_final_newline)
{
    struct config *cfg = parse_ok("Listen 80\r\nDirectoryIndex a \\\r\n b\r\nTimeout 4");
    ck_assert_int_eq(cfg->n_directory_index, 2);
    ck_assert_str_eq(cfg->directory_index[1], "b");
    ck_assert_int_eq(cfg->timeout, 4);
    config_free(cfg);
    expect_error("Listen 80\r\nTimeout x\r\n",
                 CONF ":2: Timeout: expected an integer from 1 to 86400, got 'x'");
}
END_TEST

START_TEST(test_quotes)
{
    struct config *cfg = parse_ok("Listen 80\nServerName \"say \\\"hi\\\" now\"\n");
    ck_assert_str_eq(cfg->server_name, "say \"hi\" now");
    config_free(cfg);
    cfg = parse_ok("Listen 80\nServerName \"a\\\\b\\n\"\n"); /* other backslashes stay */
    ck_assert_str_eq(cfg->server_name, "a\\\\b\\n");
    config_free(cfg);
    cfg = parse_ok("Listen 80\nServerName a\"b\"\n"); /* a quote inside a word is a character */
    ck_assert_str_eq(cfg->server_name, "a\"b\"");
    config_free(cfg);
    cfg = parse_ok("Listen 80\n\"Timeout\"\t\"12\"\n");
    ck_assert_int_eq(cfg->timeout, 12);
    config_free(cfg);
    expect_error("Listen 80\nServerName \"abc\n",
                 CONF ":2: ServerName: argument 1 has no closing '\"'");
    expect_error("Listen 80\nServerName \"abc\\\"\n",
                 CONF ":2: ServerName: argument 1 has no closing '\"'");
    expect_error("Listen 80\n\"Timeout\n", CONF ":2: the directive name has no closing '\"'");
    expect_error("Listen 80\nServerName \"a\"b\n",
                 CONF ":2: ServerName: argument 1: expected a blank after the closing '\"'");
}
END_TEST

START_TEST(test_last_setting_wins)
{
    struct config *cfg = parse_ok("Listen 80\nTimeout 10\nServerName a\nTimeout 20\n"
                                  "ServerName b\nErrorLog x.log\nErrorLog stderr\n"
                                  "User root\nUser root\n");
    ck_assert_int_eq(cfg->timeout, 20);
    ck_assert_str_eq(cfg->server_name, "b");
    ck_assert_str_eq(cfg->error_log, "stderr");
    config_free(cfg);
}
END_TEST

/* ---- cross-directive checks --------------------------------------------- */

START_TEST(test_cross_workers_capacity)
{
    expect_error("Listen 80\nServerLimit 2\nMaxRequestWorkers 100\n",
                 CONF ":3: MaxRequestWorkers: MaxRequestWorkers 100 is more than ServerLimit 2 "
                      "x ThreadsPerChild 25 = 50; raise ServerLimit or ThreadsPerChild, or "
                      "lower MaxRequestWorkers");
    expect_error("Listen 80\nMaxRequestWorkers 100\nServerLimit 2\n",
                 CONF ":3: ServerLimit: MaxRequestWorkers 100 is more than ServerLimit 2 x "
                      "ThreadsPerChild 25 = 50; raise ServerLimit or ThreadsPerChild, or lower "
                      "MaxRequestWorkers");
    expect_error("Listen 80\nThreadsPerChild 10\n",
                 CONF ":2: ThreadsPerChild: MaxRequestWorkers 400 is more than ServerLimit 16 x "
                      "ThreadsPerChild 10 = 160; raise ServerLimit or ThreadsPerChild, or lower "
                      "MaxRequestWorkers");
    struct config *cfg =
        parse_ok("Listen 80\nServerLimit 2\nStartServers 2\nMaxRequestWorkers 50\n");
    ck_assert_int_eq(cfg->max_request_workers, 50);
    config_free(cfg);
}
END_TEST

START_TEST(test_cross_workers_minimum)
{
    expect_error("Listen 80\nThreadsPerChild 50\nMaxRequestWorkers 40\n",
                 CONF ":3: MaxRequestWorkers: MaxRequestWorkers 40 is less than ThreadsPerChild "
                      "50; expected MaxRequestWorkers >= ThreadsPerChild");
    expect_error("Listen 80\nMaxRequestWorkers 40\nThreadsPerChild 50\n",
                 CONF ":3: ThreadsPerChild: MaxRequestWorkers 40 is less than ThreadsPerChild "
                      "50; expected MaxRequestWorkers >= ThreadsPerChild");
    struct config *cfg = parse_ok("Listen 80\nMaxRequestWorkers 25\n");
    ck_assert_int_eq(cfg->max_request_workers, 25);
    config_free(cfg);
}
END_TEST

START_TEST(test_cross_start_servers)
{
    expect_error("Listen 80\nStartServers 17\n",
                 CONF ":2: StartServers: StartServers 17 is more than ServerLimit 16; expected "
                      "StartServers <= ServerLimit");
    expect_error("Listen 80\nStartServers 10\nMaxRequestWorkers 125\nServerLimit 5\n",
                 CONF ":4: ServerLimit: StartServers 10 is more than ServerLimit 5; expected "
                      "StartServers <= ServerLimit");
    struct config *cfg = parse_ok("Listen 80\nStartServers 16\n");
    ck_assert_int_eq(cfg->start_servers, 16);
    config_free(cfg);
}
END_TEST

START_TEST(test_cross_spare_threads)
{
    expect_error("Listen 80\nMinSpareThreads 300\n",
                 CONF ":2: MinSpareThreads: MinSpareThreads 300 is more than MaxSpareThreads "
                      "250; expected MinSpareThreads <= MaxSpareThreads");
    expect_error("Listen 80\nMinSpareThreads 80\n\nMaxSpareThreads 70\n",
                 CONF ":4: MaxSpareThreads: MinSpareThreads 80 is more than MaxSpareThreads "
                      "70; expected MinSpareThreads <= MaxSpareThreads");
    struct config *cfg = parse_ok("Listen 80\nMinSpareThreads 250\n");
    ck_assert_int_eq(cfg->min_spare_threads, 250);
    config_free(cfg);
}
END_TEST

/* ---- config_load -------------------------------------------------------- */

START_TEST(test_load_file)
{
    char path[128], expected[256], err[512] = "";
    sandbox_path(path, sizeof path, "good.conf");
    const char *text = "Listen 127.0.0.1:8080\nTimeout 30\n";
    write_file(path, text, strlen(text));
    struct config *cfg = config_load(path, sandbox, err, sizeof err);
    ck_assert_msg(cfg != NULL, "%s", err);
    ck_assert_str_eq(cfg->file, path);
    ck_assert_int_eq(cfg->timeout, 30);
    ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:8080");
    config_free(cfg);
    sandbox_path(path, sizeof path, "bad.conf");
    text = "Listen 80\n\n  Frobnicate\n";
    write_file(path, text, strlen(text));
    ck_assert_ptr_null(config_load(path, sandbox, err, sizeof err));
    snprintf(expected, sizeof expected, "%s:3: Frobnicate: unknown directive", path);
    ck_assert_str_eq(err, expected);
}
END_TEST

START_TEST(test_load_errors)
{
    char path[128], expected[256], err[512] = "";
    ck_assert_ptr_null(config_load("no/such/file.conf", sandbox, err, sizeof err));
    ck_assert_str_eq(err, "no/such/file.conf: cannot open: No such file or directory");
    ck_assert_ptr_null(config_load(sandbox, sandbox, err, sizeof err));
    snprintf(expected, sizeof expected, "%s: cannot read: Is a directory", sandbox);
    ck_assert_str_eq(err, expected);
    sandbox_path(path, sizeof path, "nul.conf");
    write_file(path, "Listen 80\n\0\n", 12);
    ck_assert_ptr_null(config_load(path, sandbox, err, sizeof err));
    snprintf(expected, sizeof expected, "%s: cannot read: contains a NUL byte; is it a text "
             "file?", path);
    ck_assert_str_eq(err, expected);
}
END_TEST

START_TEST(test_error_buffer)
{
    char err[12];
    memset(err, 'x', sizeof err);
    ck_assert_ptr_null(config_parse_text(CONF, "Frobnicate\n", sandbox, err, sizeof err));
    ck_assert_str_eq(err, "test.conf:1"); /* truncated, terminated */
    ck_assert_ptr_null(config_parse_text(CONF, "Frobnicate\n", sandbox, NULL, 0));
    ck_assert_ptr_null(config_load("no/such/file", sandbox, NULL, 0));
    config_free(NULL);
}
END_TEST

/* ---- access logs: CustomLog and LogFormat -------------------------------- */

/* The line log S writes for a request with status 200 to site SITE (%v),
 * in BUF, without its '\n'. */
static const char *log_line(const struct log_spec *s, const char *site, char *buf, size_t cap)
{
    struct log_request r;
    memset(&r, 0, sizeof r);
    r.status = 200;
    r.server_name = site;
    ck_assert_msg(s->compiled != NULL, "CustomLog %s %s: not compiled", s->target, s->format);
    size_t n = logformat_line(s->compiled, &r, NULL, buf, cap - 1);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    return buf;
}

/* The site of CFG named NAME. */
static const struct config *site_named(const struct config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_vhosts; i++)
        if (strcmp(cfg->vhosts[i].cfg->server_name, name) == 0)
            return cfg->vhosts[i].cfg;
    ck_abort_msg("no site %s", name);
    return NULL;
}

/* A nickname may be defined after the CustomLog that uses it (as in
 * Apache: formats are looked up once the whole file is read). */
START_TEST(test_logformat_defined_later)
{
    char buf[256], path[128];
    struct config *cfg = parse_ok("Listen 80\nServerName example\n"
                                  "CustomLog logs/a.log mine\n"
                                  "LogFormat \"%>s %v\" mine\n");
    ck_assert_int_eq(cfg->n_logs, 1);
    sandbox_path(path, sizeof path, "logs/a.log");
    ck_assert_str_eq(cfg->logs[0].target, path);
    ck_assert_str_eq(cfg->logs[0].format, "mine");
    ck_assert_str_eq(cfg->logs[0].file, CONF);
    ck_assert_int_eq(cfg->logs[0].line, 3);
    ck_assert_int_eq(cfg->n_log_formats, 1);
    ck_assert_str_eq(cfg->log_formats[0].name, "mine");
    ck_assert_str_eq(cfg->log_formats[0].format, "%>s %v");
    ck_assert_int_eq(cfg->log_formats[0].json, 0);
    ck_assert_str_eq(log_line(&cfg->logs[0], "example", buf, sizeof buf), "200 example");
    ck_assert_ptr_null(cfg->access_log);          /* CustomLog is not AccessLog */
    config_free(cfg);
}
END_TEST

/* A later LogFormat of a nickname replaces the earlier one, for every
 * CustomLog using it, wherever it stands; predefined nicknames can be
 * redefined too. */
START_TEST(test_logformat_redefined)
{
    char buf[256];
    struct config *cfg = parse_ok("Listen 80\n"
                                  "LogFormat \"%v first\" mine\n"
                                  "CustomLog a.log mine\n"
                                  "LogFormat \"%v second\" mine escape=json\n"
                                  "LogFormat \"%v third\" mine\n"
                                  "CustomLog b.log mine\n"
                                  "LogFormat \"%>s only\" common\n"
                                  "CustomLog c.log common\n"
                                  "CustomLog d.log combined\n");
    ck_assert_int_eq(cfg->n_log_formats, 2);
    ck_assert_str_eq(cfg->log_formats[0].name, "mine");
    ck_assert_str_eq(cfg->log_formats[0].format, "%v third");
    ck_assert_int_eq(cfg->log_formats[0].json, 0);           /* escape=json replaced too */
    ck_assert_int_eq(cfg->n_logs, 4);
    ck_assert_str_eq(log_line(&cfg->logs[0], "s", buf, sizeof buf), "s third");
    ck_assert_str_eq(log_line(&cfg->logs[1], "s", buf, sizeof buf), "s third");
    ck_assert_str_eq(log_line(&cfg->logs[2], "s", buf, sizeof buf), "200 only");
    ck_assert_msg(strstr(log_line(&cfg->logs[3], "s", buf, sizeof buf), "\" 200 - \"-\" \"-\"")
                  != NULL, "combined: %s", buf);
    config_free(cfg);
}
END_TEST

/* escape=json: values are escaped for JSON strings (\u00XX), where the
 * default escaping writes \xhh; the predefined json nickname is JSON too. */
START_TEST(test_logformat_json)
{
    char buf[1024];
    struct config *cfg = parse_ok("Listen 80\n"
                                  "LogFormat \"{\\\"v\\\":\\\"%v\\\"}\" j escape=json\n"
                                  "LogFormat \"{\\\"v\\\":\\\"%v\\\"}\" a ESCAPE=default\n"
                                  "CustomLog j.log j\nCustomLog a.log a\n"
                                  "CustomLog s.log \"{\\\"v\\\":\\\"%v\\\"}\"\n"
                                  "CustomLog p.log json\n");
    ck_assert_int_eq(cfg->n_log_formats, 2);
    ck_assert_str_eq(cfg->log_formats[0].format, "{\"v\":\"%v\"}");
    ck_assert_int_eq(cfg->log_formats[0].json, 1);
    ck_assert_int_eq(cfg->log_formats[1].json, 0);
    ck_assert_str_eq(log_line(&cfg->logs[0], "a\x01" "b", buf, sizeof buf),
                     "{\"v\":\"a\\u0001b\"}");
    ck_assert_str_eq(log_line(&cfg->logs[1], "a\x01" "b", buf, sizeof buf),
                     "{\"v\":\"a\\x01b\"}");
    ck_assert_str_eq(log_line(&cfg->logs[2], "a\x01" "b", buf, sizeof buf),
                     "{\"v\":\"a\\x01b\"}");      /* a format string: default escaping */
    log_line(&cfg->logs[3], "a\x01" "b", buf, sizeof buf);
    ck_assert_msg(buf[0] == '{' && strstr(buf, "\"server_name\":\"a\\u0001b\"") != NULL &&
                  strstr(buf, "\"status\":200") != NULL, "json: %s", buf);
    config_free(cfg);
}
END_TEST

START_TEST(test_logformat_errors)
{
    /* a bad format is refused at its LogFormat's line, naming the directive */
    expect_error("Listen 80\nServerName x\nLogFormat \"%h %Z\" bad\nCustomLog a.log common\n",
                 CONF ":3: LogFormat: bad: unknown format directive %Z at offset 3");
    expect_error("Listen 80\nLogFormat \"%h %{Referer\" bad\n",
                 CONF ":2: LogFormat: bad: unterminated %{ at offset 3");
    /* ... even when no CustomLog uses it */
    expect_error("Listen 80\nLogFormat \"%Z\" unused\n",
                 CONF ":2: LogFormat: unused: unknown format directive %Z at offset 0");
    expect_error("Listen 80\nLogFormat \"x\"\n",
                 CONF ":2: LogFormat: a format without a nickname sets TransferLog's format in "
                      "Apache, and mpmd has no TransferLog; expected FORMAT NICKNAME");
    expect_error("Listen 80\nLogFormat \"%h\" mine escape=xml\n",
                 CONF ":2: LogFormat: unknown option 'escape=xml'; expected escape=json or "
                      "escape=default");
    expect_error("Listen 80\nLogFormat \"%h\" 50%\n",
                 CONF ":2: LogFormat: expected a nickname (no %) after the format, got '50%'");
    expect_error("Listen 80\nLogFormat \"%h\" \"\"\n",
                 CONF ":2: LogFormat: expected a nickname (no %) after the format, got ''");
    expect_error("Listen 80\nLogFormat\n",
                 CONF ":2: LogFormat: expected 1 to 3 arguments, got 0 (usage: LogFormat FORMAT "
                      "NICKNAME [escape=json])");
    /* a bad format string in a CustomLog: the CustomLog's line, though the
     * formats are compiled once the whole file is read */
    expect_error("Listen 80\nCustomLog a.log common\nCustomLog b.log \"%>s %{x\"\n"
                 "LogFormat \"%h\" later\n",
                 CONF ":3: CustomLog: format '%>s %{x': unterminated %{ at offset 4");
    expect_error("Listen 80\n<VirtualHost *:80>\nServerName v\n\nCustomLog v.log \"%Q\"\n"
                 "</VirtualHost>\n",
                 CONF ":5: CustomLog: format '%Q': unknown format directive %Q at offset 0");
}
END_TEST

START_TEST(test_customlog_errors)
{
    expect_error("Listen 80\nServerName x\nCustomLog a.log nope\nLogFormat \"%h\" nop\n",
                 CONF ":3: CustomLog: no LogFormat nickname 'nope'; define it with LogFormat "
                      "\"...\" nope, or use common, combined, vhost_combined, referer, agent or "
                      "json");
    /* nicknames are case-sensitive, as in Apache */
    expect_error("Listen 80\nCustomLog a.log Common\n",
                 CONF ":2: CustomLog: no LogFormat nickname 'Common'; define it with LogFormat "
                      "\"...\" Common, or use common, combined, vhost_combined, referer, agent or "
                      "json");
    /* a site's nickname is its own: another site does not see it */
    expect_error("Listen 80\n<VirtualHost *:80>\nServerName a\nLogFormat \"%v\" va\n"
                 "CustomLog a.log va\n</VirtualHost>\n<VirtualHost *:80>\nServerName b\n"
                 "CustomLog b.log va\n</VirtualHost>\n",
                 CONF ":9: CustomLog: no LogFormat nickname 'va'; define it with LogFormat "
                      "\"...\" va, or use common, combined, vhost_combined, referer, agent or "
                      "json");
    expect_error("Listen 80\nCustomLog a.log common env=!dontlog\n",
                 CONF ":2: CustomLog: conditional logging ('env=!dontlog') is not supported; "
                      "expected PATH FORMAT");
    expect_error("Listen 80\nCustomLog a.log\n",
                 CONF ":2: CustomLog: expected 2 or 3 arguments, got 1 (usage: CustomLog "
                      "PATH|\"|COMMAND\" FORMAT|NICKNAME)");
    expect_error("Listen 80\nCustomLog \"\" common\n",
                 CONF ":2: CustomLog: expected a file or \"|command\", got ''");
    expect_error("Listen 80\nCustomLog \"|  \" common\n",
                 CONF ":2: CustomLog: expected a file or \"|command\", got '|  '");
    expect_error("Listen 80\nCustomLog a.log \"\"\n",
                 CONF ":2: CustomLog: expected a LogFormat nickname or format string, got ''");

    /* CONFIG_MAX_LOGS per server or site: one more is refused at its line */
    char text[2048] = "Listen 80\n", want[256];
    for (int i = 0; i < CONFIG_MAX_LOGS; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "CustomLog l%d.log common\n",
                 i);
    struct config *cfg = parse_ok(text);
    ck_assert_int_eq(cfg->n_logs, CONFIG_MAX_LOGS);
    config_free(cfg);
    snprintf(text + strlen(text), sizeof text - strlen(text), "CustomLog more.log common\n");
    snprintf(want, sizeof want, CONF ":%d: CustomLog: more than %d logs in one server or "
             "virtual host", CONFIG_MAX_LOGS + 2, CONFIG_MAX_LOGS);
    expect_error(text, want);
}
END_TEST

/* Targets: a file is made absolute from ServerRoot (wherever ServerRoot
 * stands), a piped log "|command" is kept as written; the format as
 * written; logs in file order; AccessLog is a log of its own beside them. */
START_TEST(test_customlog_targets)
{
    char text[512], path[128], err[512] = "";
    snprintf(text, sizeof text,
             "Listen 80\nCustomLog rel/a.log \"%%h %%>s\"\n"
             "CustomLog \"|/usr/bin/rotatelogs logs/x 86400\" combined\n"
             "CustomLog \"||cat > out.log\" common\n"
             "CustomLog /var/log/abs.log json\n"
             "AccessLog acc.log common\n"
             "ServerRoot %s/www\nDocumentRoot %s/htdocs\n", sandbox, sandbox);
    struct config *cfg = config_parse_text(CONF, text, NULL, err, sizeof err);
    ck_assert_msg(cfg != NULL, "refused: %s", err);
    ck_assert_int_eq(cfg->n_logs, 4);
    sandbox_path(path, sizeof path, "www/rel/a.log");
    ck_assert_str_eq(cfg->logs[0].target, path);
    ck_assert_str_eq(cfg->logs[0].format, "%h %>s");
    ck_assert_str_eq(cfg->logs[1].target, "|/usr/bin/rotatelogs logs/x 86400");
    ck_assert_str_eq(cfg->logs[1].format, "combined");
    ck_assert_str_eq(cfg->logs[2].target, "||cat > out.log");
    ck_assert_str_eq(cfg->logs[3].target, "/var/log/abs.log");
    ck_assert_str_eq(cfg->logs[3].format, "json");
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_nonnull(cfg->logs[i].compiled);
        ck_assert_int_eq(cfg->logs[i].line, 2 + i);
    }
    sandbox_path(path, sizeof path, "www/acc.log");
    ck_assert_str_eq(cfg->access_log, path);
    ck_assert_int_eq(cfg->access_format, ACCESS_COMMON);
    config_free(cfg);
}
END_TEST

/* A virtual host writes the main server's access logs (AccessLog and
 * CustomLog alike) only when it sets neither AccessLog nor CustomLog;
 * LogFormat does not count.  Its CustomLogs find nicknames in its own
 * LogFormats first, then the main server's. */
START_TEST(test_customlog_vhosts)
{
    char buf[256], path[128];
    struct config *cfg = parse_ok(
        "Listen 80\nAccessLog main-a.log common\nCustomLog main-c.log mf\n"
        "LogFormat \"%v mainfmt\" mf\n"
        "<VirtualHost *:80>\n ServerName none\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName acc\n AccessLog acc.log\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName cust\n CustomLog cust.log mf\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName off\n AccessLog off\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName own\n LogFormat \"%v ownfmt\" mf\n"
        " CustomLog \"|logger -t own\" mf\n</VirtualHost>\n"
        "<VirtualHost *:80>\n ServerName fmtonly\n LogFormat \"%v x\" other\n</VirtualHost>\n");

    /* sets nothing: both of the main server's */
    const struct config *v = site_named(cfg, "none");
    sandbox_path(path, sizeof path, "main-a.log");
    ck_assert_str_eq(v->access_log, path);
    ck_assert_int_eq(v->access_format, ACCESS_COMMON);
    ck_assert_int_eq(v->n_logs, 1);
    sandbox_path(path, sizeof path, "main-c.log");
    ck_assert_str_eq(v->logs[0].target, path);
    ck_assert_str_eq(log_line(&v->logs[0], "none", buf, sizeof buf), "none mainfmt");

    /* AccessLog only: not the main server's CustomLog */
    v = site_named(cfg, "acc");
    sandbox_path(path, sizeof path, "acc.log");
    ck_assert_str_eq(v->access_log, path);
    ck_assert_int_eq(v->access_format, ACCESS_COMBINED);
    ck_assert_int_eq(v->n_logs, 0);

    /* CustomLog only: not the main server's AccessLog; main's nickname */
    v = site_named(cfg, "cust");
    ck_assert_ptr_null(v->access_log);
    ck_assert_int_eq(v->n_logs, 1);
    sandbox_path(path, sizeof path, "cust.log");
    ck_assert_str_eq(v->logs[0].target, path);
    ck_assert_str_eq(log_line(&v->logs[0], "cust", buf, sizeof buf), "cust mainfmt");

    /* AccessLog off: no log at all */
    v = site_named(cfg, "off");
    ck_assert_ptr_null(v->access_log);
    ck_assert_int_eq(v->access_format, ACCESS_OFF);
    ck_assert_int_eq(v->n_logs, 0);

    /* its own nickname over the main server's; a pipe kept as written */
    v = site_named(cfg, "own");
    ck_assert_ptr_null(v->access_log);
    ck_assert_int_eq(v->n_logs, 1);
    ck_assert_str_eq(v->logs[0].target, "|logger -t own");
    ck_assert_str_eq(log_line(&v->logs[0], "own", buf, sizeof buf), "own ownfmt");

    /* LogFormat alone sets no log: the main server's are written */
    v = site_named(cfg, "fmtonly");
    ck_assert_ptr_nonnull(v->access_log);
    ck_assert_int_eq(v->n_logs, 1);
    ck_assert_str_eq(log_line(&v->logs[0], "fmtonly", buf, sizeof buf), "fmtonly mainfmt");

    /* the main server keeps its own */
    ck_assert_int_eq(cfg->n_logs, 1);
    ck_assert_str_eq(log_line(&cfg->logs[0], "main", buf, sizeof buf), "main mainfmt");
    config_free(cfg);
}
END_TEST

/* A test case in S whose tests share a fresh sandbox. */
static TCase *sandboxed_tcase(Suite *s, const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, sandbox_setup, sandbox_teardown);
    suite_add_tcase(s, tc);
    return tc;
}

Suite *config_suite(void)
{
    Suite *s = suite_create("config");

    TCase *tc = sandboxed_tcase(s, "defaults");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_default_server_root);
    tcase_add_test(tc, test_print_defaults);
    tcase_add_test(tc, test_reference_md);
    tcase_add_test(tc, test_every_directive_documented);
    tcase_add_test(tc, test_reference_man);

    tc = sandboxed_tcase(s, "values");
    tcase_add_loop_test(tc, test_int_good, 0, (int)(sizeof int_good / sizeof int_good[0]));
    tcase_add_loop_test(tc, test_int_out_of_range, 0,
                        (int)(sizeof int_ranges / sizeof int_ranges[0]));
    tcase_add_test(tc, test_int_not_a_number);
    tcase_add_test(tc, test_bool);
    tcase_add_test(tc, test_mpm);
    tcase_add_loop_test(tc, test_loglevel, 0, 8);
    tcase_add_test(tc, test_loglevel_trace);
    tcase_add_test(tc, test_loglevel_modules);
    tcase_add_test(tc, test_loglevel_errors);
    tcase_add_test(tc, test_log_directive_arity);
    tcase_add_test(tc, test_server_name);
    tcase_add_test(tc, test_document_root);
    tcase_add_test(tc, test_document_root_errors);
    tcase_add_test(tc, test_server_root);
    tcase_add_test(tc, test_server_root_relative);
    tcase_add_test(tc, test_server_root_errors);
    tcase_add_test(tc, test_error_log);
    tcase_add_test(tc, test_access_log);
    tcase_add_test(tc, test_access_log_errors);
    tcase_add_test(tc, test_pid_file);
    tcase_add_test(tc, test_types_config);
    tcase_add_test(tc, test_user_group);
    tcase_add_test(tc, test_directory_index);
    tcase_add_test(tc, test_directory_index_errors);

    tc = sandboxed_tcase(s, "listen");
    tcase_add_loop_test(tc, test_listen_good, 0,
                        (int)(sizeof listen_good / sizeof listen_good[0]));
    tcase_add_test(tc, test_listen_any_and_many);
    tcase_add_test(tc, test_listen_proxy_word);
    tcase_add_loop_test(tc, test_listen_bad, 0, (int)(sizeof listen_bad / sizeof listen_bad[0]));
    tcase_add_test(tc, test_listen_duplicate);
    tcase_add_test(tc, test_listen_limits);

    tc = sandboxed_tcase(s, "syntax");
    tcase_add_test(tc, test_unknown_directive);
    tcase_add_test(tc, test_arity_single);
    tcase_add_test(tc, test_too_many_words);
    tcase_add_test(tc, test_case_insensitive_names);
    tcase_add_test(tc, test_comments_and_blanks);
    tcase_add_test(tc, test_continuation_lines);
    tcase_add_test(tc, test_crlf_and_no_final_newline);
    tcase_add_test(tc, test_quotes);
    tcase_add_test(tc, test_last_setting_wins);

    tc = sandboxed_tcase(s, "checks");
    tcase_add_test(tc, test_cross_workers_capacity);
    tcase_add_test(tc, test_cross_workers_minimum);
    tcase_add_test(tc, test_cross_start_servers);
    tcase_add_test(tc, test_cross_spare_threads);

    tc = sandboxed_tcase(s, "logs");
    tcase_add_test(tc, test_logformat_defined_later);
    tcase_add_test(tc, test_logformat_redefined);
    tcase_add_test(tc, test_logformat_json);
    tcase_add_test(tc, test_logformat_errors);
    tcase_add_test(tc, test_customlog_errors);
    tcase_add_test(tc, test_customlog_targets);
    tcase_add_test(tc, test_customlog_vhosts);

    tc = sandboxed_tcase(s, "load");
    tcase_add_test(tc, test_load_file);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_error_buffer);
    return s;
}
