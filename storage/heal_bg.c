/*
 * heal_bg.c — the background healer and scrub (issue 5 parts 2 and 3).
 *
 * One thread per store (never a worker), started by stor_open when
 * stor_config asks for it. It does four things, one at a time, in this
 * order of priority:
 *
 *   asked passes   a heal or scrub pass asked for through stor_heal_bg_run
 *                  (`tarn heal` and `tarn scrub` against a running server):
 *                  a caller bumps asked[kind] and sleeps on done_cv; one
 *                  pass serves every request made before it began, and its
 *                  counts go back to them;
 *   queued heals   a degraded read or a shard a put could not write queues
 *                  the data id here (stor__io_read_bad, stor__io_heal_note);
 *                  a couple of seconds later (the put's commit has landed
 *                  by then) the thread heals that one shard set, through
 *                  its "d/<id>" record (stor__heal_data);
 *   heal pass      every heal_interval_sec it walks every version and
 *                  rebuilds shards that are missing or have a bad header
 *                  (headers only: cheap);
 *   scrub pass     every scrub_interval_sec it reads and verifies every
 *                  block of every shard and rebuilds the bad ones.
 *
 * With stor_config.heal_on_demand the thread exists even when both
 * intervals are 0, and then only serves asked passes.
 *
 * Rebuilt bytes (heal) and verified bytes (scrub) are paced to
 * heal_rate_mib_s. Every walk here is live (stor_heal_walk.live): each data
 * id is held while it is rebuilt and must still be referenced before and
 * after, so a heal never resurrects data GC collects meanwhile. Stopping
 * (stor_close) interrupts a pace wait and a walk at its next stripe, and
 * wakes every caller waiting in stor_heal_bg_run.
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
    /* Passes asked for (stor_heal_bg_run), under mu; [0] heal, [1] scrub.
     * served[k] is the asked[k] count the last finished pass covered. */
    uint64_t asked[2], served[2];
    stor_heal_stats last[2];
    int last_rc[2];
    int interrupted; /* stor_heal_bg_interrupt: no more waiting */
    int waiters;     /* callers inside stor_heal_bg_run */
    pthread_cond_t done_cv;
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

/* One walk; *st gets its counts. Returns the walk's error, or
 * TARN_E_SERVICE_UNAVAILABLE when stopping cut it short. */
static int run_pass(struct stor_heal_bg *h, int scrub, stor_heal_stats *st)
{
    stor_heal_walk w = {.live = 1, .verify = scrub, .pace = pace_fn, .arg = h};
    uint64_t t0 = tarn_mono_ns();
    pace_reset(h);
    int rc = stor__heal_walk(h->s, &w, st);
    count(h, st, scrub);
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
              (unsigned long long)st->objects, (unsigned long long)st->sets,
              (unsigned long long)st->shards_bad, (unsigned long long)st->shards_rebuilt,
              (unsigned long long)st->unrecoverable, (unsigned long long)st->write_errors,
              (unsigned long long)(st->bytes_verified >> 20),
              (double)(tarn_mono_ns() - t0) / 1e9, rc ? ": " : "", rc ? tarn_err_name(rc) : "");
    return !rc && stopped ? TARN_E_SERVICE_UNAVAILABLE : rc;
}

/* The next periodic pass of this kind is an interval after this one. */
static void pass_done(struct stor_heal_bg *h, int scrub)
{
    if (scrub)
        h->next_scrub_ns = tarn_mono_ns() + (uint64_t)h->scrub_interval * NS;
    else
        h->next_heal_ns = tarn_mono_ns() + (uint64_t)h->heal_interval * NS;
}

/* Run a pass someone asked for, heal before scrub; 1 if one ran. Caller
 * holds mu (released while the pass runs). */
