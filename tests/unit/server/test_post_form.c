/* Unit tests for server/op_post.c's multipart/form-data parser: boundaries,
 * fields before the file, the file's extent, ${filename}, malformed and
 * truncated forms, and a form fed in every split (the scan restarts). */
#include "server/op_post.c"

#include <stdio.h>
#include <string.h>
#include "tests/unit/check.h"

#define FORM                                                                         \
    "--XyZ\r\n"                                                                      \
    "Content-Disposition: form-data; name=\"key\"\r\n\r\n"                           \
    "up/${filename}\r\n"                                                             \
    "--XyZ\r\n"                                                                      \
    "content-disposition: form-data; name=\"x-amz-meta-a\"\r\n\r\n"                  \
    "multi\r\nline\r\n"                                                              \
    "--XyZ\r\n"                                                                      \
    "Content-Disposition: form-data; name=\"file\"; filename=\"C:\\\\dir\\\\a \\\"b\\\".txt\"\r\n" \
    "Content-Type: text/plain\r\n\r\n"                                               \
    "file\r\n-XyZ body\r\n"                                                          \
    "--XyZ\r\n"                                                                      \
    "Content-Disposition: form-data; name=\"after\"\r\n\r\nignored\r\n"              \
    "--XyZ--\r\n"

static void test_boundary(tarn_arena *a)
{
    post_form f;
    const char *d;
    memset(&f, 0, sizeof(f));
    CHECK_RC(form_boundary(a, "multipart/form-data; boundary=XyZ", &f, &d), 0);
    CHECK(strcmp(f.delim, "\r\n--XyZ") == 0 && f.delim_len == 7);
    CHECK_RC(form_boundary(a, "Multipart/Form-Data; charset=x; Boundary=\"a b\"", &f, &d), 0);
    CHECK(strcmp(f.delim, "\r\n--a b") == 0);
    CHECK_RC(form_boundary(a, "multipart/form-data", &f, &d), TARN_E_INVALID_ARGUMENT);
    CHECK_RC(form_boundary(a, "multipart/form-data; boundary=", &f, &d),
             TARN_E_INVALID_ARGUMENT);
    CHECK_RC(form_boundary(a, "text/plain", &f, &d), TARN_E_PRECONDITION_FAILED);
    CHECK_RC(form_boundary(a, NULL, &f, &d), TARN_E_PRECONDITION_FAILED);
}

static void check_form(tarn_arena *a, const post_form *f, const char *body, size_t len)
{
    CHECK(f->have_file && f->n == 2);
    if (f->n != 2)
        return;
    CHECK(strcmp(f->fields[1].name, "x-amz-meta-a") == 0);
    CHECK(strcmp(f->fields[1].value, "multi\r\nline") == 0);
    CHECK(strcmp(f->filename, "C:\\dir\\a \"b\".txt") == 0);
    CHECK(f->file_type && strcmp(f->file_type, "text/plain") == 0);
    post_form g = *f;
    CHECK_RC(form_file_end(&g, body, len), 0);
    CHECK(g.data_len == 15 && memcmp(body + g.data_start, "file\r\n-XyZ body", 15) == 0);
    CHECK_RC(form_key_expand(a, &g), 0);
    CHECK(strcmp(form_get(&g, "KEY"), "up/a \"b\".txt") == 0);
}

static void test_scan_whole_and_split(tarn_arena *a)
{
    const char *body = FORM;
    size_t len = strlen(body);
    int done = 0;
    for (size_t cut = 0; cut <= len; cut++) {
        post_form f;
        const char *d;
        memset(&f, 0, sizeof(f));
        form_boundary(a, "multipart/form-data; boundary=XyZ", &f, &d);
        int rc = form_scan(a, &f, body, cut);
        if (rc == FORM_MORE)
            continue;
        CHECK_RC(rc, 0);
        if (!done++)
            check_form(a, &f, body, len);
    }
    CHECK(done > 0);
}

static int scan(tarn_arena *a, const char *body, post_form *f)
{
    const char *d;
    memset(f, 0, sizeof(*f));
    form_boundary(a, "multipart/form-data; boundary=B", f, &d);
    int rc = form_scan(a, f, body, strlen(body));
    if (rc == 0)
        rc = form_file_end(f, body, strlen(body));
    return rc;
}

static void test_malformed(tarn_arena *a)
{
    post_form f;
    CHECK_RC(scan(a, "--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--B--\r\n", &f),
             FORM_NO_FILE);
    CHECK_RC(scan(a, "--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc", &f),
             TARN_E_INVALID_ARGUMENT); /* truncated file */
    CHECK_RC(scan(a, "--B\r\nNo-Colon\r\n\r\nv\r\n--B--\r\n", &f), TARN_E_INVALID_ARGUMENT);
    CHECK_RC(scan(a, "--B\r\nContent-Disposition: attachment; name=\"k\"\r\n\r\nv\r\n--B--", &f),
             TARN_E_INVALID_ARGUMENT);
    CHECK_RC(scan(a, "--B\r\nContent-Disposition: form-data\r\n\r\nv\r\n--B--\r\n", &f),
             TARN_E_INVALID_ARGUMENT); /* no name */
    CHECK_RC(scan(a, "--Bjunk\r\n", &f), TARN_E_INVALID_ARGUMENT);
    CHECK_RC(scan(a, "--B\r\nContent-Disposition: form-data; name=k\r\n", &f), FORM_MORE);
    /* A preamble before the first boundary is allowed (RFC 2046). */
    CHECK_RC(scan(a, "preamble\r\n--B\r\nContent-Disposition: form-data; name=file\r\n\r\n"
                     "x\r\n--B--\r\n", &f), 0);
    CHECK(f.data_len == 1);
    /* Over the pre-data limit without a file part. */
    size_t big = PRE_DATA_MAX + 100;
    char *b = tarn_arena_alloc(a, big + 64);
    strcpy(b, "--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n");
    memset(b + strlen(b), 'v', big);
    b[big + 40] = '\0';
    CHECK_RC(scan(a, b, &f), TARN_E_INVALID_ARGUMENT);
}

int main(void)
{
    tarn_arena *a = tarn_arena_create(0);
    test_boundary(a);
    test_scan_whole_and_split(a);
    test_malformed(a);
    tarn_arena_destroy(a);
    TEST_EXIT("test_post_form");
}
