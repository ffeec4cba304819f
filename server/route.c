/*
 * route.c — from method, Host and request target to one S3 operation.
 *
 * Path style: /bucket/key. Virtual-host style: Host "bucket.<domain>" with
 * the domain from the config, path = /key. The subresource in the query
 * (?acl, ?uploads, ?location, …) picks the operation, as the S3 API
 * reference lists them per method; operations without a handler answer
 * 501 NotImplemented, unknown methods 405 MethodNotAllowed.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const op_names[] = {
#define SRV_OP_NAME(id, name) name,
    SRV_OPS(SRV_OP_NAME)
#undef SRV_OP_NAME
};

/* Bucket subresources: query name → operation stem (Get/Put/Delete +
 * "Bucket" + stem). Sorted only for reading. */
static const struct {
    const char *query;
    const char *stem;
} bucket_subresources[] = {
    {"accelerate", "Accelerate"},   {"acl", "Acl"},
    {"analytics", "Analytics"},     {"cors", "Cors"},
    {"encryption", "Encryption"},   {"intelligent-tiering", "IntelligentTiering"},
    {"inventory", "Inventory"},     {"lifecycle", "Lifecycle"},
    {"logging", "Logging"},         {"metadataTable", "MetadataTableConfiguration"},
    {"metrics", "Metrics"},         {"notification", "NotificationConfiguration"},
    {"object-lock", "ObjectLockConfiguration"},
    {"ownershipControls", "OwnershipControls"},
    {"policy", "Policy"},           {"policyStatus", "PolicyStatus"},
    {"publicAccessBlock", "PublicAccessBlock"},
    {"replication", "Replication"}, {"requestPayment", "RequestPayment"},
    {"tagging", "Tagging"},         {"versioning", "Versioning"},
    {"website", "Website"},
};

static const struct {
    const char *query;
    const char *stem;
} object_subresources[] = {
    {"acl", "ObjectAcl"},       {"attributes", "ObjectAttributes"},
    {"legal-hold", "ObjectLegalHold"}, {"retention", "ObjectRetention"},
    {"tagging", "ObjectTagging"}, {"torrent", "ObjectTorrent"},
    {"restore", "RestoreObject"}, {"select", "SelectObjectContent"},
};

const char *srv_route_query(const srv_route *r, const char *name)
{
    for (size_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

int srv_route_query_limit(const srv_route *r, const char *name, int *out)
{
    const char *s = srv_route_query(r, name);
    *out = SRV_LIST_MAX;
    if (!s)
        return 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0)
        return TARN_E_INVALID_ARGUMENT;
    *out = v > SRV_LIST_MAX ? SRV_LIST_MAX : (int)v;
    return 0;
}

static int parse_query(tarn_arena *a, const char *raw, srv_route *out)
{
    size_t n = 1;
    for (const char *p = raw; *p; p++)
        n += *p == '&';
    out->query = tarn_arena_alloc(a, n * sizeof(*out->query));
    if (!out->query)
        return TARN_E_NOMEM;
    out->n_query = 0;
    const char *p = raw;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        if (len) {
            srv_query_param *q = &out->query[out->n_query];
            q->name = tarn_uri_decode(a, p, nlen, 1, NULL);
            q->value = eq ? tarn_uri_decode(a, eq + 1, len - nlen - 1, 1, NULL) : "";
            if (!q->name || !q->value)
                return TARN_E_INVALID_ARGUMENT;
            out->n_query++;
        }
        p += len + (amp ? 1 : 0);
    }
    return 0;
}

/* Host "bucket.domain[:port]" → bucket, when a domain is configured. */
static const char *vhost_bucket(tarn_arena *a, const char *host, const char *domain)
{
    if (!host || !domain || !*domain)
        return NULL;
    size_t hlen = strlen(host);
    const char *colon = strrchr(host, ':');
    if (colon && !strchr(host, ']'))
        hlen = (size_t)(colon - host);
    size_t dlen = strlen(domain);
    if (hlen <= dlen + 1 || host[hlen - dlen - 1] != '.' ||
        strncasecmp(host + hlen - dlen, domain, dlen) != 0)
        return NULL;
    return tarn_arena_strndup(a, host, hlen - dlen - 1);
}

static int has_param(const srv_route *r, const char *name)
{
    return srv_route_query(r, name) != NULL;
}

static srv_op_id named_sub(tarn_arena *a, srv_route *r, srv_op_id op, const char *verb,
                           const char *stem)
{
    r->op_name = tarn_arena_printf(a, "%s%s", verb, stem);
    return op;
}

static const char *method_verb(const char *method)
{
    if (!strcmp(method, "GET"))
        return "Get";
    if (!strcmp(method, "PUT"))
        return "Put";
    if (!strcmp(method, "DELETE"))
        return "Delete";
    return NULL;
}

