/*
 * check.h — the few macros every C unit test shares: CHECK (count a failed
 * condition and go on), CHECK_RC (compare two tarn_err values and print
 * their names), and TEST_EXIT (exit 0 or 1 with a summary line). Exit codes
 * follow STYLE.md §8: 0 pass, 1 fail, 77 skip.
 */
#ifndef TARN_TESTS_UNIT_CHECK_H
#define TARN_TESTS_UNIT_CHECK_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/common.h"

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_RC(got, want)                                                          \
    do {                                                                             \
        int got_ = (got), want_ = (want);                                            \
        if (got_ != want_) {                                                         \
            fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__, #got,   \
                    tarn_err_name(got_), tarn_err_name(want_));                      \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* Seeded randomness (splitmix64): TARN_SEED=<n> repeats a run; the seed
 * is printed first and again with any failure summary. */
static uint64_t rng_state, test_seed_value;
static inline uint64_t rng(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void test_seed(const char *name)
{
    const char *env = getenv("TARN_SEED");
    test_seed_value = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
    rng_state = test_seed_value;
    printf("%s: TARN_SEED=%" PRIu64 "\n", name, test_seed_value);
}

/* Exit 0 or 1 with a summary (and the seed, for seeded tests). */
#define TEST_EXIT_SEEDED(name)                                                       \
    do {                                                                             \
        if (failures) {                                                              \
            printf("%s: %d failures (TARN_SEED=%" PRIu64 ")\n", (name), failures,    \
                   test_seed_value);                                                 \
            return 1;                                                                \
        }                                                                            \
        printf("%s: ok\n", (name));                                                  \
        return 0;                                                                    \
    } while (0)

#define TEST_EXIT(name)                                                              \
    do {                                                                             \
        if (failures)                                                                \
            fprintf(stderr, "%s: %d failure(s)\n", (name), failures);               \
        return failures ? 1 : 0;                                                     \
    } while (0)

#endif
