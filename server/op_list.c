/*
 * op_list.c — ListObjectsV2 and ListObjects (v1): query parameters, the
 * opaque continuation token (base64 of the last key or prefix returned),
 * encoding-type=url, and the ListBucketResult XML (S3 API reference,
 * "ListObjectsV2" and "ListObjects").
 */
#include "server/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>


typedef struct list_request {
    int v2;
    const char *prefix, *delimiter, *start_after, *token, *marker;
    int max_keys;
    int url_encode;
    int fetch_owner;
    const char *after;
    size_t after_len;
} list_request;

static char *token_encode(tarn_arena *a, const char *key, size_t len)
{
    char *out = tarn_arena_alloc(a, 4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)key, (int)len);
    return out;
}

/* Decode a token into the key it names; NULL if it is not one of ours. */
static char *token_decode(tarn_arena *a, const char *token, size_t *len)
{
    size_t n = strlen(token);
    if (n == 0 || n % 4 || n > 4 * 1100 / 3 + 4)
        return NULL;
    unsigned char *out = tarn_arena_alloc(a, n);
    int got = out ? EVP_DecodeBlock(out, (const unsigned char *)token, (int)n) : -1;
    if (got < 0)
        return NULL;
    /* EVP_DecodeBlock counts the '=' padding as zero bytes. */
    for (size_t i = n; i > 0 && token[i - 1] == '='; i--)
        got--;
    if (got <= 0 || memchr(out, '\0', (size_t)got))
        return NULL;
    *len = (size_t)got;
    return (char *)out;
}

static int list_request_parse(srv_request *r, int v2, list_request *lr)
{
    memset(lr, 0, sizeof(*lr));
    lr->v2 = v2;
    lr->prefix = srv_route_query(&r->route, "prefix");
    lr->delimiter = srv_route_query(&r->route, "delimiter");
    const char *enc = srv_route_query(&r->route, "encoding-type");
    if (enc && strcmp(enc, "url") != 0)
        return TARN_E_INVALID_ARGUMENT;
    lr->url_encode = enc != NULL;
    if (srv_route_query_limit(&r->route, "max-keys", &lr->max_keys))
        return TARN_E_INVALID_ARGUMENT;
    if (!v2) {
        lr->marker = srv_route_query(&r->route, "marker");
        lr->fetch_owner = 1;
        lr->after = lr->marker && *lr->marker ? lr->marker : NULL;
        lr->after_len = lr->after ? strlen(lr->after) : 0;
        return 0;
    }
    const char *fo = srv_route_query(&r->route, "fetch-owner");
    lr->fetch_owner = fo && strcmp(fo, "true") == 0;
    lr->start_after = srv_route_query(&r->route, "start-after");
    lr->token = srv_route_query(&r->route, "continuation-token");
    if (lr->token) {
        lr->after = token_decode(r->arena, lr->token, &lr->after_len);
        if (!lr->after)
            return TARN_E_INVALID_ARGUMENT;
    } else if (lr->start_after && *lr->start_after) {
        lr->after = lr->start_after;
        lr->after_len = strlen(lr->after);
    }
    return 0;
}

/* Text for a key-like element: url-encoded when asked (S3 leaves '/'). */
static const char *shown(srv_request *r, const list_request *lr, const char *s, size_t n)
{
    return lr->url_encode ? tarn_uri_encode(r->arena, s, n, 1) : tarn_arena_strndup(r->arena, s, n);
}

static void opt_elem(srv_xml *x, srv_request *r, const list_request *lr, const char *name,
                     const char *v)
{
    if (v)
        srv_xml_elem(x, name, shown(r, lr, v, strlen(v)));
}

static void write_contents(srv_xml *x, srv_request *r, const list_request *lr,
                           const stor_list_entry *e)
{
    char when[32], size[24];
    srv_xml_time(e->mtime_ms / 1000, when);
    snprintf(size, sizeof(size), "%llu", (unsigned long long)e->size);
    srv_xml_open(x, "Contents");
    srv_xml_elem(x, "Key", shown(r, lr, e->key, e->key_len));
    srv_xml_elem(x, "LastModified", when);
    srv_xml_elem(x, "ETag", tarn_arena_printf(r->arena, "\"%s\"", e->etag ? e->etag : ""));
    srv_xml_elem(x, "Size", size);
    if (lr->fetch_owner) {
        srv_xml_open(x, "Owner");
        srv_xml_elem(x, "ID", r->auth.access_key);
        srv_xml_elem(x, "DisplayName", r->auth.access_key);
        srv_xml_close(x);
    }
    srv_xml_elem(x, "StorageClass", "STANDARD");
    srv_xml_close(x);
}

