/* config.c: server.conf -- the directive table, the parser, the defaults,
 * path resolution and the cross-directive checks.
 *
 * Runs in the supervisor (start-up and each reload generation) and in
 * `mpmd -t` / `mpmd -V`; children only read the finished struct config.
 * Any thread may load a config: there is no state outside the struct
 * being built, and user/group look-ups use the reentrant _r calls.
 *
 * Configuration is data.  `directives[]` below is the one list of what
 * the file may say: name, argument type, the struct config field written
 * (offsetof), range, default (as config text), syntax and one line of
 * help.  Each type has one generic setter; only Listen and AccessLog,
 * whose arguments are shaped like nothing else, have their own.  The same
 * table applies the defaults, frees the struct, prints `mpmd -V`,
 * writes docs/directives.md and, through config_doc_entry, the directive
 * lists of mpmd.conf(5) (confman.c).
 *
 * Loading happens in four steps: (1) apply every default through the
 * setters, (2) parse the text line by line (the last setting of a
 * directive wins, except Listen and DirectoryIndex, which accumulate;
 * Include and IncludeOptional parse other files in place, their files
 * listed in cfg->files so that every message names the right file),
 * (3) resolve ServerRoot and then the relative paths against it (so
 * ServerRoot may appear anywhere in the file) and check DocumentRoot,
 * (4) check the directives against each other (check_limits). */
#ifdef HAVE_CONFIG_H
#include "config.h"               /* autoconf's (_GNU_SOURCE), not mpmd/config.h */
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "mpmd/core/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpmd/core/conffile.h"
#include "mpmd/core/dirconf.h"
#include "mpmd/core/log.h"
#include "mpmd/core/logformat.h"
#include "mpmd/core/module.h"
#include "mpmd/core/tls.h"
#include "mpmd/core/secindex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#ifndef MPMD_PREFIX
#define MPMD_PREFIX "/usr/local"
#endif

#define MAX_ARGS 64                   /* words on one logical line, name included */
#define MAX_THREADS (20000 * 1024)    /* ServerLimit max x ThreadsPerChild max */

enum dtype {
    T_INT,        /* int field, range min..max */
    T_LONG,       /* long field, range min..max */
    T_BOOL,       /* int field, On/Off */
    T_STRING,     /* char *, non-empty */
    T_ROOT,       /* char *, path relative to the current directory (ServerRoot) */
    T_PATH,       /* char *, path relative to ServerRoot, or one of names[] verbatim */
    T_DIR,        /* char *, like T_PATH, and must be an existing directory */
    T_ENUM,       /* int field, index into names[] */
    T_LOGLEVEL,   /* T_ENUM that refuses Apache's per-module "mod:level" form */
    T_LIST,       /* char *[max] at offset, int count at offset2: file names */
    T_LISTEN,     /* struct listen_spec[max] at offset, int count at offset2 */
    T_ACCESSLOG,  /* char * at offset (NULL = off), int format (names[] index) at offset2 */
    T_USER,       /* char *, an existing user name */
    T_GROUP,      /* char *, an existing group name */
    T_READTIMEOUT,/* struct read_timeout header at offset, body at offset2 */
    T_INCLUDE,    /* no field: parse the files a path or wildcard names */
    T_INCLUDE_OPT,/* the same; naming nothing is no error */
    T_HOSTS,      /* like T_LIST: host names, '*' and '?' wildcards allowed */
    T_NETS,       /* struct authz_net[max] at offset, int count at offset2 */
    T_ADDTYPE,    /* struct add_type[max] at offset, int count at offset2 */
    T_CUSTOMLOG,  /* struct log_spec[max] at offset, int count at offset2 */
    T_LOGFORMAT,  /* struct log_format_def[max] at offset, int count at offset2 */
    T_DIRSET,     /* no field: DIRSET parses into the struct dirconf of the place */
    T_HANDLER,    /* SetHandler: struct dirconf's handler */
    T_ADD_HANDLER, /* AddHandler: struct dirconf's add_handlers */
    T_REQUIRE,    /* Require: a rule in the open <RequireAny>/<RequireAll> or section */
    T_MODULE,     /* a module's directive (module.h); only in find_directive's result */
    T_DEFINE,     /* Define NAME [VALUE]: a ${NAME} variable for the lines after it */
};

typedef int (*dirset_fn)(struct dirconf *d, int argc, char **argv, char *err, size_t errlen);

struct directive {
    const char *name;
    enum dtype type;
    size_t offset;                /* field in struct config */
    size_t offset2;               /* second field (count, format); 0 if unused */
    long long min, max;           /* integer range; for T_LIST/T_LISTEN max = entries */
    const char *def;              /* default as config text; NULL: none */
    const char *def_doc;          /* default as documented, when def cannot say it */
    const char *syntax;           /* the arguments, for messages and docs */
    const char *const *names;     /* T_ENUM values, T_PATH keywords, AccessLog formats */
    const char *help;             /* one line */
    unsigned ctx;                 /* CTX_* bits */
    dirset_fn dirset;             /* T_DIRSET */
    int min_args, max_args;       /* T_DIRSET and T_MODULE: argument counts */
};

#define MAX_AUTHZ_DEPTH 8         /* <RequireAny>/<RequireAll> nested in one section */
#define MAX_IF_DEPTH 16           /* <IfModule>/<IfDefine> nested */

enum if_kind { IF_MODULE, IF_DEFINE };

/* Where the parser is, and where its error message goes.  An Include
 * parses its files with a copy whose PARENT is the including parse. */
struct parse {
    struct config *cfg;
    struct config *target;        /* where directives go: CFG, or the open section's */
    int vhost;                    /* index of the open <VirtualHost>, or -1 */
    struct dirconf *dir;          /* where per-directory directives go: TARGET's, or
                                   * the open section's */
    int section;                  /* index of the open section in TARGET, or -1 */
    int section_tag;              /* the tag it was opened with (<Location ~> is a
                                   * LocationMatch closed by </Location>) */
    struct authz *authz[MAX_AUTHZ_DEPTH]; /* open <RequireAny>/<RequireAll>, innermost last */
    int authz_line[MAX_AUTHZ_DEPTH];
    int n_authz;
    int *sections_seen;           /* sections so far (struct section's seq) */
    int if_kind[MAX_IF_DEPTH];    /* open <IfModule>/<IfDefine> whose condition held */
    int if_line[MAX_IF_DEPTH];
    int if_state[MAX_IF_DEPTH];   /* section and vhost open when it opened (nesting) */
    int n_if;
    int skip;                     /* > 0: inside a false <If...>, this many deep */
    int skip_kind, skip_line;
    const char *file;             /* file being read (cfg->files[file_index].path); NULL:
                                   * none (defaults), messages name cfg->file */
    int file_index;
    int line;                     /* 0 while applying defaults and checking afterwards */
    const struct parse *parent;   /* the parse that included this file, or NULL */
    const char *root_override;    /* mpmd -d, or NULL */
    int *applied;                 /* directives applied so far (directive_seq) */
    char *err;
    size_t errlen;
};

typedef int (*setter_fn)(const struct parse *p, const struct directive *d, int argc,
                         char **argv);

struct dtype_ops {
    setter_fn set;
    int min_args, max_args;       /* max_args 0: d->max (lists) */
    int explains_extra;           /* more than max_args: the setter says what is wrong */
    const char *note;             /* a sentence for the reference, or NULL */
};

static const char *const mpm_names[] = {"event", "worker", NULL};
static const char *const level_names[] = {
    "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", NULL};
static const char *const errorlog_names[] = {"stderr", NULL};
static const char *const access_names[] = {"off", "common", "combined", NULL};

_Static_assert(MPM_EVENT == 0 && MPM_WORKER == 1, "mpm_names follows enum mpm_mode");
_Static_assert(LOGL_EMERG == 0 && LOGL_DEBUG == 7, "level_names follows enum log_level");
_Static_assert(ACCESS_OFF == 0 && ACCESS_COMMON == 1 && ACCESS_COMBINED == 2,
               "access_names follows enum access_format");

#define F(field) offsetof(struct config, field)

static const struct directive directives[] = {
    {"ServerRoot", T_ROOT, F(server_root), 0, 0, 0, MPMD_PREFIX,
     "the installation prefix (`configure --prefix`, usually /usr/local)", "DIRECTORY", NULL,
     "Base directory for relative paths in this file; `mpmd -d DIR` overrides it", CTX_SERVER, NULL, 0, 0},
    {"Listen", T_LISTEN, F(listen), F(n_listen), 0, CONFIG_MAX_LISTEN, NULL,
     "none (required)", "PORT|IPV4:PORT|[IPV6]:PORT [http|https] [proxy] [NAME]", NULL,
     "Address and port to accept connections on; a bare PORT means every IPv4 and IPv6 "
     "address. https: connections speak TLS (without the word: when the site owning the "
     "address has SSLEngine on, as in Apache); proxy: connections start with a PROXY "
     "protocol header (as RemoteIPProxyProtocol On); NAME: the systemd socket to take",
     CTX_SERVER, NULL, 0, 0},
    {"ListenBacklog", T_INT, F(listen_backlog), 0, 1, 65535, "511", NULL, "NUMBER", NULL,
     "Connections the kernel keeps completed for each listening socket until a child "
     "accepts them (listen(2)'s backlog, capped by net.core.somaxconn); a graceful restart "
     "applies a new value to the open sockets. Sockets systemd passes keep their socket "
     "unit's Backlog=", CTX_SERVER, NULL, 0, 0},
    {"ServerName", T_STRING, F(server_name), 0, 0, 0, NULL, "(host name)", "NAME", NULL,
     "Name the server uses for itself (redirects, error pages), and the Host a virtual host "
     "answers; default: gethostname()", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"ServerAlias", T_HOSTS, F(server_alias), F(n_server_alias), 0, CONFIG_MAX_ALIAS, NULL,
     "none", "NAME...", NULL, "More Host names a virtual host answers; '*' and '?' match "
     "any characters", CTX_VHOST, NULL, 0, 0},
    {"User", T_USER, F(user), 0, 0, 0, NULL, "none", "NAME", NULL,
     "User the children run as when mpmd starts as root; unset: keep the starting user",
     CTX_SERVER, NULL, 0, 0},
    {"Group", T_GROUP, F(group), 0, 0, 0, NULL, "none", "NAME", NULL,
     "Group the children run as when mpmd starts as root; unset: keep the starting group",
     CTX_SERVER, NULL, 0, 0},
    {"DocumentRoot", T_DIR, F(document_root), 0, 0, 0, "htdocs", NULL, "DIRECTORY", NULL,
     "Directory that the URL path / maps to", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"DirectoryIndex", T_LIST, F(directory_index), F(n_directory_index), 0, CONFIG_MAX_INDEX,
     "index.html", NULL, "NAME...", NULL,
     "Files tried, in order, when a request names a directory", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"ErrorLog", T_PATH, F(error_log), 0, 0, 0, "stderr", NULL, "PATH|stderr", errorlog_names,
     "Where error messages go: a file, or standard error (journald under systemd); a virtual "
     "host may have its own", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"LogLevel", T_LOGLEVEL, F(log_level), 0, 0, 0, "warn", NULL, "[MODULE:]LEVEL...", level_names,
     "Least severe kind of message written to the error log", CTX_SERVER, NULL, 0, 0},
    {"AccessLog", T_ACCESSLOG, F(access_log), F(access_format), 0, 0, "off", NULL,
     "off|PATH [common|combined]", access_names,
     "Where to log one line per request, and in which format (default combined); a virtual "
     "host may have its own", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"CustomLog", T_CUSTOMLOG, F(logs), F(n_logs), 0, CONFIG_MAX_LOGS, NULL, "none",
     "PATH|\"|COMMAND\" FORMAT|NICKNAME", NULL,
     "Log one line per request to a file, or to a program's standard input (a target "
     "starting with the pipe sign: a piped log, restarted if it dies), in a LogFormat; each line adds a log. A virtual "
     "host that sets none (and no AccessLog) writes the main server's", CTX_SERVER | CTX_VHOST,
     NULL, 0, 0},
    {"LogFormat", T_LOGFORMAT, F(log_formats), F(n_log_formats), 0, CONFIG_MAX_LOG_FORMATS, NULL,
     "common, combined, vhost_combined, referer, agent, json", "FORMAT NICKNAME [escape=json]",
     NULL, "Name an access-log format (Apache's % directives) for CustomLog; escape=json "
     "escapes every value for a JSON string", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"ServerAdmin", T_STRING, F(server_admin), 0, 0, 0, NULL, "none", "EMAIL|URL", NULL,
     "Contact address of the site (kept for Apache compatibility and shown by mpmd -V)",
     CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"PidFile", T_PATH, F(pid_file), 0, 0, 0, NULL, "none", "PATH", NULL,
     "File the supervisor writes its process id to", CTX_SERVER, NULL, 0, 0},
    {"AddType", T_ADDTYPE, F(add_types), F(n_add_types), 0, CONFIG_MAX_ADD_TYPES, NULL, "none",
     "MEDIA-TYPE EXTENSION...", NULL, "Media type of files with these extensions (with or "
     "without the dot), over TypesConfig; a site adds to the main server's",
     CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"TypesConfig", T_PATH, F(types_config), 0, 0, 0, "/etc/mime.types", NULL, "PATH", NULL,
     "File mapping media types to file-name extensions (Debian's media-types package); a "
     "built-in table fills the gaps. Set in the file, it must be readable", CTX_SERVER, NULL, 0, 0},
    {"MPM", T_ENUM, F(mpm), 0, 0, 0, "event", NULL, "event|worker", mpm_names,
     "event: idle keep-alive connections wait in the listener without a thread; "
     "worker: a thread stays with its connection until it closes", CTX_SERVER, NULL, 0, 0},
    {"StartServers", T_INT, F(start_servers), 0, 1, 20000, "3", NULL, "NUMBER", NULL,
     "Child processes started at start-up", CTX_SERVER, NULL, 0, 0},
    {"ServerLimit", T_INT, F(server_limit), 0, 1, 20000, "16", NULL, "NUMBER", NULL,
     "Most child processes that may run at once", CTX_SERVER, NULL, 0, 0},
    {"ThreadsPerChild", T_INT, F(threads_per_child), 0, 1, 1024, "25", NULL, "NUMBER", NULL,
     "Request handler threads in each child", CTX_SERVER, NULL, 0, 0},
    {"MinSpareThreads", T_INT, F(min_spare_threads), 0, 1, MAX_THREADS, "75", NULL, "NUMBER",
     NULL, "Fewer idle handler threads than this (all children together) starts a child",
     CTX_SERVER, NULL, 0, 0},
    {"MaxSpareThreads", T_INT, F(max_spare_threads), 0, 1, MAX_THREADS, "250", NULL, "NUMBER",
     NULL, "More idle handler threads than this (all children together) stops a child", CTX_SERVER, NULL, 0, 0},
    {"MaxRequestWorkers", T_INT, F(max_request_workers), 0, 1, MAX_THREADS, "400", NULL,
     "NUMBER", NULL, "Most requests served at once (handler threads of all children)", CTX_SERVER, NULL, 0, 0},
    {"MaxConnectionsPerChild", T_LONG, F(max_connections_per_child), 0, 0, INT_MAX, "0", NULL,
     "NUMBER", NULL, "Connections a child handles before it is replaced; 0 means never",
     CTX_SERVER, NULL, 0, 0},
    {"GracefulShutdownTimeout", T_INT, F(graceful_shutdown_timeout), 0, 0, 86400, "0", NULL,
     "SECONDS", NULL, "Seconds children get to finish in-flight requests on graceful stop or "
     "restart before they are killed; 0 waits for them (stop and restart allow 5 s)", CTX_SERVER, NULL, 0, 0},
    {"UpgradeTimeout", T_INT, F(upgrade_timeout), 0, 1, 3600, "30", NULL, "SECONDS", NULL,
     "Seconds a new binary started by mpmd -k upgrade (SIGUSR2) gets to start its children "
     "and report ready; past that it is stopped and the running server carries on",
     CTX_SERVER, NULL, 0, 0},
    {"Timeout", T_INT, F(timeout), 0, 1, 86400, "60", NULL, "SECONDS", NULL,
     "Seconds a read or write may stall before the connection is closed", CTX_SERVER, NULL, 0, 0},
    {"ExtendedStatus", T_BOOL, F(extended_status), 0, 0, 1, "On", NULL, "On|Off", NULL,
     "Keep each thread's current request (client, virtual host, request line, time) in the "
     "scoreboard for server-status; On, as in Apache with mod_status loaded", CTX_SERVER, NULL,
     0, 0},
    {"RemoteIPProxyProtocol", T_BOOL, F(remoteip_proxy_protocol), 0, 0, 1, "Off", NULL,
     "On|Off", NULL,
     "Connections on the addresses this site owns (its Listens, as with SSLEngine) must "
     "start with a PROXY protocol v1 or v2 header (HAProxy send-proxy, send-proxy-v2), "
     "whose source address becomes the client's (logs, Require ip, CGI, X-Forwarded-For); "
     "without one the connection is closed. Apache's mod_remoteip", CTX_SERVER | CTX_VHOST,
     NULL, 0, 0},
    {"RemoteIPProxyProtocolExceptions", T_NETS, F(remoteip_proxy_except),
     F(n_remoteip_proxy_except), 0, CONFIG_MAX_PROXY_EXCEPT, NULL, "none", "ADDRESS...", NULL,
     "Clients (addresses or networks, as Require ip takes them) that connect to this site's "
     "PROXY protocol addresses directly, without a header: a monitor, or curl on the "
     "balancer's host. Apache's mod_remoteip", CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"KeepAlive", T_BOOL, F(keepalive), 0, 0, 1, "On", NULL, "On|Off", NULL,
     "Allow persistent connections (several requests on one connection)", CTX_SERVER, NULL, 0, 0},
    {"KeepAliveTimeout", T_INT, F(keepalive_timeout), 0, 1, 3600, "5", NULL, "SECONDS", NULL,
     "Seconds to wait for the next request on a persistent connection", CTX_SERVER, NULL, 0, 0},
    {"MaxKeepAliveRequests", T_INT, F(max_keepalive_requests), 0, 0, 1000000, "100", NULL,
     "NUMBER", NULL, "Requests allowed on one persistent connection; 0 means unlimited",
     CTX_SERVER, NULL, 0, 0},
    {"LimitRequestLine", T_INT, F(limit_request_line), 0, 64, 1048576, "8190", NULL, "BYTES",
     NULL, "Longest request line (method, target, version) accepted; longer: 414", CTX_SERVER, NULL, 0, 0},
    {"LimitRequestFieldSize", T_INT, F(limit_request_field_size), 0, 64, 1048576, "8190", NULL,
     "BYTES", NULL, "Longest request header field (name and value) accepted; longer: 431",
     CTX_SERVER, NULL, 0, 0},
    {"LimitRequestFields", T_INT, F(limit_request_fields), 0, 1, 32767, "100", NULL, "NUMBER",
     NULL, "Most header fields in one request; more: 431", CTX_SERVER, NULL, 0, 0},
    {"LimitRequestBody", T_LONG, F(limit_request_body), 0, 0, LONG_MAX, "1073741824", NULL,
     "BYTES", NULL, "Largest request body accepted; larger: 413. 0 means unlimited", CTX_SERVER, NULL, 0, 0},
    {"FileCacheSize", T_LONG, F(file_cache_size), 0, 0, LONG_MAX, "16777216", NULL, "BYTES",
     NULL, "Memory each child may use to keep small files (content and validators); 0 turns "
     "the cache off", CTX_SERVER, NULL, 0, 0},
    {"FileCacheMaxFileSize", T_LONG, F(file_cache_max_file), 0, 0, LONG_MAX, "65536", NULL,
     "BYTES", NULL, "Largest file kept in the file cache; bigger files are sent with sendfile",
     CTX_SERVER, NULL, 0, 0},
    {"FileCacheValid", T_INT, F(file_cache_valid), 0, 0, 86400, "1", NULL, "SECONDS", NULL,
     "How often a cached file is checked (stat) for changes; 0 checks on every request",
     CTX_SERVER, NULL, 0, 0},
    {"RequestReadTimeout", T_READTIMEOUT, F(header_timeout), F(body_timeout), 0, 0,
     "header=20-40,MinRate=500 body=20,MinRate=500", NULL,
     "[header=SECS[-MAX][,MinRate=BYTES]] [body=SECS[-MAX][,MinRate=BYTES]]", NULL,
     "Time allowed to receive a request head and body, extended by one second per MinRate "
     "bytes up to MAX; then 408", CTX_SERVER, NULL, 0, 0},
    {"SetHandler", T_HANDLER, 0, 0, 0, 0, NULL, "none (the static-file handler)",
     "NAME|none|default-handler", NULL,
     "The handler that answers requests here; none and default-handler mean the static-file "
     "handler (files under DocumentRoot or an Alias)", CTX_SERVER | CTX_VHOST | CTX_DIR, NULL, 0, 0},
    {"AddHandler", T_ADD_HANDLER, 0, 0, 0, 0, NULL, "none", "HANDLER EXTENSION...", NULL,
     "Files ending in .EXTENSION are answered by HANDLER (cgi-script needs Options ExecCGI); "
     "SetHandler wins over it", CTX_SERVER | CTX_VHOST | CTX_DIR, NULL, 2, MAX_ARGS - 1},
    {"SetEnv", T_DIRSET, 0, 0, 0, 0, NULL, "none", "NAME [VALUE]", NULL,
     "Set a variable for CGI and FastCGI scripts here (and proxy-sendcl for the proxy)",
     CTX_SERVER | CTX_VHOST | CTX_DIR, dirconf_set_env, 1, 2},
    {"UnsetEnv", T_DIRSET, 0, 0, 0, 0, NULL, "none", "NAME...", NULL,
     "Remove variables set by SetEnv in an enclosing place", CTX_SERVER | CTX_VHOST | CTX_DIR,
     dirconf_unset_env, 1, MAX_ARGS - 1},
    {"Options", T_DIRSET, 0, 0, 0, 0, NULL, "FollowSymLinks", "[+|-]OPTION...", NULL,
     "Features allowed here: Indexes, FollowSymLinks, ExecCGI, All or None; '+'/'-' adjust "
     "what an enclosing place allows", CTX_SERVER | CTX_VHOST | CTX_DIR,
     dirconf_set_options, 1, 8},
    {"Require", T_REQUIRE, 0, 0, 0, 0, NULL, "none (all granted)",
     "all granted|all denied|[not] ip ADDRESS...|[not] local|valid-user|[not] user NAME...|"
     "[not] group NAME...", NULL,
     "Who may have what this section covers; several Require lines grant when one does "
     "(<RequireAny>), <RequireAll> needs all", CTX_DIR, NULL, 1, MAX_ARGS - 1},
    {"Header", T_DIRSET, 0, 0, 0, 0, NULL, "none",
     "[always] set|append|add|merge|setifempty|unset NAME [VALUE]", NULL,
     "Change a response header; without always only on successful answers (2xx, 3xx "
     "from files)", CTX_SERVER | CTX_VHOST | CTX_DIR, dirconf_add_header, 2, 4},
    {"ErrorDocument", T_DIRSET, 0, 0, 0, 0, NULL, "none", "CODE /PATH|\"TEXT\"|URL|default",
     NULL, "What an error answer carries: a local page (keeping the status), a text, or a "
     "redirect to a URL", CTX_SERVER | CTX_VHOST | CTX_DIR, dirconf_add_error_doc, 2, 2},
    {"AllowOverride", T_DIRSET, 0, 0, 0, 0, NULL, "None", "None", NULL,
     "Which directives .htaccess files may change: mpmd reads no .htaccess files, so only "
     "None is accepted", CTX_DIR, dirconf_allow_override, 1, 1},
    {"HostnameLookups", T_DIRSET, 0, 0, 0, 0, NULL, "Off", "Off", NULL,
     "Look up client host names for the logs: mpmd never does, so only Off is accepted",
     CTX_SERVER | CTX_VHOST | CTX_DIR, dirconf_hostname_lookups, 1, 1},
    {"Define", T_DEFINE, 0, 0, 0, 0, NULL, "none", "NAME [VALUE]", NULL,
     "Set the variable ${NAME} for the lines that follow (the environment's variables "
     "are there too)", CTX_SERVER, NULL, 1, 2},
    {"Include", T_INCLUDE, 0, 0, 0, 0, NULL, "none", "PATH|WILDCARD", NULL,
     "Read more configuration from other files, at this point of the file",
     CTX_SERVER | CTX_VHOST, NULL, 0, 0},
    {"IncludeOptional", T_INCLUDE_OPT, 0, 0, 0, 0, NULL, "none", "PATH|WILDCARD", NULL,
     "Include, silently skipping a pattern that matches nothing or a missing file",
     CTX_SERVER | CTX_VHOST, NULL, 0, 0},
};

