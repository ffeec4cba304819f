/*
 * op_copy.c — CopyObject (S3 API reference, "CopyObject"), and the pieces
 * UploadPartCopy shares with it: reading x-amz-copy-source, opening the
 * source version with its x-amz-copy-source-if-* conditions, and the pump
 * that moves bytes from a stor_get into a stor_put on the same worker.
 *
 * A copy is a new erasure-coded object: the source's stripes are read and
 * decoded (with their checksums verified) and written again as the
 * destination's own shard set, so the two never share data and either can
 * be deleted alone. The pump holds one 256 KiB buffer and suspends on
 * whichever side has to wait; the MD5 (the copy's ETag) and the checksum
 * are computed on the bytes as they pass, so a single-part source's ETag
 * comes out equal to its own, and a multipart source's copy gets the MD5
 * of its bytes, as S3 does for a copy made by CopyObject.
 */
#include "server/internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEY_BYTES 1024             /* S3: keys up to 1024 bytes of UTF-8 */
#define MAX_COPY_SOURCE (5ull << 30)   /* S3: CopyObject copies up to 5 GiB */
#define COPY_BUFFER (256 * 1024)

/* ---- x-amz-copy-source ------------------------------------------------------- */

static void copy_source_cleanup(void *arg)
{
    srv_copy_source *src = arg;
    if (src->get)
        stor_get_close(src->get);
    src->get = NULL;
}

/* "bucket/key" or "/bucket/key", percent-encoded, optionally followed by
 * "?versionId=V" (CopyObject, "x-amz-copy-source"). The '?' is found in the
 * raw value, before decoding, so a key holding "%3F" keeps its '?'. */
int srv_copy_source_parse(tarn_arena *a, const char *header, srv_copy_source *src,
                          const char **detail)
{
    static const char no_key[] = "Copy Source must mention the source bucket and key: "
                                 "sourcebucket/sourcekey";
    *detail = no_key;
    const char *q = strchr(header, '?');
    size_t raw_len = q ? (size_t)(q - header) : strlen(header);
    if (q) {
        if (strncmp(q + 1, "versionId=", 10) != 0) {
            *detail = "Invalid copy source version id parameter";
            return TARN_E_INVALID_ARGUMENT;
        }
        src->version_id = tarn_uri_decode(a, q + 11, strlen(q + 11), 0, NULL);
        if (!src->version_id || !*src->version_id)
            return TARN_E_INVALID_ARGUMENT;
    }
    size_t len;
    char *path = tarn_uri_decode(a, header, raw_len, 0, &len);
    if (!path || memchr(path, '\0', len))
        return TARN_E_INVALID_ARGUMENT;
    if (*path == '/')
        path++, len--;
    char *slash = memchr(path, '/', len);
    if (!slash || slash == path || slash + 1 == path + len)
        return TARN_E_INVALID_ARGUMENT;
    *slash = '\0';
    src->bucket = path;
    src->key = slash + 1;
    src->key_len = len - (size_t)(slash + 1 - path);
    *detail = NULL;
    return 0;
}

/* x-amz-copy-source-if-*: S3 applies GetObject's precedence (if-match true
 * overrides if-unmodified-since false; if-none-match false with
 * if-modified-since true fails), and every failure is 412. */
static int copy_source_conditions(srv_request *r, const stor_object *o)
{
    srv_conditions c = {
        .if_match = srv_request_header(r, "x-amz-copy-source-if-match"),
        .if_none_match = srv_request_header(r, "x-amz-copy-source-if-none-match"),
        .if_modified_since = srv_request_header(r, "x-amz-copy-source-if-modified-since"),
        .if_unmodified_since = srv_request_header(r, "x-amz-copy-source-if-unmodified-since"),
        .is_read = 1};
    int rc = srv_conditions_check(&c, o->etag, o->mtime_ms / 1000);
    return rc == TARN_E_NOT_MODIFIED ? TARN_E_PRECONDITION_FAILED : rc;
}

