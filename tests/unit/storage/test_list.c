/* Unit tests for storage/list.c: prefixes, delimiters ('/' and
 * multi-character), common prefixes counted with keys against max-keys,
 * pagination through 2,500 keys yielding each key or prefix exactly once
 * in order (checked against a model built from the sorted key set), an
 * `after` inside a common prefix, unicode, spaces and 0xff bytes, delete
 * markers, an empty and a missing bucket. */
#include "testlib.c"

#include "storage/object_internal.h"

/* Until the data path provides it, link without it; the real one wins. */
__attribute__((weak)) void stor__data_remove(stor *s, const stor_layout *l)
{
    (void)s, (void)l;
}

#define NKEYS 2500

/* Overwrites queue GC work; no shard files exist here. */
static void rm_none(stor *s, const stor_layout *l)
{
    (void)s, (void)l;
}

/* Commit n keys at once: the commit thread groups them into few batches.
 * Each key's size is its index, so entries can be checked. */
static void tput_all(stor *s, stor_waker *w, const char *bucket, char **keys, int n,
                     int delete_marker)
{
    stor_object *outs = calloc((size_t)n, sizeof(*outs));
    tdone d = {0};
    for (int i = 0; i < n; i++) {
        stor_object meta = {.size = (uint64_t)i, .etag = "abc", .delete_marker = delete_marker};
        stor_layout l = {.k = 1, .m = 1, .block_size = 4096, .disk = {0, 1}};
        snprintf(l.data_id, sizeof(l.data_id), "%016x%016x", delete_marker, i);
        CHECK_RC(stor__version_commit(s, w, bucket, keys[i], strlen(keys[i]), &meta,
                                      delete_marker ? NULL : &l, &outs[i], tdone_fn, &d),
                 0);
    }
    twait(w, &d.called, n);
    CHECK_RC(d.rc, 0);
    free(outs);
}

static void tput1(stor *s, stor_waker *w, const char *bucket, const char *key)
{
    char *k = (char *)key;
    tput_all(s, w, bucket, &k, 1, 0);
}

static int tlist(stor *s, tarn_arena *a, const char *bucket, const char *prefix,
                 const char *delim, const char *after, int max, stor_list_result *r)
{
    stor_list_params p = {.prefix = prefix, .delimiter = delim, .after = after,
                          .after_len = after ? strlen(after) : 0, .max_keys = max};
    return stor_object_list(s, a, bucket, &p, r);
}

/* One page as "k:key" / "p:prefix" strings joined by '|'. */
static char *page_str(tarn_arena *a, const stor_list_result *r)
{
    tarn_buf b = {0};
    for (size_t i = 0; i < r->n; i++) {
        tarn_buf_printf(&b, "%s%s:", i ? "|" : "", r->entries[i].is_prefix ? "p" : "k");
        tarn_buf_append(&b, r->entries[i].key, r->entries[i].key_len);
    }
    char *s = tarn_arena_strdup(a, b.data ? b.data : "");
    tarn_buf_free(&b);
    return s;
}

static int check_page(stor *s, const char *bucket, const char *prefix, const char *delim,
                      const char *after, int max, const char *want, int want_trunc)
{
    tarn_arena *a = tarn_arena_create(0);
    stor_list_result r;
    int rc = tlist(s, a, bucket, prefix, delim, after, max, &r);
    char *got = rc ? "(error)" : page_str(a, &r);
    int ok = rc == 0 && strcmp(got, want) == 0 && r.truncated == want_trunc;
    if (ok && r.n)
        ok = r.next_after_len == r.entries[r.n - 1].key_len &&
             memcmp(r.next_after, r.entries[r.n - 1].key, r.next_after_len) == 0;
    if (!ok)
        fprintf(stderr, "list(prefix=%s delim=%s after=%s max=%d):\n  got  %s (trunc %d)\n"
                        "  want %s (trunc %d)\n",
                prefix ? prefix : "-", delim ? delim : "-", after ? after : "-", max, got,
                rc ? -1 : r.truncated, want, want_trunc);
    tarn_arena_destroy(a);
    return ok;
}
#define PAGE(...) CHECK(check_page(__VA_ARGS__))

/* ---- Small cases --------------------------------------------------------- */

