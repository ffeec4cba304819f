/* Unit tests for storage/bucket.c and the bucket side of the commit thread:
 * naming rules, create/get/list/delete, owned vs exists, not-empty,
 * persistence, racing creates, group commit, wakers, close with work
 * queued. Each test runs on its own throwaway directory. */
#include "testlib.c"

static void test_names(void)
{
    static const char *const good[] = {
        "abc", "a.b", "a-b", "my-bucket", "my.bucket.name", "bucket1", "1bucket", "123",
        "a1.b2.c3", "docexamplebucket1", "log-delivery-march-2020", "xn-a", "sthree",
        "s3alias", "a-s3alias-b", "1.2.3", "1.2.3.4.5", "1.2.3.a", "0000",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123", /* 63 */
    };
    static const char *const bad[] = {
        "", "a", "ab", /* too short */
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234", /* 64 */
        "MyBucket", "my_bucket", "my bucket", "my/bucket", "bücket", "a:b",
        "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b",
        "192.168.5.4", "1.2.3.4", "999.999.999.999",
        "xn--abc", "sthree-abc", "sthree-configurator", "amzn-s3-demo-bucket",
        "abc-s3alias", "abc--ol-s3", "abc.mrap", "abc--x-s3", "abc--table-s3",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!stor_bucket_name_valid(good[i])) {
            fprintf(stderr, "valid name refused: \"%s\"\n", good[i]);
            failures++;
        }
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (stor_bucket_name_valid(bad[i])) {
            fprintf(stderr, "invalid name accepted: \"%s\"\n", bad[i]);
            failures++;
        }
    }
    CHECK(strlen(good[sizeof(good) / sizeof(good[0]) - 1]) == 63);
    CHECK(strlen(bad[3]) == 64);
}

