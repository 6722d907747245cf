/* balance.c: sharing new connections evenly between the children of one
 * generation (see balance.h).  Runs in each child's listener thread; reads
 * the siblings' scoreboard slots and writes nothing shared. */
#include "config.h"

#include "mpmd/mpm/balance.h"

void balance_init(struct accept_balance *b, int expected)
{
    b->n_sibs = 0;
    b->expected = expected < BALANCE_MAX_SIBLINGS ? expected : BALANCE_MAX_SIBLINGS;
    b->listed_at = -1;
}

int balance_slack(int least_open)
{
    return 4 + least_open / 16;
}

static int is_ready(const struct scoreboard *sb, int slot)
{
    return atomic_load_explicit(&scoreboard_child(sb, slot)->state, memory_order_relaxed) ==
           SB_CHILD_READY;
}

static void list_siblings(struct accept_balance *b, const struct scoreboard *sb, int self,
                          time_t now)
{
    b->n_sibs = 0;
    for (int i = 0; i < sb->server_limit && b->n_sibs < BALANCE_MAX_SIBLINGS; i++)
        if (i != self && is_ready(sb, i))
            b->sibs[b->n_sibs++] = i;
    b->listed_at = now;
}

/* The fewest open connections of a READY sibling of SELF, or -1 if it has
 * none. */
static int least_sibling_load(struct accept_balance *b, const struct scoreboard *sb, int self,
                              time_t now)
{
    int least = -1;
    if (now != b->listed_at || b->n_sibs < b->expected)
        list_siblings(b, sb, self, now);
    for (int k = 0; k < b->n_sibs; k++) {
        int i = b->sibs[k];
        if (!is_ready(sb, i))
            continue;
        int open = atomic_load_explicit(&scoreboard_child(sb, i)->conns_open,
                                        memory_order_relaxed);
        if (least == -1 || open < least)
            least = open;
    }
    return least;
}

int balance_over_share(struct accept_balance *b, const struct scoreboard *sb, int self, int open,
                       time_t now)
{
    int least = least_sibling_load(b, sb, self, now);
    return least >= 0 && open > least + balance_slack(least);
}
