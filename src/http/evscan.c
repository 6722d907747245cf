/* evscan.c: the owners of an event_base's events, each once (evscan.h).
 * The listener thread, or after its loop ended. */
#include "config.h"

#include "mpmd/http/evscan.h"

#include <stdint.h>
#include <stdlib.h>

struct scan {
    void *(*owner)(const struct event *ev);
    void **found;
    int n, cap;
};

static int collect(const struct event_base *base, const struct event *ev, void *arg)
{
    struct scan *s = arg;
    void *o = s->owner(ev);
    (void)base;
    if (o == NULL)
        return 0;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        void **f = realloc(s->found, (size_t)cap * sizeof *f);
        if (f == NULL)
            return -1;            /* stop: end what was found */
        s->found = f;
        s->cap = cap;
    }
    s->found[s->n++] = o;
    return 0;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
    return (x > y) - (x < y);
}

int evscan_owners(struct event_base *base, void *(*owner)(const struct event *ev), void ***out)
{
    struct scan s = {.owner = owner};
    event_base_foreach_event(base, collect, &s);
    /* An object with several events (a tunnel's sides, a connection and
     * its waiter) appears once. */
    if (s.n > 1)                  /* (qsort wants an array, even for none) */
        qsort(s.found, (size_t)s.n, sizeof *s.found, by_address);
    int n = 0;
    for (int i = 0; i < s.n; i++)
        if (n == 0 || s.found[n - 1] != s.found[i])
            s.found[n++] = s.found[i];
    *out = s.found;
    return n;
}
