/* config.h: the parsed server.conf (struct config) and its loader.
 *
 * The supervisor loads the file once per generation; children get a
 * read-only copy through fork().  Nothing here is thread-safe to modify
 * after loading, and nothing needs to be: a loaded config is immutable. */
#ifndef MPMD_CONFIG_H
#define MPMD_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

enum mpm_mode { MPM_EVENT = 0, MPM_WORKER = 1 };

/* Log levels, Apache names, syslog numbering (journald priorities). */
enum log_level {
    LOGL_EMERG = 0, LOGL_ALERT, LOGL_CRIT, LOGL_ERROR,
    LOGL_WARN, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG
};

/* The parts of mpmd that log under their own name (Apache's module names),
 * each with its own LogLevel (`LogLevel warn proxy:info`).  LOGM_CORE is
 * everything else (the server, processes, connections), "mpmd" in lines. */
enum log_module {
    LOGM_CORE = 0, LOGM_STATIC, LOGM_ALIAS, LOGM_PROXY, LOGM_PROXY_HTTP, LOGM_PROXY_FCGI,
    LOGM_CGI, LOGM_STATUS, LOGM_LOG_CONFIG, LOG_MODULES
};

enum access_format { ACCESS_OFF = 0, ACCESS_COMMON, ACCESS_COMBINED };

#define CONFIG_MAX_LOGS 8          /* CustomLog lines of one server or site */
#define CONFIG_MAX_LOG_FORMATS 32  /* LogFormat nicknames of one server or site */

struct logformat;                  /* logformat.h */

/* One CustomLog (or the AccessLog short form). */
struct log_spec {
    char *target;                  /* absolute path, or "|command" (a piped log) */
    char *format;                  /* as written: a nickname or a format string */
    struct logformat *compiled;    /* compiled once the file is read (owned) */
    const char *file;              /* where it was set, for messages */
    int line;
};

/* One LogFormat with a nickname. */
struct log_format_def {
    char *name;
    char *format;
    int json;                      /* escape=json: values escaped for JSON strings */
};

/* Listen's protocol word (Apache's "Listen 443 https"). */
enum listen_proto { LISTEN_PROTO_DEFAULT = 0, LISTEN_PROTO_HTTP, LISTEN_PROTO_HTTPS };

struct config;

/* One Listen directive. */
struct listen_spec {
    struct sockaddr_storage addr; /* resolved numeric address */
    socklen_t addrlen;
    char text[80];                /* normalised: "127.0.0.1:8080", "[::1]:80", port: "[::]:80" */
    char name[32];                /* optional NAME argument (FileDescriptorName); "" if none */
    int proto;                    /* LISTEN_PROTO_*: the protocol word, if any */
    int tls;                      /* connections speak TLS (decided by tls_build) */
    int proxy;                    /* connections start with a PROXY protocol header: the
                                   * word "proxy", or RemoteIPProxyProtocol On in the
                                   * site that owns the address (set by tls_build) */
    const struct config *tls_site; /* the site that owns the address: its certificate
                                   * answers clients without SNI (set by tls_build) */
    const struct config *proxy_site; /* when proxy: the site that owns the address, whose
                                   * RemoteIPProxyProtocolExceptions apply (tls_build) */
    const char *file;             /* file of the directive (in struct config's files;
                                   * valid while that config lives) */
    int line;                     /* line of the directive, for errors */
};

/* RequestReadTimeout (mod_reqtimeout): one stage, header or body.  The
 * stage may take INITIAL seconds, plus one more per RATE bytes received
 * (RATE 0: no extension), but never more than MAX seconds (0: no cap).
 * INITIAL 0 disables the stage's timeout (Timeout still applies). */
struct read_timeout {
    int initial;
    int max;
    int rate;
};

#define CONFIG_MAX_INDEX 8        /* DirectoryIndex names */
#define CONFIG_MAX_LISTEN 32      /* Listen directives */
#define CONFIG_MAX_DIRECTIVES 80  /* >= the directives src/core/config.c knows */
#define CONFIG_MAX_FILES 4096     /* files one configuration may read (Include) */
#define CONFIG_MAX_ALIAS 32       /* ServerAlias names of one virtual host */
#define CONFIG_MAX_PROXY_EXCEPT 32 /* RemoteIPProxyProtocolExceptions networks of a site */
#define CONFIG_MAX_VHOST_ADDRS 8  /* addresses of one <VirtualHost> */
#define CONFIG_MAX_VHOSTS 4096
#define CONFIG_MAX_ADD_TYPES 256  /* AddType extensions of one server or site */

