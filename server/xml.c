/*
 * xml.c — S3's XML bodies through libxml2: a small writer for responses
 * (xmlTextWriter into a memory buffer) and the parsers for request bodies.
 * Parsing never loads external entities or DTDs (XML_PARSE_NONET, no
 * NOENT), and bodies are size-bounded by the caller before they get here.
 */
#include "server/internal.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S3_XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"

struct srv_xml {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int failed;
};

srv_xml *srv_xml_begin(const char *root, int s3_namespace)
{
    srv_xml *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->buf = xmlBufferCreate();
    x->w = x->buf ? xmlNewTextWriterMemory(x->buf, 0) : NULL;
    if (!x->w) {
        x->failed = 1;
        return x;
    }
    if (xmlTextWriterStartDocument(x->w, NULL, "UTF-8", NULL) < 0 ||
        xmlTextWriterStartElement(x->w, BAD_CAST root) < 0)
        x->failed = 1;
    if (s3_namespace &&
        xmlTextWriterWriteAttribute(x->w, BAD_CAST "xmlns", BAD_CAST S3_XMLNS) < 0)
        x->failed = 1;
    return x;
}

void srv_xml_open(srv_xml *x, const char *name)
{
    if (x && !x->failed && xmlTextWriterStartElement(x->w, BAD_CAST name) < 0)
        x->failed = 1;
}

void srv_xml_close(srv_xml *x)
{
    if (x && !x->failed && xmlTextWriterEndElement(x->w) < 0)
        x->failed = 1;
}

void srv_xml_elem(srv_xml *x, const char *name, const char *text)
{
    if (x && !x->failed &&
        xmlTextWriterWriteElement(x->w, BAD_CAST name, BAD_CAST(text ? text : "")) < 0)
        x->failed = 1;
}

void srv_xml_text(srv_xml *x, const char *text)
{
    if (x && !x->failed && xmlTextWriterWriteString(x->w, BAD_CAST text) < 0)
        x->failed = 1;
}

char *srv_xml_end(srv_xml *x, size_t *len)
{
    if (!x)
        return NULL;
    char *out = NULL;
    if (!x->failed && xmlTextWriterEndDocument(x->w) >= 0) {
        xmlTextWriterFlush(x->w);
        size_t n = (size_t)xmlBufferLength(x->buf);
        out = malloc(n + 1);
        if (out) {
            memcpy(out, xmlBufferContent(x->buf), n);
            out[n] = '\0';
            *len = n;
        }
    }
    if (x->w)
        xmlFreeTextWriter(x->w);
    if (x->buf)
        xmlBufferFree(x->buf);
    free(x);
    return out;
}

void srv_respond_xml(srv_request *r, unsigned status, srv_xml *x)
{
    size_t len = 0;
    char *xml = srv_xml_end(x, &len);
    if (xml)
        srv_respond(r, status, "application/xml", xml, len);
    else
        srv_respond_error(r, TARN_E_NOMEM, NULL);
    free(xml);
}

void srv_xml_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static xmlDocPtr parse_body(const char *body, size_t len)
{
    if (len > INT32_MAX)
        return NULL;
    return xmlReadMemory(body, (int)len, NULL, NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int name_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* CreateBucketConfiguration: only LocationConstraint matters here; AWS
 * also accepts Location and Bucket (directory buckets), ignored. */
int srv_xml_parse_create_bucket(tarn_arena *a, const char *body, size_t len,
                                const char **location)
{
    *location = "";
    xmlDocPtr doc = parse_body(body, len);
    if (!doc)
        return TARN_E_MALFORMED_XML;
    int rc = 0;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || !name_is(root, "CreateBucketConfiguration")) {
        rc = TARN_E_MALFORMED_XML;
        goto out;
    }
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (!name_is(n, "LocationConstraint"))
            continue;
        xmlChar *text = xmlNodeGetContent(n);
        *location = tarn_arena_strdup(a, text ? (const char *)text : "");
        xmlFree(text);
        if (!*location)
            rc = TARN_E_NOMEM;
    }
out:
    xmlFreeDoc(doc);
    return rc;
}

/* The list bodies (CompleteMultipartUpload, Delete): the root element must
 * be root_name and hold 1..max children named item; *items gets a zeroed
 * array of that many elements of size bytes (in a) and *root the root.
 * 0, TARN_E_MALFORMED_XML or TARN_E_NOMEM. */
static int root_items(tarn_arena *a, xmlDocPtr doc, const char *root_name, const char *item,
                      size_t max, size_t size, xmlNodePtr *root, void **items)
{
    size_t cap = 0;
    *root = xmlDocGetRootElement(doc);
    *items = NULL;
    if (!*root || !name_is(*root, root_name))
        return TARN_E_MALFORMED_XML;
    for (xmlNodePtr c = (*root)->children; c; c = c->next)
        cap += name_is(c, item);
    if (cap == 0 || cap > max)
        return TARN_E_MALFORMED_XML;
    return (*items = tarn_arena_calloc(a, cap * size)) ? 0 : TARN_E_NOMEM;
}

