/* expires.h: ExpiresActive, ExpiresByType and ExpiresDefault, as Apache's
 * mod_expires does them: an Expires field and a Cache-Control max-age for
 * answers that are not errors, from the time of the request (access) or
 * the file's modification time.
 *
 * The directives are parsed where the configuration loads (module.h); the
 * output step (expires_apply) runs on whichever thread finishes a reply:
 * the listener (cached files) and handler threads, streamed replies
 * included.  The pure functions below are exported for the unit tests. */
#ifndef MPMD_EXPIRES_H
#define MPMD_EXPIRES_H

#include <stddef.h>
#include <time.h>

#include "mpmd/core/module.h"
#include "mpmd/http/handler.h"

extern const struct conf_module expires_conf_module;

/* One expiry rule: BASE 'A' (access: the request's time) or 'M' (the
 * file's modification time), plus SECS seconds.  BASE 0: none. */
struct expires_code {
    char base;
    long secs;
};

/* Parse an expiry rule in either of Apache's forms, "A3600" / "M600" (A or M
 * and digits) or
 * "access plus 1 month 2 days" ("now" = access, "modification"; the
 * units years (365 days), months (30 days), weeks, days, hours, minutes,
 * seconds, as Apache reads them: by their first letter, "mo"/"mi" for
 * months and minutes).  0, or -1 with one sentence in ERR. */
int expires_parse_code(const char *text, struct expires_code *out, char *err, size_t errlen);

/* The expiry of CODE for a request at NOW seconds and NOW_USEC
 * microseconds of a file modified at MTIME (0: the answer is no file): 0
 * with *EXPIRES and *MAX_AGE, or -1 when CODE is modification-based and
 * there is no file (Apache then sets nothing).  As Apache computes them:
 * access: NOW + N and N; modification: MTIME + N and the whole seconds
 * from the request's exact time to then (one less than *EXPIRES - NOW
 * when NOW_USEC > 0), and when that is not after NOW: NOW and 0. */
int expires_compute(const struct expires_code *code, time_t now, long now_usec, time_t mtime,
                    time_t *expires, long *max_age);

/* The rule for media type TYPE (TLEN bytes, parameters already cut off;
 * NULL: none) along CONFS (N module configurations in merge order, as
 * handler_dir_confs gives them): an exact ExpiresByType first, then a
 * "major/ *" one (only when the last of CONFS has such an entry: Apache's
 * merge keeps the added config's flag), then ExpiresDefault; the most
 * specific place wins each time.  NULL when ExpiresActive is not On
 * there or nothing applies. */
const struct expires_code *expires_lookup(const void *const *confs, int n, const char *type,
                                          size_t tlen);

/* Add Expires and Cache-Control max-age to H for a request at NOW (and
 * NOW_USEC) of a file modified at MTIME (0: no file) by CODE (as
 * expires_compute), unless H has an Expires
 * already (the handler's or an upstream's).  An existing Cache-Control
 * gets ", max-age=N" appended, as Apache merges it. */
void expires_set_fields(struct response_head *h, const struct expires_code *code, time_t now,
                        long now_usec, time_t mtime);

/* The output step for RP, the answer to RQ: nothing unless an Expires
 * directive applies to its route (then one pointer check per section
 * of the route), nothing for errors (>= 400) or answers the server made
 * (SERVER_MADE: a Redirect, a Require refusal).  Runs before Header, so
 * Header directives may edit or remove what it adds.  Any thread; no
 * allocation. */
void expires_apply(const struct req_ctx *rq, struct reply *rp, int server_made);

/* The module's registry entry: expires_apply as its finish step. */
extern const struct handler expires_handler;

#endif
