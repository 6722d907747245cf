/* fuzz_target.h: the libFuzzer entry point shared by the fuzz binary
 * (libFuzzer's own main) and the corpus replayer (replay_main.c).
 *
 * Runs in the calling thread; one input at a time. */
#ifndef MPMD_FUZZ_TARGET_H
#define MPMD_FUZZ_TARGET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input (DATA, SIZE bytes) through the code under test: the
 * request path (fuzz_request.c, which describes its input format) or the
 * configuration parser (fuzz_config.c: the input is config text).
 * Returns 0.  Aborts (so the fuzzer
 * or the replayer reports it) when an invariant of the code under test is
 * broken; memory errors are left to the sanitizers. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In a harness (which defines FUZZ_NAME before including this file): abort
 * with a line naming the harness, the place and COND, then the printf-style
 * rest, when COND is false -- an invariant of the code under test broke. */
#ifdef FUZZ_NAME
#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, FUZZ_NAME ": %s:%d: invariant broken: %s: ", __FILE__, \
                    __LINE__, #cond);                                               \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)
#endif

#endif