static void test_small(stor *s, stor_waker *w)
{
    static const char *const keys[] = {
        "a", "a/b", "a/b/c", "a/c", "a0", "b--x", "b--y--z", "b-z", "c d/e f", "c d/g",
        "\xc3\xa9t\xc3\xa9/1", "\xc3\xa9t\xc3\xa9/2", "\xe6\x97\xa5\xe6\x9c\xac", "z\xff\xff/q",
        "z\xff\xff/r", "z\xff\xffs",
    };
    int n = (int)(sizeof(keys) / sizeof(keys[0]));
    CHECK_RC(tcreate(s, w, "small", "AK"), 0);
    PAGE(s, "small", NULL, NULL, NULL, 1000, "", 0); /* empty bucket */
    PAGE(s, "small", NULL, NULL, NULL, 0, "", 0);
    tput_all(s, w, "small", (char **)keys, n, 0);

    PAGE(s, "small", "a", NULL, NULL, 1000, "k:a|k:a/b|k:a/b/c|k:a/c|k:a0", 0);
    PAGE(s, "small", "", "/", NULL, 1000,
         "k:a|p:a/|k:a0|k:b--x|k:b--y--z|k:b-z|p:c d/|p:z\xff\xff/|k:z\xff\xffs|"
         "p:\xc3\xa9t\xc3\xa9/|k:\xe6\x97\xa5\xe6\x9c\xac", 0);
    PAGE(s, "small", "a/", "/", NULL, 1000, "k:a/b|p:a/b/|k:a/c", 0);
    PAGE(s, "small", "b", "--", NULL, 1000, "p:b--|k:b-z", 0);
    PAGE(s, "small", "b--", "--", NULL, 1000, "k:b--x|p:b--y--", 0);
    PAGE(s, "small", "c d/", "/", NULL, 1000, "k:c d/e f|k:c d/g", 0);
    PAGE(s, "small", "nothing", "/", NULL, 1000, "", 0);
    /* max-keys: 0 says only whether anything is there; keys and prefixes
     * count together. */
    PAGE(s, "small", "", "/", NULL, 0, "", 1);
    PAGE(s, "small", "q", "/", NULL, 0, "", 0);
    PAGE(s, "small", "", "/", NULL, 1, "k:a", 1);
    PAGE(s, "small", "", "/", NULL, 2, "k:a|p:a/", 1);
    PAGE(s, "small", "", "/", "a", 2, "p:a/|k:a0", 1);
    /* after inside a common prefix (or the prefix itself) skips it. */
    PAGE(s, "small", "", "/", "a/", 2, "k:a0|k:b--x", 1);
    PAGE(s, "small", "", "/", "a/b", 2, "k:a0|k:b--x", 1);
    PAGE(s, "small", "", "/", "z\xff\xff/", 5,
         "k:z\xff\xffs|p:\xc3\xa9t\xc3\xa9/|k:\xe6\x97\xa5\xe6\x9c\xac", 0);
    /* ... but without a delimiter it is just a key. */
    PAGE(s, "small", "", NULL, "a/b", 2, "k:a/b/c|k:a/c", 1);
    /* after before the prefix, after beyond it, after between keys. */
    PAGE(s, "small", "b", NULL, "a", 1000, "k:b--x|k:b--y--z|k:b-z", 0);
    PAGE(s, "small", "a", NULL, "b", 1000, "", 0);
    PAGE(s, "small", "a", NULL, "a/bb", 1000, "k:a/c|k:a0", 0);
    PAGE(s, "small", "", NULL, "\xff", 1000, "", 0);

    /* Entries carry the head's fields. */
    tarn_arena *a = tarn_arena_create(0);
    stor_list_result r;
    CHECK_RC(tlist(s, a, "small", "a0", NULL, NULL, 10, &r), 0);
    CHECK(r.n == 1 && r.entries[0].size == 4 && strcmp(r.entries[0].etag, "abc") == 0 &&
          r.entries[0].mtime_ms > 0 && !r.entries[0].is_prefix);
    tarn_arena_destroy(a);

    /* Delete markers are not listed and make no common prefix; a deleted
     * key is gone. */
    static const char *const dm[] = {"a0", "m/1", "m/2"};
    tput_all(s, w, "small", (char **)dm, 3, 1);
    tdone d = {0};
    CHECK_RC(stor_object_delete(s, w, "small", "a/c", 3, tdone_fn, &d), 0);
    twait(w, &d.called, 1);
    PAGE(s, "small", "", "/", NULL, 4, "k:a|p:a/|k:b--x|k:b--y--z", 1);
    PAGE(s, "small", "a", NULL, NULL, 1000, "k:a|k:a/b|k:a/b/c", 0);
    PAGE(s, "small", "m", "/", NULL, 1000, "", 0);
}

static void test_missing(stor *s)
{
    tarn_arena *a = tarn_arena_create(0);
    stor_list_result r;
    CHECK_RC(tlist(s, a, "nosuch", NULL, NULL, NULL, 10, &r), TARN_E_NO_SUCH_BUCKET);
    CHECK_RC(tlist(s, a, "x", NULL, NULL, NULL, 10, &r), TARN_E_NO_SUCH_BUCKET);
    tarn_arena_destroy(a);
}

/* ---- Pagination against a model ------------------------------------------ */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y); /* bytewise, as S3 */
}

/* What a complete listing must yield: sorted keys, each key under a
 * common prefix replaced by that prefix once. */
static int model(char **sorted, int n, const char *prefix, const char *delim, char **out)
{
    int m = 0;
    size_t pl = strlen(prefix);
    for (int i = 0; i < n; i++) {
        const char *k = sorted[i];
        if (strncmp(k, prefix, pl) != 0)
            continue;
        const char *d = *delim ? strstr(k + pl, delim) : NULL;
        char *e = d ? strndup(k, (size_t)(d - k) + strlen(delim)) : strdup(k);
        if (d && m && strcmp(out[m - 1], e) == 0) {
            free(e);
            continue;
        }
        out[m++] = e;
    }
    return m;
}

