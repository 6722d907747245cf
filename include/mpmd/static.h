/* static.h: the static-file handler (GET, HEAD, OPTIONS under
 * DocumentRoot).  Handler threads. */
#ifndef MPMD_STATIC_H
#define MPMD_STATIC_H

struct worker;
struct conn;
struct reply;

/* Build the reply for the complete request in C: a file (its descriptor
 * handed to RP, sent with sendfile), a directory's index, a redirect to
 * the slash form of a directory, or an error page.  Never blocks on the
 * network; may block on the disk. */
void static_handle(struct worker *w, struct conn *c, struct reply *rp);

#endif