#undef F

/* Sections are directives too, for the reference and mpmd -V. */
struct section_doc {
    const char *name, *syntax, *help;
    unsigned ctx;
};

static const struct section_doc section_docs[] = {
    {"<VirtualHost>", "<VirtualHost ADDR[:PORT]...> ... </VirtualHost>",
     "A site chosen by address and Host header (name-based virtual host)", CTX_SERVER},
    {"<Directory>", "<Directory PATH> ... </Directory>",
     "Directives for files in PATH and below ('*', '?' wildcards allowed)",
     CTX_SERVER | CTX_VHOST},
    {"<DirectoryMatch>", "<DirectoryMatch REGEX> ... </DirectoryMatch>",
     "Directives for file-system paths matching a regular expression (PCRE2)",
     CTX_SERVER | CTX_VHOST},
    {"<Files>", "<Files NAME> ... </Files>",
     "Directives for files with this name ('*', '?' wildcards allowed)", CTX_SERVER | CTX_VHOST},
    {"<FilesMatch>", "<FilesMatch REGEX> ... </FilesMatch>",
     "Directives for files whose name matches a regular expression (PCRE2)",
     CTX_SERVER | CTX_VHOST},
    {"<Location>", "<Location URL-PATH> ... </Location>",
     "Directives for URL-PATH and the paths below it (whole segments); a pattern with '*' "
     "or '?' matches the whole path instead",
     CTX_SERVER | CTX_VHOST},
    {"<LocationMatch>", "<LocationMatch REGEX> ... </LocationMatch>",
     "Directives for URL paths matching a regular expression (PCRE2)", CTX_SERVER | CTX_VHOST},
    {"<IfModule>", "<IfModule [!]MODULE> ... </IfModule>",
     "Lines read only when the Apache module is one whose work mpmd does itself (alias, "
     "headers, dir, mime, authz_core, authz_host, log_config, reqtimeout, deflate, brotli, "
     "filter, expires, auth_basic, authn_file, authz_user, authz_groupfile...)",
     CTX_SERVER | CTX_VHOST | CTX_DIR},
    {"<IfDefine>", "<IfDefine [!]NAME> ... </IfDefine>",
     "Lines read only when NAME was given a Define above", CTX_SERVER | CTX_VHOST | CTX_DIR},
    {"<RequireAny>", "<RequireAny> Require... </RequireAny>",
     "Grants when one of the rules in it grants", CTX_DIR},
    {"<RequireAll>", "<RequireAll> Require... </RequireAll>",
     "Grants when no rule in it denies and at least one grants", CTX_DIR},
};
#define N_SECTION_DOCS ((int)(sizeof section_docs / sizeof section_docs[0]))

#define N_DIRECTIVES ((int)(sizeof directives / sizeof directives[0]))
_Static_assert(sizeof directives / sizeof directives[0] <= CONFIG_MAX_DIRECTIVES,
               "struct config's directive_line[] is too small for the table");

/* ---- messages ----------------------------------------------------------- */

/* Write "FILE:LINE: NAME: message" (or "FILE: ..." when p->line is 0, and
 * without "NAME: " when NAME is NULL) to p->err.  Always returns -1. */
static int vfail(const struct parse *p, const char *name, const char *fmt, va_list ap)
{
    if (p->err == NULL || p->errlen == 0)
        return -1;
    const char *file = p->file != NULL ? p->file : p->cfg->file;
    int n = p->line > 0 ? snprintf(p->err, p->errlen, "%s:%d: ", file, p->line)
                        : snprintf(p->err, p->errlen, "%s: ", file);
    if (n < 0 || (size_t)n >= p->errlen)
        return -1;
    if (name != NULL) {
        int m = snprintf(p->err + n, p->errlen - n, "%s: ", name);
        if (m < 0 || (size_t)(n + m) >= p->errlen)
            return -1;
        n += m;
    }
    vsnprintf(p->err + n, p->errlen - n, fmt, ap);
    return -1;
}

__attribute__((format(printf, 3, 4)))
static int fail(const struct parse *p, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(p, name, fmt, ap);
    va_end(ap);
    return -1;
}

/* Append NAMES as "a, b or c" to BUF (LEN bytes). */
static void join_names(char *buf, size_t len, const char *const *names)
{
    size_t used = strlen(buf);
    for (int i = 0; names[i] != NULL && used < len; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] == NULL ? " or " : ", ";
        snprintf(buf + used, len - used, "%s%s", sep, names[i]);
        used += strlen(buf + used);
    }
}

/* What D accepts, in words ("an integer from 1 to 1024"): used by the
 * error messages ("expected ..., got 'x'") and by the reference. */
static const char *describe(const struct directive *d, char *buf, size_t len)
{
    buf[0] = '\0';
    switch (d->type) {
    case T_INT:
    case T_LONG:
        snprintf(buf, len, "an integer from %lld to %lld", d->min, d->max);
        break;
    case T_BOOL:
        snprintf(buf, len, "On or Off");
        break;
    case T_STRING:
        snprintf(buf, len, "a non-empty name");
        break;
    case T_ROOT:
    case T_PATH:
        snprintf(buf, len, d->names ? "a path or the word " : "a path");
        if (d->names != NULL)
            join_names(buf, len, d->names);
        break;
    case T_DIR:
        snprintf(buf, len, "an existing directory");
        break;
    case T_ENUM:
    case T_LOGLEVEL:
        snprintf(buf, len, "one of ");
        join_names(buf, len, d->names);
        break;
    case T_LIST:
        snprintf(buf, len, "1 to %lld file names (not '.', '..', nor containing '/')", d->max);
        break;
    case T_READTIMEOUT:
        snprintf(buf, len, "header=SECS[-MAX][,MinRate=BYTES] and/or body=...");
        break;
    case T_LISTEN:
        snprintf(buf, len, "PORT, IPV4:PORT or [IPV6]:PORT (numeric), then an optional NAME");
        break;
    case T_ACCESSLOG:
        snprintf(buf, len, "off, or a path and an optional format: common or combined");
        break;
    case T_USER:
        snprintf(buf, len, "the name of an existing user");
        break;
    case T_GROUP:
        snprintf(buf, len, "the name of an existing group");
        break;
    case T_INCLUDE:
    case T_INCLUDE_OPT:
        snprintf(buf, len, "a file, a directory or a wildcard pattern");
        break;
    case T_ADDTYPE:
        snprintf(buf, len, "a media type (type/subtype) and 1 or more extensions");
        break;
    case T_CUSTOMLOG:
        snprintf(buf, len, "a file (or \"|command\") and a LogFormat nickname or format");
        break;
    case T_LOGFORMAT:
        snprintf(buf, len, "a format string, a nickname, and optionally escape=json");
        break;
    case T_NETS:
        snprintf(buf, len, "1 to %lld addresses or networks (ADDR, ADDR/BITS, IPV4/NETMASK or "
                 "a partial IPv4 address such as 10.1)", d->max);
        break;
    case T_HOSTS:
        snprintf(buf, len, "1 to %lld host names (letters, digits, '-', '.', '_', and the "
                 "wildcards '*' and '?')", d->max);
        break;
    case T_DIRSET:
    case T_REQUIRE:
    case T_MODULE:
    case T_DEFINE:
        snprintf(buf, len, "%s", d->syntax);
        break;
    case T_ADD_HANDLER:
        snprintf(buf, len, "a handler name");
        for (int i = 0, n = 0; mpmd_conf_modules[i]; i++) {
            const char *h = mpmd_conf_modules[i]->handler;
            if (h && h[strlen(h) - 1] != ':')
                snprintf(buf + strlen(buf), len - strlen(buf), "%s %s", n++ ? "," : ":", h);
        }
        break;
    case T_HANDLER:
        snprintf(buf, len, "a handler name: none, default-handler");
        for (int i = 0; mpmd_conf_modules[i]; i++)
            if (mpmd_conf_modules[i]->handler) {
                const char *h = mpmd_conf_modules[i]->handler;
                snprintf(buf + strlen(buf), len - strlen(buf), ", %s%s", h,
                         h[strlen(h) - 1] == ':' ? "URL" : "");
            }
        break;
    }
    return buf;
}

/* "NAME: expected <what D accepts>, got 'VALUE'". */
static int fail_value(const struct parse *p, const struct directive *d, const char *value)
{
    char what[160];
    return fail(p, d->name, "expected %s, got '%s'", describe(d, what, sizeof what), value);
}

static int fail_oom(const struct parse *p, const struct directive *d)
{
    return fail(p, d->name, "out of memory");
}

/* ---- setters: one per type ---------------------------------------------- */

static void *field(struct config *cfg, size_t offset)
{
    return (char *)cfg + offset;
}

/* Replace the string at D's field with a copy of VALUE (NULL: clear). */
static int store_string(const struct parse *p, const struct directive *d, const char *value)
{
    char **slot = field(p->target, d->offset);
    char *copy = NULL;
    if (value != NULL && (copy = strdup(value)) == NULL)
        return fail_oom(p, d);
    free(*slot);
    *slot = copy;
    return 0;
}

