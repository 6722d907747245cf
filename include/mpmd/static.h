/* static.h: the static-file handler (GET, HEAD, OPTIONS under
 * DocumentRoot).  Handler threads. */
#ifndef MPMD_STATIC_H
#define MPMD_STATIC_H

struct conn;
struct date_cache;
struct reply;

/* Build the reply for the complete request in C: a file (from the cache,
 * or its descriptor handed to RP for sendfile), a directory's index, a
 * redirect to the slash form of a directory, or an error page.  Never
 * blocks on the network; may block on the disk.  Handler threads. */
void static_handle(struct date_cache *date, struct conn *c, struct reply *rp);

/* Build the reply only if it can come from the file cache (a GET or HEAD
 * of a cached file): no disk access beyond a periodic stat.  Returns 1
 * when RP is built, 0 when the request needs static_handle.  The
 * listener thread calls this before handing a request to the pool. */
int static_serve_cached(struct date_cache *date, struct conn *c, struct reply *rp);

#endif