/* AddType TYPE EXT: one extension (lower case, no dot) and its type. */
struct add_type {
    char ext[32];
    char *type;                   /* owned */
};
#define CONFIG_MAX_INCLUDE_DEPTH 32

/* One file read for a configuration: the main file, or one an Include
 * named (at LINE of the file at index PARENT). */
struct config_file {
    char *path;                   /* as given for the main file, else absolute */
    int parent;                   /* index of the including file; -1 for the main file */
    int line;                     /* line of the Include in the parent; 0 for the main file */
    int depth;                    /* 0 for the main file */
};

/* One address of a <VirtualHost>: "*:80", "127.0.0.1:8080", "[::1]:80",
 * "*" (any address and port). */
struct vhost_addr {
    int any_ip;                   /* "*" or _default_ */
    int family;                   /* AF_INET or AF_INET6 when !any_ip */
    unsigned char ip[16];         /* network order; 4 bytes for AF_INET */
    int port;                     /* 0: any port */
    char text[80];                /* as normalised for messages and -S */
};

struct config;

/* Where a directive may stand (nginx's context column, Apache's
 * RSRC_CONF / ACCESS_CONF). */
#define CTX_SERVER 1u             /* the main server config, outside sections */
#define CTX_VHOST 2u              /* inside <VirtualHost> */
#define CTX_DIR 4u                /* inside <Directory>, <Files>, <Location> and their
                                   * Match forms */

#define CONFIG_MAX_MODULES 16     /* modules with configuration (module.h) */
#define CONFIG_MAX_CHAIN 64       /* per-directory configurations that may apply to one
                                   * request: the site's two and the sections' */

/* Options bits. */
#define OPT_INDEXES 1u
#define OPT_FOLLOW_SYMLINKS 2u
#define OPT_EXEC_CGI 4u
#define OPT_ALL (OPT_INDEXES | OPT_FOLLOW_SYMLINKS | OPT_EXEC_CGI)
#define OPT_DEFAULT OPT_FOLLOW_SYMLINKS   /* Apache 2.4's default */

/* One network of `Require ip`: FAMILY's first BITS bits of IP. */
struct authz_net {
    int family;                   /* AF_INET or AF_INET6 */
    unsigned char ip[16];
    int bits;
};

enum authz_kind {
    AUTHZ_ALL_GRANTED,            /* Require all granted */
    AUTHZ_ALL_DENIED,             /* Require all denied */
    AUTHZ_IP,                     /* Require [not] ip NET..., Require [not] local */
    AUTHZ_ANY,                    /* <RequireAny>, and several Require lines */
    AUTHZ_ALL,                    /* <RequireAll> */
    AUTHZ_VALID_USER,             /* Require valid-user (an authenticated user) */
    AUTHZ_USER,                   /* Require user NAME... */
    AUTHZ_GROUP,                  /* Require group NAME... (AuthGroupFile) */
};

/* A Require rule, or a <RequireAny>/<RequireAll> container of rules. */
struct authz {
    enum authz_kind kind;
    int negate;                   /* Require not ... (only inside <RequireAll>) */
    struct authz_net *nets;       /* AUTHZ_IP; owned */
    int n_nets;
    struct authz **kids;          /* AUTHZ_ANY / AUTHZ_ALL; owned */
    int n_kids;
    char **names;                 /* AUTHZ_USER / AUTHZ_GROUP; owned, each owned */
    int n_names;
};

/* Header ACTION NAME [VALUE] (mod_headers). */
enum header_action { HDR_SET, HDR_APPEND, HDR_ADD, HDR_MERGE, HDR_UNSET, HDR_SETIFEMPTY };

struct header_op {
    enum header_action action;
    int always;                   /* "always": error answers too */
    char *name;                   /* owned */
    char *value;                  /* owned; NULL for unset */
};

/* ErrorDocument CODE /local/path | "text" | URL. */
enum errdoc_kind { ERRDOC_LOCAL, ERRDOC_TEXT, ERRDOC_URL, ERRDOC_DEFAULT };