int srv_copy_source_open(srv_request *r, srv_copy_source *src, const char **detail)
{
    memset(src, 0, sizeof(*src));
    *detail = NULL;
    const char *h = srv_request_header(r, "x-amz-copy-source");
    int rc = srv_copy_source_parse(r->arena, h ? h : "", src, detail);
    if (rc)
        return rc;
    if (!stor_bucket_name_valid(src->bucket))
        return TARN_E_NO_SUCH_BUCKET; /* no bucket can have that name */
    if (src->key_len > MAX_KEY_BYTES)
        return TARN_E_NO_SUCH_KEY;
    if (tarn_arena_cleanup_add(r->arena, copy_source_cleanup, src))
        return TARN_E_NOMEM;
    const char *vid = src->version_id;
    if (vid && strcmp(vid, "null") == 0)
        vid = NULL; /* unversioned buckets: "null" is the only version */
    rc = stor_get_open(srv_request_ioctx(r), r->arena, src->bucket, src->key, src->key_len, vid,
                       &src->obj, &src->get);
    if (rc == TARN_E_NO_SUCH_KEY && vid) {
        *detail = "The specified version does not exist.";
        return TARN_E_NO_SUCH_KEY;
    }
    return rc ? rc : copy_source_conditions(r, &src->obj);
}

/* ---- The pump ---------------------------------------------------------------- */

struct srv_copy {
    srv_request *r;
    stor_get *get;
    stor_put *put;
    uint64_t left;         /* bytes still to read from the source */
    char *buf;
    size_t off, len;       /* read, not yet taken by the put */
    auth_checksum *ck;
    srv_copy_done_fn done;
    int rc;
    int waiting;           /* a storage callback is due */
    int stepping;          /* inside copy_advance: callbacks only clear waiting */
};

static void copy_step(srv_copy *c);

static void copy_wake(void *arg)
{
    srv_copy *c = arg;
    c->waiting = 0;
    if (!c->stepping) /* a callback from a completion, not from inside a call */
        copy_step(c);
}

/* Give the buffered bytes to the put. 1 when all were taken, 0 when
 * copy_wake comes once the put has room. */
static int copy_drain(srv_copy *c)
{
    while (c->len) {
        c->waiting = 1;
        size_t took = stor_put_write(c->put, c->buf + c->off, c->len, copy_wake, c);
        c->off += took;
        c->len -= took;
        if (c->len && c->waiting)
            return 0;
    }
    c->waiting = 0;
    return 1;
}

/* Move bytes until everything was handed to the put or reading failed
 * (1), or until one side must be waited for (0). */
static int copy_advance(srv_copy *c)
{
    for (;;) {
        if (!copy_drain(c))
            return 0;
        if (!c->left)
            return 1;
        size_t want = c->left < COPY_BUFFER ? (size_t)c->left : COPY_BUFFER;
        c->waiting = 1;
        ssize_t n = stor_get_read(c->get, c->buf, want, copy_wake, c);
        if (n < 0) {
            c->waiting = 0;
            c->rc = (int)n;
            return 1;
        }
        if (n == 0) {
            if (c->waiting)
                return 0;
            continue; /* ready came during the call */
        }
        c->waiting = 0;
        auth_checksum_update(c->ck, c->buf, (size_t)n);
        c->off = 0;
        c->len = (size_t)n;
        c->left -= (uint64_t)n;
    }
}

/* Run the pump; 1 when it finished (c->rc set). */
static int copy_run_pump(srv_copy *c)
{
    c->stepping = 1;
    int fin = copy_advance(c);
    c->stepping = 0;
    if (fin && !c->rc) {
        const char *detail = NULL;
        c->rc = auth_checksum_finish(c->ck, &detail);
    }
    return fin;
}

static void copy_step(srv_copy *c)
{
    if (copy_run_pump(c))
        c->done(c->r, c->rc);
}