static srv_op_id bucket_op(tarn_arena *a, const char *method, srv_route *r)
{
    const char *verb = method_verb(method);
    for (size_t i = 0; verb && i < sizeof(bucket_subresources) / sizeof(bucket_subresources[0]);
         i++)
        if (has_param(r, bucket_subresources[i].query)) {
            char stem[64];
            snprintf(stem, sizeof(stem), "Bucket%s", bucket_subresources[i].stem);
            return named_sub(a, r, SRV_OP_BUCKET_SUBRESOURCE, verb, stem);
        }
    if (!strcmp(method, "GET")) {
        if (has_param(r, "location"))
            return SRV_OP_GET_BUCKET_LOCATION;
        if (has_param(r, "uploads"))
            return SRV_OP_LIST_MULTIPART_UPLOADS;
        if (has_param(r, "versions"))
            return SRV_OP_LIST_OBJECT_VERSIONS;
        const char *lt = srv_route_query(r, "list-type");
        return lt && !strcmp(lt, "2") ? SRV_OP_LIST_OBJECTS_V2 : SRV_OP_LIST_OBJECTS;
    }
    if (!strcmp(method, "PUT"))
        return SRV_OP_CREATE_BUCKET;
    if (!strcmp(method, "DELETE"))
        return SRV_OP_DELETE_BUCKET;
    if (!strcmp(method, "HEAD"))
        return SRV_OP_HEAD_BUCKET;
    if (!strcmp(method, "POST"))
        return has_param(r, "delete") ? SRV_OP_DELETE_OBJECTS : SRV_OP_POST_OBJECT;
    return SRV_OP_OPTIONS_PREFLIGHT; /* OPTIONS */
}

static srv_op_id object_op_with_upload(const char *method, const srv_route *r,
                                       int has_copy_source)
{
    if (!strcmp(method, "GET"))
        return SRV_OP_LIST_PARTS;
    if (!strcmp(method, "PUT"))
        return has_copy_source ? SRV_OP_UPLOAD_PART_COPY : SRV_OP_UPLOAD_PART;
    if (!strcmp(method, "POST"))
        return SRV_OP_COMPLETE_MULTIPART_UPLOAD;
    if (!strcmp(method, "DELETE"))
        return SRV_OP_ABORT_MULTIPART_UPLOAD;
    (void)r;
    return SRV_OP_HEAD_OBJECT; /* HEAD with uploadId: a plain HeadObject */
}

static srv_op_id object_op(tarn_arena *a, const char *method, srv_route *r, int has_copy_source)
{
    const char *verb = method_verb(method);
    if (!strcmp(method, "POST"))
        verb = "";
    for (size_t i = 0; verb && i < sizeof(object_subresources) / sizeof(object_subresources[0]);
         i++)
        if (has_param(r, object_subresources[i].query))
            return named_sub(a, r, SRV_OP_OBJECT_SUBRESOURCE, verb, object_subresources[i].stem);
    if (has_param(r, "uploadId"))
        return object_op_with_upload(method, r, has_copy_source);
    if (!strcmp(method, "GET"))
        return SRV_OP_GET_OBJECT;
    if (!strcmp(method, "HEAD"))
        return SRV_OP_HEAD_OBJECT;
    if (!strcmp(method, "PUT"))
        return has_copy_source ? SRV_OP_COPY_OBJECT : SRV_OP_PUT_OBJECT;
    if (!strcmp(method, "DELETE"))
        return SRV_OP_DELETE_OBJECT;
    if (!strcmp(method, "POST"))
        return has_param(r, "uploads") ? SRV_OP_CREATE_MULTIPART_UPLOAD : SRV_OP_POST_OBJECT;
    return SRV_OP_OPTIONS_PREFLIGHT;
}

static int known_method(const char *m)
{
    static const char *const methods[] = {"GET", "PUT", "HEAD", "DELETE", "POST", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcmp(m, methods[i]))
            return 1;
    return 0;
}

/* Split the decoded path into bucket and key (path style). */
static int split_path(tarn_arena *a, const char *path, size_t len, srv_route *out)
{
    const char *p = path + 1, *end = path + len;
    if (p >= end)
        return 0; /* "/" : service level */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t blen = slash ? (size_t)(slash - p) : (size_t)(end - p);
    out->bucket = tarn_arena_strndup(a, p, blen);
    if (slash && slash + 1 < end) {
        out->key = slash + 1;
        out->key_len = (size_t)(end - slash - 1);
    }
    return out->bucket ? 0 : TARN_E_NOMEM;
}

int srv_route_resolve(tarn_arena *a, const char *method, const char *host,
                      const char *raw_path, const char *raw_query, const char *domain,
                      int has_copy_source, srv_route *out)
{
    memset(out, 0, sizeof(*out));
    if (!known_method(method))
        return TARN_E_METHOD_NOT_ALLOWED;
    if (raw_path[0] != '/')
        return TARN_E_INVALID_URI;
    size_t len;
    char *path = tarn_uri_decode(a, raw_path, strlen(raw_path), 0, &len);
    if (!path || memchr(path, '\0', len))
        return TARN_E_INVALID_URI;
    int rc = parse_query(a, raw_query ? raw_query : "", out);
    if (rc)
        return rc;
    out->bucket = vhost_bucket(a, host, domain);
    if (out->bucket) {
        out->virtual_host = 1;
        if (len > 1) {
            out->key = path + 1;
            out->key_len = len - 1;
        }
    } else if ((rc = split_path(a, path, len, out))) {
        return rc;
    }
    if (!out->bucket)
        out->op = !strcmp(method, "GET") ? SRV_OP_LIST_BUCKETS : SRV_OP_OPTIONS_PREFLIGHT;
    else if (!out->key)
        out->op = bucket_op(a, method, out);
    else
        out->op = object_op(a, method, out, has_copy_source);
    if (!out->op_name)
        out->op_name = op_names[out->op];
    if (!out->bucket && strcmp(method, "GET"))
        return TARN_E_METHOD_NOT_ALLOWED;
    return 0;
}
