/*
 * op_post.c — POST Object, the browser-based upload (S3 API reference,
 * "PostObject"; user guide, "Browser-based uploads using POST"). The body
 * is multipart/form-data (RFC 7578): form fields, then the file, which S3
 * requires to be the last field it reads ("any fields below it are
 * ignored"). The fields and the signed policy are checked with
 * auth_post_policy_verify as soon as the file part's headers have
 * arrived, so a form with a bad signature or policy is refused before its
 * file is read any further.
 *
 * The file's size is not known before the closing boundary, and the put
 * pipeline needs it up front, so the body is held in memory (r->body, up
 * to POST_FILE_MAX of file) and stored once complete. Forms are for
 * browsers and small uploads; larger files get EntityTooLarge and belong
 * in PutObject or multipart uploads (docs: a limit of tarn, not of S3,
 * whose POST takes up to 5 GiB).
 */
#include "server/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PRE_DATA_MAX (20 * 1024)       /* S3: fields before the file, 20 KiB */
#define POST_FILE_MAX (64u << 20)      /* ours: see above */
#define POST_BODY_MAX ((size_t)POST_FILE_MAX + PRE_DATA_MAX + 4096)
#define MAX_KEY_BYTES 1024
#define FORM_MORE 1                    /* form_scan: needs more bytes */
#define FORM_NO_FILE 2                 /* form_scan: the form ended without a file */

static const char malformed[] =
    "The body of your POST request is not well-formed multipart/form-data.";

/* ---- The form parser (pure: tested in tests/unit/server/test_post_form.c) --- */

typedef struct post_form {
    char *delim;               /* "\r\n--" boundary */
    size_t delim_len;
    auth_form_field *fields;   /* arena */
    size_t n, cap;
    const char *filename;      /* the file part's, "" when it gave none */
    const char *file_type;     /* the file part's Content-Type, or NULL */
    size_t data_start, data_len;
    int have_file;
} post_form;

/* The boundary parameter of "multipart/form-data; boundary=..." (quoted
 * or not, RFC 2046 §5.1.1: 1..70 characters). */
static int form_boundary(tarn_arena *a, const char *ctype, post_form *f, const char **detail)
{
    *detail = "Bucket POST must be of the enclosure-type multipart/form-data";
    if (!ctype || strncasecmp(ctype, "multipart/form-data", 19) != 0)
        return TARN_E_PRECONDITION_FAILED;
    *detail = malformed;
    const char *p = strcasestr(ctype + 19, "boundary=");
    if (!p)
        return TARN_E_INVALID_ARGUMENT;
    p += 9;
    size_t n = *p == '"' ? strcspn(++p, "\"") : strcspn(p, "; \t");
    if (n == 0 || n > 70)
        return TARN_E_INVALID_ARGUMENT;
    f->delim = tarn_arena_printf(a, "\r\n--%.*s", (int)n, p);
    f->delim_len = n + 4;
    *detail = NULL;
    return f->delim ? 0 : TARN_E_NOMEM;
}

/* A parameter of a Content-Disposition value: name="v" (with \" escapes)
 * or name=token. NULL when absent. */
static const char *disposition_param(tarn_arena *a, const char *v, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = v; (p = strchr(p, ';')); ) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        p += nl + 1;
        if (*p != '"')
            return tarn_arena_strndup(a, p, strcspn(p, ";"));
        char *out = tarn_arena_alloc(a, strlen(p)), *o = out;
        if (!out)
            return NULL;
        for (p++; *p && *p != '"'; p++)
            *o++ = *p == '\\' && p[1] ? *++p : *p;
        *o = '\0';
        return out;
    }
    return NULL;
}

typedef struct part_head {
    const char *name, *filename, *type;
} part_head;

