/*
 * op_multipart_list.c — ListParts and ListMultipartUploads (S3 API
 * reference, one section each): query parameters, pagination markers and
 * the ListPartsResult / ListMultipartUploadsResult XML. The uploads and
 * parts come from storage in S3's order; nothing is sorted here.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>


static void owner_elems(srv_xml *x, const char *who)
{
    srv_xml_open(x, "Initiator");
    srv_xml_elem(x, "ID", who);
    srv_xml_elem(x, "DisplayName", who);
    srv_xml_close(x);
    srv_xml_open(x, "Owner");
    srv_xml_elem(x, "ID", who);
    srv_xml_elem(x, "DisplayName", who);
    srv_xml_close(x);
}

static void checksum_elems(srv_xml *x, const stor_upload *u)
{
    if (u->checksum_alg < 0)
        return;
    srv_xml_elem(x, "ChecksumAlgorithm", auth_checksum_alg_name(u->checksum_alg + AUTH_CK_CRC32));
    srv_xml_elem(x, "ChecksumType", u->checksum_full ? "FULL_OBJECT" : "COMPOSITE");
}

/* ---- ListParts ---------------------------------------------------------- */

static void part_elem(srv_xml *x, srv_request *r, const stor_part *p)
{
    char when[32];
    srv_xml_time(p->mtime_ms / 1000, when);
    srv_xml_open(x, "Part");
    srv_xml_elem(x, "PartNumber", tarn_arena_printf(r->arena, "%u", p->number));
    srv_xml_elem(x, "LastModified", when);
    srv_xml_elem(x, "ETag", tarn_arena_printf(r->arena, "\"%s\"", p->etag));
    srv_xml_elem(x, "Size", tarn_arena_printf(r->arena, "%llu", (unsigned long long)p->size));
    for (int a = 0; a < STOR_CK__COUNT; a++)
        if (p->checksum[a])
            srv_xml_elem(x, tarn_arena_printf(r->arena, "Checksum%s",
                                              auth_checksum_alg_name(a + AUTH_CK_CRC32)),
                         p->checksum[a]);
    srv_xml_close(x);
}

static srv_xml *parts_render(srv_request *r, const stor_upload *u, uint32_t marker, int max,
                             const stor_part_list *l)
{
    srv_xml *x = srv_xml_begin("ListPartsResult", 1);
    srv_xml_elem(x, "Bucket", r->route.bucket);
    srv_xml_elem(x, "Key", tarn_arena_strndup(r->arena, r->route.key, r->route.key_len));
    srv_xml_elem(x, "UploadId", u->upload_id);
    srv_xml_elem(x, "PartNumberMarker", tarn_arena_printf(r->arena, "%u", marker));
    if (l->n)
        srv_xml_elem(x, "NextPartNumberMarker",
                     tarn_arena_printf(r->arena, "%u", l->parts[l->n - 1].number));
    srv_xml_elem(x, "MaxParts", tarn_arena_printf(r->arena, "%d", max));
    srv_xml_elem(x, "IsTruncated", l->truncated ? "true" : "false");
    for (size_t i = 0; i < l->n; i++)
        part_elem(x, r, &l->parts[i]);
    owner_elems(x, u->owner);
    srv_xml_elem(x, "StorageClass", "STANDARD");
    checksum_elems(x, u);
    return x;
}

static void list_parts_run(srv_request *r)
{
    stor *s = srv_request_shared(r)->store;
    const char *id = srv_route_query(&r->route, "uploadId");
    const char *pm = srv_route_query(&r->route, "part-number-marker");
    char *end = NULL;
    long marker = pm && *pm ? strtol(pm, &end, 10) : 0;
    int max = 0, rc = stor_bucket_name_valid(r->route.bucket) ? 0 : TARN_E_NO_SUCH_BUCKET;
    if (!rc && ((end && *end) || marker < 0 || srv_route_query_limit(&r->route, "max-parts",
                                                         &max)))
        rc = TARN_E_INVALID_ARGUMENT;
    stor_upload u;
    stor_part_list l;
    if (!rc)
        rc = stor_multipart_get(s, r->arena, r->route.bucket, r->route.key, r->route.key_len,
                                id ? id : "", &u);
    if (!rc)
        rc = stor_multipart_parts(s, r->arena, r->route.bucket, r->route.key, r->route.key_len,
                                  id, marker > STOR_MP_MAX_PARTS ? STOR_MP_MAX_PARTS
                                                                 : (uint32_t)marker, max, &l);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return;
    }
    uint32_t shown_marker = (uint32_t)(marker > STOR_MP_MAX_PARTS ? STOR_MP_MAX_PARTS : marker);
    srv_respond_xml(r, 200, parts_render(r, &u, shown_marker, max, &l));
}