static int serve_asked(struct stor_heal_bg *h)
{
    for (int scrub = 0; scrub < 2; scrub++) {
        if (h->asked[scrub] == h->served[scrub])
            continue;
        uint64_t upto = h->asked[scrub];
        pthread_mutex_unlock(&h->mu);
        stor_heal_stats st;
        int rc = run_pass(h, scrub, &st);
        pthread_mutex_lock(&h->mu);
        h->last[scrub] = st;
        h->last_rc[scrub] = rc;
        h->served[scrub] = upto;
        pass_done(h, scrub);
        pthread_cond_broadcast(&h->done_cv);
        return 1;
    }
    return 0;
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

/* Heal the first queued id that is due; 1 if one ran, else *wake gets
 * the earliest due time. Caller holds mu (released while it runs). */
static int serve_queue(struct stor_heal_bg *h, uint64_t now, uint64_t *wake)
{
    int due = -1;
    for (int i = 0; i < h->nq && due < 0; i++) {
        if (h->q[i].due_ns <= now)
            due = i;
        else if (h->q[i].due_ns < *wake)
            *wake = h->q[i].due_ns;
    }
    if (due < 0)
        return 0;
    hq_entry e = h->q[due];
    h->q[due] = h->q[--h->nq];
    pthread_mutex_unlock(&h->mu);
    int again = run_one(h, e.id);
    pthread_mutex_lock(&h->mu);
    if (again && ++e.tries < HQ_TRIES && h->nq < HQ_CAP) {
        e.due_ns = tarn_mono_ns() + HQ_RETRY_NS;
        h->q[h->nq++] = e;
    }
    return 1;
}

/* Run a periodic pass that is due; 1 if one ran. Caller holds mu. */
static int serve_periodic(struct stor_heal_bg *h, uint64_t now)
{
    int scrub;
    if (h->heal_interval > 0 && (now >= h->next_heal_ns || h->overflow)) {
        h->overflow = 0;
        scrub = 0;
    } else if (h->scrub_interval > 0 && now >= h->next_scrub_ns) {
        scrub = 1;
    } else {
        return 0;
    }
    pthread_mutex_unlock(&h->mu);
    stor_heal_stats st;
    run_pass(h, scrub, &st);
    pthread_mutex_lock(&h->mu);
    pass_done(h, scrub);
    return 1;
}

static void *heal_main(void *arg)
{
    struct stor_heal_bg *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        uint64_t now = tarn_mono_ns(), wake = UINT64_MAX;
        if (serve_asked(h) || serve_queue(h, now, &wake) || serve_periodic(h, now))
            continue;
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

static void log_started(const struct stor_heal_bg *h)
{
    if (!h->heal_interval && !h->scrub_interval) {
        TARN_INFO("heal: healer on for passes on demand only (no background heal or scrub, "
                  "%d MiB/s)", (int)(h->rate >> 20));
        return;
    }
    TARN_INFO("heal: background healer on (heal every %llds, scrub %s%lld%s, %d MiB/s)",
              (long long)h->heal_interval, h->scrub_interval ? "every " : "",
              (long long)h->scrub_interval, h->scrub_interval ? "s" : " (off)",
              (int)(h->rate >> 20));
}

int stor__heal_bg_start(stor *s, const stor_config *cfg)
{
    if (cfg->heal_interval_sec <= 0 && cfg->scrub_interval_sec <= 0 && !cfg->heal_on_demand)
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
    pthread_cond_init(&h->done_cv, NULL);
    s->hbg = h;
    if (pthread_create(&h->thread, NULL, heal_main, h) != 0)
        return TARN_E_NOMEM; /* stor_close frees h */
    h->started = 1;
    log_started(h);
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
    pthread_cond_broadcast(&h->done_cv);
    pthread_mutex_unlock(&h->mu);
    if (h->started)
        pthread_join(h->thread, NULL);
    /* A caller still in stor_heal_bg_run (stor_close without
     * stor_heal_bg_interrupt first) has been woken: let it leave. */
    pthread_mutex_lock(&h->mu);
    while (h->waiters > 0)
        pthread_cond_wait(&h->done_cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    s->hbg = NULL;
    pthread_cond_destroy(&h->done_cv);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int stor_heal_bg_run(stor *s, int scrub, stor_heal_stats *out)
{
    struct stor_heal_bg *h = s->hbg;
    memset(out, 0, sizeof(*out));
    if (!h || !h->started)
        return TARN_E_INVAL;
    scrub = scrub ? 1 : 0;
    pthread_mutex_lock(&h->mu);
    int rc = TARN_E_SERVICE_UNAVAILABLE;
    if (!h->stop && !h->interrupted) {
        uint64_t mine = ++h->asked[scrub];
        h->waiters++;
        pthread_cond_signal(&h->cv);
        while (h->served[scrub] < mine && !h->stop && !h->interrupted)
            pthread_cond_wait(&h->done_cv, &h->mu);
        if (h->served[scrub] >= mine) {
            *out = h->last[scrub];
            rc = h->last_rc[scrub];
        }
        if (--h->waiters == 0)
            pthread_cond_broadcast(&h->done_cv); /* stor__heal_bg_stop may wait for us */
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

void stor_heal_bg_interrupt(stor *s)
{
    struct stor_heal_bg *h = s->hbg;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->interrupted = 1;
    pthread_cond_broadcast(&h->done_cv);
    pthread_mutex_unlock(&h->mu);
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