static void paginate(stor *s, char **want, int nwant, const char *prefix, const char *delim,
                     int max)
{
    tarn_arena *a = tarn_arena_create(0);
    char *after = NULL;
    size_t after_len = 0;
    int seen = 0, pages = 0, bad = 0;
    for (;;) {
        stor_list_params p = {.prefix = prefix, .delimiter = delim, .after = after,
                              .after_len = after_len, .max_keys = max};
        stor_list_result r;
        CHECK_RC(stor_object_list(s, a, "many", &p, &r), 0);
        CHECK(r.n <= (size_t)max);
        for (size_t i = 0; i < r.n; i++, seen++) {
            int is_prefix = *delim && strstr(r.entries[i].key + strlen(prefix), delim);
            if (seen >= nwant || strcmp(r.entries[i].key, want[seen]) != 0 ||
                r.entries[i].is_prefix != is_prefix)
                bad++;
        }
        pages++;
        if (!r.truncated)
            break;
        CHECK(r.n > 0 && pages < 10000);
        if (r.n == 0 || pages >= 10000)
            break;
        after = (char *)r.next_after; /* lives in a, which outlives the loop */
        after_len = r.next_after_len;
    }
    if (bad || seen != nwant)
        fprintf(stderr, "paginate(prefix=%s delim=%s max=%d): %d wrong, %d of %d seen\n", prefix,
                delim, max, bad, seen, nwant);
    CHECK(bad == 0 && seen == nwant);
    tarn_arena_destroy(a);
}

static void test_many(stor *s, stor_waker *w)
{
    char **keys = calloc(NKEYS, sizeof(char *));
    char **want = calloc(NKEYS, sizeof(char *));
    for (int i = 0; i < NKEYS; i++) {
        /* dirs of varying size, nested levels, flat keys, a unicode dir,
         * keys with spaces, and keys ending right at a delimiter. */
        char buf[128];
        if (i % 5 == 0)
            snprintf(buf, sizeof(buf), "flat-%05d", i);
        else if (i % 5 == 1)
            snprintf(buf, sizeof(buf), "d%02d/f %d", i % 37, i);
        else if (i % 5 == 2)
            snprintf(buf, sizeof(buf), "d%02d/sub%d/x%d", i % 7, i % 3, i);
        else if (i % 5 == 3)
            snprintf(buf, sizeof(buf), "\xc3\xa9/%d", i);
        else
            snprintf(buf, sizeof(buf), "e%d/", i % 50 == 4 ? i : i % 11);
        keys[i] = strdup(buf);
    }
    CHECK_RC(tcreate(s, w, "many", "AK"), 0);
    /* Some keys repeat (e/ dirs): committing twice is an overwrite. */
    tput_all(s, w, "many", keys, NKEYS, 0);
    qsort(keys, NKEYS, sizeof(char *), cmp_str);
    int nk = 0;
    for (int i = 0; i < NKEYS; i++) /* unique, for the model */
        if (!nk || strcmp(keys[nk - 1], keys[i]) != 0)
            keys[nk++] = keys[i];
        else
            free(keys[i]);

    static const struct { const char *prefix, *delim; } cases[] = {
        {"", ""}, {"", "/"}, {"d0", "/"}, {"d01/", "/"}, {"", "sub"}, {"e", "/"}, {"flat", ""},
    };
    static const int maxes[] = {1, 7, 1000};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        int nw = model(keys, nk, cases[c].prefix, cases[c].delim, want);
        CHECK(nw > 0);
        for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
            paginate(s, want, nw, cases[c].prefix, cases[c].delim, maxes[m]);
        for (int i = 0; i < nw; i++)
            free(want[i]);
    }
    /* A full page of 1000 from the start. */
    tarn_arena *a = tarn_arena_create(0);
    stor_list_result r;
    CHECK_RC(tlist(s, a, "many", NULL, NULL, NULL, 1000, &r), 0);
    CHECK(r.n == 1000 && r.truncated && strcmp(r.entries[999].key, keys[999]) == 0);
    CHECK_RC(tlist(s, a, "many", NULL, NULL, NULL, 5000, &r), 0); /* clamped */
    CHECK(r.n == 1000 && r.truncated);
    tarn_arena_destroy(a);
    for (int i = 0; i < nk; i++)
        free(keys[i]);
    free(keys);
    free(want);
}

int main(void)
{
    tarn_log_level = TARN_LOG_ERROR;
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    stor__gc_set_remove(s, rm_none);
    stor_waker *w;
    stor_waker_create(&w);
    test_missing(s);
    test_small(s, w);
    test_many(s, w);
    /* Another bucket whose name extends this one's is not listed. */
    CHECK_RC(tcreate(s, w, "small2", "AK"), 0);
    tput1(s, w, "small2", "a");
    PAGE(s, "small", "a", NULL, NULL, 1000, "k:a|k:a/b|k:a/b/c", 0);
    stor_waker_destroy(w);
    stor_close(s);
    tdir_free(&t);
    if (failures) {
        fprintf(stderr, "test_list: %d failures\n", failures);
        return 1;
    }
    printf("test_list: ok\n");
    return 0;
}
