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
