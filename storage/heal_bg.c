/*
 * heal_bg.c — the background healer and scrub (issue 5 parts 2 and 3).
 *
 * One thread per store (never a worker), started by stor_open when
 * stor_config asks for it. It does three things, one at a time:
 *
 *   queued heals   a degraded read or a shard a put could not write calls
 *                  stor__io_heal_note, which queues the data id here; a
 *                  couple of seconds later (the put's commit has landed by
 *                  then) the thread heals that one shard set, through its
 *                  "d/<id>" record (stor__heal_data);
 *   heal pass      every heal_interval_sec it walks every version and
 *                  rebuilds shards that are missing or have a bad header
 *                  (headers only: cheap);
 *   scrub pass     every scrub_interval_sec it reads and verifies every
 *                  block of every shard and rebuilds the bad ones.
 *
 * Rebuilt bytes (heal) and verified bytes (scrub) are paced to
 * heal_rate_mib_s. Every walk here is live (stor_heal_walk.live): each data
 * id is held while it is rebuilt and must still be referenced before and
 * after, so a heal never resurrects data GC collects meanwhile. Stopping
 * (stor_close) interrupts a pace wait and a walk at its next stripe.
 */
#include "storage/object_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HQ_CAP 256
/* Noted ids wait this long (the put that noted one commits meanwhile). */
#define HQ_DELAY_NS (2ull * 1000000000ull)
#define HQ_RETRY_NS (5ull * 1000000000ull)
#define HQ_TRIES 3
/* The first heal pass after start: at most this long (a replaced disk). */
#define FIRST_PASS_MAX_SEC 60
#define NS 1000000000ull

typedef struct hq_entry {
    char id[33];
    uint64_t due_ns;
    int tries;
} hq_entry;

struct stor_heal_bg {
    stor *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stop;
    int64_t heal_interval, scrub_interval; /* seconds, 0 = off */
    uint64_t rate;                          /* bytes per second */
    uint64_t next_heal_ns, next_scrub_ns;
    hq_entry q[HQ_CAP];
    int nq;
    int overflow; /* notes dropped: run a heal pass soon */
    /* Pace state of the current walk (thread only). */
    uint64_t pace_start_ns, pace_bytes;
    stor_heal_bg_stats st; /* under mu */
};

/* Sleep until deadline (monotonic ns) or stop (or, with wake_on_signal,
 * any signal: a new note); caller holds mu. */
static void wait_until(struct stor_heal_bg *h, uint64_t deadline, int wake_on_signal)
{
    while (!h->stop) {
        uint64_t now = tarn_mono_ns();
        if (now >= deadline)
            return;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (deadline - now);
        ts.tv_sec += (time_t)(ns / NS);
        ts.tv_nsec = (long)(ns % NS);
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT || wake_on_signal)
            return;
    }
}

static int pace_fn(void *arg, uint64_t bytes)
{
    struct stor_heal_bg *h = arg;
    h->pace_bytes += bytes;
    uint64_t want_ns = h->pace_start_ns + (uint64_t)((double)h->pace_bytes * 1e9 / (double)h->rate);
    pthread_mutex_lock(&h->mu);
    if (want_ns > tarn_mono_ns())
        wait_until(h, want_ns, 0);
    int stop = h->stop;
    pthread_mutex_unlock(&h->mu);
    return stop;
}

static void pace_reset(struct stor_heal_bg *h)
{
    h->pace_start_ns = tarn_mono_ns();
    h->pace_bytes = 0;
}

static void count(struct stor_heal_bg *h, const stor_heal_stats *st, int scrub)
{
    pthread_mutex_lock(&h->mu);
    h->st.healed += st->shards_rebuilt;
    h->st.unrecoverable += st->unrecoverable;
    if (scrub)
        h->st.scrubbed_bytes += st->bytes_verified;
    pthread_mutex_unlock(&h->mu);
}

static void run_pass(struct stor_heal_bg *h, int scrub)
{
    stor_heal_walk w = {.live = 1, .verify = scrub, .pace = pace_fn, .arg = h};
    stor_heal_stats st;
    uint64_t t0 = tarn_mono_ns();
    pace_reset(h);
    int rc = stor__heal_walk(h->s, &w, &st);
    count(h, &st, scrub);
    pthread_mutex_lock(&h->mu);
    int stopped = h->stop;
    if (!stopped) {
        if (scrub)
            h->st.scrub_passes++;
        else
            h->st.heal_passes++;
    }
    pthread_mutex_unlock(&h->mu);
    TARN_INFO("%s pass%s: %llu versions, %llu shard sets, %llu shards bad, %llu healed, "
              "%llu unrecoverable, %llu not writable, %llu MiB verified in %.1f s%s%s",
              scrub ? "scrub" : "heal", stopped ? " (stopped)" : "",
              (unsigned long long)st.objects, (unsigned long long)st.sets,
              (unsigned long long)st.shards_bad, (unsigned long long)st.shards_rebuilt,
              (unsigned long long)st.unrecoverable, (unsigned long long)st.write_errors,
              (unsigned long long)(st.bytes_verified >> 20),
              (double)(tarn_mono_ns() - t0) / 1e9, rc ? ": " : "", rc ? tarn_err_name(rc) : "");
}