int srv_copy_start(srv_request *r, stor_get *g, stor_put *p, uint64_t first, uint64_t len,
                   int alg, srv_copy_done_fn done, srv_copy **out)
{
    srv_copy *c = tarn_arena_calloc(r->arena, sizeof(*c));
    if (!c || !(c->buf = tarn_arena_alloc(r->arena, COPY_BUFFER)))
        return TARN_E_NOMEM;
    auth_checksum_spec spec = {.alg = alg, .expect = AUTH_CK_EXPECT_NONE};
    int rc = auth_checksum_create(r->arena, &spec, &c->ck);
    if (rc)
        return rc;
    c->r = r;
    c->get = g;
    c->put = p;
    c->done = done;
    c->left = len;
    if (len && (rc = stor_get_range(g, first, first + len - 1)))
        return rc;
    *out = c;
    if (!copy_run_pump(c))
        return 0;
    return c->rc ? c->rc : 1;
}

const char *srv_copy_etag(const srv_copy *c)
{
    return auth_checksum_md5_hex(c->ck);
}

const char *srv_copy_checksum(const srv_copy *c)
{
    return auth_checksum_value(c->ck);
}

/* ---- CopyObject ---------------------------------------------------------------- */

typedef struct copy_state {
    srv_copy_source src;
    stor_put *put;
    srv_copy *copy;
    stor_object meta;
    int alg;               /* enum auth_checksum_alg of the copy */
} copy_state;

static void copy_put_cleanup(void *arg)
{
    copy_state *cs = arg;
    if (cs->put)
        stor_put_free(cs->put); /* aborts (removes shards) unless committed */
}

/* x-amz-metadata-directive: COPY (the default) or REPLACE. */
static int copy_directive(srv_request *r, int *replace)
{
    const char *d = srv_request_header(r, "x-amz-metadata-directive");
    *replace = d && strcasecmp(d, "REPLACE") == 0;
    if (d && !*replace && strcasecmp(d, "COPY") != 0)
        return TARN_E_INVALID_ARGUMENT;
    return 0;
}

/* "This copy request is illegal because it is trying to copy an object to
 * itself without changing the object's metadata, storage class, website
 * redirect location or encryption attributes." (CopyObject). tarn has one
 * storage class and no encryption or website, but a request naming them is
 * still a change to S3, so it is let through as a plain rewrite. */
static int copy_onto_itself(srv_request *r, const copy_state *cs, int replace)
{
    const srv_copy_source *s = &cs->src;
    if (replace || strcmp(s->bucket, r->route.bucket) != 0 || s->key_len != r->route.key_len ||
        memcmp(s->key, r->route.key, s->key_len) != 0)
        return 0;
    if (s->version_id && strcmp(s->version_id, "null") != 0)
        return 0;
    return !srv_request_header(r, "x-amz-storage-class") &&
           !srv_request_header(r, "x-amz-website-redirect-location") &&
           !srv_request_header(r, "x-amz-server-side-encryption");
}

/* The copy's content headers and user metadata: the source's (COPY) or
 * this request's (REPLACE). Checksums: the algorithm asked for with
 * x-amz-checksum-algorithm, else the source's. */
static int copy_meta_fill(srv_request *r, copy_state *cs, int replace)
{
    const stor_object *o = &cs->src.obj;
    stor_object *m = &cs->meta;
    memset(m, 0, sizeof(*m));
    cs->alg = AUTH_CK_NONE;
    for (int i = 0; i < STOR_CK__COUNT; i++)
        if (o->checksum[i] && *o->checksum[i] && cs->alg == AUTH_CK_NONE)
            cs->alg = AUTH_CK_CRC32 + i; /* storage's enum starts at 0, auth's at 1 */
    const char *want = srv_request_header(r, "x-amz-checksum-algorithm");
    if (want && (cs->alg = auth_checksum_alg_parse(want)) == AUTH_CK_NONE)
        return TARN_E_INVALID_REQUEST;
    if (!replace) {
        *m = *o;
        memset(m->checksum, 0, sizeof(m->checksum));
        return 0;
    }
    return srv_content_meta_collect(r, m);
}

