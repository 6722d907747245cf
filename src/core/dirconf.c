/* dirconf.c: the per-directory directives and the Require rules
 * (dirconf.h).  Runs where configurations load; authz_check on any
 * thread. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "mpmd/core/dirconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Options ------------------------------------------------------------ */

struct option_name {
    const char *name;
    unsigned bits;
};

static const struct option_name option_names[] = {
    {"Indexes", OPT_INDEXES}, {"FollowSymLinks", OPT_FOLLOW_SYMLINKS},
    {"ExecCGI", OPT_EXEC_CGI}, {"All", OPT_ALL}, {"None", 0}, {NULL, 0},
};

/* Apache options mpmd does not implement: refused by name. */
static const char *const unsupported_options[] = {
    "Includes", "IncludesNOEXEC", "MultiViews", "SymLinksIfOwnerMatch", NULL,
};

static int option_bits(const char *word, unsigned *bits, char *err, size_t errlen)
{
    for (int i = 0; option_names[i].name; i++)
        if (strcasecmp(option_names[i].name, word) == 0) {
            *bits = option_names[i].bits;
            return 0;
        }
    for (int i = 0; unsupported_options[i]; i++)
        if (strcasecmp(unsupported_options[i], word) == 0) {
            snprintf(err, errlen, "'%s' is an Apache option mpmd does not implement; "
                     "expected Indexes, FollowSymLinks, ExecCGI, All or None", word);
            return -1;
        }
    snprintf(err, errlen, "unknown option '%s'; expected [+|-]Indexes, FollowSymLinks, ExecCGI, "
             "All or None", word);
    return -1;
}

int dirconf_set_options(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    int signed_words = 0;
    unsigned on = 0, off = 0;
    for (int i = 0; i < argc; i++) {
        char sign = argv[i][0] == '+' || argv[i][0] == '-' ? argv[i][0] : 0;
        unsigned bits;
        if (option_bits(argv[i] + (sign != 0), &bits, err, errlen) == -1)
            return -1;
        if (sign && (bits == OPT_ALL || bits == 0)) {
            snprintf(err, errlen, "'%s': All and None take no '+' or '-'", argv[i]);
            return -1;
        }
        signed_words += sign != 0;
        if (sign == '-')
            off |= bits, on &= ~bits;
        else
            on |= bits, off &= ~bits;
    }
    if (signed_words != 0 && signed_words != argc) {
        snprintf(err, errlen, "either all options start with '+' or '-', or none does "
                 "(as in Apache 2.4)");
        return -1;
    }
    d->options_set = 1;
    d->options_absolute = signed_words == 0;
    d->options_on = on;
    d->options_off = off;
    return 0;
}

unsigned dirconf_options(const struct dirconf *d, unsigned base)
{
    if (!d->options_set)
        return base;
    if (d->options_absolute)
        return d->options_on;
    return (base | d->options_on) & ~d->options_off;
}

/* ---- accepted for Apache configs, with the one value mpmd has -------------- */

int dirconf_allow_override(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    (void)d, (void)argc;
    if (strcasecmp(argv[0], "None") == 0)
        return 0;
    snprintf(err, errlen, "mpmd reads no .htaccess files: only None is accepted, got '%s'; "
             "put the directives in a <Directory> section instead", argv[0]);
    return -1;
}

int dirconf_hostname_lookups(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    (void)d, (void)argc;
    if (strcasecmp(argv[0], "Off") == 0)
        return 0;
    snprintf(err, errlen, "mpmd logs addresses, never host names: only Off is accepted, got "
             "'%s'", argv[0]);
    return -1;
}

/* ---- Header ------------------------------------------------------------- */

static const char *const header_actions[] = {
    [HDR_SET] = "set", [HDR_APPEND] = "append", [HDR_ADD] = "add", [HDR_MERGE] = "merge",
    [HDR_UNSET] = "unset", [HDR_SETIFEMPTY] = "setifempty",
};