struct error_doc {
    int status;
    enum errdoc_kind kind;
    char *text;                   /* owned: the path, the text or the URL */
};

/* SetEnv NAME VALUE / UnsetEnv NAME (mod_env): for CGI and FastCGI
 * scripts' environments, and the proxy's proxy-sendcl. */
struct env_op {
    char *name;                   /* owned */
    char *value;                  /* owned; NULL: UnsetEnv */
};

/* AddHandler HANDLER EXT: files whose name ends in .EXT. */
struct add_handler {
    char ext[32];                 /* lower case, no dot */
    int handler;                  /* module index + 1 */
};

/* The per-directory configuration (Apache's "dir config"): the
 * directives allowed in sections.  One per section, plus one for each
 * site (what the main server or virtual host says outside sections).
 * Each field says "not set here" on its own, so that merging (route.h)
 * takes what a later section sets and keeps the rest. */
struct dirconf {
    int handler;                  /* SetHandler: module index + 1; -1 the default
                                   * handler ("none"); 0 not set here */
    int options_set;              /* Options given here */
    int options_absolute;         /* "Options A B" (replaces) rather than "+A -B" */
    unsigned options_on, options_off;
    struct authz *require;        /* owned; NULL: not set here */
    struct header_op *headers;    /* owned, in file order */
    int n_headers;
    struct error_doc *error_docs; /* owned, in file order */
    int n_error_docs;
    struct env_op *env;           /* SetEnv/UnsetEnv; owned, in file order */
    int n_env;
    struct add_handler *add_handlers; /* owned, in file order */
    int n_add_handlers;
    void *module[CONFIG_MAX_MODULES]; /* modules' own (module.h); NULL: nothing set */
};

enum section_kind {
    SEC_DIRECTORY, SEC_DIRECTORY_MATCH, SEC_FILES, SEC_FILES_MATCH,
    SEC_LOCATION, SEC_LOCATION_MATCH,
};

/* <Directory PATH>, <Files NAME>, <Location PREFIX> or a Match form. */
struct section {
    enum section_kind kind;
    char *pattern;                /* owned: a prefix (Directory absolute and resolved,
                                   * Location normalised), a wildcard, or a regex */
    int wildcard;                 /* a plain kind whose pattern has '*', '?' or '[' */
    void *regex;                  /* pcre2_code * of the Match kinds; owned */
    struct dirconf dir;
    const char *file;             /* in the main config's files */
    int line;
    int seq;                      /* order in the configuration, main server's first */
};

struct section_index;

/* Define NAME VALUE: a ${NAME} variable. */
struct define {
    char *name, *value;           /* owned */
};

/* A <VirtualHost> section: its addresses, where it is, and its own
 * directives in a struct config of the same layout (only the fields of
 * directives allowed in a virtual host are used), merged with the main
 * server's after parsing: what the section does not set, it inherits. */
struct vhost {
    struct config *cfg;
    struct vhost_addr addrs[CONFIG_MAX_VHOST_ADDRS];
    int n_addrs;
    const char *file;             /* in the main config's files */
    int line;
};

struct config {
    char *file;                   /* path of the main file as given (for messages) */
    struct config_file *files;    /* every file read, in reading order; [0] is FILE */
    int n_files;
    char *server_root;            /* absolute; other relative paths resolve against it */
    char *server_name;            /* ServerName; default: gethostname() */
    char *server_admin;           /* ServerAdmin, or NULL */
    struct define *defines;       /* Define, in file order (the main config only) */
    int n_defines;
    char *document_root;          /* absolute, no trailing slash */
    struct add_type add_types[CONFIG_MAX_ADD_TYPES]; /* AddType, in file order; a
                                   * site's list is the main server's, then its own */
    int n_add_types;
    char *server_alias[CONFIG_MAX_ALIAS]; /* ServerAlias (virtual hosts only) */
    int n_server_alias;
    struct vhost *vhosts;         /* <VirtualHost> sections, in file order */
    int n_vhosts;
    int site_id;                  /* 0: the main server; virtual host i: i + 1 */
    char *directory_index[CONFIG_MAX_INDEX];
    int n_directory_index;
    struct listen_spec listen[CONFIG_MAX_LISTEN];
    int n_listen;