/* Heal one noted id; 1 to retry later (not committed yet). */
static int run_one(struct stor_heal_bg *h, const char *id)
{
    stor_heal_walk w = {.live = 1, .verify = 1, .pace = pace_fn, .arg = h};
    stor_heal_stats st;
    pace_reset(h);
    int rc = stor__heal_data(h->s, &w, id, &st);
    count(h, &st, 0);
    if (rc == TARN_E_NOT_FOUND)
        return 1;
    if (rc)
        TARN_WARN("heal: data %s: %s", id, tarn_err_name(rc));
    return 0;
}

static void *heal_main(void *arg)
{
    struct stor_heal_bg *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        uint64_t now = tarn_mono_ns(), wake = UINT64_MAX;
        /* A due queued id first. */
        int due = -1;
        for (int i = 0; i < h->nq; i++) {
            if (h->q[i].due_ns <= now) {
                due = i;
                break;
            }
            if (h->q[i].due_ns < wake)
                wake = h->q[i].due_ns;
        }
        if (due >= 0) {
            hq_entry e = h->q[due];
            h->q[due] = h->q[--h->nq];
            pthread_mutex_unlock(&h->mu);
            int again = run_one(h, e.id);
            pthread_mutex_lock(&h->mu);
            if (again && ++e.tries < HQ_TRIES && h->nq < HQ_CAP) {
                e.due_ns = tarn_mono_ns() + HQ_RETRY_NS;
                h->q[h->nq++] = e;
            }
            continue;
        }
        if (h->heal_interval > 0 && (now >= h->next_heal_ns || h->overflow)) {
            h->overflow = 0;
            pthread_mutex_unlock(&h->mu);
            run_pass(h, 0);
            pthread_mutex_lock(&h->mu);
            h->next_heal_ns = tarn_mono_ns() + (uint64_t)h->heal_interval * NS;
            continue;
        }
        if (h->scrub_interval > 0 && now >= h->next_scrub_ns) {
            pthread_mutex_unlock(&h->mu);
            run_pass(h, 1);
            pthread_mutex_lock(&h->mu);
            h->next_scrub_ns = tarn_mono_ns() + (uint64_t)h->scrub_interval * NS;
            continue;
        }
        if (h->heal_interval > 0 && h->next_heal_ns < wake)
            wake = h->next_heal_ns;
        if (h->scrub_interval > 0 && h->next_scrub_ns < wake)
            wake = h->next_scrub_ns;
        if (wake == UINT64_MAX)
            pthread_cond_wait(&h->cv, &h->mu);
        else
            wait_until(h, wake, 1);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int stor__heal_bg_start(stor *s, const stor_config *cfg)
{
    if (cfg->heal_interval_sec <= 0 && cfg->scrub_interval_sec <= 0)
        return 0;
    struct stor_heal_bg *h = calloc(1, sizeof(*h));
    if (!h)
        return TARN_E_NOMEM;
    h->s = s;
    h->heal_interval = cfg->heal_interval_sec > 0 ? cfg->heal_interval_sec : 0;
    h->scrub_interval = cfg->scrub_interval_sec > 0 ? cfg->scrub_interval_sec : 0;
    h->rate = (uint64_t)(cfg->heal_rate_mib_s > 0 ? cfg->heal_rate_mib_s : 64) << 20;
    uint64_t now = tarn_mono_ns();
    int64_t first = h->heal_interval < FIRST_PASS_MAX_SEC ? h->heal_interval : FIRST_PASS_MAX_SEC;
    h->next_heal_ns = now + (uint64_t)first * NS;
    h->next_scrub_ns = now + (uint64_t)h->scrub_interval * NS;
    pthread_condattr_t ca;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->hbg = h;
    if (pthread_create(&h->thread, NULL, heal_main, h) != 0)
        return TARN_E_NOMEM; /* stor_close frees h */
    h->started = 1;
    TARN_INFO("heal: background healer on (heal every %llds, scrub %s%lld%s, %d MiB/s)",
              (long long)h->heal_interval, h->scrub_interval ? "every " : "",
              (long long)h->scrub_interval, h->scrub_interval ? "s" : " (off)",
              (int)(h->rate >> 20));
    return 0;
}

void stor__heal_bg_stop(stor *s)
{
    struct stor_heal_bg *h = s->hbg;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    if (h->started)
        pthread_join(h->thread, NULL);
    s->hbg = NULL;
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void stor__heal_bg_note(stor *s, const char *data_id)
{
    struct stor_heal_bg *h = s->hbg;
    size_t n = strlen(data_id);
    if (!h || h->heal_interval <= 0 || n == 0 || n >= sizeof(h->q[0].id))
        return;
    pthread_mutex_lock(&h->mu);
    h->st.queued++;
    int dup = 0;
    for (int i = 0; i < h->nq && !dup; i++)
        dup = !strcmp(h->q[i].id, data_id);
    if (!dup) {
        if (h->nq < HQ_CAP) {
            hq_entry *e = &h->q[h->nq++];
            memcpy(e->id, data_id, n + 1);
            e->due_ns = tarn_mono_ns() + HQ_DELAY_NS;
            e->tries = 0;
            pthread_cond_signal(&h->cv);
        } else {
            h->overflow = 1; /* too many at once: a whole heal pass instead */
        }
    }
    pthread_mutex_unlock(&h->mu);
}

void stor_heal_bg_stats_get(stor *s, stor_heal_bg_stats *out)
{
    struct stor_heal_bg *h = s->hbg;
    memset(out, 0, sizeof(*out));
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    *out = h->st;
    pthread_mutex_unlock(&h->mu);
}