/* Index of WORD in NAMES (case-insensitive), or -1. */
static int name_index(const char *const *names, const char *word)
{
    for (int i = 0; names != NULL && names[i] != NULL; i++)
        if (strcasecmp(names[i], word) == 0)
            return i;
    return -1;
}

/* Decimal integer with nothing around it ("12", "-3"; not " 12", "12x", "+1"). */
static int parse_integer(const char *s, long long *out)
{
    const char *digits = s[0] == '-' ? s + 1 : s;
    if (*digits < '0' || *digits > '9')
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int set_int(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    long long v;
    if (parse_integer(argv[0], &v) == -1 || v < d->min || v > d->max)
        return fail_value(p, d, argv[0]);
    if (d->type == T_LONG)
        *(long *)field(p->target, d->offset) = (long)v;
    else
        *(int *)field(p->target, d->offset) = (int)v;
    return 0;
}

static int set_bool(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    static const char *const on_off[] = {"off", "on", NULL};
    int v = name_index(on_off, argv[0]);
    if (v == -1)
        return fail_value(p, d, argv[0]);
    *(int *)field(p->target, d->offset) = v;
    return 0;
}

static int set_string(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    if (argv[0][0] == '\0')
        return fail_value(p, d, argv[0]);
    return store_string(p, d, argv[0]);
}

/* Paths are stored as written; resolve_paths() makes them absolute once
 * the whole file (and so ServerRoot) is known.  Keywords are stored in
 * their canonical spelling. */
static int set_path(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    if (argv[0][0] == '\0')
        return fail_value(p, d, argv[0]);
    int k = name_index(d->names, argv[0]);
    return store_string(p, d, k >= 0 ? d->names[k] : argv[0]);
}

static int set_enum(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    int v = name_index(d->names, argv[0]);
    if (v == -1)
        return fail_value(p, d, argv[0]);
    *(int *)field(p->target, d->offset) = v;
    return 0;
}

/* A level name, or Apache's trace1..trace8 (mpmd's debug); -1 if neither. */
static int level_of(const char *s)
{
    if (strncasecmp(s, "trace", 5) == 0 && s[5] >= '1' && s[5] <= '8' && s[6] == '\0')
        return LOGL_DEBUG;
    return name_index(level_names, s);
}

/* Apache's "LogLevel [MODULE:]LEVEL ...": a bare level for everything,
 * MODULE:LEVEL for one module (log.h's module names, Apache's aliases
 * included). */
static int set_loglevel(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    struct config *c = p->target;
    for (int i = 0; i < argc; i++) {
        const char *colon = strchr(argv[i], ':');
        int level = level_of(colon ? colon + 1 : argv[i]);
        if (level == -1) {
            char what[160];
            return fail(p, d->name, "unknown level '%s'; expected %s, or MODULE:LEVEL",
                        colon ? colon + 1 : argv[i], describe(d, what, sizeof what));
        }
        if (!colon) {             /* Apache: a bare level resets the modules' */
            c->log_level = level;
            memset(c->log_module_level, 0, sizeof c->log_module_level);
            continue;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(colon - argv[i]), argv[i]);
        int m = log_module_from_name(name);
        if (m == -1)
            return fail(p, d->name, "no module '%s' in mpmd; modules with their own level: "
                        "%s", name, LOG_MODULE_NAMES);
        c->log_module_level[m] = (signed char)(level + 1);
    }
    return 0;
}

/* A host name or pattern: letters, digits, '-', '.', '_', '*', '?'. */
static int valid_host_pattern(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 256 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._*?") == n;
}

static int valid_file_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 &&
           strcmp(s, "..") != 0;
}

/* A list directive adds to the list, as Apache's DirectoryIndex does; its
 * first appearance in the file replaces the default. */
static int set_list(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    char **list = field(p->target, d->offset);
    int *n = field(p->target, d->offset2);
    for (int i = 0; i < argc; i++)
        if (d->type == T_HOSTS ? !valid_host_pattern(argv[i]) : !valid_file_name(argv[i]))
            return fail_value(p, d, argv[i]);
    if (p->target->directive_line[d - directives] == 0) {
        while (*n > 0)
            free(list[--*n]);
    }
    if (*n + argc > d->max)
        return fail(p, d->name, "at most %lld names in all, got %d", d->max, *n + argc);
    for (int i = 0; i < argc; i++) {
        if ((list[*n] = strdup(argv[i])) == NULL)
            return fail_oom(p, d);
        ++*n;
    }
    return 0;
}

/* RemoteIPProxyProtocolExceptions NET...: the networks add up, as
 * Apache's do; a virtual host's own list replaces the main server's. */
static int set_nets(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    struct authz_net *nets = field(p->target, d->offset);
    int *n = field(p->target, d->offset2);
    for (int i = 0; i < argc; i++) {
        if (*n == d->max)
            return fail(p, d->name, "at most %lld addresses in all", d->max);
        if (authz_parse_net(argv[i], &nets[*n]) == -1)
            return fail_value(p, d, argv[i]);
        ++*n;
    }
    return 0;
}

/* ---- Listen ------------------------------------------------------------- */

static int fail_listen_form(const struct parse *p, const struct directive *d, const char *arg,
                            const char *why)
{
    return fail(p, d->name, "%s%sexpected PORT, IPV4:PORT or [IPV6]:PORT, got '%s'", why,
                *why ? "; " : "", arg);
}

/* 1..65535 in decimal digits only; -1 otherwise. */
static long parse_port(const char *s)
{
    long long v;
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 5 || parse_integer(s, &v) == -1)
        return -1;
    return v >= 1 && v <= 65535 ? (long)v : -1;
}

static int all_digits(const char *s)
{
    return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

/* Split ARG ("80", "1.2.3.4:80", "[::1]:80"; BUF is a copy of it) into
 * HOST (NULL for a bare port), PORT and the address family to ask for. */
static int split_listen(const struct parse *p, const struct directive *d, const char *arg,
                        char *buf, char **host, char **port, int *family)
{
    char *colon = strrchr(buf, ':');
    *host = NULL, *port = buf, *family = AF_INET6;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || close[1] != ':')
            return fail_listen_form(p, d, arg, "missing ']:PORT' after the IPv6 address");
        *close = '\0';
        *host = buf + 1, *port = close + 2;
    } else if (colon != NULL) {
        if (strchr(buf, ':') != colon)
            return fail(p, d->name, "IPv6 addresses must be in brackets, e.g. '[::1]:8080', "
                        "got '%s'", arg);
        *colon = '\0';
        *host = buf, *port = colon + 1, *family = AF_INET;
    }
    if (*host != NULL && **host == '\0')
        return fail_listen_form(p, d, arg, "missing address before ':'");
    if (parse_port(*port) == -1) {
        if (all_digits(*port))
            return fail(p, d->name, "expected a port from 1 to 65535, got '%s'", *port);
        if (*host != NULL)
            return fail(p, d->name, "expected a numeric port from 1 to 65535 after ':', got "
                        "'%s' in '%s'", *port, arg);
        return fail_listen_form(p, d, arg, "");
    }
    return 0;
}

/* Fill SPEC's address and text from ARG. */
static int parse_listen_addr(const struct parse *p, const struct directive *d, const char *arg,
                             struct listen_spec *spec)
{
    char buf[128], *host, *port;
    int family;
    if (strlen(arg) >= sizeof buf)
        return fail_listen_form(p, d, arg, "too long");
    strcpy(buf, arg);
    if (split_listen(p, d, arg, buf, &host, &port, &family) == -1)
        return -1;
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    char portnum[8];
    snprintf(portnum, sizeof portnum, "%ld", parse_port(port));
    /* host NULL + AI_PASSIVE + AF_INET6: in6addr_any, i.e. "[::]:port". */
    if (getaddrinfo(host, portnum, &hints, &res) != 0 || res == NULL)
        return fail(p, d->name, "'%s' is not a numeric %s address (host names are not looked "
                    "up); expected PORT, IPV4:PORT or [IPV6]:PORT, got '%s'", host,
                    family == AF_INET6 ? "IPv6" : "IPv4", arg);
    memcpy(&spec->addr, res->ai_addr, res->ai_addrlen);
    spec->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    char numeric[NI_MAXHOST];
    if (getnameinfo((struct sockaddr *)&spec->addr, spec->addrlen, numeric, sizeof numeric,
                    NULL, 0, NI_NUMERICHOST) != 0)
        return fail_listen_form(p, d, arg, "cannot format the address");
    int n = snprintf(spec->text, sizeof spec->text, family == AF_INET6 ? "[%s]:%s" : "%s:%s",
                     numeric, portnum);
    if (n < 0 || (size_t)n >= sizeof spec->text)
        return fail_listen_form(p, d, arg, "too long");
    return 0;
}

/* The optional second argument: a name for the socket (systemd's
 * FileDescriptorName=), letters, digits, '.', '_', '-'. */
static int set_listen_name(const struct parse *p, const struct directive *d, const char *name,
                           struct listen_spec *spec)
{
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof spec->name ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
        return fail(p, d->name, "expected a NAME of 1 to %zu letters, digits, '.', '_' or '-', "
                    "got '%s'", sizeof spec->name - 1, name);
    memcpy(spec->name, name, len + 1);
    return 0;
}

static int set_listen(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    struct listen_spec *all = field(p->target, d->offset);
    int *n = field(p->target, d->offset2);
    struct listen_spec spec = {.file = p->file, .line = p->line};
    if (parse_listen_addr(p, d, argv[0], &spec) == -1)
        return -1;
    int arg = 1;
    if (argc > arg && strcasecmp(argv[arg], "http") == 0)
        spec.proto = LISTEN_PROTO_HTTP, arg++;
    else if (argc > arg && strcasecmp(argv[arg], "https") == 0)
        spec.proto = LISTEN_PROTO_HTTPS, arg++;
    if (argc > arg && strcasecmp(argv[arg], "proxy") == 0)
        spec.proxy = 1, arg++;
    if (argc > arg + 1)
        return fail(p, d->name, "expected ADDRESS [http|https] [proxy] [NAME], got '%s' after '%s'",
                    argv[arg + 1], argv[arg]);
    /* "Listen 80 proxy https" is the words misordered, not a socket named
     * https (that is "Listen 80 http proxy https"). */
    if (argc > arg && spec.proto == LISTEN_PROTO_DEFAULT &&
        (strcasecmp(argv[arg], "http") == 0 || strcasecmp(argv[arg], "https") == 0))
        return fail(p, d->name, "'%s' is a word of Listen, not a NAME here; the words go in "
                    "the order [http|https] [proxy]", argv[arg]);
    if (argc > arg && set_listen_name(p, d, argv[arg], &spec) == -1)
        return -1;
    for (int i = 0; i < *n; i++)
        if (strcmp(all[i].text, spec.text) == 0)
            return all[i].file == p->file
                       ? fail(p, d->name, "duplicate address %s (already at line %d)",
                              spec.text, all[i].line)
                       : fail(p, d->name, "duplicate address %s (already at %s:%d)",
                              spec.text, all[i].file, all[i].line);
    if (*n >= d->max)
        return fail(p, d->name, "too many Listen directives (at most %lld)", d->max);
    all[(*n)++] = spec;
    return 0;
}

/* ---- AccessLog, User, Group --------------------------------------------- */

static int set_accesslog(const struct parse *p, const struct directive *d, int argc,
                         char **argv)
{
    int *format = field(p->target, d->offset2);
    int f = ACCESS_COMBINED;
    if (argv[0][0] == '|')
        return fail(p, d->name, "piped logs are not supported; expected a file path, got '%s'",
                    argv[0]);
    if (strcasecmp(argv[0], "off") == 0 && d->max_args == 2)
        return fail(p, d->name, "expected PATH common|combined, got 'off' (AccessLog off "
                    "turns logging off)");
    if (strcasecmp(argv[0], "off") == 0) {
        if (argc > 1)
            return fail(p, d->name, "'off' takes no format, got '%s'; expected 'off' or "
                        "PATH [common|combined]", argv[1]);
        *format = ACCESS_OFF;
        return store_string(p, d, NULL);
    }
    if (argv[0][0] == '\0')
        return fail_value(p, d, argv[0]);
    if (argc == 2 && ((f = name_index(d->names, argv[1])) <= 0))
        return fail(p, d->name, "unknown format '%s'; expected common or combined (LogFormat "
                    "strings are not supported)", argv[1]);
    *format = f;
    return store_string(p, d, argv[0]);
}

/* CustomLog TARGET FORMAT: TARGET a file (made absolute later) or
 * "|command"; FORMAT checked once the whole file is read (LogFormat may
 * come later, as in Apache). */
static int set_customlog(const struct parse *p, const struct directive *d, int argc,
                         char **argv)
{
    struct log_spec *all = field(p->target, d->offset);
    int *n = field(p->target, d->offset2);
    if (argc == 3 && (strncmp(argv[2], "env=", 4) == 0 || strncmp(argv[2], "expr=", 5) == 0))
        return fail(p, d->name, "conditional logging ('%s') is not supported; expected PATH "
                    "FORMAT", argv[2]);
    if (argc > 2)
        return fail(p, d->name, "expected PATH FORMAT, got %d arguments", argc);
    if (argv[0][0] == '\0' || (argv[0][0] == '|' && argv[0][1 + strspn(argv[0] + 1, " ")]
                                == '\0'))
        return fail(p, d->name, "expected a file or \"|command\", got '%s'", argv[0]);
    if (argv[1][0] == '\0')
        return fail(p, d->name, "expected a LogFormat nickname or format string, got ''");
    if (*n >= d->max)
        return fail(p, d->name, "more than %lld logs in one server or virtual host", d->max);
    struct log_spec *s = &all[*n];
    memset(s, 0, sizeof *s);
    s->file = p->file;
    s->line = p->line;
    if ((s->target = strdup(argv[0])) == NULL || (s->format = strdup(argv[1])) == NULL) {
        free(s->target);
        s->target = NULL;
        return fail_oom(p, d);
    }
    ++*n;
    return 0;
}

/* LogFormat FORMAT NICKNAME [escape=json]: a later definition of a
 * nickname replaces an earlier one (Apache). */
static int set_logformat(const struct parse *p, const struct directive *d, int argc,
                         char **argv)
{
    struct log_format_def *all = field(p->target, d->offset);
    int *n = field(p->target, d->offset2), json = 0;
    if (argc == 1)
        return fail(p, d->name, "a format without a nickname sets TransferLog's format in "
                    "Apache, and mpmd has no TransferLog; expected FORMAT NICKNAME");
    if (argc > 3)
        return fail(p, d->name, "expected FORMAT NICKNAME [escape=json], got %d arguments",
                    argc);
    if (argc == 3 && strcasecmp(argv[2], "escape=json") != 0 &&
        strcasecmp(argv[2], "escape=default") != 0)
        return fail(p, d->name, "unknown option '%s'; expected escape=json or escape=default",
                    argv[2]);
    json = argc == 3 && strcasecmp(argv[2], "escape=json") == 0;
    if (argv[1][0] == '\0' || strchr(argv[1], '%'))
        return fail(p, d->name, "expected a nickname (no %%) after the format, got '%s'",
                    argv[1]);
    char err[256];
    struct logformat *f = logformat_compile(argv[0], json ? LOGFORMAT_ESCAPE_JSON
                                                          : LOGFORMAT_ESCAPE_APACHE,
                                            err, sizeof err);
    if (!f)
        return fail(p, d->name, "%s: %s", argv[1], err);
    logformat_free(f);
    int i = 0;
    while (i < *n && strcmp(all[i].name, argv[1]) != 0)
        i++;
    if (i == *n && *n >= d->max)
        return fail(p, d->name, "more than %lld nicknames", d->max);
    char *name = strdup(argv[1]), *format = strdup(argv[0]);
    if (!name || !format) {
        free(name);
        free(format);
        return fail_oom(p, d);
    }
    if (i < *n) {
        free(all[i].name);
        free(all[i].format);
    } else {
        ++*n;
    }
    all[i] = (struct log_format_def){ name, format, json };
    return 0;
}

/* 1: NAME names an existing user (GROUP = 0) or group; 0: it does not;
 * -1: the look-up failed (errno set). */
static int account_exists(const char *name, int group)
{
    size_t size = 16384;
    for (;;) {
        char *buf = malloc(size);
        if (buf == NULL)
            return -1;
        struct passwd pw, *pwres = NULL;
        struct group gr, *grres = NULL;
        int rc = group ? getgrnam_r(name, &gr, buf, size, &grres)
                       : getpwnam_r(name, &pw, buf, size, &pwres);
        free(buf);
        if (rc == ERANGE && size < 16 * 1024 * 1024) {
            size *= 2;
            continue;
        }
        if (pwres != NULL || grres != NULL)
            return 1;
        if (rc == 0 || rc == ENOENT || rc == ESRCH)
            return 0;
        errno = rc;
        return -1;
    }
}

