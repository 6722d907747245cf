/* module.h: what a module tells the configuration loader: its
 * directives (with the contexts they may stand in) and how its own
 * configuration is created, merged and freed.
 *
 * The loader (config.c) knows the core directives; any other directive
 * is looked up in the modules' tables, in registry order, and handed to
 * the module's setter with the module's configuration object for the
 * place it stands in (the main server, a <VirtualHost>, or a section),
 * created on first use.  After parsing, a virtual host's object is
 * merge(main server's, its own), as Apache merges server configs.
 * Everything here runs where the configuration is loaded (the supervisor,
 * `mpmd -t`); children only read the results. */
#ifndef MPMD_MODULE_H
#define MPMD_MODULE_H

#include <stddef.h>

/* Where a module directive stands, for setters that need more than its
 * arguments (ProxyPass inside <Location> takes the section's path). */
struct directive_place {
    unsigned ctx;                 /* CTX_SERVER, CTX_VHOST or CTX_DIR (config.h) */
    int section_kind;             /* enum section_kind when CTX_DIR */
    const char *section;          /* the open section's pattern, NULL outside sections */
    int section_regex;            /* the section is a Match form (or a wildcard) */
    const char *file;             /* the directive's file (valid while the config lives) */
    int line;                     /* and line, for messages after parsing */
};

#define MODULE_SET_HANDLER 1
#define MODULE_SET_NO_HANDLER 2

struct module_directive {
    const char *name;             /* NULL ends a table */
    const char *syntax;           /* the arguments, for messages and the reference */
    const char *help;             /* one line */
    unsigned ctx;                 /* CTX_* bits (config.h) */
    int min_args, max_args;
    /* Apply ARGV (ARGC arguments, the name not included) to CONF.  On a
     * bad value returns -1 with one sentence in ERR ("expected ..., got
     * 'x'"); the loader adds file, line and directive name.  Returns 0,
     * or MODULE_SET_HANDLER when the module's handler answers in this
     * place from now on (as SetHandler would say: ProxyPass in a
     * <Location>), MODULE_SET_NO_HANDLER for SetHandler none. */
    int (*set)(void *conf, const struct directive_place *at, int argc, char **argv, char *err,
               size_t errlen);
    const char *def;              /* the default, for the reference; NULL: "none" */
    const char *note;             /* more for the reference (a paragraph), or NULL */
};

struct conf_module {
    const char *name;             /* "alias" */
    const char *handler;          /* the SetHandler name it answers, or NULL; a name
                                   * ending in ':' ("proxy:") takes an argument after it */
    /* SetHandler "NAME:ARG" (HANDLER ends in ':'): ARG into CONF, the
     * module's configuration of the place; -1 with ERR as for set. */
    int (*handler_arg)(void *conf, const char *arg, char *err, size_t errlen);
    const struct module_directive *directives;   /* NULL: none */
    void *(*create)(void);        /* an empty configuration, or NULL (out of memory) */
    /* A new object: ADD over BASE (either may be NULL); NULL when out of
     * memory. */
    void *(*merge)(const void *base, const void *add);
    void (*destroy)(void *conf);
};

/* The registry, NULL-terminated, in src/modules/modules.c; its order is
 * the module index used in struct dirconf's module[] and handler fields. */
extern const struct conf_module *const mpmd_conf_modules[];

/* The index of M in the registry, or -1. */
int module_index(const struct conf_module *m);

#endif
