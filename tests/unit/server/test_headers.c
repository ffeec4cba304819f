/* Unit tests for server/headers.c: Range, HTTP dates, conditionals. */
#include "server/internal.h"

#include <stdio.h>
#include <string.h>
#include "tests/unit/check.h"


static void expect_range(const char *h, uint64_t size, int want, uint64_t f, uint64_t l)
{
    uint64_t first = 99, last = 99;
    int rc = srv_range_parse(h, size, &first, &last);
    if (rc != want || (rc == SRV_RANGE_OK && (first != f || last != l))) {
        fprintf(stderr, "  range '%s' size %llu → %d %llu-%llu (want %d %llu-%llu)\n",
                h ? h : "(null)", (unsigned long long)size, rc, (unsigned long long)first,
                (unsigned long long)last, want, (unsigned long long)f, (unsigned long long)l);
        failures++;
    }
}

static void test_range(void)
{
    expect_range(NULL, 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=0-9", 10, SRV_RANGE_OK, 0, 9);
    expect_range("bytes=0-0", 10, SRV_RANGE_OK, 0, 0);
    expect_range("bytes=3-100", 10, SRV_RANGE_OK, 3, 9);
    expect_range("bytes=9-", 10, SRV_RANGE_OK, 9, 9);
    expect_range("bytes=-3", 10, SRV_RANGE_OK, 7, 9);
    expect_range("bytes=-30", 10, SRV_RANGE_OK, 0, 9);
    expect_range("bytes=10-", 10, SRV_RANGE_UNSATISFIABLE, 0, 0);
    expect_range("bytes=10-20", 10, SRV_RANGE_UNSATISFIABLE, 0, 0);
    expect_range("bytes=-0", 10, SRV_RANGE_UNSATISFIABLE, 0, 0);
    expect_range("bytes=0-", 0, SRV_RANGE_UNSATISFIABLE, 0, 0);
    expect_range("bytes=-5", 0, SRV_RANGE_UNSATISFIABLE, 0, 0);
    expect_range("bytes=5-2", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=0-1,3-4", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("items=0-1", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=a-b", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=-", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=99999999999999999999-", 10, SRV_RANGE_NONE, 0, 0);
    expect_range("bytes=1", 10, SRV_RANGE_NONE, 0, 0);
}

static void test_dates(void)
{
    char buf[32];
    srv_http_date(784111777, buf);
    CHECK(strcmp(buf, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
    int64_t t = 0;
    CHECK(srv_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t) == 0 && t == 784111777);
    CHECK(srv_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t) == 0 && t == 784111777);
    CHECK(srv_http_date_parse("Sun Nov  6 08:49:37 1994", &t) == 0 && t == 784111777);
    CHECK(srv_http_date_parse("yesterday", &t) == -1);
    CHECK(srv_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT trailing", &t) == -1);
    CHECK(srv_http_date_parse(NULL, &t) == -1);
}

static void test_conditions(void)
{
    const char *etag = "0123abcd";
    int64_t mtime = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    srv_conditions c = {.is_read = 1};
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_match = "\"0123abcd\"";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_match = "\"x\", \"0123abcd\"";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_match = "*";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_match = "\"other\"";
    CHECK(srv_conditions_check(&c, etag, mtime) == TARN_E_PRECONDITION_FAILED);
    /* If-Match true wins over a failing If-Unmodified-Since. */
    c.if_match = "\"0123abcd\"";
    c.if_unmodified_since = "Sat, 05 Nov 1994 00:00:00 GMT";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_match = NULL;
    CHECK(srv_conditions_check(&c, etag, mtime) == TARN_E_PRECONDITION_FAILED);
    c.if_unmodified_since = "Mon, 07 Nov 1994 00:00:00 GMT";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_unmodified_since = NULL;
    c.if_none_match = "\"0123abcd\"";
    CHECK(srv_conditions_check(&c, etag, mtime) == TARN_E_NOT_MODIFIED);
    c.if_none_match = "W/\"0123abcd\"";
    CHECK(srv_conditions_check(&c, etag, mtime) == TARN_E_NOT_MODIFIED);
    c.if_none_match = "\"zzz\"";
    c.if_modified_since = "Mon, 07 Nov 1994 00:00:00 GMT";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0); /* If-None-Match decides */
    c.if_none_match = NULL;
    CHECK(srv_conditions_check(&c, etag, mtime) == TARN_E_NOT_MODIFIED);
    c.if_modified_since = "Sat, 05 Nov 1994 00:00:00 GMT";
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    c.if_modified_since = "garbage"; /* invalid dates are ignored */
    CHECK(srv_conditions_check(&c, etag, mtime) == 0);
    srv_conditions w = {.if_none_match = "*", .is_read = 0};
    CHECK(srv_conditions_check(&w, etag, mtime) == TARN_E_PRECONDITION_FAILED);
}

int main(void)
{
    test_range();
    test_dates();
    test_conditions();
    if (failures)
        fprintf(stderr, "test_headers: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