static int set_account(const struct parse *p, const struct directive *d, int argc,
                       char **argv)
{
    int group = d->type == T_GROUP;
    int found = argv[0][0] == '\0' ? 0 : account_exists(argv[0], group);
    if (found == -1)
        return fail(p, d->name, "cannot look up '%s': %s", argv[0], strerror(errno));
    if (found == 0)
        return fail(p, d->name, "unknown %s '%s'; expected the name of an existing %s",
                    group ? "group" : "user", argv[0], group ? "group" : "user");
    return store_string(p, d, argv[0]);
}

/* "20", "20-40", "20,MinRate=500", "20-40,MinRate=500" -> *T.  Returns 0 or -1. */
static int parse_read_timeout(const char *s, struct read_timeout *t)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v > 86400)
        return -1;
    t->initial = (int)v;
    t->max = 0;
    t->rate = 0;
    if (*end == '-') {
        const char *m = end + 1;
        v = strtol(m, &end, 10);
        if (end == m || v < t->initial || v > 86400)
            return -1;
        t->max = (int)v;
    }
    if (strncasecmp(end, ",MinRate=", 9) == 0) {
        const char *r = end + 9;
        v = strtol(r, &end, 10);
        if (end == r || v < 1 || v > 1000000000)
            return -1;
        t->rate = (int)v;
    }
    return *end == '\0' ? 0 : -1;
}

static int set_read_timeout(const struct parse *p, const struct directive *d, int argc,
                            char **argv)
{
    struct read_timeout *header = field(p->target, d->offset), *body = field(p->target, d->offset2);
    for (int i = 0; i < argc; i++) {
        int is_header = strncasecmp(argv[i], "header=", 7) == 0;
        int is_body = strncasecmp(argv[i], "body=", 5) == 0;
        struct read_timeout t;
        if ((!is_header && !is_body) ||
            parse_read_timeout(argv[i] + (is_header ? 7 : 5), &t) == -1)
            return fail(p, d->name, "expected header=SECS[-MAX][,MinRate=BYTES] or "
                        "body=SECS[-MAX][,MinRate=BYTES], got '%s'", argv[i]);
        *(is_header ? header : body) = t;
    }
    return 0;
}

/* AddType TYPE EXT...: "text/x-foo" and extensions ("foo" or ".foo"). */
static int set_add_type(const struct parse *p, const struct directive *d, int argc,
                        char **argv)
{
    struct add_type *all = field(p->target, d->offset);
    int *n = field(p->target, d->offset2);
    const char *slash = strchr(argv[0], '/');
    if (slash == NULL || slash == argv[0] || slash[1] == '\0' || strchr(argv[0], ' '))
        return fail(p, d->name, "expected a media type such as text/html, got '%s'", argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *ext = argv[i] + (argv[i][0] == '.');
        size_t len = strlen(ext);
        if (len == 0 || len >= sizeof all->ext || strchr(ext, '/') || strchr(ext, '.'))
            return fail(p, d->name, "expected a file-name extension such as html or .html, "
                        "got '%s'", argv[i]);
        if (*n >= d->max)
            return fail(p, d->name, "more than %lld extensions", d->max);
        struct add_type *t = &all[*n];
        for (size_t k = 0; k <= len; k++)
            t->ext[k] = (char)(ext[k] >= 'A' && ext[k] <= 'Z' ? ext[k] + 32 : ext[k]);
        if ((t->type = strdup(argv[0])) == NULL)
            return fail_oom(p, d);
        ++*n;
    }
    return 0;
}

/* ---- per-directory directives -------------------------------------------- */

static int set_dirset(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    char why[512];
    if (d->dirset(p->dir, argc, argv, why, sizeof why) == -1)
        return fail(p, d->name, "%s", why);
    return 0;
}

/* SetHandler NAME: a module's handler, or none/default-handler. */
static int set_handler(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    if (strcasecmp(argv[0], "none") == 0 || strcasecmp(argv[0], "default-handler") == 0) {
        p->dir->handler = -1;
        return 0;
    }
    for (int i = 0; mpmd_conf_modules[i]; i++) {
        const struct conf_module *m = mpmd_conf_modules[i];
        size_t n = m->handler ? strlen(m->handler) : 0;
        if (n == 0 || strncmp(m->handler, argv[0], n) != 0)
            continue;
        if (m->handler[n - 1] != ':' && argv[0][n] != '\0')
            continue;
        if (m->handler[n - 1] == ':') {       /* "proxy:fcgi://...": the module takes the rest */
            char why[512];
            void **conf = &p->dir->module[i];
            if (*conf == NULL && (*conf = m->create()) == NULL)
                return fail_oom(p, d);
            if (m->handler_arg(*conf, argv[0] + n, why, sizeof why) == -1)
                return fail(p, d->name, "%s", why);
        }
        p->dir->handler = i + 1;
        return 0;
    }
    return fail_value(p, d, argv[0]);
}

/* AddHandler NAME EXT...: a module's handler (without an argument) for
 * files with those extensions. */
static int set_add_handler(const struct parse *p, const struct directive *d, int argc,
                           char **argv)
{
    int handler = 0;
    for (int i = 0; mpmd_conf_modules[i] && !handler; i++) {
        const char *name = mpmd_conf_modules[i]->handler;
        if (name && name[strlen(name) - 1] != ':' && strcmp(name, argv[0]) == 0)
            handler = i + 1;
    }
    if (handler == 0)
        return fail_value(p, d, argv[0]);
    for (int k = 1; k < argc; k++) {
        const char *ext = argv[k][0] == '.' ? argv[k] + 1 : argv[k];
        struct add_handler ah = {.handler = handler};
        size_t n = strlen(ext);
        if (n == 0 || n >= sizeof ah.ext || strchr(ext, '/') || strchr(ext, '.'))
            return fail(p, d->name, "expected a file extension such as .cgi, got '%s'", argv[k]);
        for (size_t i = 0; i <= n; i++)
            ah.ext[i] = (char)tolower((unsigned char)ext[i]);
        struct add_handler *all = realloc(p->dir->add_handlers,
                                          (size_t)(p->dir->n_add_handlers + 1) * sizeof *all);
        if (all == NULL)
            return fail_oom(p, d);
        p->dir->add_handlers = all;
        all[p->dir->n_add_handlers++] = ah;
    }
    return 0;
}

/* Require ...: into the innermost open <RequireAny>/<RequireAll>, or the
 * section's own list (several Require lines: any of them grants). */
static int set_require(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    char why[512];
    struct authz *into = p->n_authz ? p->authz[p->n_authz - 1] : p->dir->require;
    if (into == NULL && (into = p->dir->require = authz_new(AUTHZ_ANY)) == NULL)
        return fail_oom(p, d);
    if (authz_add_require(into, argc, argv, why, sizeof why) == -1)
        return fail(p, d->name, "%s", why);
    return 0;
}

/* ---- Define and ${NAME} -------------------------------------------------- */

static int valid_var_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 128 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

static int set_define(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    struct config *cfg = p->cfg;
    if (!valid_var_name(argv[0]))
        return fail(p, d->name, "expected a NAME of letters, digits, '_', '.' or '-', got '%s'",
                    argv[0]);
    char *value = strdup(argc == 2 ? argv[1] : "");
    if (value == NULL)
        return fail_oom(p, d);
    for (int i = 0; i < cfg->n_defines; i++)
        if (strcmp(cfg->defines[i].name, argv[0]) == 0) {
            free(cfg->defines[i].value);
            cfg->defines[i].value = value;
            return 0;
        }
    struct define *all = realloc(cfg->defines, (size_t)(cfg->n_defines + 1) * sizeof *all);
    if (all == NULL || (all[cfg->n_defines].name = strdup(argv[0])) == NULL) {
        if (all)
            cfg->defines = all;
        free(value);
        return fail_oom(p, d);
    }
    cfg->defines = all;
    all[cfg->n_defines++].value = value;
    return 0;
}

static const char *variable(const struct config *cfg, const char *name)
{
    for (int i = cfg->n_defines - 1; i >= 0; i--)
        if (strcmp(cfg->defines[i].name, name) == 0)
            return cfg->defines[i].value;
    return getenv(name);
}

#define MAX_EXPANDED (64 * 1024)

/* LINE with every ${NAME} replaced (Apache's config variables).  Returns
 * LINE itself when it has none, a new string (to free) otherwise, or NULL
 * after failing (an undefined or malformed variable, a line too long). */
static char *expand_variables(const struct parse *p, char *line)
{
    if (strstr(line, "${") == NULL)
        return line;
    size_t cap = strlen(line) + 256, len = 0;
    char *out = malloc(cap);
    for (const char *r = line; out != NULL && *r;) {
        const char *piece = r;
        size_t n = 1;
        char name[128];
        if (r[0] == '$' && r[1] == '{') {
            const char *end = strchr(r + 2, '}');
            size_t nlen = end ? (size_t)(end - r - 2) : 0;
            if (end == NULL || nlen == 0 || nlen >= sizeof name) {
                free(out);
                fail(p, NULL, "malformed variable '%.40s': expected ${NAME}", r);
                return NULL;
            }
            memcpy(name, r + 2, nlen);
            name[nlen] = '\0';
            if ((piece = variable(p->cfg, name)) == NULL) {
                free(out);
                fail(p, NULL, "${%s} is not defined: Define it above this line or set it in "
                     "the environment", name);
                return NULL;
            }
            n = strlen(piece);
            r = end + 1;
        } else {
            r++;
        }
        if (len + n + 1 > MAX_EXPANDED) {
            free(out);
            fail(p, NULL, "line longer than %d bytes once its variables are replaced",
                 MAX_EXPANDED);
            return NULL;
        }
        if (len + n + 1 > cap) {
            char *bigger = realloc(out, cap = 2 * (len + n + 1));
            if (bigger == NULL)
                break;
            out = bigger;
        }
        memcpy(out + len, piece, n);
        len += n;
    }
    if (out == NULL || len + 1 > cap) {
        free(out);
        fail(p, NULL, "out of memory");
        return NULL;
    }
    out[len] = '\0';
    return out;
}

/* ---- Include ------------------------------------------------------------ */

static int parse_text(struct parse *p, char *text);
static char *path_resolve(const char *base, const char *path);
static int fail_section_open(const struct parse *p, const char *what);

/* PATH made absolute against the current directory (and normalised), or
 * NULL with errno set. */
static char *absolute_from_cwd(const char *path)
{
    char *cwd = NULL;
    if (path[0] != '/' && (cwd = getcwd(NULL, 0)) == NULL)
        return NULL;
    char *abs = path_resolve(cwd, path);
    free(cwd);
    if (abs == NULL)
        errno = ENOMEM;
    return abs;
}

/* Whether PATH is being read already by P or a parse that included it. */
static int reading(const struct parse *p, const char *path)
{
    for (; p != NULL; p = p->parent)
        if (p->file != NULL && strcmp(p->file, path) == 0)
            return 1;
    return 0;
}

/* Remember PATH as a file read for this config, included at P's line.
 * Returns its index, or -1 (out of memory). */
static int add_file(struct config *cfg, const struct parse *p, const char *path)
{
    struct config_file *f = realloc(cfg->files, (size_t)(cfg->n_files + 1) * sizeof *f);
    if (f == NULL)
        return -1;
    cfg->files = f;
    f = &cfg->files[cfg->n_files];
    if ((f->path = strdup(path)) == NULL)
        return -1;
    f->parent = p ? p->file_index : -1;
    f->line = p ? p->line : 0;
    f->depth = p ? cfg->files[p->file_index].depth + 1 : 0;
    return cfg->n_files++;
}

/* Parse the file PATH, included by P. */
static int include_file(const struct parse *p, const struct directive *d, const char *path)
{
    char why[256];
    if (reading(p, path))
        return fail(p, d->name, "'%s' is already being read: an Include loop", path);
    if (p->cfg->n_files >= CONFIG_MAX_FILES)
        return fail(p, d->name, "more than %d configuration files", CONFIG_MAX_FILES);
    char *text = conffile_read(path, why, sizeof why);
    if (text == NULL)
        return fail(p, d->name, "'%s': %s", path, why);
    int index = add_file(p->cfg, p, path);
    if (index == -1) {
        free(text);
        return fail_oom(p, d);
    }
    struct parse sub = *p;
    sub.parent = p;
    sub.file = p->cfg->files[index].path;
    sub.file_index = index;
    int status = parse_text(&sub, text);
    free(text);
    return status;
}

/* Include / IncludeOptional PATH: every file it names, in order, as if
 * its lines stood here (Apache 2.4's semantics, conffile.h). */
static int set_include(const struct parse *p, const struct directive *d, int argc, char **argv)
{
    (void)argc;
    char why[512], **files = NULL;
    int n = 0;
    if (argv[0][0] == '\0')
        return fail_value(p, d, argv[0]);
    if (p->file != NULL && p->cfg->files[p->file_index].depth >= CONFIG_MAX_INCLUDE_DEPTH)
        return fail(p, d->name, "Include nested more than %d deep", CONFIG_MAX_INCLUDE_DEPTH);
    /* ServerRoot as it stands at this line (mpmd -d wins). */
    char *root = absolute_from_cwd(p->root_override ? p->root_override : p->cfg->server_root);
    char *path = root ? path_resolve(root, argv[0]) : NULL;
    free(root);
    if (path == NULL)
        return fail_oom(p, d);
    int status = conffile_expand(path, d->type == T_INCLUDE_OPT, CONFIG_MAX_FILES, &files, &n,
                                 why, sizeof why);
    free(path);
    if (status == -1)
        return fail(p, d->name, "%s", why);
    for (int i = 0; i < n && status == 0; i++)
        status = include_file(p, d, files[i]);
    conffile_free_list(files, n);
    return status;
}

static const struct dtype_ops dtypes[] = {
    [T_INT] = {set_int, 1, 1, 0, NULL},
    [T_LONG] = {set_int, 1, 1, 0, NULL},
    [T_BOOL] = {set_bool, 1, 1, 0, NULL},
    [T_STRING] = {set_string, 1, 1, 0, NULL},
    [T_ROOT] = {set_path, 1, 1, 0,
                "A relative path is taken from the current directory. Stored without a "
                "trailing slash."},
    [T_PATH] = {set_path, 1, 1, 0,
                "A relative path is taken from ServerRoot (wherever ServerRoot appears in "
                "the file)."},
    [T_DIR] = {set_path, 1, 1, 0,
               "A relative path is taken from ServerRoot. It must exist and be a directory "
               "when the file is loaded."},
    [T_ENUM] = {set_enum, 1, 1, 0, "Values are case-insensitive."},
    [T_LOGLEVEL] = {set_loglevel, 1, 1 + LOG_MODULES, 0,
                    "From most to least severe; a level includes all more severe ones. "
                    "`MODULE:LEVEL` sets one module's level (Apache's form: `LogLevel warn "
                    "proxy:info`); modules: " LOG_MODULE_NAMES " (Apache's core, mpm_event, "
                    "mpm_worker, cgid and proxy_wstunnel are accepted too). trace1..trace8 "
                    "mean debug."},
    [T_LIST] = {set_list, 1, 0, 0,
                "Several directives add to one list; the first one in the file replaces the "
                "default."},
    [T_LISTEN] = {set_listen, 1, 4, 1,
                  "Repeatable. Addresses are numeric (host names are not looked up); a bare "
                  "PORT listens on `[::]:PORT` for IPv4 and IPv6 alike. NAME is the optional "
                  "socket name (systemd `FileDescriptorName=`). `http` or `https` after the address "
                  "sets the protocol (a socket named http or https is written `Listen 80 http "
                  "http`). `proxy` after that: connections start with a PROXY protocol v1 or "
                  "v2 header (see RemoteIPProxyProtocol and docs/haproxy.md). The same "
                  "address twice is an error."},
    [T_ACCESSLOG] = {set_accesslog, 1, 2, 0,
                     "A relative PATH is taken from ServerRoot. `common` is Apache's Common "
                     "Log Format; `combined` adds Referer and User-Agent."},
    [T_USER] = {set_account, 1, 1, 0, "The user must exist when the file is loaded."},
    [T_GROUP] = {set_account, 1, 1, 0, "The group must exist when the file is loaded."},
    [T_INCLUDE] = {set_include, 1, 1, 0,
                   "A relative path is taken from ServerRoot as set above this line (or by "
                   "`mpmd -d`). Shell wildcards may stand in any part of the path; the files "
                   "are read in alphabetical order, and a directory stands for every file "
                   "below it. Nothing matching, or a file that does not exist, is an error. "
                   "Errors in an included file name that file and line. `mpmd -t -D "
                   "DUMP_INCLUDES` lists the files read."},
    [T_INCLUDE_OPT] = {set_include, 1, 1, 0,
                       "As Include, but a wildcard that matches nothing or a path that does "
                       "not exist is skipped silently (Debian's `sites-enabled/*.conf`)."},
    [T_CUSTOMLOG] = {set_customlog, 2, 3, 1,
                     "FORMAT is a LogFormat nickname (this server's, then the main server's, "
                     "then the predefined ones) or, when it contains %, a format string. A "
                     "nickname that is not defined is an error (Apache would log the word)."},
    [T_LOGFORMAT] = {set_logformat, 1, 3, 1,
                     "Apache's mod_log_config directives (%h %l %u %t \"%r\" %>s %b %B %D "
                     "%T %{Header}i %{Header}o %v %V %p %P %{tid}P %X %k %I %O %S %L ...); "
                     "predefined: common, combined, vhost_combined, referer, agent, and json "
                     "(one JSON object per line)."},
    [T_ADDTYPE] = {set_add_type, 2, MAX_ARGS - 1, 0,
                   "Repeatable. Extensions are case-insensitive; the latest AddType for an "
                   "extension wins."},
    [T_NETS] = {set_nets, 1, 0, 0,
                "Repeatable: the networks add up. A virtual host that sets its own list does "
                "not inherit the main server's."},
    [T_HOSTS] = {set_list, 1, 0, 0,
                 "Repeatable: the names add up. Matched against the Host header without "
                 "its port or a trailing dot, case-insensitively."},
    [T_DIRSET] = {set_dirset, 1, 0, 0, NULL},
    [T_HANDLER] = {set_handler, 1, 1, 0,
                   "Modules add handler names (the status and proxy modules to come)."},
    [T_ADD_HANDLER] = {set_add_handler, 2, 0, 0,
                       "Repeatable. Extensions are case-insensitive, with or without the "
                       "dot; the latest AddHandler for an extension wins. A name such as "
                       "`index.cgi.html` counts by its last extension only."},
    [T_REQUIRE] = {set_require, 1, 0, 0,
                   "Without Require anywhere, everything is granted. A section's Require "
                   "lines replace those of the sections merged before it (Apache's "
                   "AuthMerging Off). `Require not` only stands in `<RequireAll>`. A denied "
                   "request gets 403. `valid-user`, `user` and `group` need an authenticated "
                   "user (AuthType Basic, docs/auth.md): without one, or with one they do "
                   "not grant, the answer is 401."},
    [T_MODULE] = {NULL, 1, 0, 0, NULL},
    [T_DEFINE] = {set_define, 1, 2, 0,
                  "`${NAME}` anywhere in a later line (sections and Include files too) is "
                  "replaced by the value: a Define above it, else the environment "
                  "variable. An undefined variable is an error naming the file and line "
                  "(Apache only warns and keeps the text)."},
    [T_READTIMEOUT] = {set_read_timeout, 1, 2, 0,
                       "Apache's mod_reqtimeout syntax. `header=0` or `body=0` turns that "
                       "stage's limit off (Timeout still applies)."},
};

