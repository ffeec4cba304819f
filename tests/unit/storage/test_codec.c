/* Unit tests for storage/codec.c: the key schema's ordering promises (S3
 * listing order, newest version first, one bucket's prefix never matching
 * another's) and the value records (round trips, unknown fields skipped,
 * corruption caught). No store needed. */
#include "testlib.c"

#include <limits.h>

static int key_cmp(const stor_key *a, const stor_key *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->buf, b->buf, n);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int has_prefix(const stor_key *k, const stor_key *p)
{
    return k->len >= p->len && memcmp(k->buf, p->buf, p->len) == 0;
}

static void test_keys(void)
{
    stor_key a, b, p;
    CHECK_RC(stor__key_bucket(&a, "photos"), 0);
    CHECK(a.len == 8 && memcmp(a.buf, "b/photos", 8) == 0);
    CHECK_RC(stor__key_head(&a, "photos", "2024/a.jpg", 10), 0);
    CHECK(a.len == 19 && memcmp(a.buf, "o/photos\0002024/a.jpg", 19) == 0);

    /* Heads sort in S3 listing order: "a" < "a/b" < "a0" < "b". */
    static const char *const keys[] = {"a", "a/b", "a0", "b", "\xc3\xa9"};
    for (size_t i = 1; i < sizeof(keys) / sizeof(keys[0]); i++) {
        stor__key_head(&a, "bk", keys[i - 1], strlen(keys[i - 1]));
        stor__key_head(&b, "bk", keys[i], strlen(keys[i]));
        CHECK(key_cmp(&a, &b) < 0);
    }
    /* A bucket's prefix does not match a bucket whose name extends it. */
    stor__key_bucket_prefix(&p, STOR_FAM_HEAD, "abc");
    stor__key_head(&a, "abcd", "x", 1);
    CHECK(!has_prefix(&a, &p));
    stor__key_head(&a, "abc", "", 0);
    CHECK(has_prefix(&a, &p));

    /* The version log: newest (highest seq) first, all under the key's
     * prefix, and all of key "a" before any of key "a/b" or "ab". */
    stor__key_version(&a, "bk", "a", 1, 100);
    stor__key_version(&b, "bk", "a", 1, 99);
    CHECK(key_cmp(&a, &b) < 0);
    stor__key_version(&b, "bk", "a", 1, 0);
    CHECK(key_cmp(&a, &b) < 0);
    stor__key_version_prefix(&p, "bk", "a", 1);
    CHECK(has_prefix(&a, &p) && has_prefix(&b, &p));
    stor__key_version(&b, "bk", "ab", 2, UINT64_MAX);
    CHECK(key_cmp(&a, &b) < 0 && !has_prefix(&b, &p));
    stor__key_version(&b, "bk", "a/b", 3, UINT64_MAX);
    CHECK(key_cmp(&a, &b) < 0 && !has_prefix(&b, &p));

    /* Parts sort by number within an upload. */
    stor__key_part(&a, "bk", "k", 1, "up1", 2);
    stor__key_part(&b, "bk", "k", 1, "up1", 10);
    CHECK(key_cmp(&a, &b) < 0);
    /* ... and carry their upload's key after the family byte. */
    stor__key_upload(&p, "bk", "k", 1, "up1");
    CHECK(a.buf[0] == 'p' && p.buf[0] == 'u' && a.len == p.len + 5);
    CHECK(memcmp(a.buf + 1, p.buf + 1, p.len - 1) == 0 && a.buf[p.len] == 0);

    /* Refusals. */
    CHECK_RC(stor__key_head(&a, "bk", "a\0b", 3), TARN_E_INVALID_ARGUMENT);
    char big[STOR_OBJKEY_MAX + 1];
    memset(big, 'x', sizeof(big));
    CHECK_RC(stor__key_head(&a, "bk", big, STOR_OBJKEY_MAX), 0);
    CHECK_RC(stor__key_head(&a, "bk", big, STOR_OBJKEY_MAX + 1), TARN_E_KEY_TOO_LONG);
    CHECK_RC(stor__key_bucket(&a, ""), TARN_E_INVALID_BUCKET_NAME);
    CHECK_RC(stor__key_bucket(&a, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"),
             TARN_E_INVALID_BUCKET_NAME);
    CHECK_RC(stor__key_upload(&a, "bk", "k", 1, ""), TARN_E_INVALID_ARGUMENT);
    /* The longest key of the schema fits. */
    char upid[STOR_UPLOADID_MAX + 1];
    memset(upid, 'u', STOR_UPLOADID_MAX);
    upid[STOR_UPLOADID_MAX] = 0;
    CHECK_RC(stor__key_part(&a, "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123",
                            big, STOR_OBJKEY_MAX, upid, UINT32_MAX), 0);

    unsigned char be[8];
    stor__be64_put(be, 0x0102030405060708ull);
    CHECK(be[0] == 1 && be[7] == 8 && stor__be64_get(be) == 0x0102030405060708ull);
}

static void test_records(void)
{
    tarn_buf b = {0};
    static const int64_t ints[] = {0, 1, -1, 63, -64, 64, INT64_MAX, INT64_MIN};
    CHECK_RC(stor__rec_begin(&b), 0);
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        CHECK_RC(stor__rec_i64(&b, 10 + (unsigned)i, ints[i]), 0);
    CHECK_RC(stor__rec_u64(&b, 300, UINT64_MAX), 0);
    CHECK_RC(stor__rec_bytes(&b, 2, "a\0b", 3), 0);
    CHECK_RC(stor__rec_str(&b, 3, ""), 0);

    stor_rec_reader r;
    stor_rec_field f;
    CHECK_RC(stor__rec_open(&r, b.data, b.len), 0);
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int64_t v = 42;
        CHECK(stor__rec_next(&r, &f) == 1 && f.tag == 10 + i);
        CHECK(stor__rec_field_i64(&f, &v) == 0 && v == ints[i]);
    }
    uint64_t u = 0;
    CHECK(stor__rec_next(&r, &f) == 1 && f.tag == 300);
    CHECK(stor__rec_field_u64(&f, &u) == 0 && u == UINT64_MAX);
    char s[8];
    CHECK(stor__rec_next(&r, &f) == 1 && f.tag == 2 && f.n == 3);
    CHECK_RC(stor__rec_field_str(&f, s, sizeof(s)), TARN_E_CORRUPT); /* holds a NUL */
    CHECK(stor__rec_next(&r, &f) == 1 && f.tag == 3 && f.n == 0);
    CHECK(stor__rec_field_str(&f, s, sizeof(s)) == 0 && s[0] == 0);
    CHECK(stor__rec_next(&r, &f) == 0);

    /* Every truncation of the record is either a shorter valid record or
     * caught; none reads past the end (ASan watches). */
    for (size_t n = 1; n < b.len; n++) {
        char *cut = malloc(n);
        memcpy(cut, b.data, n);
        int rc = stor__rec_open(&r, cut, n);
        while (rc == 0 && (rc = stor__rec_next(&r, &f)) == 1)
            rc = 0;
        CHECK(rc == 0 || rc == TARN_E_CORRUPT);
        free(cut);
    }
    CHECK_RC(stor__rec_open(&r, "", 0), TARN_E_CORRUPT);
    CHECK_RC(stor__rec_open(&r, "\2", 1), TARN_E_CORRUPT);
    CHECK_RC(stor__rec_open(&r, "\1\1\5ab", 5), 0);
    CHECK_RC(stor__rec_next(&r, &f), TARN_E_CORRUPT); /* length past the end */
    tarn_buf_free(&b);
}