/* A part's header lines h[0..n) (CRLF-separated). */
static int part_head_parse(tarn_arena *a, const char *h, size_t n, part_head *out)
{
    memset(out, 0, sizeof(*out));
    char *copy = tarn_arena_strndup(a, h, n), *save = NULL;
    if (!copy)
        return TARN_E_NOMEM;
    for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            return TARN_E_INVALID_ARGUMENT;
        *colon = '\0';
        char *v = colon + 1 + strspn(colon + 1, " \t");
        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (strncasecmp(v, "form-data", 9) != 0)
                return TARN_E_INVALID_ARGUMENT;
            out->name = disposition_param(a, v, "name");
            out->filename = disposition_param(a, v, "filename");
        } else if (strcasecmp(line, "Content-Type") == 0) {
            out->type = v;
        }
    }
    return out->name ? 0 : TARN_E_INVALID_ARGUMENT;
}

static int form_field_add(tarn_arena *a, post_form *f, const char *name, const char *v,
                          size_t n)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        auth_form_field *nf = tarn_arena_alloc(a, (cap + 1) * sizeof(*nf));
        if (!nf)
            return TARN_E_NOMEM;
        if (f->n)
            memcpy(nf, f->fields, f->n * sizeof(*nf));
        f->fields = nf;
        f->cap = cap;
    }
    char *value = tarn_arena_strndup(a, v, n);
    if (!value)
        return TARN_E_NOMEM;
    f->fields[f->n++] = (auth_form_field){name, value};
    return 0;
}

/* Where the first part starts: after "--boundary" at the very start, or
 * after a preamble ending in CRLF "--boundary". 0 = not yet known. */
static size_t form_first_part(const post_form *f, const char *b, size_t len)
{
    size_t dl = f->delim_len - 2; /* without the CRLF */
    if (len >= dl && memcmp(b, f->delim + 2, dl) == 0)
        return dl;
    const char *d = memmem(b, len, f->delim, f->delim_len);
    return d ? (size_t)(d - b) + f->delim_len : 0;
}

/* Parse b[0..len) up to the file part's data. 0 with f->have_file and
 * f->data_start set; FORM_MORE; FORM_NO_FILE; TARN_E_INVALID_ARGUMENT
 * (malformed, or over PRE_DATA_MAX before the file); TARN_E_NOMEM. Starts over at each call (the
 * pre-file bytes are few). */
static int form_scan(tarn_arena *a, post_form *f, const char *b, size_t len)
{
    f->n = 0;
    size_t pos = form_first_part(f, b, len);
    while (pos) {
        if (len - pos < 2)
            break;
        if (memcmp(b + pos, "--", 2) == 0)
            return FORM_NO_FILE;
        if (memcmp(b + pos, "\r\n", 2) != 0)
            return TARN_E_INVALID_ARGUMENT;
        pos += 2;
        const char *he = memmem(b + pos, len - pos, "\r\n\r\n", 4);
        if (!he)
            break;
        part_head ph;
        int rc = part_head_parse(a, b + pos, (size_t)(he - b) - pos, &ph);
        if (rc)
            return rc;
        pos = (size_t)(he - b) + 4;
        if (strcmp(ph.name, "file") == 0) {
            f->have_file = 1;
            f->data_start = pos;
            f->filename = ph.filename ? ph.filename : "";
            f->file_type = ph.type;
            return 0;
        }
        const char *ve = memmem(b + pos, len - pos, f->delim, f->delim_len);
        if (!ve)
            break;
        if ((rc = form_field_add(a, f, ph.name, b + pos, (size_t)(ve - b) - pos)))
            return rc;
        pos = (size_t)(ve - b) + f->delim_len;
    }
    return len > PRE_DATA_MAX ? TARN_E_INVALID_ARGUMENT : FORM_MORE;
}

/* The file's bytes end at the next delimiter; what follows it (the close,
 * or fields S3 ignores) must at least be a delimiter's tail. */
static int form_file_end(post_form *f, const char *b, size_t len)
{
    const char *d = memmem(b + f->data_start, len - f->data_start, f->delim, f->delim_len);
    if (!d)
        return TARN_E_INVALID_ARGUMENT; /* truncated */
    size_t after = (size_t)(d - b) + f->delim_len;
    if (len - after < 2 || (memcmp(b + after, "--", 2) && memcmp(b + after, "\r\n", 2)))
        return TARN_E_INVALID_ARGUMENT;
    f->data_len = (size_t)(d - b) - f->data_start;
    return 0;
}