static void write_header(srv_xml *x, srv_request *r, const list_request *lr,
                         const stor_list_result *res)
{
    char num[24];
    srv_xml_elem(x, "Name", r->route.bucket);
    srv_xml_elem(x, "Prefix", shown(r, lr, lr->prefix ? lr->prefix : "", lr->prefix ? strlen(lr->prefix) : 0));
    if (!lr->v2)
        srv_xml_elem(x, "Marker", shown(r, lr, lr->marker ? lr->marker : "", lr->marker ? strlen(lr->marker) : 0));
    if (lr->v2) {
        snprintf(num, sizeof(num), "%zu", res->n);
        srv_xml_elem(x, "KeyCount", num);
    }
    snprintf(num, sizeof(num), "%d", lr->max_keys);
    srv_xml_elem(x, "MaxKeys", num);
    if (lr->delimiter && *lr->delimiter)
        opt_elem(x, r, lr, "Delimiter", lr->delimiter);
    if (lr->url_encode)
        srv_xml_elem(x, "EncodingType", "url");
    srv_xml_elem(x, "IsTruncated", res->truncated ? "true" : "false");
    if (lr->v2) {
        if (lr->token)
            srv_xml_elem(x, "ContinuationToken", lr->token);
        if (res->truncated)
            srv_xml_elem(x, "NextContinuationToken",
                         token_encode(r->arena, res->next_after, res->next_after_len));
        if (lr->start_after)
            opt_elem(x, r, lr, "StartAfter", lr->start_after);
    } else if (res->truncated && lr->delimiter && *lr->delimiter) {
        /* S3 sends NextMarker only with a delimiter; clients use the last
         * key otherwise. */
        srv_xml_elem(x, "NextMarker", shown(r, lr, res->next_after, res->next_after_len));
    }
}

static srv_xml *render(srv_request *r, const list_request *lr, const stor_list_result *res)
{
    srv_xml *x = srv_xml_begin("ListBucketResult", 1);
    write_header(x, r, lr, res);
    for (size_t i = 0; i < res->n; i++)
        if (!res->entries[i].is_prefix)
            write_contents(x, r, lr, &res->entries[i]);
    for (size_t i = 0; i < res->n; i++) {
        if (!res->entries[i].is_prefix)
            continue;
        srv_xml_open(x, "CommonPrefixes");
        srv_xml_elem(x, "Prefix", shown(r, lr, res->entries[i].key, res->entries[i].key_len));
        srv_xml_close(x);
    }
    return x;
}

static void list_run(srv_request *r, int v2)
{
    list_request lr;
    if (!stor_bucket_name_valid(r->route.bucket)) {
        srv_respond_error(r, TARN_E_INVALID_BUCKET_NAME, NULL);
        return;
    }
    if (list_request_parse(r, v2, &lr)) {
        srv_respond_error(r, TARN_E_INVALID_ARGUMENT,
                          lr.token && !lr.after ? "The continuation token provided is incorrect"
                                                : NULL);
        return;
    }
    stor_list_params p = {.prefix = lr.prefix, .delimiter = lr.delimiter, .after = lr.after,
                          .after_len = lr.after_len, .max_keys = lr.max_keys};
    stor_list_result res;
    int rc = stor_object_list(srv_request_shared(r)->store, r->arena, r->route.bucket, &p, &res);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return;
    }
    srv_respond_xml(r, 200, render(r, &lr, &res));
}

static void list_v2_run(srv_request *r) { list_run(r, 1); }
static void list_v1_run(srv_request *r) { list_run(r, 0); }

const srv_op srv_op_list_objects_v2 = {.run = list_v2_run};
const srv_op srv_op_list_objects = {.run = list_v1_run};
