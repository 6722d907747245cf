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

struct module_directive {
    const char *name;             /* NULL ends a table */
    const char *syntax;           /* the arguments, for messages and the reference */
    const char *help;             /* one line */
    unsigned ctx;                 /* CTX_* bits (config.h) */
    int min_args, max_args;
    /* Apply ARGV (ARGC arguments, the name not included) to CONF.  On a
     * bad value returns -1 with one sentence in ERR ("expected ..., got
     * 'x'"); the loader adds file, line and directive name. */
    int (*set)(void *conf, int argc, char **argv, char *err, size_t errlen);
};

struct conf_module {
    const char *name;             /* "alias" */
    const char *handler;          /* the SetHandler name it answers, or NULL */
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