static void copy_respond(srv_request *r, copy_state *cs)
{
    const stor_object *res = stor_put_result(cs->put);
    char when[32];
    srv_xml_time(res->mtime_ms / 1000, when);
    srv_xml *x = srv_xml_begin("CopyObjectResult", 1);
    srv_xml_elem(x, "LastModified", when);
    srv_xml_elem(x, "ETag", tarn_arena_printf(r->arena, "\"%s\"", cs->meta.etag));
    if (cs->alg != AUTH_CK_NONE) {
        srv_xml_elem(x, "ChecksumType", "FULL_OBJECT");
        srv_xml_elem(x, tarn_arena_printf(r->arena, "Checksum%s", auth_checksum_alg_name(cs->alg)),
                     srv_copy_checksum(cs->copy));
    }
    srv_respond_xml(r, 200, x);
    if (cs->src.version_id)
        srv_response_header(r, "x-amz-copy-source-version-id", cs->src.version_id);
}

static void copy_committed(void *arg, int rc)
{
    srv_request *r = arg;
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        copy_respond(r, r->op_state);
    srv_request_resume(r);
}

/* Every byte was handed to the put: commit the copy. 0 when the commit is
 * under way, else the error to answer. */
static int copy_commit(srv_request *r, copy_state *cs, int rc)
{
    if (rc)
        return rc;
    snprintf(cs->meta.etag, sizeof(cs->meta.etag), "%s", srv_copy_etag(cs->copy));
    if (cs->alg != AUTH_CK_NONE)
        cs->meta.checksum[cs->alg - AUTH_CK_CRC32] = srv_copy_checksum(cs->copy);
    return stor_put_finish(cs->put, &cs->meta, copy_committed, r);
}

static void copy_pumped(srv_request *r, int rc)
{
    if ((rc = copy_commit(r, r->op_state, rc))) {
        srv_respond_error(r, rc, rc == TARN_E_IO || rc == TARN_E_CORRUPT
                                     ? "The copy source could not be read from enough disks."
                                     : NULL);
        srv_request_resume(r);
    }
}

/* Checks before any byte moves; 0 or the error (with *detail). */
static int copy_prepare(srv_request *r, copy_state *cs, const char **detail)
{
    int replace = 0;
    *detail = NULL;
    if (!stor_bucket_name_valid(r->route.bucket))
        return TARN_E_NO_SUCH_BUCKET;
    if (r->route.key_len > MAX_KEY_BYTES)
        return TARN_E_KEY_TOO_LONG;
    int rc = copy_directive(r, &replace);
    if (rc) {
        *detail = "Unknown metadata directive.";
        return rc;
    }
    if ((rc = srv_copy_source_open(r, &cs->src, detail)))
        return rc;
    if (cs->src.obj.size > MAX_COPY_SOURCE) {
        *detail = "The specified copy source is larger than the maximum allowable size for a "
                  "copy source: 5368709120";
        return TARN_E_INVALID_REQUEST;
    }
    if (copy_onto_itself(r, cs, replace)) {
        *detail = "This copy request is illegal because it is trying to copy an object to itself "
                  "without changing the object's metadata, storage class, website redirect "
                  "location or encryption attributes.";
        return TARN_E_INVALID_REQUEST;
    }
    return copy_meta_fill(r, cs, replace);
}

static void copy_object_run(srv_request *r)
{
    const char *detail = NULL;
    copy_state *cs = tarn_arena_calloc(r->arena, sizeof(*cs));
    int rc = !cs || tarn_arena_cleanup_add(r->arena, copy_put_cleanup, cs) ? TARN_E_NOMEM : 0;
    r->op_state = cs;
    if (!rc)
        rc = copy_prepare(r, cs, &detail);
    uint64_t size = rc ? 0 : cs->src.obj.size;
    if (!rc)
        rc = stor_put_begin(srv_request_ioctx(r), r->route.bucket, r->route.key, r->route.key_len,
                            size, &cs->put);
    if (!rc)
        rc = srv_copy_start(r, cs->src.get, cs->put, 0, size, cs->alg,
                            copy_pumped, &cs->copy);
    if (rc == 1) /* finished at once (an empty source) */
        rc = copy_commit(r, cs, 0);
    if (rc < 0) {
        srv_respond_error(r, rc, detail);
        return;
    }
    srv_request_suspend(r);
}

const srv_op srv_op_copy_object = {.run = copy_object_run};