/* ---- ListMultipartUploads ---------------------------------------------------- */

typedef struct uploads_request {
    stor_upload_list_params p;
    int url;
} uploads_request;

static const char *shown(srv_request *r, const uploads_request *q, const char *s, size_t n)
{
    return q->url ? tarn_uri_encode(r->arena, s, n, 1) : tarn_arena_strndup(r->arena, s, n);
}

static void shown_elem(srv_xml *x, srv_request *r, const uploads_request *q, const char *name,
                       const char *v)
{
    srv_xml_elem(x, name, shown(r, q, v ? v : "", v ? strlen(v) : 0));
}

static void upload_elem(srv_xml *x, srv_request *r, const uploads_request *q,
                        const stor_upload *u)
{
    char when[32];
    srv_xml_time(u->initiated_ms / 1000, when);
    srv_xml_open(x, "Upload");
    srv_xml_elem(x, "Key", shown(r, q, u->key, u->key_len));
    srv_xml_elem(x, "UploadId", u->upload_id);
    owner_elems(x, u->owner);
    srv_xml_elem(x, "StorageClass", "STANDARD");
    srv_xml_elem(x, "Initiated", when);
    checksum_elems(x, u);
    srv_xml_close(x);
}

static srv_xml *uploads_render(srv_request *r, const uploads_request *q,
                               const stor_upload_list *l)
{
    srv_xml *x = srv_xml_begin("ListMultipartUploadsResult", 1);
    srv_xml_elem(x, "Bucket", r->route.bucket);
    shown_elem(x, r, q, "KeyMarker", q->p.key_marker);
    srv_xml_elem(x, "UploadIdMarker", q->p.upload_id_marker ? q->p.upload_id_marker : "");
    if (l->truncated) {
        srv_xml_elem(x, "NextKeyMarker", shown(r, q, l->next_key, l->next_key_len));
        srv_xml_elem(x, "NextUploadIdMarker", l->next_upload_id);
    }
    if (q->p.delimiter && *q->p.delimiter)
        shown_elem(x, r, q, "Delimiter", q->p.delimiter);
    shown_elem(x, r, q, "Prefix", q->p.prefix);
    srv_xml_elem(x, "MaxUploads", tarn_arena_printf(r->arena, "%d", q->p.max_uploads));
    srv_xml_elem(x, "IsTruncated", l->truncated ? "true" : "false");
    if (q->url)
        srv_xml_elem(x, "EncodingType", "url");
    for (size_t i = 0; i < l->n; i++)
        upload_elem(x, r, q, &l->uploads[i]);
    for (size_t i = 0; i < l->n_prefixes; i++) {
        srv_xml_open(x, "CommonPrefixes");
        shown_elem(x, r, q, "Prefix", l->prefixes[i]);
        srv_xml_close(x);
    }
    return x;
}

static int uploads_parse(srv_request *r, uploads_request *q)
{
    memset(q, 0, sizeof(*q));
    const char *enc = srv_route_query(&r->route, "encoding-type");
    if (enc && strcmp(enc, "url") != 0)
        return TARN_E_INVALID_ARGUMENT;
    q->url = enc != NULL;
    q->p.prefix = srv_route_query(&r->route, "prefix");
    q->p.delimiter = srv_route_query(&r->route, "delimiter");
    q->p.key_marker = srv_route_query(&r->route, "key-marker");
    q->p.key_marker_len = q->p.key_marker ? strlen(q->p.key_marker) : 0;
    /* S3 ignores upload-id-marker without key-marker. */
    q->p.upload_id_marker = q->p.key_marker ? srv_route_query(&r->route, "upload-id-marker") : NULL;
    return srv_route_query_limit(&r->route, "max-uploads", &q->p.max_uploads);
}

static void list_uploads_run(srv_request *r)
{
    uploads_request q;
    stor_upload_list l;
    int rc = stor_bucket_name_valid(r->route.bucket) ? 0 : TARN_E_NO_SUCH_BUCKET;
    if (!rc && uploads_parse(r, &q))
        rc = TARN_E_INVALID_ARGUMENT;
    if (!rc)
        rc = stor_multipart_list(srv_request_shared(r)->store, r->arena, r->route.bucket, &q.p,
                                 &l);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        return;
    }
    srv_respond_xml(r, 200, uploads_render(r, &q, &l));
}

const srv_op srv_op_list_parts = {.run = list_parts_run};
const srv_op srv_op_list_multipart_uploads = {.run = list_uploads_run};
