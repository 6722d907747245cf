/* check_balance.c: unit tests for accept balancing (src/mpm/balance.c,
 * include/mpmd/mpm/balance.h): when a child holds more than its share of open
 * connections compared with its least loaded READY sibling, which slots
 * count as siblings (not itself, not STARTING / STOPPING / FREE ones), the
 * once-a-second sibling list (new siblings show up the next second; ones
 * that stop being READY drop out at once), the slack, and the cap on the
 * siblings looked at with a ServerLimit of 20,000.  Each test maps its own
 * scoreboard. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "check_suites.h"
#include "mpmd/mpm/balance.h"

static struct scoreboard sb;
static struct sb_server *srv;

/* A generation's board of CHILDREN slots, with the server's record it
 * names (balancing reads only the board's slots). */
static void board(int children)
{
    srv = sb_server_create(children, 1);
    ck_assert_msg(srv != NULL, "sb_server_create(%d): %s", children, strerror(errno));
    int rc = scoreboard_create(&sb, children, 1, srv);
    ck_assert_msg(rc == 0, "scoreboard_create(%d): %s", children, strerror(errno));
}

static void set_child(int slot, int state, int open)
{
    struct sb_child *c = scoreboard_child(&sb, slot);
    atomic_store(&c->state, state);
    atomic_store(&c->conns_open, open);
}

/* A fresh balance asks once at time NOW. */
static int over(int self, int open, time_t now)
{
    struct accept_balance b;
    balance_init(&b, 0);
    return balance_over_share(&b, &sb, self, open, now);
}

static void teardown(void)
{
    scoreboard_destroy(&sb);
    sb_server_destroy(srv);
    srv = NULL;
}

START_TEST(test_slack)
{
    ck_assert_int_eq(balance_slack(0), 4);
    ck_assert_int_eq(balance_slack(15), 4);
    ck_assert_int_eq(balance_slack(16), 5);
    ck_assert_int_eq(balance_slack(500), 35);
}
END_TEST

START_TEST(test_alone_never_over)
{
    board(1);
    set_child(0, SB_CHILD_READY, 0);
    ck_assert_int_eq(over(0, 100000, 1), 0);
}
END_TEST

START_TEST(test_threshold_is_least_plus_slack)
{
    board(2);
    set_child(0, SB_CHILD_READY, 0);
    set_child(1, SB_CHILD_READY, 100);
    int limit = 100 + balance_slack(100);
    ck_assert_int_eq(over(0, 0, 1), 0);
    ck_assert_int_eq(over(0, limit, 1), 0);
    ck_assert_int_eq(over(0, limit + 1, 1), 1);
    /* The sibling's side: it holds 100, we (slot 0) hold 3. */
    set_child(0, SB_CHILD_READY, 3);
    ck_assert_int_eq(over(1, 100, 1), 1);
    ck_assert_int_eq(over(1, 3 + balance_slack(3), 1), 0);
}
END_TEST

/* The least loaded sibling decides, not the first or the busiest. */
START_TEST(test_least_loaded_sibling_decides)
{
    board(4);
    set_child(0, SB_CHILD_READY, 0);
    set_child(1, SB_CHILD_READY, 300);
    set_child(2, SB_CHILD_READY, 40);
    set_child(3, SB_CHILD_READY, 200);
    ck_assert_int_eq(over(0, 40 + balance_slack(40), 1), 0);
    ck_assert_int_eq(over(0, 40 + balance_slack(40) + 1, 1), 1);
}
END_TEST

/* Only READY siblings count: one starting, stopping or gone is no place to
 * leave connections to, and its slot's stale count means nothing. */
START_TEST(test_only_ready_siblings_count)
{
    static const int not_ready[] = { SB_CHILD_FREE, SB_CHILD_STARTING, SB_CHILD_STOPPING };
    board(2);
    set_child(0, SB_CHILD_READY, 0);
    for (size_t i = 0; i < sizeof not_ready / sizeof not_ready[0]; i++) {
        set_child(1, not_ready[i], 0);
        ck_assert_msg(over(0, 1000, 1) == 0, "a sibling in state %d counted", not_ready[i]);
    }
}
END_TEST