static void test_bucket_record(void)
{
    stor_bucket in = {.name = "x", .owner = "AKIAEXAMPLE", .location = "us-west-2",
                      .created = 1712345678}, out;
    tarn_buf b = {0};
    CHECK_RC(stor__bucket_encode(&b, &in), 0);
    /* A newer binary's field in the middle is skipped. */
    CHECK_RC(stor__rec_str(&b, 77, "future"), 0);
    CHECK_RC(stor__bucket_decode(b.data, b.len, "my-bucket", &out), 0);
    CHECK(strcmp(out.name, "my-bucket") == 0 && strcmp(out.owner, in.owner) == 0);
    CHECK(strcmp(out.location, in.location) == 0 && out.created == in.created);
    /* A location too long for the struct is corruption, not an overflow. */
    CHECK_RC(stor__rec_str(&b, STOR_BT_LOCATION, "0123456789012345678901234567890123"), 0);
    CHECK_RC(stor__bucket_decode(b.data, b.len, "my-bucket", &out), TARN_E_CORRUPT);
    tarn_buf_free(&b);
}

int main(void)
{
    test_keys();
    test_records();
    test_bucket_record();
    if (failures) {
        fprintf(stderr, "test_codec: %d failures\n", failures);
        return 1;
    }
    printf("test_codec: ok\n");
    return 0;
}