    int mpm;                      /* enum mpm_mode */
    int start_servers;
    int server_limit;
    int threads_per_child;
    int min_spare_threads;
    int max_spare_threads;
    int max_request_workers;
    long max_connections_per_child; /* 0 = never recycle */
    int graceful_shutdown_timeout; /* seconds old children get on stop/restart; 0: see docs */
    int upgrade_timeout;          /* seconds a new binary gets to report ready (mpmd -k upgrade) */

    int timeout;                  /* seconds: stalled read/write */
    int keepalive;                /* boolean */
    int listen_backlog;           /* ListenBacklog: listen(2)'s backlog for sockets mpmd binds */
    int extended_status;          /* ExtendedStatus: boolean */
    int remoteip_proxy_protocol;  /* RemoteIPProxyProtocol: boolean; marks the Listens
                                   * this site owns (listen_spec.proxy) */
    struct authz_net remoteip_proxy_except[CONFIG_MAX_PROXY_EXCEPT];
    int n_remoteip_proxy_except;  /* RemoteIPProxyProtocolExceptions: peers that connect
                                   * to this site's PROXY Listens without a header */
    int keepalive_timeout;        /* seconds */
    int max_keepalive_requests;   /* 0 = unlimited */

    int limit_request_line;       /* bytes of the request line (414) */
    int limit_request_field_size; /* bytes of one header field line (431) */
    int limit_request_fields;     /* header fields (431) */
    long limit_request_body;      /* body bytes, 0 = unlimited (413) */
    long file_cache_size;         /* FileCacheSize: bytes of small files per child, 0 = off */
    long file_cache_max_file;     /* FileCacheMaxFileSize: largest file cached */
    int file_cache_valid;         /* FileCacheValid: seconds between re-checks */
    struct read_timeout header_timeout; /* RequestReadTimeout header=... */
    struct read_timeout body_timeout;   /* RequestReadTimeout body=... */

    char *error_log;              /* absolute path, or "stderr" */
    int log_level;                /* enum log_level */
    signed char log_module_level[LOG_MODULES]; /* LogLevel MODULE:LEVEL as LEVEL + 1;
                                  * 0: log_level */
    char *access_log;             /* absolute path, or NULL when off */
    int access_format;            /* enum access_format */
    struct log_spec logs[CONFIG_MAX_LOGS]; /* CustomLog, in file order (a site that sets
                                   * none, and no AccessLog, inherits the main server's) */
    int n_logs;
    struct log_format_def log_formats[CONFIG_MAX_LOG_FORMATS]; /* LogFormat nicknames */
    int n_log_formats;
    char *pid_file;               /* absolute path, or NULL */
    char *types_config;           /* TypesConfig: absolute path of the mime.types file */
    struct dirconf dir;           /* directives of the sections' kind outside sections */
    const struct dirconf *main_dir; /* a virtual host's: the main server's DIR, merged
                                   * before its own; NULL for the main server */
    struct section *sections;     /* <Directory>, <Files>, <Location>... of this site
                                   * (INDEX covers the main server's too) */
    int n_sections;
    struct section_index *index;  /* SECTIONS, indexed for route_sections (route.h) */
    char *user;                   /* NULL: keep the starting user */
    char *group;                  /* NULL: keep the starting group */

    /* Line of the file where each directive was last set, 0 if it kept
     * its default; indexed by the position of the directive in
     * src/core/config.c's table (private to config.c, used for messages). */
    int directive_line[CONFIG_MAX_DIRECTIVES];
    const char *directive_file[CONFIG_MAX_DIRECTIVES]; /* its file (in FILES), or NULL */
    int directive_seq[CONFIG_MAX_DIRECTIVES];   /* order in which they were last set */
};

/* Load and validate FILE.  SERVER_ROOT, if not NULL, overrides the
 * ServerRoot directive (mpmd -d); a relative ServerRoot is taken from the
 * current directory, and the other relative paths from ServerRoot once the
 * whole file is read.  DocumentRoot must exist; User and Group must exist.
 * On success returns a new config (free with config_free).  On error
 * returns NULL and writes one line to ERR (if ERR is not NULL and ERRLEN
 * > 0; truncated to fit) of the form
 *   "FILE:LINE: Directive: what is wrong; what is accepted"
 * or "FILE: Directive: ..." when the problem is not on one line (a
 * default, a missing Listen), or "FILE: cannot open: REASON" /
 * "FILE: cannot read: REASON" when the file itself cannot be read.  FILE
 * is as passed.  Any thread; no side effects but reading the file, the
 * user and group databases and stat(2) of DocumentRoot. */