static const char *form_get(const post_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcasecmp(f->fields[i].name, name) == 0)
            return f->fields[i].value;
    return NULL;
}

/* "${filename}" in the key becomes the file's name (its last path
 * component: some browsers send a full path). */
static int form_key_expand(tarn_arena *a, post_form *f)
{
    const char *base = f->filename;
    for (const char *p = base; *p; p++)
        if (*p == '/' || *p == '\\')
            base = p + 1;
    for (size_t i = 0; i < f->n; i++) {
        if (strcasecmp(f->fields[i].name, "key") != 0)
            continue;
        const char *v = f->fields[i].value, *at = strstr(v, "${filename}");
        if (!at)
            continue;
        f->fields[i].value = tarn_arena_printf(a, "%.*s%s%s", (int)(at - v), v, base, at + 11);
        if (!f->fields[i].value)
            return TARN_E_NOMEM;
    }
    return 0;
}

/* ---- The operation ---------------------------------------------------------- */

typedef struct post_state {
    post_form form;
    int scan_rc;               /* form_scan's last answer */
    auth_post_result res;
    const char *key;
    stor_put *put;
    stor_object meta;
    size_t off;                /* file bytes given to the put so far */
    int waiting;
} post_state;

static void post_cleanup(void *arg)
{
    post_state *ps = arg;
    if (ps->put)
        stor_put_free(ps->put); /* aborts (removes shards) unless committed */
}

/* The signature and policy, and the key, once every field is known.
 * Anonymous forms would need a bucket policy allowing them: none exists. */
static int post_form_check(srv_request *r, post_state *ps, const char **detail)
{
    post_form *f = &ps->form;
    int rc = form_key_expand(r->arena, f);
    if (!rc)
        rc = auth_post_policy_verify(r->arena, srv_request_shared(r)->creds, r->route.bucket,
                                     f->fields, f->n, tarn_now_unix(), AUTH_POST_LENGTH_UNKNOWN,
                                     &ps->res, detail);
    if (rc)
        return rc;
    if (ps->res.anonymous)
        return TARN_E_ACCESS_DENIED;
    ps->key = form_get(f, "key");
    if (!ps->key) {
        *detail = "Bucket POST must contain a field named 'key'.  If it is specified, please "
                  "check the order of the fields.";
        return TARN_E_INVALID_ARGUMENT;
    }
    if (!*ps->key) {
        *detail = "User key must have a length greater than 0.";
        return TARN_E_INVALID_ARGUMENT;
    }
    return strlen(ps->key) > MAX_KEY_BYTES ? TARN_E_KEY_TOO_LONG : 0;
}

/* Scan what has arrived; once the file part starts, check the form. */
static int post_scan(srv_request *r, post_state *ps, const char **detail)
{
    ps->scan_rc = form_scan(r->arena, &ps->form, r->body.data, r->body.len);
    if (ps->scan_rc == 0)
        return post_form_check(r, ps, detail);
    if (ps->scan_rc == FORM_NO_FILE) {
        *detail = "POST requires exactly one file upload per request.";
        return TARN_E_INVALID_ARGUMENT;
    }
    if (ps->scan_rc < 0)
        *detail = r->body.len > PRE_DATA_MAX
                      ? "Your POST request fields preceding the upload file were too large."
                      : malformed;
    return ps->scan_rc < 0 ? ps->scan_rc : 0;
}

static int post_begin(srv_request *r)
{
    if (!stor_bucket_name_valid(r->route.bucket))
        return TARN_E_NO_SUCH_BUCKET;
    post_state *ps = tarn_arena_calloc(r->arena, sizeof(*ps));
    if (!ps || tarn_arena_cleanup_add(r->arena, post_cleanup, ps))
        return TARN_E_NOMEM;
    r->op_state = ps;
    ps->scan_rc = FORM_MORE;
    const char *detail = NULL;
    int rc = form_boundary(r->arena, srv_request_header(r, "Content-Type"), &ps->form, &detail);
    if (rc) {
        srv_request_fail(r, rc, detail);
        return rc;
    }
    const char *cl = srv_request_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > POST_BODY_MAX)
        return TARN_E_ENTITY_TOO_LARGE;
    return 0;
}