/* ---- CompleteMultipartUpload ------------------------------------------------ */

static const char *const complete_checksum_names[] = {
    "ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1", "ChecksumSHA256"};

static int complete_part_field(tarn_arena *a, xmlNodePtr n, srv_complete_part *p)
{
    xmlChar *text = xmlNodeGetContent(n);
    const char *t = text ? (const char *)text : "";
    int rc = 0;
    if (name_is(n, "PartNumber")) {
        char *end;
        long v = strtol(t, &end, 10);
        /* S3: part numbers are integers 1..10000; anything else is no part. */
        p->number = !*t || *end || v < 1 || v > 10000 ? 0 : (uint32_t)v;
        p->has_number = 1;
    } else if (name_is(n, "ETag")) {
        rc = (p->etag = tarn_arena_strdup(a, t)) ? 0 : TARN_E_NOMEM;
    } else {
        for (int i = 0; i < 5; i++)
            if (name_is(n, complete_checksum_names[i]))
                rc = (p->checksum[i] = tarn_arena_strdup(a, t)) ? 0 : TARN_E_NOMEM;
    }
    xmlFree(text);
    return rc;
}

/* S3 API reference, CompleteMultipartUpload: the body is a
 * CompleteMultipartUpload element of 1..10000 Part elements, each with a
 * PartNumber and an ETag (quotes optional) and optionally the part's
 * Checksum* value. A Part without either, or no Part: MalformedXML. */
int srv_xml_parse_complete(tarn_arena *a, const char *body, size_t len,
                           srv_complete_part **parts, size_t *n)
{
    *parts = NULL;
    *n = 0;
    xmlDocPtr doc = parse_body(body, len);
    if (!doc)
        return TARN_E_MALFORMED_XML;
    xmlNodePtr root;
    void *items;
    int rc = root_items(a, doc, "CompleteMultipartUpload", "Part", 10000, sizeof(**parts),
                        &root, &items);
    *parts = items;
    for (xmlNodePtr c = rc ? NULL : root->children; !rc && c; c = c->next) {
        if (!name_is(c, "Part"))
            continue;
        srv_complete_part *p = &(*parts)[(*n)++];
        for (xmlNodePtr f = c->children; !rc && f; f = f->next)
            if (f->type == XML_ELEMENT_NODE)
                rc = complete_part_field(a, f, p);
        if (!rc && (!p->has_number || !p->etag))
            rc = TARN_E_MALFORMED_XML;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* ---- DeleteObjects ---------------------------------------------------------- */

static int delete_object_parse(tarn_arena *a, xmlNodePtr obj, srv_delete_key *k)
{
    for (xmlNodePtr f = obj->children; f; f = f->next) {
        int is_key = name_is(f, "Key");
        if (!is_key && !name_is(f, "VersionId"))
            continue; /* ETag, LastModifiedTime, Size: conditional deletes, not supported */
        xmlChar *text = xmlNodeGetContent(f);
        const char *t = text ? (const char *)text : "";
        size_t len = strlen(t);
        char *copy = tarn_arena_strndup(a, t, len);
        xmlFree(text);
        if (!copy)
            return TARN_E_NOMEM;
        if (is_key) {
            k->key = copy;
            k->key_len = len;
        } else {
            k->version_id = copy;
        }
    }
    return k->key ? 0 : TARN_E_MALFORMED_XML;
}

/* S3 API reference, DeleteObjects: a Delete element with an optional
 * Quiet (true/false) and 1..1000 Object elements, each with a Key and an
 * optional VersionId. More objects, none, or an Object without a Key is
 * MalformedXML. */
int srv_xml_parse_delete(tarn_arena *a, const char *body, size_t len, size_t max,
                         srv_delete_key **keys, size_t *n, int *quiet)
{
    *keys = NULL;
    *n = 0;
    *quiet = 0;
    xmlDocPtr doc = parse_body(body, len);
    if (!doc)
        return TARN_E_MALFORMED_XML;
    xmlNodePtr root;
    void *items;
    int rc = root_items(a, doc, "Delete", "Object", max, sizeof(**keys), &root, &items);
    *keys = items;
    for (xmlNodePtr c = rc ? NULL : root->children; !rc && c; c = c->next) {
        if (name_is(c, "Quiet")) {
            xmlChar *text = xmlNodeGetContent(c);
            *quiet = text && xmlStrcasecmp(text, BAD_CAST "true") == 0;
            xmlFree(text);
        } else if (name_is(c, "Object")) {
            rc = delete_object_parse(a, c, &(*keys)[(*n)++]);
        }
    }
    xmlFreeDoc(doc);
    return rc;
}
