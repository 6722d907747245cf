/* confman.c: mpmd.conf(5) -- the hand-written template
 * (docs/mpmd.conf.5.in) with its directive and section lists generated
 * from the directive table (config_doc_entry), escaped for troff.
 *
 * Runs in `mpmd -5 TEMPLATE` (make update-directives) and in the unit
 * tests, which compare the output with the committed docs/mpmd.conf.5.
 * No state: everything it prints comes from the tables, so the page does
 * not depend on the build. */
#ifdef HAVE_CONFIG_H
#include "config.h"               /* autoconf's, not mpmd/config.h */
#endif

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "mpmd/core/config.h"

/* TEXT as troff text, within a line: a backslash as \e, every '-' as \-
 * (the table's hyphens are in options, header and file names, which must
 * survive copy and paste), `code` in bold.  With SPLIT, a sentence that
 * follows a full stop starts a new line, as troff wants for its
 * end-of-sentence spacing (the new line starts with a capital, never a
 * request). */
static void put_text(FILE *out, const char *text, int split)
{
    int code = 0;
    for (const char *s = text; *s; s++) {
        size_t blanks = strspn(s + 1, " ");
        int sentence = *s == '.' && blanks > 0 && isupper((unsigned char)s[1 + blanks]);
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '`')
            fputs((code = !code) ? "\\fB" : "\\fR", out);
        else if (split && !code && sentence) {
            fputs(".\n", out);
            s += blanks;
        } else
            fputc(*s, out);
    }
    if (code)
        fputs("\\fR", out);
}

static void put_escaped(FILE *out, const char *text)
{
    put_text(out, text, 0);
}

/* TEXT and then END as one troff text line: a leading '.' or '\'' would
 * make it a request, so \& guards it. */
static void put_line(FILE *out, const char *text, const char *end)
{
    if (text[0] == '.' || text[0] == '\'')
        fputs("\\&", out);
    put_text(out, text, 1);
    fprintf(out, "%s\n", end);
}

/* The tag of DOC's entry: the name in bold, then the arguments; for a
 * section ("<VirtualHost ADDR...> ... </VirtualHost>"), its opening
 * "<VirtualHost" in bold. */
static void put_tag(FILE *out, const struct config_doc *doc)
{
    size_t n = strlen(doc->name) - 1;
    int section_form = doc->is_section && strncmp(doc->syntax, doc->name, n) == 0;
    if (doc->is_section && !section_form) {
        put_escaped(out, doc->syntax);
    } else {
        fputs("\\fB", out);
        fprintf(out, "%.*s", (int)(section_form ? n : n + 1), doc->name);
        fputs(section_form ? "\\fR" : "\\fR ", out);
        put_escaped(out, doc->syntax + (section_form ? n : 0));
    }
    fputc('\n', out);
}

/* "Default: ...", "Accepts: ...", "Context: ...", one a line (the module
 * is the subsection's heading). */
static void put_facts(FILE *out, const struct config_doc *doc)
{
    char ctx[200];
    fputs(".IP\n", out);
    if (doc->def != NULL) {
        fputs("Default: \\fB", out);
        put_escaped(out, doc->name);
        fputc(' ', out);
        put_escaped(out, doc->def);
        fputs("\\fR\n.br\n", out);
    } else if (doc->def_doc != NULL) {
        fputs("Default: ", out);
        put_escaped(out, doc->def_doc);
        fputs("\n.br\n", out);
    }
    if (doc->accepts != NULL) {
        fputs("Accepts: ", out);
        put_escaped(out, doc->accepts);
        fputs("\n.br\n", out);
    }
    fputs("Context: ", out);
    put_escaped(out, config_context_names(doc->ctx, ctx, sizeof ctx));
    fputc('\n', out);
}

/* DOC as a .TP entry: tag, help, note, the keywords' rule, the facts. */
static void put_entry(FILE *out, const struct config_doc *doc)
{
    fputs(".TP\n", out);
    put_tag(out, doc);
    put_line(out, doc->help, ".");
    if (doc->note != NULL)
        put_line(out, doc->note, "");
    for (int i = 0; doc->keywords != NULL && doc->keywords[i] != NULL; i++) {
        fputs("\\fB", out);
        put_escaped(out, doc->keywords[i]);
        fputs("\\fR is a keyword (any case); write \\fB./", out);
        put_escaped(out, doc->keywords[i]);
        fputs("\\fR for a file of that name.\n", out);
    }
    put_facts(out, doc);
}

/* A subsection heading when DOC starts a new module's directives. */
static void put_heading(FILE *out, const struct config_doc *doc, const char **module)
{
    if (doc->module == NULL || (*module != NULL && strcmp(*module, doc->module) == 0))
        return;
    *module = doc->module;
    fputs(".SS \"Module ", out);
    put_escaped(out, doc->module);
    fputs("\"\n", out);
}

/* The three generated lists, each replacing its marker line. */
enum part { PART_CORE, PART_MODULES, PART_SECTIONS };

static const char *const markers[] = {
    [PART_CORE] = ".\\\" @CORE@\n",
    [PART_MODULES] = ".\\\" @MODULES@\n",
    [PART_SECTIONS] = ".\\\" @SECTIONS@\n",
};

static enum part part_of(const struct config_doc *doc)
{
    return doc->is_section ? PART_SECTIONS : doc->module ? PART_MODULES : PART_CORE;
}

/* Every entry of PART, in the table's order. */
static void put_entries(FILE *out, enum part part)
{
    struct config_doc doc;
    char accepts[512];
    const char *module = NULL;
    for (int i = 0; config_doc_entry(i, &doc, accepts, sizeof accepts) == 0; i++) {
        if (part_of(&doc) != part)
            continue;
        put_heading(out, &doc, &module);
        put_entry(out, &doc);
    }
}

/* The part whose marker LINE is, or -1. */
static int marker(const char *line)
{
    for (int i = 0; i < (int)(sizeof markers / sizeof markers[0]); i++)
        if (strcmp(line, markers[i]) == 0)
            return i;
    return -1;
}

int config_print_man(FILE *out, FILE *template)
{
    char line[4096];
    while (fgets(line, sizeof line, template) != NULL) {
        int part = marker(line);
        if (part >= 0)
            put_entries(out, (enum part)part);
        else
            fputs(line, out);
    }
    if (ferror(template))
        return -1;
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