static void test_crud(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    stor_bucket b, *list = NULL;
    size_t n = 99;

    CHECK_RC(stor_bucket_list(s, &list, &n), 0);
    CHECK(n == 0);
    free(list);
    CHECK_RC(stor_bucket_get(s, "zeta", &b), TARN_E_NO_SUCH_BUCKET);

    CHECK_RC(tcreate(s, w, "zeta", "AKALICE"), 0);
    CHECK_RC(tcreate(s, w, "alpha", "AKALICE"), 0);
    stor_bucket loc = {.name = "mid.dle", .owner = "AKBOB", .location = "eu-west-1",
                       .created = 1700000000};
    tdone d = {0};
    CHECK_RC(stor_bucket_create(s, w, &loc, tdone_fn, &d), 0);
    twait(w, &d.called, 1);
    CHECK_RC(d.rc, 0);

    /* Same owner vs someone else (S3 CreateBucket errors). */
    CHECK_RC(tcreate(s, w, "zeta", "AKALICE"), TARN_E_BUCKET_ALREADY_OWNED);
    CHECK_RC(tcreate(s, w, "zeta", "AKBOB"), TARN_E_BUCKET_ALREADY_EXISTS);

    CHECK_RC(stor_bucket_get(s, "mid.dle", &b), 0);
    CHECK(strcmp(b.name, "mid.dle") == 0 && strcmp(b.owner, "AKBOB") == 0);
    CHECK(strcmp(b.location, "eu-west-1") == 0 && b.created == 1700000000);
    CHECK_RC(stor_bucket_get(s, "zeta", &b), 0);
    CHECK(b.location[0] == 0 && b.created > 1700000000);

    CHECK_RC(stor_bucket_list(s, &list, &n), 0);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(strcmp(list[0].name, "alpha") == 0);
        CHECK(strcmp(list[1].name, "mid.dle") == 0);
        CHECK(strcmp(list[2].name, "zeta") == 0);
        CHECK(strcmp(list[1].owner, "AKBOB") == 0);
    }
    free(list);

    CHECK_RC(tdelete(s, w, "alpha"), 0);
    CHECK_RC(tdelete(s, w, "alpha"), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(tdelete(s, w, "never"), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(tdelete(s, w, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234567"),
             TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(stor_bucket_get(s, "alpha", &b), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(stor_bucket_get(s, "", &b), TARN_E_NO_SUCH_BUCKET);
    /* Re-create after delete; now by another owner. */
    CHECK_RC(tcreate(s, w, "alpha", "AKBOB"), 0);
    CHECK_RC(stor_bucket_get(s, "alpha", &b), 0);
    CHECK(strcmp(b.owner, "AKBOB") == 0);

    /* Contract violations are refused synchronously. */
    stor_bucket bad = {.name = "Bad_Name", .owner = "x"};
    CHECK_RC(stor_bucket_create(s, w, &bad, tdone_fn, &d), TARN_E_INVALID_BUCKET_NAME);

    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

/* Objects, versions and uploads each keep a bucket from being deleted;
 * a neighbour bucket whose name extends this one does not. */
static void test_not_empty(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    CHECK_RC(tcreate(s, w, "full", "AK"), 0);
    CHECK_RC(tcreate(s, w, "full2", "AK"), 0);
    CHECK_RC(tcreate(s, w, "ful", "AK"), 0);

    CHECK_RC(stor__object_head_put_raw(s, "full2", "k", 1, "\1", 1), 0);
    CHECK_RC(tdelete(s, w, "full"), 0); /* "full2"'s object is not in "full" */
    CHECK_RC(tdelete(s, w, "ful"), 0);
    CHECK_RC(tdelete(s, w, "full2"), TARN_E_BUCKET_NOT_EMPTY);

    stor_key k;
    CHECK_RC(stor__key_head(&k, "full2", "k", 1), 0);
    CHECK_RC(stor__raw_delete(s, &k), 0);
    CHECK_RC(stor__upload_put_raw(s, "full2", "dir/obj", 7, "upload-1"), 0);
    CHECK_RC(tdelete(s, w, "full2"), TARN_E_BUCKET_NOT_EMPTY);
    CHECK_RC(stor__key_upload(&k, "full2", "dir/obj", 7, "upload-1"), 0);
    CHECK_RC(stor__raw_delete(s, &k), 0);

    CHECK_RC(stor__key_version(&k, "full2", "v", 1, 7), 0);
    CHECK_RC(stor__raw_put(s, &k, "\1", 1), 0);
    CHECK_RC(tdelete(s, w, "full2"), TARN_E_BUCKET_NOT_EMPTY);
    CHECK_RC(stor__raw_delete(s, &k), 0);

    CHECK_RC(tdelete(s, w, "full2"), 0);
    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

static void test_persist(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    CHECK_RC(tcreate(s, w, "keep-me", "AKA"), 0);
    CHECK_RC(tcreate(s, w, "drop-me", "AKA"), 0);
    CHECK_RC(tdelete(s, w, "drop-me"), 0);
    stor_close(s);

    s = topen(&t);
    stor_bucket b;
    CHECK_RC(stor_bucket_get(s, "keep-me", &b), 0);
    CHECK(strcmp(b.owner, "AKA") == 0);
    CHECK_RC(stor_bucket_get(s, "drop-me", &b), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(tcreate(s, w, "keep-me", "AKB"), TARN_E_BUCKET_ALREADY_EXISTS);
    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

/* ---- Racing creates ------------------------------------------------------ */

#define RACERS 8
#define ROUNDS 20

typedef struct racer {
    stor *s;
    int id;
    int same_owner;
    pthread_barrier_t *bar;
    int rc[ROUNDS];
} racer;

static void *racer_main(void *p)
{
    racer *r = p;
    stor_waker *w;
    if (stor_waker_create(&w))
        return NULL;
    for (int i = 0; i < ROUNDS; i++) {
        char name[32], owner[16];
        snprintf(name, sizeof(name), "race-%d-%d", r->same_owner, i);
        snprintf(owner, sizeof(owner), "AK%d", r->same_owner ? 0 : r->id);
        pthread_barrier_wait(r->bar); /* all threads create round i together */
        r->rc[i] = tcreate(r->s, w, name, owner);
    }
    stor_waker_destroy(w);
    return NULL;
}

static void race(stor *s, int same_owner)
{
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, RACERS);
    racer rs[RACERS];
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){.s = s, .id = i, .same_owner = same_owner, .bar = &bar};
        pthread_create(&th[i], NULL, racer_main, &rs[i]);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    int lost = same_owner ? TARN_E_BUCKET_ALREADY_OWNED : TARN_E_BUCKET_ALREADY_EXISTS;
    for (int r = 0; r < ROUNDS; r++) {
        int wins = 0, losses = 0;
        for (int i = 0; i < RACERS; i++) {
            wins += rs[i].rc[r] == 0;
            losses += rs[i].rc[r] == lost;
        }
        if (wins != 1 || losses != RACERS - 1) {
            fprintf(stderr, "round %d (same owner %d): %d wins, %d losses\n", r, same_owner,
                    wins, losses);
            failures++;
        }
    }
}

static void test_race(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    race(s, 0);
    race(s, 1);
    stor_bucket *list;
    size_t n;
    CHECK_RC(stor_bucket_list(s, &list, &n), 0);
    CHECK(n == 2 * ROUNDS);
    free(list);
    stor_close(s);
    tdir_free(&t);
}

/* ---- Group commit: one batch, ops see each other ------------------------ */

static void test_group_commit(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    CHECK_RC(tcreate(s, w, "old", "AK"), 0);
    uint64_t b0, o0, b1, o1;
    stor__commit_stats(s, &b0, &o0);

    stor__commit_pause(s, 1);
    tdone d[7] = {{0}};
    int called = 0;
    stor_bucket b = {.name = "dup", .owner = "AK"};
    stor_bucket b2 = {.name = "dup", .owner = "OTHER"};
    stor_bucket b3 = {.name = "gone", .owner = "AK"};
    CHECK_RC(stor_bucket_create(s, w, &b, tdone_fn, &d[0]), 0);
    CHECK_RC(stor_bucket_create(s, w, &b, tdone_fn, &d[1]), 0);
    CHECK_RC(stor_bucket_create(s, w, &b2, tdone_fn, &d[2]), 0);
    CHECK_RC(stor_bucket_delete(s, w, "old", tdone_fn, &d[3]), 0);
    CHECK_RC(stor_bucket_delete(s, w, "old", tdone_fn, &d[4]), 0);
    CHECK_RC(stor_bucket_create(s, w, &b3, tdone_fn, &d[5]), 0);
    CHECK_RC(stor_bucket_delete(s, w, "gone", tdone_fn, &d[6]), 0);
    stor__commit_pause(s, 0);
    for (int i = 0; i < 7; i++) {
        twait(w, &d[i].called, 1);
        called += d[i].called;
    }
    CHECK(called == 7);
    CHECK_RC(d[0].rc, 0);
    CHECK_RC(d[1].rc, TARN_E_BUCKET_ALREADY_OWNED);
    CHECK_RC(d[2].rc, TARN_E_BUCKET_ALREADY_EXISTS);
    CHECK_RC(d[3].rc, 0);
    CHECK_RC(d[4].rc, TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(d[5].rc, 0);
    CHECK_RC(d[6].rc, 0);
    stor__commit_stats(s, &b1, &o1);
    CHECK(b1 - b0 == 1 && o1 - o0 == 7);

    stor_bucket out;
    CHECK_RC(stor_bucket_get(s, "dup", &out), 0);
    CHECK_RC(stor_bucket_get(s, "old", &out), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(stor_bucket_get(s, "gone", &out), TARN_E_NO_SUCH_BUCKET);
    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

/* ---- A failed op's writes are rolled back, even mid-batch -------------- */

typedef struct probe_op {
    stor_op base;
    const char *put;  /* system key to write */
    const char *look; /* system key to read first, or NULL */
    int fail;
    int saw;          /* 1 if look was visible */
} probe_op;

static int probe_apply(stor_txn *t, stor_op *op)
{
    probe_op *p = (probe_op *)op;
    stor_key k;
    if (p->look) {
        char *v;
        size_t n;
        stor__key_system(&k, p->look);
        p->saw = stor__txn_get(t, &k, &v, &n) == 0;
        if (p->saw)
            rocksdb_free(v);
    }
    stor__key_system(&k, p->put);
    stor__txn_put(t, &k, "x", 1);
    return p->fail ? TARN_E_INTERNAL : 0;
}

static void keep_op(stor_op *op) { (void)op; }

static int db_has(stor *s, const char *sys)
{
    stor_key k;
    char *err = NULL, *v;
    size_t n;
    stor__key_system(&k, sys);
    v = rocksdb_get(s->db, s->ropts, k.buf, k.len, &n, &err);
    rocksdb_free(v);
    return v != NULL;
}

static void test_rollback(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    /* The ops live here: release does nothing, so what they saw can be
     * read after the drain. */
    probe_op a = {.base = {.apply = probe_apply, .release = keep_op}, .put = "t-a", .fail = 1};
    probe_op b = {.base = {.apply = probe_apply, .release = keep_op}, .put = "t-b", .look = "t-a"};
    probe_op c = {.base = {.apply = probe_apply, .release = keep_op}, .put = "t-c", .look = "t-b"};
    tdone d[3] = {{0}};
    stor__commit_pause(s, 1);
    CHECK_RC(stor__commit_submit(s, &a.base, w, tdone_fn, &d[0]), 0);
    CHECK_RC(stor__commit_submit(s, &b.base, w, tdone_fn, &d[1]), 0);
    CHECK_RC(stor__commit_submit(s, &c.base, w, tdone_fn, &d[2]), 0);
    stor__commit_pause(s, 0);
    for (int i = 0; i < 3; i++)
        twait(w, &d[i].called, 1);
    CHECK(b.saw == 0); /* a's write was undone before b ran */
    CHECK(c.saw == 1); /* b's write is visible to c in the same batch */
    CHECK_RC(d[0].rc, TARN_E_INTERNAL);
    CHECK_RC(d[1].rc, 0);
    CHECK_RC(d[2].rc, 0);
    CHECK(!db_has(s, "t-a") && db_has(s, "t-b") && db_has(s, "t-c"));
    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

/* ---- Wakers deliver on the thread that drains them ---------------------- */

typedef struct worker {
    stor *s;
    int id;
    pthread_t self;
    tdone d;
} worker;

static void *worker_main(void *p)
{
    worker *wk = p;
    stor_waker *w;
    wk->self = pthread_self();
    if (stor_waker_create(&w))
        return NULL;
    stor_bucket b = {.owner = "AK"};
    snprintf(b.name, sizeof(b.name), "worker-%d", wk->id);
    if (stor_bucket_create(wk->s, w, &b, tdone_fn, &wk->d) == 0)
        twait(w, &wk->d.called, 1);
    stor_waker_destroy(w);
    return NULL;
}

static void test_waker_thread(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    worker wk[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        wk[i] = (worker){.s = s, .id = i};
        pthread_create(&th[i], NULL, worker_main, &wk[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK(wk[i].d.called == 1 && wk[i].d.rc == 0);
        CHECK(pthread_equal(wk[i].d.thread, wk[i].self));
    }
    /* Nothing runs until drained: the eventfd is readable, done not yet. */
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    tdone d = {0};
    stor_bucket b = {.name = "later", .owner = "AK"};
    CHECK_RC(stor_bucket_create(s, w, &b, tdone_fn, &d), 0);
    struct pollfd pf = {.fd = stor_waker_fd(w), .events = POLLIN};
    CHECK(poll(&pf, 1, 10000) == 1);
    CHECK(d.called == 0);
    uint64_t v = 0;
    CHECK(read(stor_waker_fd(w), &v, sizeof(v)) == sizeof(v) && v == 1);
    CHECK(stor_waker_drain(w) == 1);
    CHECK(d.called == 1 && d.rc == 0 && pthread_equal(d.thread, pthread_self()));
    CHECK(stor_waker_drain(w) == 0);
    /* An undrained completion is dropped by destroy without a call. */
    stor_bucket b2 = {.name = "later2", .owner = "AK"};
    tdone d2 = {0};
    CHECK_RC(stor_bucket_create(s, w, &b2, tdone_fn, &d2), 0);
    CHECK(poll(&pf, 1, 10000) == 1);
    stor_waker_destroy(w);
    CHECK(d2.called == 0);
    stor_close(s);
    tdir_free(&t);
}

/* ---- Close with work queued ---------------------------------------------- */

static void test_close_queued(void)
{
    enum { N = 100 };
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor_waker *w;
    CHECK_RC(stor_waker_create(&w), 0);
    static tdone d[N];
    stor__commit_pause(s, 1);
    for (int i = 0; i < N; i++) {
        stor_bucket b = {.owner = "AK"};
        snprintf(b.name, sizeof(b.name), "queued-%03d", i);
        CHECK_RC(stor_bucket_create(s, w, &b, tdone_fn, &d[i]), 0);
    }
    /* Close overrides the pause: everything queued is committed first. */
    stor_close(s);
    int called = 0;
    CHECK(stor_waker_drain(w) == N);
    for (int i = 0; i < N; i++) {
        called += d[i].called;
        CHECK(d[i].rc == 0);
    }
    CHECK(called == N);

    /* Once stopping, new work is refused and done is never called. */
    s = topen(&t);
    stor__commit_stop(s);
    tdone late = {0};
    stor_bucket b = {.name = "late", .owner = "AK"};
    CHECK_RC(stor_bucket_create(s, w, &b, tdone_fn, &late),
             TARN_E_SERVICE_UNAVAILABLE);
    CHECK_RC(stor_bucket_delete(s, w, "queued-000", tdone_fn, &late),
             TARN_E_SERVICE_UNAVAILABLE);
    stor_close(s);
    CHECK(late.called == 0 && stor_waker_drain(w) == 0);

    s = topen(&t);
    stor_bucket *list;
    size_t n;
    CHECK_RC(stor_bucket_list(s, &list, &n), 0);
    CHECK(n == N);
    free(list);
    stor_close(s);
    stor_waker_destroy(w);
    tdir_free(&t);
}

int main(void)
{
    tarn_log_level = TARN_LOG_WARN;
    test_names();
    test_crud();
    test_not_empty();
    test_persist();
    test_race();
    test_group_commit();
    test_rollback();
    test_waker_thread();
    test_close_queued();
    if (failures) {
        fprintf(stderr, "test_buckets: %d failures\n", failures);
        return 1;
    }
    printf("test_buckets: ok\n");
    return 0;
}