struct config *config_load(const char *file, const char *server_root, char *err, size_t errlen);

/* Same as config_load, but parses TEXT; NAME is used in messages as the
 * file name.  Used by the unit tests. */
struct config *config_parse_text(const char *name, const char *text, const char *server_root,
                                 char *err, size_t errlen);

void config_free(struct config *cfg);

/* URL prefix S (<Location>, Alias, Redirect) without repeated slashes, in
 * place: the request paths it is compared with have none.  A trailing
 * slash stays (it means "below"). */
void config_squeeze_slashes(char *s);

/* The AddType media type for the file name NAME (LEN bytes), looking at
 * the extension after its last '.', case-insensitive; the latest AddType
 * wins.  NULL when none names it.  Any thread. */
const char *config_added_type(const struct config *cfg, const char *name, size_t len);

/* The files CFG was read from, as `apachectl -t -D DUMP_INCLUDES` prints
 * them: "(*) main file", then each included file under the file that
 * included it, with the line of its Include. */
void config_print_includes(const struct config *cfg, FILE *out);

/* The virtual hosts as `apachectl -S` prints them: each address, its
 * default server and name-based hosts with their aliases, then
 * ServerRoot, the main DocumentRoot and ErrorLog. */
void config_print_vhosts(const struct config *cfg, FILE *out);

/* Print every directive with its default and one line of help (mpmd -V),
 * one line per directive, after a "# Directive Default Meaning" header. */
void config_print_defaults(FILE *out);

/* Write the directive reference in Markdown (the content of
 * docs/directives.md) from the same table.  The output does not depend on
 * the build (ServerRoot's default is described, not printed), so the unit
 * tests compare it with the committed file. */
void config_print_reference_md(FILE *out);

/* One entry of the directive reference -- a core directive, a module's
 * directive or a section -- as docs/directives.md and mpmd.conf(5) show
 * it.  The strings are the table's (static), except ACCEPTS. */
struct config_doc {
    const char *name;             /* "Listen", "<VirtualHost>" */
    const char *syntax;           /* the arguments; a section's whole form */
    const char *help;             /* one sentence, without its full stop */
    const char *def;              /* the default as config text (after the name), or NULL */
    const char *def_doc;          /* the default in words when DEF is NULL; NULL: none */
    const char *accepts;          /* what the arguments may be, in words; NULL: the syntax */
    const char *note;             /* a paragraph more, or NULL */
    const char *const *keywords;  /* path directives' words taken verbatim (stderr), or NULL */
    const char *module;           /* the module that owns it; NULL: the core, a section */
    unsigned ctx;                 /* CTX_* bits: where it may stand */
    int is_section;               /* 1: a <Section>, SYNTAX its whole form */
};

/* Entry I of the reference into *DOC: the core directives in table order,
 * then each module's in registry order, then the sections.  ACCEPTS is
 * written into BUF (LEN bytes).  Returns 0, or -1 when I is past the
 * last entry.  Any thread. */
int config_doc_entry(int i, struct config_doc *doc, char *buf, size_t len);

/* CTX (CTX_* bits) in words, into BUF (LEN bytes): "server config,
 * <VirtualHost>", as the error messages say it.  Returns BUF. */
const char *config_context_names(unsigned ctx, char *buf, size_t len);

/* Write mpmd.conf(5): TEMPLATE (docs/mpmd.conf.5.in) copied line by line,
 * its marker lines replaced by troff .TP entries generated from the same
 * tables as config_print_reference_md: ".\" @CORE@" by the core
 * directives, ".\" @MODULES@" by the modules' (a subsection each) and
 * ".\" @SECTIONS@" by the sections.  Returns 0, or -1 on a read or
 * write error (errno set).  Any thread; src/core/confman.c. */
int config_print_man(FILE *out, FILE *template);

#endif