/* ---- the parser --------------------------------------------------------- */

static const struct directive *find_directive(const char *name)
{
    for (int i = 0; i < N_DIRECTIVES; i++)
        if (strcasecmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static char *skip_blanks(char *s)
{
    while (is_blank(*s))
        s++;
    return s;
}

/* Cut the next logical line out of *POS in place: a backslash as the very
 * last character of a line (before "\n" or "\r\n") joins the next line to
 * it, as in Apache.  Advances *POS past it and *LINENO by the lines used. */
static char *next_logical_line(char **pos, int *lineno)
{
    char *start = *pos, *r = *pos, *w = *pos;
    while (*r != '\0') {
        char c = *r++;
        if (c != '\n') {
            *w++ = c;
            continue;
        }
        ++*lineno;
        if (w > start && w[-1] == '\r')
            w--;
        if (w > start && w[-1] == '\\') {
            w--;
            continue;
        }
        break;
    }
    *w = '\0';
    *pos = r;
    return start;
}

/* Unquote the argument at S (which starts with '"') in place: `\"` stands
 * for '"', any other character is taken as is.  Returns the character
 * after the closing quote, or NULL when there is none. */
static char *take_quoted(char *s)
{
    char *w = s, *r = s + 1;
    for (;;) {
        if (*r == '\0')
            return NULL;
        if (r[0] == '\\' && r[1] == '"') {
            *w++ = '"', r += 2;
        } else if (*r == '"') {
            *w = '\0';
            return r + 1;
        } else {
            *w++ = *r++;
        }
    }
}

/* Split the logical line S into words (ARGV, *ARGC of them, the directive
 * name first), in place. */
static int split_args(const struct parse *p, char *s, char **argv, int *argc)
{
    int n = 0;
    for (s = skip_blanks(s); *s != '\0'; s = skip_blanks(s)) {
        const char *name = n > 0 ? argv[0] : NULL;
        if (n == MAX_ARGS)
            return fail(p, name, "too many arguments (at most %d on one line)", MAX_ARGS - 1);
        argv[n] = s;
        if (*s == '"') {
            char what[32] = "the directive name";
            if (n > 0)
                snprintf(what, sizeof what, "argument %d", n);
            if ((s = take_quoted(s)) == NULL)
                return fail(p, name, "%s has no closing '\"'", what);
            if (*s != '\0' && !is_blank(*s))
                return fail(p, name, "%s: expected a blank after the closing '\"'", what);
        } else {
            while (*s != '\0' && !is_blank(*s))
                s++;
        }
        n++;
        if (*s != '\0')
            *s++ = '\0';
    }
    *argc = n;
    return 0;
}

static int check_arity(const struct parse *p, const struct directive *d, int nargs)
{
    const struct dtype_ops *ops = &dtypes[d->type];
    int min = d->max_args ? d->min_args : ops->min_args;
    int max = d->max_args ? d->max_args : ops->max_args > 0 ? ops->max_args : (int)d->max;
    if (nargs >= min && (nargs <= max || ops->explains_extra))
        return 0;
    char expected[48];
    if (min == max)
        snprintf(expected, sizeof expected, "%d argument%s", max, max == 1 ? "" : "s");
    else if (max == min + 1)
        snprintf(expected, sizeof expected, "%d or %d arguments", min, max);
    else
        snprintf(expected, sizeof expected, "%d to %d arguments", min, max);
    return fail(p, d->name, "expected %s, got %d (usage: %s %s)", expected, nargs, d->name,
                d->syntax);
}

/* The contexts of D in words: "server config, <VirtualHost>"; with MD
 * the section name is in backticks (a bare <VirtualHost> is a tag in
 * Markdown). */
static const char *ctx_names(unsigned ctx, int md, char *buf, size_t len)
{
    static const char *const plain[] = {"server config", "<VirtualHost>",
                                        "<Directory>, <Files>, <Location> and their Match forms"};
    static const char *const mark[] = {"server config", "`<VirtualHost>`",
                                       ("`<Directory>`, `<Files>`, `<Location>` and their "
                                        "Match forms")};
    buf[0] = '\0';
    for (int i = 0; i < 3; i++)
        if (ctx & (1u << i))
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "",
                     md ? mark[i] : plain[i]);
    return buf;
}

const char *config_context_names(unsigned ctx, char *buf, size_t len)
{
    return ctx_names(ctx, 0, buf, len);
}

static const char *context_names(const struct directive *d, int md, char *buf, size_t len)
{
    return ctx_names(d->ctx, md, buf, len);
}

static const char *const section_names[] = {
    [SEC_DIRECTORY] = "Directory", [SEC_DIRECTORY_MATCH] = "DirectoryMatch",
    [SEC_FILES] = "Files", [SEC_FILES_MATCH] = "FilesMatch",
    [SEC_LOCATION] = "Location", [SEC_LOCATION_MATCH] = "LocationMatch",
};

/* D may stand where the parser is (defaults apply outside any section). */
static int check_context(const struct parse *p, const struct directive *d)
{
    unsigned here = p->section >= 0 ? CTX_DIR : p->vhost >= 0 ? CTX_VHOST : CTX_SERVER;
    char where[160], in[48];
    if (d->ctx & here)
        return 0;
    if (here == CTX_DIR)
        snprintf(in, sizeof in, "in <%s>", section_names[p->target->sections[p->section].kind]);
    else
        snprintf(in, sizeof in, "%s", here == CTX_VHOST ? "in <VirtualHost>"
                                                        : "outside <VirtualHost>");
    return fail(p, d->name, "not allowed %s; allowed in: %s", in,
                context_names(d, 0, where, sizeof where));
}

/* Module I's directive table; an empty one when it has none. */
static const struct module_directive *module_directives(int i)
{
    static const struct module_directive none = {NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL};
    return mpmd_conf_modules[i]->directives ? mpmd_conf_modules[i]->directives : &none;
}

/* The module directive NAME as a table entry (for the context and
 * arity checks); *INDEX gets its module. */
static int find_module_directive(const char *name, struct directive *out, int *index,
                                 const struct module_directive **md)
{
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++)
            if (strcasecmp(m->name, name) == 0) {
                *out = (struct directive){.name = m->name, .type = T_MODULE, .syntax = m->syntax,
                                          .help = m->help, .ctx = m->ctx,
                                          .min_args = m->min_args, .max_args = m->max_args};
                *index = i;
                *md = m;
                return 0;
            }
    return -1;
}

/* A module's directive: into the module's configuration of the place. */
static int apply_module(struct parse *p, int argc, char **argv)
{
    struct directive d;
    const struct module_directive *m;
    int i;
    char why[512];
    if (find_module_directive(argv[0], &d, &i, &m) == -1)
        return fail(p, argv[0], "unknown directive");
    if (check_context(p, &d) == -1 || check_arity(p, &d, argc - 1) == -1)
        return -1;
    void **conf = &p->dir->module[i];
    if (*conf == NULL && (*conf = mpmd_conf_modules[i]->create()) == NULL)
        return fail_oom(p, &d);
    struct directive_place at = {.ctx = p->section >= 0 ? CTX_DIR
                                        : p->vhost >= 0 ? CTX_VHOST : CTX_SERVER,
                                 .file = p->file, .line = p->line};
    if (p->section >= 0) {
        const struct section *s = &p->target->sections[p->section];
        at.section_kind = (int)s->kind;
        at.section = s->pattern;
        at.section_regex = s->regex != NULL || s->wildcard;
    }
    int r = m->set(*conf, &at, argc - 1, argv + 1, why, sizeof why);
    if (r == -1)
        return fail(p, d.name, "%s", why);
    if (r == MODULE_SET_HANDLER)
        p->dir->handler = i + 1;
    else if (r == MODULE_SET_NO_HANDLER)
        p->dir->handler = -1;
    return 0;
}

int module_index(const struct conf_module *m)
{
    for (int i = 0; mpmd_conf_modules[i]; i++)
        if (mpmd_conf_modules[i] == m)
            return i;
    return -1;
}

/* Apply one directive: ARGV[0] is its name. */
static int apply(struct parse *p, int argc, char **argv)
{
    const struct directive *d = find_directive(argv[0]);
    if (d == NULL && argv[0][0] == '\0')
        return fail(p, NULL, "unknown directive ''");
    if (d == NULL)
        return apply_module(p, argc, argv);
    if (check_context(p, d) == -1 || check_arity(p, d, argc - 1) == -1)
        return -1;
    if (dtypes[d->type].set(p, d, argc - 1, argv + 1) == -1)
        return -1;
    p->target->directive_line[d - directives] = p->line;
    p->target->directive_file[d - directives] = p->file;
    p->target->directive_seq[d - directives] = p->file != NULL ? ++*p->applied : 0;
    return 0;
}

/* ---- sections ------------------------------------------------------------ */

/* One address of <VirtualHost ADDR...>: *, *:PORT, _default_[:PORT],
 * IPV4[:PORT], [IPV6][:PORT]. */
static int parse_vhost_addr(const struct parse *p, const char *arg, struct vhost_addr *a)
{
    char host[48];
    const char *port = NULL;
    memset(a, 0, sizeof *a);
    if (arg[0] == '[') {
        const char *end = strchr(arg, ']');
        if (end == NULL || (end[1] != '\0' && end[1] != ':') || (size_t)(end - arg) >= sizeof host)
            goto bad;
        memcpy(host, arg + 1, (size_t)(end - arg - 1));
        host[end - arg - 1] = '\0';
        port = end[1] == ':' ? end + 2 : NULL;
    } else {
        const char *colon = strrchr(arg, ':');
        size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
        if (n >= sizeof host || (colon && strchr(arg, ':') != colon))
            goto bad;
        memcpy(host, arg, n);
        host[n] = '\0';
        port = colon ? colon + 1 : NULL;
    }
    if (port != NULL && strcmp(port, "*") != 0) {
        long v = parse_port(port);
        if (v < 1)
            goto bad;
        a->port = (int)v;
    }
    if (strcmp(host, "*") == 0 || strcasecmp(host, "_default_") == 0) {
        a->any_ip = 1;
    } else if (inet_pton(AF_INET, host, a->ip) == 1) {
        a->family = AF_INET;
    } else if (arg[0] == '[' && inet_pton(AF_INET6, host, a->ip) == 1) {
        a->family = AF_INET6;
    } else {
        goto bad;
    }
    char ptext[8] = "*";
    if (a->port)
        snprintf(ptext, sizeof ptext, "%d", a->port);
    snprintf(a->text, sizeof a->text, "%s%s%s:%s", a->family == AF_INET6 ? "[" : "",
             a->any_ip ? "*" : host, a->family == AF_INET6 ? "]" : "", ptext);
    return 0;
bad:
    return fail(p, "<VirtualHost>", "expected *, *:PORT, IPV4[:PORT] or [IPV6][:PORT] "
                "(numeric), got '%s'", arg);
}

/* <VirtualHost ADDR...>: a new virtual host receives the directives up
 * to </VirtualHost>. */
static int open_vhost(struct parse *p, int argc, char **argv)
{
    struct config *cfg = p->cfg;
    if (p->section >= 0)
        return fail_section_open(p, "<VirtualHost>");
    if (p->vhost >= 0)
        return fail(p, "<VirtualHost>", "sections cannot nest: the <VirtualHost> of line %d "
                    "is still open", cfg->vhosts[p->vhost].line);
    if (argc < 2)
        return fail(p, "<VirtualHost>", "expected at least one address, e.g. <VirtualHost *:80>");
    if (argc - 1 > CONFIG_MAX_VHOST_ADDRS)
        return fail(p, "<VirtualHost>", "at most %d addresses", CONFIG_MAX_VHOST_ADDRS);
    if (cfg->n_vhosts >= CONFIG_MAX_VHOSTS)
        return fail(p, "<VirtualHost>", "more than %d virtual hosts", CONFIG_MAX_VHOSTS);
    struct vhost *v = realloc(cfg->vhosts, (size_t)(cfg->n_vhosts + 1) * sizeof *v);
    if (v == NULL)
        return fail(p, "<VirtualHost>", "out of memory");
    cfg->vhosts = v;
    v = &cfg->vhosts[cfg->n_vhosts];
    memset(v, 0, sizeof *v);
    v->file = p->file;
    v->line = p->line;
    if ((v->cfg = calloc(1, sizeof *v->cfg)) == NULL ||
        (v->cfg->file = strdup(cfg->file)) == NULL) {
        config_free(v->cfg);
        return fail(p, "<VirtualHost>", "out of memory");
    }
    cfg->n_vhosts++;
    for (int i = 1; i < argc; i++)
        if (parse_vhost_addr(p, argv[i], &v->addrs[v->n_addrs++]) == -1)
            return -1;
    p->vhost = cfg->n_vhosts - 1;
    p->target = v->cfg;
    p->dir = &v->cfg->dir;
    return 0;
}

static int close_vhost(struct parse *p, int argc)
{
    if (p->section >= 0)
        return fail_section_open(p, "</VirtualHost>");
    if (p->vhost < 0)
        return fail(p, "</VirtualHost>", "no <VirtualHost> is open");
    if (argc > 1)
        return fail(p, "</VirtualHost>", "takes no arguments");
    if (p->cfg->vhosts[p->vhost].file != p->file)
        return fail(p, "</VirtualHost>", "closes the <VirtualHost> of %s:%d; a section must "
                    "end in the file it starts in", p->cfg->vhosts[p->vhost].file,
                    p->cfg->vhosts[p->vhost].line);
    p->vhost = -1;
    p->target = p->cfg;
    p->dir = &p->cfg->dir;
    return 0;
}

/* ---- <Directory>, <Files>, <Location> and their Match forms --------------- */

static int fail_section_open(const struct parse *p, const char *what)
{
    const struct section *s = &p->target->sections[p->section];
    if (p->n_authz > 0)
        return fail(p, what, "the <Require...> section of line %d is still open",
                    p->authz_line[p->n_authz - 1]);
    return fail(p, what, "the <%s> section of line %d is still open", section_names[s->kind],
                s->line);
}