static int is_token(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && strspn(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == n;
}

/* VALUE with "%%" made '%'; any other '%' is one of Apache's format
 * specifiers (%t, %D, %{NAME}e), which mpmd does not expand: refused. */
static char *header_value(const char *value, char *err, size_t errlen)
{
    if (strpbrk(value, "\r\n")) {
        snprintf(err, errlen, "a header value cannot contain a line break");
        return NULL;
    }
    char *out = malloc(strlen(value) + 1), *w = out;
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (const char *r = value; *r; r++) {
        if (*r == '%' && r[1] == '%') {
            *w++ = '%', r++;
        } else if (*r == '%') {
            snprintf(err, errlen, "format specifiers such as '%%t' or '%%{VAR}e' are not "
                     "supported; write '%%%%' for a literal '%%', got '%s'", value);
            free(out);
            return NULL;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return out;
}

int dirconf_add_header(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    int always = 0, i = 0;
    if (strcasecmp(argv[0], "always") == 0 || strcasecmp(argv[0], "onsuccess") == 0)
        always = strcasecmp(argv[i++], "always") == 0;
    int action = -1;
    for (int a = 0; i < argc && a < (int)(sizeof header_actions / sizeof *header_actions); a++)
        if (strcasecmp(header_actions[a], argv[i]) == 0)
            action = a;
    if (action == -1) {
        snprintf(err, errlen, "expected [always] set|append|add|merge|setifempty|unset NAME "
                 "[VALUE], got '%s'", i < argc ? argv[i] : "");
        return -1;
    }
    int want = action == HDR_UNSET ? 1 : 2, have = argc - i - 1;
    if (have != want) {
        snprintf(err, errlen, "'%s' takes %s, got %d argument%s%s", header_actions[action],
                 want == 1 ? "a header name only" : "a header name and a value", have,
                 have == 1 ? "" : "s", have > want ? " (conditions such as env= or expr= "
                 "are not supported)" : "");
        return -1;
    }
    if (!is_token(argv[i + 1])) {
        snprintf(err, errlen, "expected a header name (letters, digits, '-'), got '%s'",
                 argv[i + 1]);
        return -1;
    }
    struct header_op op = {.action = (enum header_action)action, .always = always};
    if (want == 2 && (op.value = header_value(argv[i + 2], err, errlen)) == NULL)
        return -1;
    struct header_op *all = realloc(d->headers, (size_t)(d->n_headers + 1) * sizeof *all);
    if (all == NULL || (op.name = strdup(argv[i + 1])) == NULL) {
        if (all)
            d->headers = all;
        free(op.value);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->headers = all;
    all[d->n_headers++] = op;
    return 0;
}

/* ---- ErrorDocument ------------------------------------------------------ */

int dirconf_add_error_doc(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    char *end;
    long code = strtol(argv[0], &end, 10);
    if (end == argv[0] || *end != '\0' || code < 400 || code > 599) {
        snprintf(err, errlen, "expected an error status from 400 to 599, got '%s'", argv[0]);
        return -1;
    }
    const char *doc = argv[1];
    struct error_doc e = {.status = (int)code};
    if (strcasecmp(doc, "default") == 0)
        e.kind = ERRDOC_DEFAULT;
    else if (doc[0] == '/')
        e.kind = ERRDOC_LOCAL;
    else if (strncasecmp(doc, "http://", 7) == 0 || strncasecmp(doc, "https://", 8) == 0)
        e.kind = ERRDOC_URL;
    else
        e.kind = ERRDOC_TEXT;
    if ((e.kind == ERRDOC_LOCAL || e.kind == ERRDOC_URL) && strpbrk(doc, " \t\r\n")) {
        snprintf(err, errlen, "a path or URL cannot contain blanks, got '%s'", doc);
        return -1;
    }
    if (e.kind == ERRDOC_TEXT && strpbrk(doc, "\r\n")) {
        snprintf(err, errlen, "the text cannot contain a line break");
        return -1;
    }
    struct error_doc *all = realloc(d->error_docs, (size_t)(d->n_error_docs + 1) * sizeof *all);
    if (all == NULL || (e.text = strdup(doc)) == NULL) {
        if (all)
            d->error_docs = all;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->error_docs = all;
    all[d->n_error_docs++] = e;
    return 0;
}

/* ---- SetEnv / UnsetEnv ---------------------------------------------------- */

static int valid_env_name(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n < 256 && strchr(s, '=') == NULL &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

static int push_env(struct dirconf *d, const char *name, const char *value, char *err,
                    size_t errlen)
{
    if (!valid_env_name(name)) {
        snprintf(err, errlen, "expected a variable name (letters, digits, '_', '-', '.'), "
                 "got '%s'", name);
        return -1;
    }
    struct env_op *all = realloc(d->env, (size_t)(d->n_env + 1) * sizeof *all);
    if (all)
        d->env = all;
    struct env_op op = {.name = strdup(name), .value = value ? strdup(value) : NULL};
    if (all == NULL || op.name == NULL || (value && op.value == NULL)) {
        free(op.name);
        free(op.value);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    d->env[d->n_env++] = op;
    return 0;
}

int dirconf_set_env(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    return push_env(d, argv[0], argc > 1 ? argv[1] : "", err, errlen);
}

int dirconf_unset_env(struct dirconf *d, int argc, char **argv, char *err, size_t errlen)
{
    for (int i = 0; i < argc; i++)
        if (push_env(d, argv[i], NULL, err, errlen) == -1)
            return -1;
    return 0;
}

void dirconf_free(struct dirconf *d)
{
    for (int i = 0; i < d->n_env; i++) {
        free(d->env[i].name);
        free(d->env[i].value);
    }
    free(d->env);
    free(d->add_handlers);
    for (int i = 0; i < d->n_headers; i++) {
        free(d->headers[i].name);
        free(d->headers[i].value);
    }
    free(d->headers);
    for (int i = 0; i < d->n_error_docs; i++)
        free(d->error_docs[i].text);
    free(d->error_docs);
    authz_free(d->require);
    int handler = d->handler;
    memset(d, 0, sizeof *d);
    d->handler = handler;         /* module[] is freed by the loader, which knows the modules */
}

/* ---- Require ------------------------------------------------------------ */

struct authz *authz_new(enum authz_kind kind)
{
    struct authz *a = calloc(1, sizeof *a);
    if (a)
        a->kind = kind;
    return a;
}

void authz_free(struct authz *a)
{
    if (a == NULL)
        return;
    for (int i = 0; i < a->n_kids; i++)
        authz_free(a->kids[i]);
    free(a->kids);
    free(a->nets);
    for (int i = 0; i < a->n_names; i++)
        free(a->names[i]);
    free(a->names);
    free(a);
}

int authz_add_kid(struct authz *c, struct authz *kid)
{
    struct authz **kids = realloc(c->kids, (size_t)(c->n_kids + 1) * sizeof *kids);
    if (kids == NULL) {
        authz_free(kid);
        return -1;
    }
    c->kids = kids;
    kids[c->n_kids++] = kid;
    return 0;
}

/* "10", "10.1", "10.1.2." : the leading octets of an IPv4 network
 * (Apache's partial form). */
static int parse_partial_v4(const char *s, struct authz_net *n)
{
    int octets = 0;
    memset(n, 0, sizeof *n);
    while (*s && octets < 4) {
        char *end;
        if (*s < '0' || *s > '9')
            return -1;
        long v = strtol(s, &end, 10);
        if (v > 255 || end - s > 3)
            return -1;
        n->ip[octets++] = (unsigned char)v;
        s = end;
        if (*s == '.')
            s++;
        else if (*s)
            return -1;
    }
    if (*s || octets == 0)
        return -1;
    n->family = AF_INET;
    n->bits = 8 * octets;
    return 0;
}

/* A dotted netmask such as 255.255.0.0 as a prefix length, or -1. */
static int netmask_bits(const char *s)
{
    struct in_addr m;
    if (inet_pton(AF_INET, s, &m) != 1)
        return -1;
    unsigned long v = ntohl(m.s_addr);
    int bits = 0;
    while (bits < 32 && (v & (1UL << (31 - bits))))
        bits++;
    return (v & ((bits == 32) ? 0 : (0xffffffffUL >> bits))) ? -1 : bits;
}

/* ADDR, ADDR/BITS, IPV4/NETMASK or a partial IPv4 address. */
int authz_parse_net(const char *text, struct authz_net *n)
{
    char buf[64];
    if (strlen(text) >= sizeof buf)
        return -1;
    strcpy(buf, text);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash++ = '\0';
    memset(n, 0, sizeof *n);
    if (inet_pton(AF_INET, buf, n->ip) == 1) {
        n->family = AF_INET, n->bits = 32;
    } else if (inet_pton(AF_INET6, buf, n->ip) == 1) {
        n->family = AF_INET6, n->bits = 128;
    } else if (slash == NULL && strchr(buf, ':') == NULL) {
        return parse_partial_v4(buf, n);
    } else {
        return -1;
    }
    if (slash == NULL)
        return 0;
    char *end;
    long bits = strtol(slash, &end, 10);
    if (*slash >= '0' && *slash <= '9' && *end == '\0' && bits <= n->bits) {
        n->bits = (int)bits;
        return 0;
    }
    if (n->family == AF_INET && (bits = netmask_bits(slash)) >= 0) {
        n->bits = (int)bits;
        return 0;
    }
    return -1;
}

static int add_net(struct authz *a, const struct authz_net *n)
{
    struct authz_net *nets = realloc(a->nets, (size_t)(a->n_nets + 1) * sizeof *nets);
    if (nets == NULL)
        return -1;
    a->nets = nets;
    nets[a->n_nets++] = *n;
    return 0;
}

/* Require local: the loopback networks (Apache also counts the server's
 * own address; a loopback listener sees only these). */
static int add_local_nets(struct authz *a)
{
    struct authz_net v4, v6;
    authz_parse_net("127.0.0.0/8", &v4);
    authz_parse_net("::1", &v6);
    return add_net(a, &v4) == -1 || add_net(a, &v6) == -1 ? -1 : 0;
}

#define REQUIRE_FORMS "all granted|denied, [not] ip ADDRESS..., [not] local, valid-user, " \
    "[not] user NAME... or [not] group NAME..."

/* Require valid-user, user NAME..., group NAME...: A (of KIND) takes ARGV's
 * names.  0, or -1 with ERR set. */
static int parse_user_rule(struct authz *a, enum authz_kind kind, int argc, char **argv,
                           char *err, size_t errlen)
{
    a->kind = kind;
    if (kind == AUTHZ_VALID_USER) {
        if (argc > 0 || a->negate)
            snprintf(err, errlen, "'valid-user' takes no argument and no 'not'");
        return argc > 0 || a->negate ? -1 : 0;
    }
    if (argc == 0) {
        snprintf(err, errlen, "'%s' needs at least one name", kind == AUTHZ_USER ? "user" : "group");
        return -1;
    }
    if ((a->names = calloc((size_t)argc, sizeof *a->names)) == NULL)
        goto oom;
    for (int i = 0; i < argc; i++, a->n_names++)
        if ((a->names[i] = strdup(argv[i])) == NULL)
            goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

/* The rule of one Require line, or NULL with ERR set. */
static struct authz *parse_require(int argc, char **argv, int *negated, char *err, size_t errlen)
{
    int i = 0;
    *negated = argc > 0 && strcasecmp(argv[0], "not") == 0;
    i += *negated;
    if (i >= argc) {
        snprintf(err, errlen, "expected " REQUIRE_FORMS);
        return NULL;
    }
    const char *what = argv[i++];
    struct authz *a = authz_new(AUTHZ_IP);
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->negate = *negated;
    if (strcasecmp(what, "all") == 0 && !*negated && argc - i == 1 &&
        (strcasecmp(argv[i], "granted") == 0 || strcasecmp(argv[i], "denied") == 0)) {
        a->kind = strcasecmp(argv[i], "granted") == 0 ? AUTHZ_ALL_GRANTED : AUTHZ_ALL_DENIED;
        return a;
    }
    enum authz_kind user_kind = strcasecmp(what, "valid-user") == 0 ? AUTHZ_VALID_USER
                              : strcasecmp(what, "user") == 0       ? AUTHZ_USER
                              : strcasecmp(what, "group") == 0      ? AUTHZ_GROUP
                                                                    : AUTHZ_IP;
    if (user_kind != AUTHZ_IP) {
        if (parse_user_rule(a, user_kind, argc - i, argv + i, err, errlen) == 0)
            return a;
    } else if (strcasecmp(what, "local") == 0 && argc > i) {
        snprintf(err, errlen, "'local' takes no address, got '%s'", argv[i]);
    } else if (strcasecmp(what, "local") == 0) {
        if (add_local_nets(a) == 0)
            return a;
        snprintf(err, errlen, "out of memory");
    } else if (strcasecmp(what, "ip") == 0 && argc > i) {
        for (; i < argc; i++) {
            struct authz_net n;
            if (authz_parse_net(argv[i], &n) == -1) {
                snprintf(err, errlen, "expected an IP address, ADDRESS/BITS, IPV4/NETMASK or a "
                         "partial IPv4 address such as 10.1, got '%s'", argv[i]);
                break;
            }
            if (add_net(a, &n) == -1) {
                snprintf(err, errlen, "out of memory");
                break;
            }
        }
        if (i == argc)
            return a;
    } else if (strcasecmp(what, "all") == 0) {
        snprintf(err, errlen, "expected 'all granted' or 'all denied' (no 'not')");
    } else if (strcasecmp(what, "ip") == 0) {
        snprintf(err, errlen, "'ip' needs at least one address");
    } else {
        snprintf(err, errlen, "'%s' is not supported; expected " REQUIRE_FORMS, what);
    }
    authz_free(a);
    return NULL;
}

int authz_add_require(struct authz *c, int argc, char **argv, char *err, size_t errlen)
{
    int negated;
    struct authz *a = parse_require(argc, argv, &negated, err, errlen);
    if (a == NULL)
        return -1;
    if (negated && c->kind != AUTHZ_ALL) {
        authz_free(a);
        snprintf(err, errlen, "'Require not' can only deny, so it must stand in a "
                 "<RequireAll> with a rule that grants");
        return -1;
    }
    if (authz_add_kid(c, a) == -1) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

static int net_matches(const struct authz_net *n, int family, const unsigned char *ip)
{
    if (n->family != family)
        return 0;
    int full = n->bits / 8, rest = n->bits % 8;
    if (memcmp(n->ip, ip, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->ip[full] & mask) == (ip[full] & mask);
}

int authz_nets_match(const struct authz_net *nets, int n, const struct sockaddr *peer)
{
    int family = peer->sa_family;
    const unsigned char *ip;
    if (family == AF_INET) {
        ip = (const unsigned char *)&((const struct sockaddr_in *)peer)->sin_addr;
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        ip = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            family = AF_INET, ip += 12;
    } else {
        return 0;
    }
    for (int i = 0; i < n; i++)
        if (net_matches(&nets[i], family, ip))
            return 1;
    return 0;
}

/* Require user / group / valid-user, before negation (mod_authz_user,
 * mod_authz_groupfile): without a user, only a user could change it. */
static enum authz_result user_rule(const struct authz *a, const struct authz_user *u)
{
    if (u == NULL || u->name == NULL)
        return AZ_DENIED_NO_USER;
    if (a->kind == AUTHZ_VALID_USER)
        return AZ_GRANTED;
    for (int i = 0; i < a->n_names; i++) {
        if (a->kind == AUTHZ_USER && strcmp(a->names[i], u->name) == 0)
            return AZ_GRANTED;
        if (a->kind == AUTHZ_GROUP && u->in_group && u->in_group(u->ctx, a->names[i]))
            return AZ_GRANTED;
    }
    return AZ_DENIED;
}

/* A provider's answer, before negation. */
static enum authz_result leaf(const struct authz *a, const struct sockaddr *peer,
                              const struct authz_user *u)
{
    switch (a->kind) {
    case AUTHZ_ALL_GRANTED:
        return AZ_GRANTED;
    case AUTHZ_ALL_DENIED:
        return AZ_DENIED;
    case AUTHZ_IP:
        return authz_nets_match(a->nets, a->n_nets, peer) ? AZ_GRANTED : AZ_DENIED;
    default:
        return user_rule(a, u);
    }
}

/* One child's answer R folded into a container's answer SO_FAR (Apache's
 * apply_authz_sections): DENIED_NO_USER wins over DENIED where a user
 * could still change the result.  Sets *STOP when the container is
 * decided. */
static enum authz_result fold(enum authz_kind op, enum authz_result so_far, enum authz_result r,
                              int *stop)
{
    if (r == AZ_NEUTRAL)
        return so_far;
    if (op == AUTHZ_ALL) {
        if (r == AZ_DENIED)
            return *stop = 1, r;
        if ((r == AZ_DENIED_NO_USER && so_far != AZ_DENIED) || so_far == AZ_NEUTRAL)
            return r;
        return so_far;
    }
    if (r == AZ_GRANTED)
        return *stop = 1, r;
    if ((r == AZ_DENIED_NO_USER && so_far == AZ_DENIED) || so_far == AZ_NEUTRAL)
        return r;
    return so_far;
}

enum authz_result authz_eval(const struct authz *a, const struct sockaddr *peer,
                             const struct authz_user *u)
{
    enum authz_result r = AZ_NEUTRAL;
    if (a->kind == AUTHZ_ANY || a->kind == AUTHZ_ALL) {
        int stop = 0;
        for (int i = 0; i < a->n_kids && !stop; i++)
            r = fold(a->kind, r, authz_eval(a->kids[i], peer, u), &stop);
    } else {
        r = leaf(a, peer, u);
    }
    if (a->negate && r == AZ_GRANTED)
        return AZ_DENIED;
    if (a->negate && (r == AZ_DENIED || r == AZ_DENIED_NO_USER))
        return AZ_NEUTRAL;   /* not being refused grants nothing */
    return r;
}

int authz_check(const struct authz *a, const struct sockaddr *peer)
{
    return authz_eval(a, peer, NULL) == AZ_GRANTED;
}

int authz_needs_group(const struct authz *a)
{
    if (a->kind == AUTHZ_GROUP)
        return 1;
    for (int i = 0; i < a->n_kids; i++)
        if (authz_needs_group(a->kids[i]))
            return 1;
    return 0;
}