static size_t post_body(srv_request *r, const char *data, size_t n)
{
    post_state *ps = r->op_state;
    size_t used = 0, made = 0;
    if (n == 0)
        return 0; /* the end: post_run does the rest */
    const char *detail = NULL;
    int rc = auth_body_feed(r->body_reader, data, n, &used, NULL, 0, &made);
    if (rc)
        detail = auth_body_detail(r->body_reader);
    else if (r->body.len + n > POST_BODY_MAX)
        rc = TARN_E_ENTITY_TOO_LARGE;
    else
        rc = tarn_buf_append(&r->body, data, n);
    if (!rc && ps->scan_rc == FORM_MORE)
        rc = post_scan(r, ps, &detail);
    if (rc)
        srv_request_fail(r, rc, detail);
    return n;
}

/* Form fields that become the object's content headers (PostObject,
 * "Request elements"), matched case-insensitively like every field. */
static int post_meta_fill(srv_request *r, post_state *ps, const char *etag)
{
    const post_form *f = &ps->form;
    stor_object *m = &ps->meta;
    memset(m, 0, sizeof(*m));
    snprintf(m->etag, sizeof(m->etag), "%s", etag);
    const char *ct = form_get(f, "Content-Type");
    m->content_type = ct && *ct ? ct : "binary/octet-stream";
    m->content_encoding = form_get(f, "Content-Encoding");
    m->content_disposition = form_get(f, "Content-Disposition");
    m->content_language = form_get(f, "Content-Language");
    m->cache_control = form_get(f, "Cache-Control");
    m->expires = form_get(f, "Expires");
    stor_meta_pair *pairs = tarn_arena_alloc(r->arena, (f->n + 1) * sizeof(*pairs));
    size_t bytes = 0;
    if (!pairs)
        return TARN_E_NOMEM;
    for (size_t i = 0; i < f->n; i++) {
        if (strncasecmp(f->fields[i].name, "x-amz-meta-", 11) != 0)
            continue;
        char *name = tarn_arena_strdup(r->arena, f->fields[i].name + 11);
        for (char *q = name; q && *q; q++)
            *q = (char)tolower((unsigned char)*q);
        bytes += strlen(f->fields[i].name + 11) + strlen(f->fields[i].value);
        pairs[m->n_meta++] = (stor_meta_pair){name, f->fields[i].value};
    }
    m->meta = pairs;
    return bytes > SRV_MAX_USER_META ? TARN_E_METADATA_TOO_LARGE : 0;
}

/* success_action_redirect (or the older "redirect"): 303 to it with
 * bucket, key and etag added to its query. */
static int post_redirect(srv_request *r, post_state *ps, const char *etag)
{
    const char *to = form_get(&ps->form, "success_action_redirect");
    if (!to)
        to = form_get(&ps->form, "redirect");
    if (!to || !*to)
        return 0;
    const char *qe = tarn_arena_printf(r->arena, "\"%s\"", etag);
    const char *url = tarn_arena_printf(
        r->arena, "%s%sbucket=%s&key=%s&etag=%s", to, strchr(to, '?') ? "&" : "?",
        tarn_uri_encode(r->arena, r->route.bucket, strlen(r->route.bucket), 0),
        tarn_uri_encode(r->arena, ps->key, strlen(ps->key), 0),
        tarn_uri_encode(r->arena, qe, strlen(qe), 0));
    srv_respond(r, 303, NULL, NULL, 0);
    srv_response_header(r, "Location", url);
    return 1;
}

/* success_action_status 200, 201 (with a PostResponse document) or, by
 * default and for any other value, 204. */
