/* fuzz_proxyproto.c: libFuzzer harness for the PROXY protocol parser
 * (src/http/proxyproto.c).
 *
 * Input: the bytes a load balancer sends first (a corpus file is a header,
 * maybe followed by a request).  It is parsed whole, then growing one byte
 * at a time from the start, as conn.c feeds it, each prefix in a malloc'd
 * buffer of exactly its size (a read past it is an ASan report).
 * Checked: PP_DONE consumes at least the smallest header and no more than
 * given (a v1 line at most 107 bytes, ending in CRLF); addresses are
 * AF_INET/AF_INET6 unless local; PP_ERROR carries a reason; and across the
 * prefixes: once a prefix is DONE or ERROR, the whole input gives the same
 * outcome (what conn.c decides never depends on how bytes were split), and
 * before that every prefix is NEED_MORE.
 *
 * Runs in the calling thread (libFuzzer's, or replay_main.c's); all
 * memory is per input.  Invariant failures abort() with a message. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_NAME "fuzz_proxyproto"
#include "fuzz_target.h"
#include "mpmd/http/proxyproto.h"

#define MAX_INPUT 70000

static enum pp_status parse_copy(const uint8_t *data, size_t len, struct pp_result *r)
{
    unsigned char *piece = malloc(len ? len : 1);
    CHECK(piece != NULL, "out of memory");
    memcpy(piece, data, len);
    enum pp_status st = pp_parse(piece, len, r);
    free(piece);
    return st;
}

static void check_result(const uint8_t *data, size_t len, enum pp_status st,
                         const struct pp_result *r)
{
    CHECK(st == PP_ERROR || st == PP_NEED_MORE || st == PP_DONE, "status %d", (int)st);
    if (st == PP_ERROR)
        CHECK(r->error != NULL && r->error[0] != '\0', "an error without a reason");
    if (st != PP_DONE)
        return;
    CHECK(r->consumed <= len && r->consumed >= 8, "consumed %zu of %zu", r->consumed, len);
    CHECK(r->version == 1 || r->version == 2, "version %d", r->version);
    if (r->version == 1)
        CHECK(r->consumed <= PP_V1_MAX && data[r->consumed - 2] == '\r' &&
              data[r->consumed - 1] == '\n', "v1 line of %zu bytes", r->consumed);
    else
        CHECK(r->consumed >= PP_V2_FIXED, "v2 header of %zu bytes", r->consumed);
    if (!r->local)
        CHECK((r->src.ss_family == AF_INET || r->src.ss_family == AF_INET6) &&
              r->src.ss_family == r->dst.ss_family, "families %d %d",
              (int)r->src.ss_family, (int)r->dst.ss_family);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    struct pp_result whole, r;
    enum pp_status ws = parse_copy(data, size, &whole);
    check_result(data, size, ws, &whole);
    size_t limit = size < 300 ? size : 300;   /* prefixes past a v1 line or v2 fixed part
                                               * add nothing but time */
    for (size_t n = 0; n <= limit; n++) {
        enum pp_status st = parse_copy(data, n, &r);
        check_result(data, n, st, &r);
        if (st == PP_NEED_MORE)
            continue;
        CHECK(st == ws, "prefix of %zu gives %d, the whole %d", n, (int)st, (int)ws);
        if (st == PP_DONE)
            CHECK(r.consumed == whole.consumed && r.local == whole.local &&
                  memcmp(&r.src, &whole.src, sizeof r.src) == 0,
                  "prefix of %zu parses differently", n);
        break;
    }
    return 0;
}