static int kind_of(const char *name, int *match)
{
    for (int k = 0; k < (int)(sizeof section_names / sizeof *section_names); k++)
        if (strcasecmp(section_names[k], name) == 0) {
            *match = k == SEC_DIRECTORY_MATCH || k == SEC_FILES_MATCH ||
                     k == SEC_LOCATION_MATCH;
            return k;
        }
    return -1;
}

/* Compile S's pattern as a PCRE2 regex. */
static int compile_regex(const struct parse *p, const char *tag, struct section *s)
{
    int code;
    PCRE2_SIZE at;
    s->regex = pcre2_compile((PCRE2_SPTR)s->pattern, PCRE2_ZERO_TERMINATED, 0, &code, &at, NULL);
    if (s->regex != NULL)
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(code, msg, sizeof msg);
    return fail(p, tag, "bad regular expression '%s': %s at offset %zu", s->pattern,
                (const char *)msg, (size_t)at);
}

void config_squeeze_slashes(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++)
        if (!(*r == '/' && w > s && w[-1] == '/'))
            *w++ = *r;
    *w = '\0';
}

static int open_section(struct parse *p, int kind, int match, int argc, char **argv)
{
    char tag[32];
    snprintf(tag, sizeof tag, "<%s>", section_names[kind]);
    if (p->section >= 0)
        return fail(p, tag, "sections cannot nest: the <%s> of line %d is still open",
                    section_names[p->target->sections[p->section].kind],
                    p->target->sections[p->section].line);
    int tilde = argc == 3 && strcmp(argv[1], "~") == 0 && !match;
    static const char *const examples[] = {
        [SEC_DIRECTORY] = "<Directory /srv/www>",
        [SEC_DIRECTORY_MATCH] = "<DirectoryMatch \"^/srv/www/[a-z]+\">",
        [SEC_FILES] = "<Files \"*.txt\">", [SEC_FILES_MATCH] = "<FilesMatch \"\\.php$\">",
        [SEC_LOCATION] = "<Location /private>", [SEC_LOCATION_MATCH] = "<LocationMatch \"^/api/\">",
    };
    if (argc != 2 && !tilde)
        return fail(p, tag, "expected one %s, e.g. %s", match ? "regular expression" : "pattern",
                    examples[kind]);
    if (tilde)
        kind += 1, match = 1;         /* <Location ~ "re"> is <LocationMatch "re"> */
    const char *pattern = argv[argc - 1];
    if (pattern[0] == '\0')
        return fail(p, tag, "expected a non-empty pattern");
    if (kind == SEC_LOCATION && pattern[0] != '/')
        return fail(p, tag, "expected a URL path starting with '/', got '%s'", pattern);
    if (kind == SEC_FILES && strchr(pattern, '/'))
        return fail(p, tag, "expected a file name without '/', got '%s'", pattern);
    struct config *t = p->target;
    struct section *all = realloc(t->sections, (size_t)(t->n_sections + 1) * sizeof *all);
    if (all == NULL)
        return fail(p, tag, "out of memory");
    t->sections = all;
    struct section *s = &all[t->n_sections];
    memset(s, 0, sizeof *s);
    if ((s->pattern = strdup(pattern)) == NULL)
        return fail(p, tag, "out of memory");
    t->n_sections++;
    s->kind = (enum section_kind)kind;
    s->file = p->file;
    s->line = p->line;
    s->seq = (t == p->cfg ? 0 : 1 << 24) + ++*p->sections_seen;
    s->wildcard = !match && strpbrk(pattern, "*?[") != NULL;
    if (kind == SEC_LOCATION)
        config_squeeze_slashes(s->pattern);
    if (match && compile_regex(p, tag, s) == -1)
        return -1;
    p->section = t->n_sections - 1;
    p->section_tag = tilde ? kind - 1 : kind;
    p->dir = &s->dir;
    return 0;
}

static int close_section(struct parse *p, int kind, int argc)
{
    char tag[32];
    snprintf(tag, sizeof tag, "</%s>", section_names[kind]);
    if (argc > 1)
        return fail(p, tag, "takes no arguments");
    if (p->n_authz > 0)
        return fail_section_open(p, tag);
    if (p->section < 0)
        return fail(p, tag, "no <%s> is open", section_names[kind]);
    const struct section *s = &p->target->sections[p->section];
    if (p->section_tag != kind)   /* <Location ~ re> closes with </Location> */
        return fail(p, tag, "the open section is <%s> of line %d",
                    section_names[p->section_tag], s->line);
    if (s->file != p->file)
        return fail(p, tag, "closes the <%s> of %s:%d; a section must end in the file it "
                    "starts in", section_names[s->kind], s->file, s->line);
    p->section = -1;
    p->dir = &p->target->dir;
    return 0;
}

/* <RequireAny> / <RequireAll>: a container of rules, in a section. */
static int open_authz(struct parse *p, enum authz_kind kind, const char *tag, int argc)
{
    if (p->section < 0)
        return fail(p, tag, "not allowed outside sections; allowed in: <Directory>, <Files>, "
                    "<Location> and their Match forms");
    if (argc > 1)
        return fail(p, tag, "takes no arguments");
    if (p->n_authz == MAX_AUTHZ_DEPTH)
        return fail(p, tag, "nested more than %d deep", MAX_AUTHZ_DEPTH);
    struct authz *into = p->n_authz ? p->authz[p->n_authz - 1] : p->dir->require;
    if (into == NULL && (into = p->dir->require = authz_new(AUTHZ_ANY)) == NULL)
        return fail(p, tag, "out of memory");
    struct authz *a = authz_new(kind);
    if (a == NULL || authz_add_kid(into, a) == -1)
        return fail(p, tag, "out of memory");
    p->authz_line[p->n_authz] = p->line;
    p->authz[p->n_authz++] = a;
    return 0;
}

static int close_authz(struct parse *p, enum authz_kind kind, const char *tag, int argc)
{
    if (argc > 1)
        return fail(p, tag, "takes no arguments");
    if (p->n_authz == 0 || p->authz[p->n_authz - 1]->kind != kind)
        return fail(p, tag, "no <%s> is open", kind == AUTHZ_ANY ? "RequireAny" : "RequireAll");
    const struct authz *a = p->authz[p->n_authz - 1];
    if (a->n_kids == 0)
        return fail(p, tag, "the section of line %d has no Require in it",
                    p->authz_line[p->n_authz - 1]);
    int grants = 0;
    for (int i = 0; i < a->n_kids; i++)
        grants += !a->kids[i]->negate;
    if (kind == AUTHZ_ALL && grants == 0)
        return fail(p, tag, "the <RequireAll> of line %d has only 'Require not' rules, so it "
                    "can never grant; add the rule that grants (e.g. Require all granted)",
                    p->authz_line[p->n_authz - 1]);
    p->n_authz--;
    return 0;
}

/* ---- <IfModule> and <IfDefine> ------------------------------------------- */

/* Apache modules whose work mpmd does itself: <IfModule> of these holds. */
static const char *const builtin_modules[] = {
    "alias", "headers", "dir", "mime", "authz_core", "authz_host", "log_config",
    "reqtimeout", "env", "proxy", "proxy_http", "proxy_fcgi", "proxy_wstunnel", "cgi", "cgid",
    "deflate", "brotli", "filter", "expires", "auth_basic", "authn_core", "authn_file",
    "authz_user", "authz_groupfile",
    NULL,
};

/* NAME as IfModule writes it: "mod_alias.c" or "alias_module". */
static int module_is_builtin(const char *name)
{
    char base[64];
    size_t n = strlen(name);
    if (strncmp(name, "mod_", 4) == 0 && n > 6 && strcmp(name + n - 2, ".c") == 0 && n - 6 < sizeof base) {
        memcpy(base, name + 4, n - 6);
        base[n - 6] = '\0';
    } else if (n > 7 && strcmp(name + n - 7, "_module") == 0 && n - 7 < sizeof base) {
        memcpy(base, name, n - 7);
        base[n - 7] = '\0';
    } else {
        return 0;
    }
    return name_index(builtin_modules, base) >= 0;
}

static int is_defined(const struct config *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_defines; i++)
        if (strcmp(cfg->defines[i].name, name) == 0)
            return 1;
    return 0;
}

static const char *const if_names[] = {[IF_MODULE] = "IfModule", [IF_DEFINE] = "IfDefine"};

/* The nesting state an <If...> must find again at its close. */
static int nest_state(const struct parse *p)
{
    return (p->vhost + 1) * 4096 + (p->section + 1) * 16 + p->n_authz;
}

static int open_if(struct parse *p, enum if_kind kind, int argc, char **argv)
{
    char tag[32];
    snprintf(tag, sizeof tag, "<%s>", if_names[kind]);
    if (argc != 2)
        return fail(p, tag, "expected one %s, e.g. <%s %s>",
                    kind == IF_MODULE ? "module name" : "variable name", if_names[kind],
                    kind == IF_MODULE ? "mod_headers.c" : "NAME");
    const char *name = argv[1] + (argv[1][0] == '!');
    int holds = kind == IF_MODULE ? module_is_builtin(name) : is_defined(p->cfg, name);
    if (argv[1][0] == '!')
        holds = !holds;
    if (!holds) {
        p->skip = 1, p->skip_kind = kind, p->skip_line = p->line;
        return 0;
    }
    if (p->n_if == MAX_IF_DEPTH)
        return fail(p, tag, "nested more than %d deep", MAX_IF_DEPTH);
    p->if_kind[p->n_if] = kind;
    p->if_line[p->n_if] = p->line;
    p->if_state[p->n_if++] = nest_state(p);
    return 0;
}

static int close_if(struct parse *p, enum if_kind kind, int argc)
{
    char tag[32];
    snprintf(tag, sizeof tag, "</%s>", if_names[kind]);
    if (argc > 1)
        return fail(p, tag, "takes no arguments");
    if (p->n_if == 0 || p->if_kind[p->n_if - 1] != (int)kind)
        return fail(p, tag, "no <%s> is open", if_names[kind]);
    if (p->if_state[p->n_if - 1] != nest_state(p))
        return fail(p, tag, "a section opened inside the <%s> of line %d is still open",
                    if_names[kind], p->if_line[p->n_if - 1]);
    p->n_if--;
    return 0;
}

/* Inside a false <If...>: only its own kind's nesting counts. */
static void skip_line(struct parse *p, const char *line)
{
    const char *name = if_names[p->skip_kind];
    size_t n = strlen(name);
    int closing = line[0] == '<' && line[1] == '/';
    const char *w = line + 1 + closing;
    if (line[0] != '<' || strncasecmp(w, name, n) != 0 || (w[n] != '>' && !is_blank(w[n])))
        return;
    p->skip += closing ? -1 : 1;
}

/* A line "<Name args>" or "</Name>" (LINE starts with '<'). */
static int section_line(struct parse *p, char *line)
{
    char *argv[MAX_ARGS];
    int argc;
    size_t n = strlen(line);
    while (n > 0 && is_blank(line[n - 1]))
        line[--n] = '\0';
    if (n < 3 || line[n - 1] != '>')
        return fail(p, NULL, "a section line must end with '>': %s", line);
    line[n - 1] = '\0';
    int closing = line[1] == '/';
    if (split_args(p, line + 1 + closing, argv, &argc) == -1)
        return -1;
    if (argc == 0)
        return fail(p, NULL, "a section needs a name, e.g. <VirtualHost *:80>");
    if (strcasecmp(argv[0], "IfModule") == 0 || strcasecmp(argv[0], "IfDefine") == 0) {
        enum if_kind k = strcasecmp(argv[0], "IfModule") == 0 ? IF_MODULE : IF_DEFINE;
        return closing ? close_if(p, k, argc) : open_if(p, k, argc, argv);
    }
    int match, kind = kind_of(argv[0], &match);
    if (kind >= 0)
        return closing ? close_section(p, kind, argc) : open_section(p, kind, match, argc, argv);
    if (strcasecmp(argv[0], "RequireAny") == 0 || strcasecmp(argv[0], "RequireAll") == 0) {
        enum authz_kind k = strcasecmp(argv[0], "RequireAny") == 0 ? AUTHZ_ANY : AUTHZ_ALL;
        char tag[32];
        snprintf(tag, sizeof tag, "<%s%s>", closing ? "/" : "", argv[0]);
        return closing ? close_authz(p, k, tag, argc) : open_authz(p, k, tag, argc);
    }
    if (strcasecmp(argv[0], "VirtualHost") != 0)
        return fail(p, NULL, "<%s%s>: unknown section (mpmd knows <VirtualHost>, <Directory>, "
                    "<DirectoryMatch>, <Files>, <FilesMatch>, <Location>, <LocationMatch>, "
                    "<RequireAny>, <RequireAll>, <IfModule>, <IfDefine>)", closing ? "/" : "",
                    argv[0]);
    return closing ? close_vhost(p, argc) : open_vhost(p, argc, argv);
}

/* Parse TEXT (modified in place), one logical line at a time.  A section
 * opened in this file must close in it. */
static int parse_text(struct parse *p, char *text)
{
    char *pos = text, *argv[MAX_ARGS];
    int lineno = 1, argc, outer = p->vhost, outer_section = p->section, outer_if = p->n_if;
    while (*pos != '\0') {
        p->line = lineno;
        char *raw = skip_blanks(next_logical_line(&pos, &lineno));
        if (*raw == '\0' || *raw == '#')
            continue;
        if (p->skip > 0) {
            skip_line(p, raw);
            continue;
        }
        char *line = expand_variables(p, raw);
        if (line == NULL)
            return -1;
        int status = *line == '<' ? section_line(p, line)
                     : split_args(p, line, argv, &argc) == -1 ? -1 : apply(p, argc, argv);
        if (line != raw)
            free(line);
        if (status == -1)
            return -1;
    }
    if (p->skip > 0) {
        p->line = p->skip_line;
        p->skip = 0;
        return fail(p, p->skip_kind == IF_MODULE ? "<IfModule>" : "<IfDefine>",
                    "not closed: </%s> missing", if_names[p->skip_kind]);
    }
    if (p->n_if > outer_if) {
        p->line = p->if_line[p->n_if - 1];
        return fail(p, p->if_kind[p->n_if - 1] == IF_MODULE ? "<IfModule>" : "<IfDefine>",
                    "not closed: </%s> missing", if_names[p->if_kind[p->n_if - 1]]);
    }
    if (p->n_authz > 0 && p->section != outer_section) {
        p->line = p->authz_line[p->n_authz - 1];
        return fail(p, p->authz[p->n_authz - 1]->kind == AUTHZ_ANY ? "<RequireAny>"
                                                                   : "<RequireAll>",
                    "not closed: </%s> missing",
                    p->authz[p->n_authz - 1]->kind == AUTHZ_ANY ? "RequireAny" : "RequireAll");
    }
    if (p->section != outer_section) {
        const struct section *s = &p->target->sections[p->section];
        char tag[32];
        p->line = s->line;
        snprintf(tag, sizeof tag, "<%s>", section_names[s->kind]);
        return fail(p, tag, "not closed: </%s> missing", section_names[s->kind]);
    }
    if (p->vhost != outer) {
        p->line = p->cfg->vhosts[p->vhost].line;
        return fail(p, "<VirtualHost>", "not closed: </VirtualHost> missing");
    }
    p->line = 0;
    return 0;
}

/* Step 1: every directive's default, through the same setters. */
static int apply_defaults(struct parse *p)
{
    char *argv[MAX_ARGS], buf[256];
    int argc;
    p->line = 0;
    for (int i = 0; i < N_DIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->def == NULL)
            continue;
        int n = snprintf(buf, sizeof buf, "%s %s", d->name, d->def);
        if (n < 0 || (size_t)n >= sizeof buf)
            return fail(p, d->name, "internal error: default too long");
        if (split_args(p, buf, argv, &argc) == -1 || apply(p, argc, argv) == -1)
            return -1;
    }
    return 0;
}

/* ---- after parsing: paths and checks ------------------------------------ */

/* BASE (absolute, or NULL) joined with PATH, without "." segments and
 * repeated or trailing slashes ("/" stays "/").  ".." is kept: it may
 * follow a symbolic link.  Returns a new string or NULL (out of memory). */
static char *path_resolve(const char *base, const char *path)
{
    size_t len = (base ? strlen(base) : 0) + strlen(path) + 3;
    char *joined = malloc(len), *out = malloc(len);
    if (joined == NULL || out == NULL)
        goto fail;
    snprintf(joined, len, "%s/%s", path[0] == '/' || base == NULL ? "" : base, path);
    char *w = out;
    for (const char *s = joined; *s != '\0';) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n > 0 && !(n == 1 && s[0] == '.')) {
            *w++ = '/';
            memcpy(w, s, n);
            w += n;
        }
        s += n;
    }
    if (w == out)
        *w++ = '/';
    *w = '\0';
    free(joined);
    return out;
fail:
    free(joined);
    free(out);
    return NULL;
}