/* Its own slot is never its sibling, even though it is READY with a count. */
START_TEST(test_self_is_not_a_sibling)
{
    board(3);
    set_child(0, SB_CHILD_READY, 0);
    set_child(1, SB_CHILD_READY, 50);
    set_child(2, SB_CHILD_FREE, 0);
    ck_assert_int_eq(over(0, 50, 1), 0);   /* would be over if slot 0 counted */
    ck_assert_int_eq(over(1, 50, 1), 1);   /* slot 0 holds 0 */
}
END_TEST

/* The sibling list is made once a second: a child that becomes READY is
 * seen from the next second on; one that stops being READY is dropped at
 * once (its state is checked on every call); counts are always fresh. */
START_TEST(test_sibling_list_refresh)
{
    struct accept_balance b;
    board(3);
    balance_init(&b, 1);
    set_child(0, SB_CHILD_READY, 0);
    set_child(1, SB_CHILD_READY, 100);
    set_child(2, SB_CHILD_STARTING, 0);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 7), 0);
    set_child(2, SB_CHILD_READY, 0);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 7), 0);  /* not listed yet */
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 8), 1);  /* listed: holds 0 */
    set_child(2, SB_CHILD_STOPPING, 0);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 8), 0);  /* dropped at once */
    atomic_store(&scoreboard_child(&sb, 1)->conns_open, 10);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 8), 1);  /* fresh count */
}
END_TEST

/* While fewer siblings than the generation started with are listed, the
 * list is made again on every call: a sibling that becomes READY within
 * the same second is seen at once (a burst right after start-up). */
START_TEST(test_sibling_list_until_expected)
{
    struct accept_balance b;
    board(3);
    balance_init(&b, 2);
    set_child(0, SB_CHILD_READY, 0);
    set_child(1, SB_CHILD_STARTING, 0);
    set_child(2, SB_CHILD_STARTING, 0);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 7), 0);  /* no sibling yet */
    set_child(1, SB_CHILD_READY, 0);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 7), 1);  /* seen in the same second */
    set_child(2, SB_CHILD_READY, 200);
    atomic_store(&scoreboard_child(&sb, 1)->conns_open, 150);
    ck_assert_int_eq(balance_over_share(&b, &sb, 0, 100, 7), 0);  /* both listed: least 150 */
}
END_TEST

/* ServerLimit 20,000 with 100 READY children: only the first
 * BALANCE_MAX_SIBLINGS are looked at, so an idle child beyond them is not
 * deferred to, one among them is. */
START_TEST(test_sibling_cap)
{
    board(20000);
    for (int i = 0; i < 100; i++)
        set_child(i * 150, SB_CHILD_READY, 500);
    int inside = 10 * 150, outside = 90 * 150;
    set_child(outside, SB_CHILD_READY, 0);
    ck_assert_int_eq(over(0, 500, 1), 0);
    set_child(inside, SB_CHILD_READY, 0);
    ck_assert_int_eq(over(0, 500, 1), 1);
}
END_TEST

Suite *balance_suite(void)
{
    Suite *s = suite_create("balance");
    TCase *tc = tcase_create("over_share");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_slack);
    tcase_add_test(tc, test_alone_never_over);
    tcase_add_test(tc, test_threshold_is_least_plus_slack);
    tcase_add_test(tc, test_least_loaded_sibling_decides);
    tcase_add_test(tc, test_only_ready_siblings_count);
    tcase_add_test(tc, test_self_is_not_a_sibling);
    tcase_add_test(tc, test_sibling_list_refresh);
    tcase_add_test(tc, test_sibling_list_until_expected);
    tcase_add_test(tc, test_sibling_cap);
    suite_add_tcase(s, tc);
    return s;
}
