/* cgihead.h: the response head a CGI script (its stdout) or a FastCGI
 * application (its STDOUT stream) writes before the body (RFC 3875
 * section 6), parsed incrementally as the bytes arrive.
 *
 * Pure code, no I/O: the CGI and FastCGI handlers feed it.  A cgi_head
 * belongs to one request, used by the handler thread running it. */
#ifndef MPMD_CGIHEAD_H
#define MPMD_CGIHEAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CGI_HEAD_MAX_FIELDS 100 /* header fields a head may have, Status not counted */

/* One header field: offsets and lengths into cgi_head.buf. */
struct cgi_field {
    uint32_t name_off, name_len, value_off, value_len;
};

/* What the head asks the server to do (RFC 3875 6.2). */
enum cgi_kind {
    CGI_DOCUMENT,        /* send the document (Status, or 200) */
    CGI_LOCAL_REDIRECT,  /* run the request again for Location's path */
    CGI_CLIENT_REDIRECT  /* Location is an absolute URI: redirect the client */
};

/* Owned by the caller (one handler thread).  Read the fields once done;
 * only cgihead.c writes them. */
struct cgi_head {
    char *buf;
    size_t len, limit;          /* owned; buf allocated once, LIMIT bytes */
    int done;                   /* the blank line ending the head was seen */
    int status;                 /* from "Status:", 0 when absent */
    uint32_t reason_off, reason_len; /* the reason phrase after the code, may be empty */
    int location;               /* index in fields of Location, -1 when none */
    int content_type;           /* index in fields of Content-Type, -1 */
    struct cgi_field fields[CGI_HEAD_MAX_FIELDS]; /* every field but Status, in order */
    int n_fields;
    const char *error;          /* why feed failed (static string) */
};

/* Ready H for a new head of at most LIMIT bytes (the blank line included),
 * e.g. 65536 (at most 4 GiB - 1: offsets are 32-bit), allocating its
 * buffer once.  Returns 0, or -1 when out of memory (H is then safe to
 * pass to cgi_head_free, and cgi_head_feed fails). */
int cgi_head_init(struct cgi_head *h, size_t limit);

/* Free the buffer; the offsets become meaningless. */
void cgi_head_free(struct cgi_head *h);

/* Feed the next LEN bytes of the script's output.  Returns how many were
 * consumed: all of them while the head goes on, or up to and including
 * the blank line once it ends (done = 1; the rest of IN is body; later
 * calls consume 0).  -1 on error (error set; later calls fail too):
 * a line without a colon, a field name that is not an RFC 9110 token, a
 * value with a control character other than HTAB (CR and NUL included:
 * no response splitting), obs-fold (a line starting with SP/HTAB), a
 * Status that is not three digits 100..599 followed by the end or SP and
 * a reason, Status twice, more than CGI_HEAD_MAX_FIELDS fields, the head
 * larger than LIMIT.  Lines end in LF or CRLF.  Field values are trimmed
 * of leading and trailing SP/HTAB.  A blank first line is an empty head.
 * Location and Content-Type (names case-insensitive) are indexed at their
 * first occurrence.  No allocation. */
ssize_t cgi_head_feed(struct cgi_head *h, const char *in, size_t len);

/* RFC 3875 6.2, once done: CGI_LOCAL_REDIRECT when Location's value
 * starts with "/" and there is no Status, CGI_CLIENT_REDIRECT when it is
 * an absolute URI (scheme ":"), CGI_DOCUMENT otherwise (no Location, or
 * a local path with a Status). */
enum cgi_kind cgi_head_kind(const struct cgi_head *h);

/* The value of field I (a pointer into buf, *LEN its length), or NULL
 * (*LEN = 0) when I is not a field index. */
const char *cgi_head_value(const struct cgi_head *h, int i, size_t *len);

/* The name of field I, as cgi_head_value. */
const char *cgi_head_name(const struct cgi_head *h, int i, size_t *len);

#endif