/* Point P's messages at where directive I was last set (nowhere: its
 * default; line 0 and the main file). */
static void at_directive(struct parse *p, int i)
{
    p->line = p->cfg->directive_line[i];
    p->file = p->cfg->directive_file[i];
}

static int index_of(const char *name)
{
    const struct directive *d = find_directive(name);
    return d != NULL ? (int)(d - directives) : -1;
}

/* Step 3a: ServerRoot, from mpmd -d (OVERRIDE) or the file, made absolute
 * against the current directory. */
static int resolve_root(struct parse *p, const char *override)
{
    const struct directive *d = find_directive("ServerRoot");
    char **root = field(p->target, d->offset);
    at_directive(p, (int)(d - directives));
    if (override != NULL)
        p->line = 0, p->file = NULL;
    if (override != NULL && override[0] == '\0')
        return fail(p, d->name, "expected a path, got '' (from the command line)");
    const char *given = override ? override : *root;
    char *abs = absolute_from_cwd(given);
    if (abs == NULL && errno == ENOMEM)
        return fail_oom(p, d);
    if (abs == NULL)
        return fail(p, d->name, "cannot resolve '%s': current directory unknown: %s", given,
                    strerror(errno));
    free(*root);
    *root = abs;
    return 0;
}

/* DocumentRoot (any T_DIR) must be a directory now. */
static int check_dir(struct parse *p, const struct directive *d, const char *path)
{
    struct stat st;
    const char *dflt = p->line == 0 ? " (default)" : "";
    if (stat(path, &st) == -1)
        return fail(p, d->name, "cannot use '%s'%s: %s; expected an existing directory", path,
                    dflt, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(p, d->name, "'%s'%s is not a directory; expected an existing directory",
                    path, dflt);
    return 0;
}

/* Step 3b: relative paths are taken from ServerRoot; keywords stay. */
static int resolve_paths(struct parse *p)
{
    const char *root = p->cfg->server_root;
    for (int i = 0; i < N_DIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->type != T_PATH && d->type != T_DIR && d->type != T_ACCESSLOG)
            continue;
        char **path = field(p->target, d->offset);
        if (*path == NULL || (d->type == T_PATH && name_index(d->names, *path) >= 0))
            continue;
        char *abs = path_resolve(root, *path);
        if (abs == NULL)
            return fail_oom(p, d);
        free(*path);
        *path = abs;
        at_directive(p, i);
        if (d->type == T_DIR && check_dir(p, d, abs) == -1)
            return -1;
    }
    struct config *c = p->target;
    for (int i = 0; i < c->n_logs; i++) {
        if (c->logs[i].target[0] == '|')
            continue;
        char *abs = path_resolve(root, c->logs[i].target);
        if (abs == NULL)
            return fail(p, "CustomLog", "out of memory");
        free(c->logs[i].target);
        c->logs[i].target = abs;
    }
    p->line = 0;
    p->file = NULL;
    return 0;
}

/* The LogFormat nickname NAME as SITE sees it: its own, the main server's
 * (MAIN, NULL for the main server itself), then the predefined ones. */
static const char *find_log_format(const struct config *site, const struct config *main,
                                   const char *name, int *json)
{
    for (const struct config *c = site; c; c = c == main ? NULL : main)
        for (int i = 0; i < c->n_log_formats; i++)
            if (strcmp(c->log_formats[i].name, name) == 0) {
                *json = c->log_formats[i].json;
                return c->log_formats[i].format;
            }
    enum logformat_escape esc = LOGFORMAT_ESCAPE_APACHE;
    const char *f = logformat_predefined(name, &esc);
    *json = esc == LOGFORMAT_ESCAPE_JSON;
    return f;
}

/* Compile every CustomLog of SITE (MAIN: the main server, or NULL when
 * SITE is it); errors name the CustomLog's line. */
static int compile_logs(struct parse *p, struct config *site, const struct config *main)
{
    for (int i = 0; i < site->n_logs; i++) {
        struct log_spec *s = &site->logs[i];
        int json = 0;
        const char *text = s->format;
        p->file = s->file;
        p->line = s->line;
        if (strchr(text, '%') == NULL) {
            text = find_log_format(site, main, s->format, &json);
            if (text == NULL)
                return fail(p, "CustomLog", "no LogFormat nickname '%s'; define it with "
                            "LogFormat \"...\" %s, or use common, combined, vhost_combined, "
                            "referer, agent or json", s->format, s->format);
        }
        char err[256];
        logformat_free(s->compiled);
        s->compiled = logformat_compile(text, json ? LOGFORMAT_ESCAPE_JSON
                                                   : LOGFORMAT_ESCAPE_APACHE, err, sizeof err);
        if (s->compiled == NULL)
            return fail(p, "CustomLog", "format '%s': %s", s->format, err);
    }
    p->line = 0;
    p->file = NULL;
    return 0;
}

/* Step 3d: the CustomLog formats of the main server and every site. */
static int finish_logs(struct parse *p)
{
    if (compile_logs(p, p->cfg, NULL) == -1)
        return -1;
    for (int v = 0; v < p->cfg->n_vhosts; v++)
        if (compile_logs(p, p->cfg->vhosts[v].cfg, p->cfg) == -1)
            return -1;
    return 0;
}

/* ServerName defaults to the host name. */
static int default_server_name(struct parse *p)
{
    char host[256];
    if (p->cfg->server_name != NULL)
        return 0;
    if (gethostname(host, sizeof host) == -1)
        return fail(p, "ServerName", "not set and gethostname failed: %s; set ServerName",
                    strerror(errno));
    host[sizeof host - 1] = '\0';
    p->cfg->server_name = strdup(host[0] ? host : "localhost");
    return p->cfg->server_name ? 0 : fail(p, "ServerName", "out of memory");
}

/* Fail naming whichever of NAMES (NULL-terminated) was set last in the
 * file, at its line; the file alone if all are defaults. */
__attribute__((format(printf, 3, 4)))
static int fail_latest(struct parse *p, const char *const *names, const char *fmt, ...)
{
    const char *latest = names[0];
    int latest_seq = 0;
    p->line = 0;
    p->file = NULL;
    for (int i = 0; names[i] != NULL; i++) {
        int d = index_of(names[i]);
        if (d >= 0 && p->cfg->directive_seq[d] > latest_seq) {
            latest_seq = p->cfg->directive_seq[d];
            latest = names[i];
            at_directive(p, d);
        }
    }
    va_list ap;
    va_start(ap, fmt);
    vfail(p, latest, fmt, ap);
    va_end(ap);
    return -1;
}

#define NAMES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Step 4: the directives against each other (all the cross checks). */
static int check_limits(struct parse *p)
{
    const struct config *c = p->cfg;
    long long capacity = (long long)c->server_limit * c->threads_per_child;
    if (c->max_request_workers > capacity)
        return fail_latest(p, NAMES("MaxRequestWorkers", "ServerLimit", "ThreadsPerChild"),
                           "MaxRequestWorkers %d is more than ServerLimit %d x ThreadsPerChild "
                           "%d = %lld; raise ServerLimit or ThreadsPerChild, or lower "
                           "MaxRequestWorkers", c->max_request_workers, c->server_limit,
                           c->threads_per_child, capacity);
    if (c->max_request_workers < c->threads_per_child)
        return fail_latest(p, NAMES("MaxRequestWorkers", "ThreadsPerChild"),
                           "MaxRequestWorkers %d is less than ThreadsPerChild %d; expected "
                           "MaxRequestWorkers >= ThreadsPerChild", c->max_request_workers,
                           c->threads_per_child);
    if (c->start_servers > c->server_limit)
        return fail_latest(p, NAMES("StartServers", "ServerLimit"),
                           "StartServers %d is more than ServerLimit %d; expected "
                           "StartServers <= ServerLimit", c->start_servers, c->server_limit);
    if (c->min_spare_threads > c->max_spare_threads)
        return fail_latest(p, NAMES("MinSpareThreads", "MaxSpareThreads"),
                           "MinSpareThreads %d is more than MaxSpareThreads %d; expected "
                           "MinSpareThreads <= MaxSpareThreads", c->min_spare_threads,
                           c->max_spare_threads);
    return 0;
}

/* TypesConfig set in the file must be readable (Apache refuses to start
 * too); the default may be missing: the built-in table serves then. */
static int check_types_config(struct parse *p)
{
    int i = index_of("TypesConfig");
    if (p->cfg->directive_line[i] == 0 || access(p->cfg->types_config, R_OK) == 0)
        return 0;
    int err = errno;
    at_directive(p, i);
    return fail(p, directives[i].name, "cannot read '%s': %s", p->cfg->types_config,
                strerror(err));
}

/* Give FROM's value of directive D to TO (a copy TO owns). */
static int copy_setting(struct config *to, const struct config *from, const struct directive *d)
{
    switch (d->type) {
    case T_STRING:
    case T_PATH:
    case T_DIR:
    case T_ROOT: {
        char *const *src = field((struct config *)from, d->offset);
        char **dst = field(to, d->offset);
        free(*dst);
        *dst = *src ? strdup(*src) : NULL;
        return *src && !*dst ? -1 : 0;
    }
    case T_ACCESSLOG: {
        char *const *src = field((struct config *)from, d->offset);
        char **dst = field(to, d->offset);
        *(int *)field(to, d->offset2) = *(const int *)field((struct config *)from, d->offset2);
        free(*dst);
        *dst = *src ? strdup(*src) : NULL;
        return *src && !*dst ? -1 : 0;
    }
    case T_LIST:
    case T_HOSTS: {
        char *const *src = field((struct config *)from, d->offset);
        char **dst = field(to, d->offset);
        const int *n = field((struct config *)from, d->offset2);
        int *m = field(to, d->offset2);
        for (*m = 0; *m < *n; ++*m)
            if ((dst[*m] = strdup(src[*m])) == NULL)
                return -1;
        return 0;
    }
    case T_CUSTOMLOG: {
        const struct log_spec *src = field((struct config *)from, d->offset);
        struct log_spec *dst = field(to, d->offset);
        const int *n = field((struct config *)from, d->offset2);
        int *m = field(to, d->offset2);
        for (*m = 0; *m < *n; ++*m) {
            dst[*m] = (struct log_spec){ .file = src[*m].file, .line = src[*m].line };
            if ((dst[*m].target = strdup(src[*m].target)) == NULL ||
                (dst[*m].format = strdup(src[*m].format)) == NULL) {
                ++*m;             /* config_free frees the half-made entry */
                return -1;
            }
        }
        return 0;
    }
    case T_BOOL:
        *(int *)field(to, d->offset) = *(const int *)field((struct config *)from, d->offset);
        return 0;
    case T_NETS: {
        const int *n = field((struct config *)from, d->offset2);
        memcpy(field(to, d->offset), field((struct config *)from, d->offset),
               (size_t)*n * sizeof(struct authz_net));
        *(int *)field(to, d->offset2) = *n;
        return 0;
    }
    default:
        return -1;                /* no other type is allowed in <VirtualHost> yet */
    }
}

/* Does the site CFG set an access log of its own (AccessLog or CustomLog)?
 * Then it inherits neither from the main server (Apache's rule). */
static int sets_own_logs(const struct config *cfg)
{
    for (int i = 0; i < N_DIRECTIVES; i++)
        if (cfg->directive_line[i] &&
            (directives[i].type == T_ACCESSLOG || directives[i].type == T_CUSTOMLOG))
            return 1;
    return 0;
}

/* A site's AddType list: the main server's first, then its own (which
 * win, being later). */
static int merge_add_types(struct config *vc, const struct config *main)
{
    if (vc->n_add_types + main->n_add_types > CONFIG_MAX_ADD_TYPES)
        return -1;
    memmove(vc->add_types + main->n_add_types, vc->add_types,
            (size_t)vc->n_add_types * sizeof *vc->add_types);
    for (int i = 0; i < main->n_add_types; i++) {
        vc->add_types[i] = main->add_types[i];
        if ((vc->add_types[i].type = strdup(main->add_types[i].type)) == NULL) {
            for (int k = i; k < main->n_add_types; k++)
                vc->add_types[k].type = NULL;   /* not owned yet */
            vc->n_add_types += main->n_add_types;
            return -1;
        }
    }
    vc->n_add_types += main->n_add_types;
    return 0;
}

/* Whether CFG's own text set D's field (through D, or a directive that
 * writes the same field: CustomLog and AccessLog). */
static int field_set_here(const struct config *cfg, const struct directive *d)
{
    for (int i = 0; i < N_DIRECTIVES; i++)
        if (cfg->directive_line[i] && (d == &directives[i] ||
            (d->offset != 0 && directives[i].offset == d->offset &&
             directives[i].type == d->type)))
            return 1;
    return 0;
}

/* Step 3c: each virtual host inherits what it does not set from the main
 * server (Apache's merge), then its own paths are resolved and checked. */
static int finish_vhosts(struct parse *p)
{
    struct config *main = p->cfg;
    for (int v = 0; v < main->n_vhosts; v++) {
        struct config *vc = main->vhosts[v].cfg;
        vc->site_id = v + 1;
        vc->main_dir = &main->dir;
        if ((vc->server_root = strdup(main->server_root)) == NULL)
            return fail(p, "<VirtualHost>", "out of memory");
        for (int i = 0; i < N_DIRECTIVES; i++) {
            const struct directive *d = &directives[i];
            if (d->type == T_ADDTYPE) {
                if (merge_add_types(vc, main) == -1)
                    return fail(p, d->name, "more than %d extensions in a virtual host",
                                CONFIG_MAX_ADD_TYPES);
                continue;
            }
            if ((d->type == T_ACCESSLOG || d->type == T_CUSTOMLOG) && sets_own_logs(vc))
                continue;
            if (!(d->ctx & CTX_VHOST) || !(d->ctx & CTX_SERVER) || field_set_here(vc, d) ||
                d->type == T_LOGFORMAT || d->type == T_INCLUDE || d->type == T_INCLUDE_OPT || d->type == T_DIRSET ||
                d->type == T_HANDLER || d->type == T_ADD_HANDLER || d->type == T_REQUIRE)
                continue;   /* per-directory settings merge per request (route.h) */
            if (copy_setting(vc, main, d) == -1)
                return fail(p, d->name, "out of memory");
        }
        struct parse vp = *p;
        vp.cfg = vp.target = vc;
        if (resolve_paths(&vp) == -1)
            return -1;
    }
    return 0;
}

/* <Directory> paths: relative ones from ServerRoot, without a trailing
 * slash (a directory and what is below it). */
static int resolve_sections(struct parse *p, struct config *cfg)
{
    for (int i = 0; i < cfg->n_sections; i++) {
        struct section *s = &cfg->sections[i];
        if (s->kind != SEC_DIRECTORY)
            continue;
        char *abs = path_resolve(p->cfg->server_root, s->pattern);
        if (abs == NULL)
            return fail(p, "<Directory>", "out of memory");
        free(s->pattern);
        s->pattern = abs;
    }
    return 0;
}

/* A virtual host's module configurations: merge(main server's, own). */
static int merge_modules(struct config *vc, const struct config *main)
{
    for (int i = 0; mpmd_conf_modules[i]; i++) {
        if (main->dir.module[i] == NULL && vc->dir.module[i] == NULL)
            continue;
        void *merged = mpmd_conf_modules[i]->merge(main->dir.module[i], vc->dir.module[i]);
        if (merged == NULL)
            return -1;
        if (vc->dir.module[i])
            mpmd_conf_modules[i]->destroy(vc->dir.module[i]);
        vc->dir.module[i] = merged;
    }
    return 0;
}

/* The section index of site CFG: the main server's sections, then its own. */
static int build_index(struct parse *p, struct config *cfg, const struct config *main)
{
    int n = main->n_sections + (cfg != main ? cfg->n_sections : 0), k = 0;
    if (n == 0)
        return 0;
    const struct section **all = malloc((size_t)n * sizeof *all);
    if (all == NULL)
        return fail(p, NULL, "out of memory indexing sections");
    for (int i = 0; i < main->n_sections; i++)
        all[k++] = &main->sections[i];
    for (int i = 0; cfg != main && i < cfg->n_sections; i++)
        all[k++] = &cfg->sections[i];
    cfg->index = secindex_build(all, n);
    free(all);
    if (cfg->index == NULL)
        return fail(p, NULL, "out of memory indexing sections");
    int most = secindex_max_match(cfg->index);
    if (most > CONFIG_MAX_CHAIN - 2) {
        return fail(p, NULL, "up to %d sections could apply to one request%s; at most %d may",
                    most, cfg == main ? "" : " of a virtual host", CONFIG_MAX_CHAIN - 2);
    }
    return 0;
}

