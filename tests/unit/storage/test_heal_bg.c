/*
 * test_heal_bg.c — passes of the healer thread asked for on demand
 * (stor_heal_bg_run, what `tarn heal` and `tarn scrub` use against a
 * running server), on a store whose healer has no periodic passes
 * (heal_on_demand), and interrupting a caller that waits for a pass.
 * Objects are written through the real put pipeline (ioloop.c).
 */
#include "testlib.c"

#include "erasure/erasure.h"
#include "storage/object_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>

#include "ioloop.c"

static const uint64_t sizes[] = {5000, MiB + 3, 9 * MiB + 7};
#define N_OBJ (sizeof(sizes) / sizeof(sizes[0]))

static stor *open_on_demand(tdir *t, int rate_mib_s)
{
    stor_config c = tconfig(t);
    c.heal_on_demand = 1;
    c.heal_rate_mib_s = rate_mib_s;
    stor *s = NULL;
    CHECK_RC(stor_open(&c, &s, NULL), 0);
    if (!s)
        exit(1);
    return s;
}

static void put_all(stor_ioctx *io)
{
    char key[32];
    for (size_t i = 0; i < N_OBJ; i++) {
        sprintf(key, "obj-%zu", i);
        CHECK_RC(t_put(io, "bkt", key, 200 + i, sizes[i]), 0);
    }
}

/* Heal rebuilds a removed shard; scrub finds a flipped block that heal
 * (headers only) does not see; a second scrub finds nothing. */
static void test_passes(tdir *t, stor *s)
{
    stor_heal_stats st;
    char path[600];
    stor_layout l0 = t_layout(s, "bkt", "obj-0"), l2 = t_layout(s, "bkt", "obj-2");
    t_shard_path(t, &l0, 1, path, sizeof(path));
    CHECK(unlink(path) == 0);
    t_shard_path(t, &l2, 3, path, sizeof(path));
    flip_byte(path, 4096 + 3 * (uint64_t)l2.block_size / 2); /* past the header */

    CHECK_RC(stor_heal_bg_run(s, 0, &st), 0);
    CHECK(st.objects == N_OBJ && st.shards_bad == 1 && st.shards_rebuilt == 1);
    CHECK(st.bytes_verified == 0); /* heal verifies headers only */
    CHECK(access(path, F_OK) == 0);

    CHECK_RC(stor_heal_bg_run(s, 1, &st), 0);
    CHECK(st.blocks_bad == 1 && st.shards_bad == 1 && st.shards_rebuilt == 1);
    CHECK(st.unrecoverable == 0 && st.write_errors == 0 && st.bytes_verified > 9 * MiB);

    CHECK_RC(stor_heal_bg_run(s, 1, &st), 0);
    CHECK(st.blocks_bad == 0 && st.shards_bad == 0 && st.shards_rebuilt == 0);

    stor_counters c;
    stor_counters_get(s, &c);
    CHECK(c.heal.healed == 2 && c.heal.heal_passes == 1 && c.heal.scrub_passes == 2);
    CHECK(c.heal.scrubbed_bytes > st.bytes_verified);
}

typedef struct waiter {
    stor *s;
    int rc;
    int done;
    uint64_t took_ns;
} waiter;

static void *wait_scrub(void *arg)
{
    waiter *w = arg;
    stor_heal_stats st;
    uint64_t t0 = tarn_mono_ns();
    w->rc = stor_heal_bg_run(w->s, 1, &st);
    w->took_ns = tarn_mono_ns() - t0;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* At 1 MiB/s a scrub of these objects takes seconds: the waiter must
 * return at once when interrupted, later calls too, and the store must
 * close promptly under the running pass. */
static void test_interrupt(tdir *t)
{
    stor *s = open_on_demand(t, 1);
    waiter w = {.s = s};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, wait_scrub, &w) == 0);
    usleep(300 * 1000);
    CHECK(!__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)); /* still scrubbing */
    stor_heal_bg_interrupt(s);
    pthread_join(th, NULL);
    CHECK_RC(w.rc, TARN_E_SERVICE_UNAVAILABLE);
    stor_heal_stats st;
    CHECK_RC(stor_heal_bg_run(s, 0, &st), TARN_E_SERVICE_UNAVAILABLE);
    uint64_t t0 = tarn_mono_ns();
    stor_close(s);
    CHECK(tarn_mono_ns() - t0 < 2000000000ull);

    /* stor_close with a caller still waiting (no interrupt first): the
     * caller is woken and returns before the healer is freed. */
    s = open_on_demand(t, 1);
    w = (waiter){.s = s};
    CHECK(pthread_create(&th, NULL, wait_scrub, &w) == 0);
    usleep(300 * 1000);
    stor_close(s);
    pthread_join(th, NULL);
    CHECK_RC(w.rc, TARN_E_SERVICE_UNAVAILABLE);
}

/* The offline commands' store has no healer thread to ask. */
static void test_no_healer(tdir *t)
{
    stor *s = topen(t);
    stor_heal_stats st;
    CHECK_RC(stor_heal_bg_run(s, 0, &st), TARN_E_INVAL);
    stor_heal_bg_interrupt(s); /* harmless */
    stor_close(s);
}

int main(void)
{
    tdir t;
    tdir_init(&t);
    loop_init();
    stor *s = open_on_demand(&t, 0);
    stor_ioctx *io;
    CHECK_RC(stor_ioctx_create(s, &L.ring, L.w, &io), 0);
    CHECK_RC(t_bucket(s, "bkt"), 0);
    put_all(io);
    test_passes(&t, s);
    stor_ioctx_destroy(io);
    stor_close(s);
    test_interrupt(&t);
    test_no_healer(&t);
    t_end(&t);
    TEST_EXIT("test_heal_bg");
}
