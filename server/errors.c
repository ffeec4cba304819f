/*
 * errors.c — the one table from tarn_err to HTTP status and S3 message
 * (STYLE.md §4), following the S3 API reference's "Error responses" list.
 * Only server/ writes error responses; lower layers return codes.
 */
#include "server/internal.h"

struct error_entry {
    int err;
    unsigned status;
    const char *message;
};

static const struct error_entry error_table[] = {
    {TARN_E_ACCESS_DENIED, 403, "Access Denied"},
    {TARN_E_AUTH_HEADER_MALFORMED, 400, "The authorization header is malformed."},
    {TARN_E_AUTH_QUERY_PARAMS, 400,
     "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, "
     "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."},
    {TARN_E_BAD_DIGEST, 400, "The Content-MD5 or checksum you specified did not match what we received."},
    {TARN_E_BUCKET_ALREADY_EXISTS, 409,
     "The requested bucket name is not available. The bucket namespace is shared by all users "
     "of the system. Please select a different name and try again."},
    {TARN_E_BUCKET_ALREADY_OWNED, 409,
     "Your previous request to create the named bucket succeeded and you already own it."},
    {TARN_E_BUCKET_NOT_EMPTY, 409, "The bucket you tried to delete is not empty"},
    {TARN_E_ENTITY_TOO_LARGE, 400, "Your proposed upload exceeds the maximum allowed size"},
    {TARN_E_ENTITY_TOO_SMALL, 400, "Your proposed upload is smaller than the minimum allowed object size."},
    {TARN_E_INCOMPLETE_BODY, 400, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
    {TARN_E_INVALID_ACCESS_KEY_ID, 403, "The AWS Access Key Id you provided does not exist in our records."},
    {TARN_E_INVALID_ARGUMENT, 400, "Invalid Argument"},
    {TARN_E_INVALID_BUCKET_NAME, 400, "The specified bucket is not valid."},
    {TARN_E_INVALID_DIGEST, 400, "The Content-MD5 you specified is not valid."},
    {TARN_E_INVALID_LOCATION_CONSTRAINT, 400, "The specified location-constraint is not valid"},
    {TARN_E_INVALID_PART, 400, "One or more of the specified parts could not be found."},
    {TARN_E_INVALID_PART_ORDER, 400, "The list of parts was not in ascending order."},
    {TARN_E_INVALID_POLICY_DOCUMENT, 400, "The content of the form does not meet the conditions specified in the policy document."},
    {TARN_E_INVALID_RANGE, 416, "The requested range is not satisfiable"},
    {TARN_E_INVALID_REQUEST, 400, "Invalid Request"},
    {TARN_E_INVALID_URI, 400, "Couldn't parse the specified URI."},
    {TARN_E_KEY_TOO_LONG, 400, "Your key is too long"},
    {TARN_E_MALFORMED_XML, 400,
     "The XML you provided was not well-formed or did not validate against our published schema"},
    {TARN_E_METADATA_TOO_LARGE, 400, "Your metadata headers exceed the maximum allowed metadata size"},
    {TARN_E_METHOD_NOT_ALLOWED, 405, "The specified method is not allowed against this resource."},
    {TARN_E_MISSING_CONTENT_LENGTH, 411, "You must provide the Content-Length HTTP header."},
    {TARN_E_MISSING_SECURITY_HEADER, 400, "Your request was missing a required header"},
    {TARN_E_NO_SUCH_BUCKET, 404, "The specified bucket does not exist"},
    {TARN_E_NO_SUCH_KEY, 404, "The specified key does not exist."},
    {TARN_E_NO_SUCH_UPLOAD, 404, "The specified multipart upload does not exist."},
    {TARN_E_NOT_IMPLEMENTED, 501, "A header or operation you provided implies functionality that is not implemented"},
    {TARN_E_NOT_MODIFIED, 304, "Not Modified"},
    {TARN_E_PRECONDITION_FAILED, 412, "At least one of the preconditions you specified did not hold"},
    {TARN_E_REQUEST_HEADER_TOO_LARGE, 400, "Your request header section exceeds the maximum allowed size"},
    {TARN_E_REQUEST_TIMEOUT, 400, "Your socket connection to the server was not read from or written to within the timeout period."},
    {TARN_E_REQUEST_TIME_TOO_SKEWED, 403, "The difference between the request time and the current time is too large."},
    {TARN_E_SERVICE_UNAVAILABLE, 503, "Please reduce your request rate."},
    {TARN_E_SIGNATURE_DOES_NOT_MATCH, 403,
     "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
    {TARN_E_SLOW_DOWN, 503, "Please reduce your request rate."},
    {TARN_E_XAMZ_CONTENT_SHA256_MISMATCH, 400,
     "The provided 'x-amz-content-sha256' header does not match what was computed."},
    {TARN_E_BUSY, 503, "Please reduce your request rate."},
};

static const struct error_entry *error_find(int err)
{
    for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
        if (error_table[i].err == err)
            return &error_table[i];
    return NULL;
}

unsigned srv_error_status(int err)
{
    const struct error_entry *e = error_find(err);
    return e ? e->status : 500;
}

const char *srv_error_message(int err)
{
    const struct error_entry *e = error_find(err);
    return e ? e->message : "We encountered an internal error. Please try again.";
}