static int finish_sections(struct parse *p)
{
    struct config *main = p->cfg;
    if (resolve_sections(p, main) == -1 || build_index(p, main, main) == -1)
        return -1;
    for (int v = 0; v < main->n_vhosts; v++) {
        struct config *vc = main->vhosts[v].cfg;
        if (merge_modules(vc, main) == -1)
            return fail(p, "<VirtualHost>", "out of memory");
        if (resolve_sections(p, vc) == -1 || build_index(p, vc, main) == -1)
            return -1;
    }
    return 0;
}

/* Steps 3 and 4. */
static int finish(struct parse *p, const char *root_override)
{
    if (resolve_root(p, root_override) == -1 || resolve_paths(p) == -1)
        return -1;
    p->line = 0;
    p->file = NULL;
    if (p->cfg->n_listen == 0)
        return fail(p, "Listen", "no Listen directive; add one, e.g. 'Listen 8080'");
    if (default_server_name(p) == -1 || check_types_config(p) == -1 || finish_vhosts(p) == -1 ||
        finish_logs(p) == -1 || finish_sections(p) == -1)
        return -1;
    p->line = 0;
    p->file = NULL;
    return check_limits(p);
}

/* ---- public ------------------------------------------------------------- */

struct config *config_parse_text(const char *name, const char *text, const char *server_root,
                                 char *err, size_t errlen)
{
    struct config *cfg = calloc(1, sizeof *cfg);
    char *copy = NULL;
    int applied = 0;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (cfg == NULL || (cfg->file = strdup(name)) == NULL || add_file(cfg, NULL, name) == -1) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", name);
        goto fail;
    }
    int sections_seen = 0;
    struct parse p = {.cfg = cfg, .target = cfg, .vhost = -1, .root_override = server_root,
                      .applied = &applied, .err = err, .errlen = errlen, .dir = &cfg->dir,
                      .section = -1, .sections_seen = &sections_seen};
    if (apply_defaults(&p) == -1)
        goto fail;
    if ((copy = strdup(text)) == NULL) {
        fail(&p, NULL, "out of memory");
        goto fail;
    }
    p.file = cfg->files[0].path;
    p.file_index = 0;
    if (parse_text(&p, copy) == -1)
        goto fail;
    p.file = NULL;
    if (finish(&p, server_root) == -1)
        goto fail;
    free(copy);
    return cfg;
fail:
    free(copy);
    config_free(cfg);
    return NULL;
}

struct config *config_load(const char *file, const char *server_root, char *err, size_t errlen)
{
    char dummy[1], why[256];
    if (err == NULL || errlen == 0)
        err = dummy, errlen = sizeof dummy;
    char *text = conffile_read(file, why, sizeof why);
    if (text == NULL) {
        snprintf(err, errlen, "%s: %s", file, why);
        return NULL;
    }
    struct config *cfg = config_parse_text(file, text, server_root, err, errlen);
    free(text);
    if (cfg && tls_build(cfg, err, errlen) == -1) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

const char *config_added_type(const struct config *cfg, const char *name, size_t len)
{
    if (cfg->n_add_types == 0)
        return NULL;
    const char *dot = NULL;
    for (size_t i = len; i > 0 && name[i - 1] != '/'; i--)
        if (name[i - 1] == '.') {
            dot = name + i;
            break;
        }
    if (dot == NULL)
        return NULL;
    size_t elen = (size_t)(name + len - dot);
    for (int i = cfg->n_add_types - 1; i >= 0; i--)
        if (strlen(cfg->add_types[i].ext) == elen &&
            strncasecmp(cfg->add_types[i].ext, dot, elen) == 0)
            return cfg->add_types[i].type;
    return NULL;
}

/* How many virtual-host addresses read TEXT; FIRST_V and FIRST_A get
 * where the first of them is. */
static int vhost_addr_uses(const struct config *cfg, const char *text, int *first_v,
                           int *first_a)
{
    int n = 0;
    for (int v = 0; v < cfg->n_vhosts; v++)
        for (int a = 0; a < cfg->vhosts[v].n_addrs; a++)
            if (strcmp(cfg->vhosts[v].addrs[a].text, text) == 0 && n++ == 0)
                *first_v = v, *first_a = a;
    return n;
}

/* The name-based virtual hosts on address TEXT, as apachectl -S lists
 * them under "is a NameVirtualHost". */
static void print_namevhosts(const struct config *cfg, const char *text, FILE *out)
{
    for (int v = 0; v < cfg->n_vhosts; v++)
        for (int a = 0; a < cfg->vhosts[v].n_addrs; a++) {
            const struct vhost *w = &cfg->vhosts[v];
            if (strcmp(w->addrs[a].text, text) != 0)
                continue;
            char port[8] = "*";
            if (w->addrs[a].port)
                snprintf(port, sizeof port, "%d", w->addrs[a].port);
            fprintf(out, "         port %s namevhost %s (%s:%d)\n", port, w->cfg->server_name,
                    w->file, w->line);
            for (int k = 0; k < w->cfg->n_server_alias; k++)
                fprintf(out, "                 alias %s\n", w->cfg->server_alias[k]);
        }
}

/* apachectl -S: one address per line, its virtual hosts under it. */
void config_print_vhosts(const struct config *cfg, FILE *out)
{
    fprintf(out, "VirtualHost configuration:\n");
    for (int i = 0; i < cfg->n_vhosts; i++)
        for (int a = 0; a < cfg->vhosts[i].n_addrs; a++) {
            const char *text = cfg->vhosts[i].addrs[a].text;
            int fv = i, fa = a, uses = vhost_addr_uses(cfg, text, &fv, &fa);
            if (fv != i || fa != a)
                continue;             /* listed with its first use */
            const struct vhost *v = &cfg->vhosts[i];
            if (uses == 1) {
                fprintf(out, "%-22s %s (%s:%d)\n", text, v->cfg->server_name, v->file, v->line);
                continue;
            }
            fprintf(out, "%-22s is a NameVirtualHost\n", text);
            fprintf(out, "         default server %s (%s:%d)\n", v->cfg->server_name, v->file,
                    v->line);
            print_namevhosts(cfg, text, out);
        }
    fprintf(out, "ServerRoot: \"%s\"\n", cfg->server_root);
    fprintf(out, "Main DocumentRoot: \"%s\"\n", cfg->document_root);
    fprintf(out, "Main ErrorLog: \"%s\"\n", cfg->error_log);
}

void config_print_includes(const struct config *cfg, FILE *out)
{
    fprintf(out, "Included configuration files:\n");
    for (int i = 0; i < cfg->n_files; i++) {
        const struct config_file *f = &cfg->files[i];
        fprintf(out, "%*s", 2 * (f->depth + 1), "");
        if (f->parent < 0)
            fprintf(out, "(*) %s\n", f->path);
        else
            fprintf(out, "(%d) %s\n", f->line, f->path);
    }
}

/* What D owns, the modules' configurations included. */
static void free_dirconf(struct dirconf *d)
{
    for (int i = 0; mpmd_conf_modules[i]; i++)
        if (d->module[i])
            mpmd_conf_modules[i]->destroy(d->module[i]);
    dirconf_free(d);
}

void config_free(struct config *cfg)
{
    if (cfg == NULL)
        return;
    for (int i = 0; i < N_DIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->type == T_LIST || d->type == T_HOSTS) {
            char **list = field(cfg, d->offset);
            int *n = field(cfg, d->offset2);
            while (*n > 0)
                free(list[--*n]);
        } else if (d->type == T_STRING || d->type == T_ROOT || d->type == T_PATH ||
                   d->type == T_DIR || d->type == T_ACCESSLOG || d->type == T_USER ||
                   d->type == T_GROUP) {
            char **slot = field(cfg, d->offset);
            free(*slot);
            *slot = NULL;
        }
    }
    for (int i = 0; i < cfg->n_add_types; i++)
        free(cfg->add_types[i].type);
    for (int i = 0; i < cfg->n_logs; i++) {
        free(cfg->logs[i].target);
        free(cfg->logs[i].format);
        logformat_free(cfg->logs[i].compiled);
    }
    cfg->n_logs = 0;
    for (int i = 0; i < cfg->n_log_formats; i++) {
        free(cfg->log_formats[i].name);
        free(cfg->log_formats[i].format);
    }
    cfg->n_log_formats = 0;
    secindex_free(cfg->index);
    for (int i = 0; i < cfg->n_defines; i++) {
        free(cfg->defines[i].name);
        free(cfg->defines[i].value);
    }
    free(cfg->defines);
    for (int i = 0; i < cfg->n_sections; i++) {
        struct section *s = &cfg->sections[i];
        free(s->pattern);
        pcre2_code_free(s->regex);
        free_dirconf(&s->dir);
    }
    free(cfg->sections);
    free_dirconf(&cfg->dir);
    for (int i = 0; i < cfg->n_vhosts; i++)
        config_free(cfg->vhosts[i].cfg);
    free(cfg->vhosts);
    for (int i = 0; i < cfg->n_files; i++)
        free(cfg->files[i].path);
    free(cfg->files);
    free(cfg->file);
    free(cfg);
}

/* ---- the table, printed ------------------------------------------------- */

void config_print_defaults(FILE *out)
{
    fprintf(out, "%-23s %-18s %s\n", "# Directive", "Default", "Meaning");
    for (int i = 0; i < N_DIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        fprintf(out, "%-23s %-18s %s\n", d->name, d->def ? d->def : d->def_doc, d->help);
    }
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++)
            fprintf(out, "%-23s %-18s %s\n", m->name, m->def ? m->def : "none", m->help);
    for (int i = 0; i < N_SECTION_DOCS; i++)
        fprintf(out, "%-23s %-18s %s\n", section_docs[i].name, "-", section_docs[i].help);
}

/* Core directive D as a reference entry. */
static void core_doc(const struct directive *d, struct config_doc *doc, char *buf, size_t len)
{
    *doc = (struct config_doc){.name = d->name, .syntax = d->syntax, .help = d->help,
                               .def = d->def_doc ? NULL : d->def, .def_doc = d->def_doc,
                               .note = dtypes[d->type].note, .ctx = d->ctx};
    doc->accepts = describe(d, buf, len);
    if (strcmp(doc->accepts, d->syntax) == 0)
        doc->accepts = NULL;
    if (d->type == T_PATH)
        doc->keywords = d->names;
}

/* Module directive N (counting over all modules) as a reference entry;
 * -1 when there are fewer. */
static int module_doc(int n, struct config_doc *doc)
{
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++)
            if (n-- == 0) {
                *doc = (struct config_doc){.name = m->name, .syntax = m->syntax, .help = m->help,
                                           .def_doc = m->def ? m->def : "none", .note = m->note,
                                           .module = mpmd_conf_modules[i]->name, .ctx = m->ctx};
                return 0;
            }
    return -1;
}

static int n_module_directives(void)
{
    int n = 0;
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++)
            n++;
    return n;
}

int config_doc_entry(int i, struct config_doc *doc, char *buf, size_t len)
{
    if (i < 0)
        return -1;
    if (i < N_DIRECTIVES) {
        core_doc(&directives[i], doc, buf, len);
        return 0;
    }
    i -= N_DIRECTIVES;
    int n_modules = n_module_directives();
    if (i < n_modules)
        return module_doc(i, doc);
    i -= n_modules;
    if (i >= N_SECTION_DOCS)
        return -1;
    const struct section_doc *sd = &section_docs[i];
    *doc = (struct config_doc){.name = sd->name, .syntax = sd->syntax, .help = sd->help,
                               .ctx = sd->ctx, .is_section = 1};
    return 0;
}

static void print_module_directive_md(FILE *out, const struct conf_module *mod,
                                      const struct module_directive *m)
{
    char what[200];
    fprintf(out, "## %s\n\n%s.\n\n", m->name, m->help);
    fprintf(out, "- Syntax: `%s %s`\n", m->name, m->syntax);
    fprintf(out, "- Default: %s\n", m->def ? m->def : "none");
    fprintf(out, "- Context: %s\n", ctx_names(m->ctx, 1, what, sizeof what));
    fprintf(out, "- Module: %s\n\n", mod->name);
    if (m->note)
        fprintf(out, "%s\n\n", m->note);
}

static void print_section_md(FILE *out, const struct section_doc *sd)
{
    char what[200];
    fprintf(out, "## %s\n\n%s.\n\n", sd->name, sd->help);
    fprintf(out, "- Syntax: `%s`\n", sd->syntax);
    fprintf(out, "- Context: %s\n\n", ctx_names(sd->ctx, 1, what, sizeof what));
}

static void print_directive_md(FILE *out, const struct directive *d)
{
    char what[160];
    const char *note = dtypes[d->type].note;
    fprintf(out, "## %s\n\n", d->name);
    fprintf(out, "%s.\n\n", d->help);
    fprintf(out, "- Syntax: `%s %s`\n", d->name, d->syntax);
    if (d->def_doc != NULL)
        fprintf(out, "- Default: %s\n", d->def_doc);
    else
        fprintf(out, "- Default: `%s %s`\n", d->name, d->def);
    fprintf(out, "- Accepts: %s\n", describe(d, what, sizeof what));
    fprintf(out, "- Context: %s\n", context_names(d, 1, what, sizeof what));
    if (note != NULL)
        fprintf(out, "\n%s\n", note);
    for (int i = 0; d->type == T_PATH && d->names != NULL && d->names[i] != NULL; i++)
        fprintf(out, "\n`%s` is a keyword (any case); write `./%s` for a file of that name.\n",
                d->names[i], d->names[i]);
    fprintf(out, "\n");
}

void config_print_reference_md(FILE *out)
{
    fprintf(out,
            "# mpmd configuration directives\n\n"
            "<!-- Generated from the directive table in src/core/config.c by\n"
            "     config_print_reference_md(); do not edit by hand. The unit tests\n"
            "     fail when this file and the table disagree. -->\n\n"
            "The configuration file (`mpmd -f FILE`, see mpmd.conf(5)) uses Apache's\n"
            "syntax: one directive per line, `Name argument...`. Directive names and\n"
            "keyword values are case-insensitive. A line whose first non-blank character\n"
            "is `#` is a comment; `#` elsewhere is an ordinary character. A backslash as\n"
            "the last character of a line continues the directive on the next line.\n"
            "Arguments are separated by blanks; an argument in double quotes may contain\n"
            "blanks, and `\\\"` inside it stands for a double quote. A directive given\n"
            "twice keeps its last value, except `Listen` and `DirectoryIndex`, which add\n"
            "up. `mpmd -V` prints the same list with the compiled-in defaults.\n\n"
            "Context says where a directive may stand: *server config* (the main\n"
            "file, outside sections), inside `<VirtualHost>`, and/or inside the\n"
            "per-directory sections (`<Directory>`, `<Files>`, `<Location>` and\n"
            "their Match forms); elsewhere it is an error naming the file, the line\n"
            "and the contexts allowed. A virtual host inherits from the main server\n"
            "what it does not set. See docs/sites.md.\n\n"
            "| Directive | Default | Context | Meaning |\n"
            "|---|---|---|---|\n");
    for (int i = 0; i < N_DIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        char ctx[64];
        context_names(d, 1, ctx, sizeof ctx);
        if (d->def_doc != NULL)
            fprintf(out, "| %s | %s | %s | %s |\n", d->name, d->def_doc, ctx, d->help);
        else
            fprintf(out, "| %s | `%s` | %s | %s |\n", d->name, d->def, ctx, d->help);
    }
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++) {
            char ctx[200];
            fprintf(out, "| %s | %s | %s | %s |\n", m->name, m->def ? m->def : "none",
                    ctx_names(m->ctx, 1, ctx, sizeof ctx), m->help);
        }
    for (int i = 0; i < N_SECTION_DOCS; i++) {
        char ctx[200];
        fprintf(out, "| `%s` | - | %s | %s |\n", section_docs[i].name,
                ctx_names(section_docs[i].ctx, 1, ctx, sizeof ctx), section_docs[i].help);
    }
    fprintf(out,
            "\nThe limits are checked against each other: MaxRequestWorkers must be at\n"
            "least ThreadsPerChild and at most ServerLimit x ThreadsPerChild,\n"
            "StartServers at most ServerLimit, and MinSpareThreads at most\n"
            "MaxSpareThreads.\n\n");
    for (int i = 0; i < N_DIRECTIVES; i++)
        print_directive_md(out, &directives[i]);
    for (int i = 0; mpmd_conf_modules[i]; i++)
        for (const struct module_directive *m = module_directives(i); m->name; m++)
            print_module_directive_md(out, mpmd_conf_modules[i], m);
    fprintf(out, "# Sections\n\n"
            "Sections are merged per request in Apache's order: `<Directory>` (shortest\n"
            "path first; wildcard and regex ones after the plain ones), then `<Files>` and\n"
            "`<FilesMatch>`, then `<Location>` and `<LocationMatch>`, each group in file\n"
            "order; the main server's sections come before a virtual host's. A later\n"
            "section wins per directive; Header lines add up in that order. See\n"
            "docs/sites.md.\n\n");
    for (int i = 0; i < N_SECTION_DOCS; i++)
        print_section_md(out, &section_docs[i]);
}