static void post_respond(srv_request *r, post_state *ps)
{
    const char *etag = ps->meta.etag;
    const char *qetag = tarn_arena_printf(r->arena, "\"%s\"", etag);
    const char *host = srv_request_header(r, "Host");
    const char *loc = tarn_arena_printf(r->arena, "http://%s/%s/%s", host ? host : "localhost",
                                        r->route.bucket,
                                        tarn_uri_encode(r->arena, ps->key, strlen(ps->key), 1));
    if (!post_redirect(r, ps, etag)) {
        const char *st = form_get(&ps->form, "success_action_status");
        unsigned status = st && !strcmp(st, "200") ? 200 : st && !strcmp(st, "201") ? 201 : 204;
        char *xml = NULL;
        size_t len = 0;
        if (status == 201) {
            srv_xml *x = srv_xml_begin("PostResponse", 0);
            srv_xml_elem(x, "Location", loc);
            srv_xml_elem(x, "Bucket", r->route.bucket);
            srv_xml_elem(x, "Key", ps->key);
            srv_xml_elem(x, "ETag", qetag);
            xml = srv_xml_end(x, &len);
        }
        srv_respond(r, status, "application/xml", xml, xml ? len : 0);
        free(xml);
        srv_response_header(r, "Location", loc);
    }
    srv_response_header(r, "ETag", qetag);
}

static void post_committed(void *arg, int rc)
{
    srv_request *r = arg;
    if (rc)
        srv_respond_error(r, rc, NULL);
    else
        post_respond(r, r->op_state);
    srv_request_resume(r);
}

static void post_writable(void *arg);

/* Hand the file to the put, then commit. 0 while under way (suspended or
 * about to be), else an error to answer. */
static int post_write(srv_request *r, post_state *ps)
{
    const char *data = r->body.data + ps->form.data_start;
    while (ps->off < ps->form.data_len) {
        ps->waiting = 1;
        ps->off += stor_put_write(ps->put, data + ps->off, ps->form.data_len - ps->off,
                                  post_writable, r);
        if (ps->off < ps->form.data_len && ps->waiting)
            return 0;
    }
    ps->waiting = 0;
    ps->off = SIZE_MAX; /* written: no second finish */
    return stor_put_finish(ps->put, &ps->meta, post_committed, r);
}

static void post_writable(void *arg)
{
    srv_request *r = arg;
    post_state *ps = r->op_state;
    ps->waiting = 0;
    int rc = ps->off == SIZE_MAX ? 0 : post_write(r, ps);
    if (rc) {
        srv_respond_error(r, rc, NULL);
        srv_request_resume(r);
    }
}

/* The form is complete: its file's extent, size and MD5. */
static int post_file_ready(srv_request *r, post_state *ps, const char **detail)
{
    if (ps->scan_rc == FORM_MORE) {
        *detail = malformed; /* the body ended inside the fields */
        return TARN_E_INVALID_ARGUMENT;
    }
    if (form_file_end(&ps->form, r->body.data, r->body.len)) {
        *detail = malformed;
        return TARN_E_INVALID_ARGUMENT;
    }
    if (ps->form.data_len > POST_FILE_MAX)
        return TARN_E_ENTITY_TOO_LARGE;
    int rc = auth_post_length_check(&ps->res, ps->form.data_len, detail);
    if (rc)
        return rc;
    auth_checksum_spec spec = {.alg = AUTH_CK_NONE};
    auth_checksum *ck;
    if ((rc = auth_checksum_create(r->arena, &spec, &ck)))
        return rc;
    auth_checksum_update(ck, r->body.data + ps->form.data_start, ps->form.data_len);
    if ((rc = auth_checksum_finish(ck, detail)))
        return rc;
    return post_meta_fill(r, ps, auth_checksum_md5_hex(ck));
}

static void post_run(srv_request *r)
{
    post_state *ps = r->op_state;
    const char *detail = NULL;
    int rc = post_file_ready(r, ps, &detail);
    if (!rc)
        rc = stor_put_begin(srv_request_ioctx(r), r->route.bucket, ps->key, strlen(ps->key),
                            ps->form.data_len, &ps->put);
    if (!rc)
        rc = post_write(r, ps);
    if (rc)
        srv_respond_error(r, rc, detail);
    else
        srv_request_suspend(r);
}

/* Anonymous at the HTTP level: the form carries the signature. */
const srv_op srv_op_post_object = {
    .allow_anonymous = 1, .begin = post_begin, .body = post_body, .run = post_run};
