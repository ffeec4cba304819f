"""Issue 2: every error of the foundation, as AWS S3 answers it — status,
<Code> in the S3 error XML, x-amz-request-id — through requests signed here
(conftest.sigv4_sign, checked against AWS's own example first)."""

import datetime
import hashlib
import xml.etree.ElementTree as ET

import pytest

from conftest import (EMPTY_SHA256, assert_s3_error, boto3_client, raw_request,
                      sigv4_sign, signed_request, unique_bucket)

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def bucket(server):
    name = unique_bucket("err")
    r = signed_request(server, "PUT", f"/{name}")
    assert r.status == 200, r
    return name


def test_issue2_harness_signer_matches_aws_example():
    """The signer these tests use reproduces AWS's documented S3 SigV4
    example (GET /test.txt, Range: bytes=0-9), so a SignatureDoesNotMatch
    below is the server's fault, not the harness's."""
    headers = {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
               "x-amz-content-sha256": EMPTY_SHA256}
    when = datetime.datetime(2013, 5, 24, 0, 0, 0, tzinfo=datetime.timezone.utc)
    sigv4_sign("GET", "/test.txt", "", headers, EMPTY_SHA256, "AKIAIOSFODNN7EXAMPLE",
               "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region="us-east-1", when=when)
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


def test_issue2_signed_list_buckets_raw(server, bucket):
    r = signed_request(server, "GET", "/")
    assert r.status == 200, r
    assert r.header("x-amz-request-id"), r
    root = ET.fromstring(r.body)
    assert root.tag == S3NS + "ListAllMyBucketsResult", root.tag
    names = [e.text for e in root.iter(S3NS + "Name")]
    assert bucket in names
    assert root.find(f"{S3NS}Owner/{S3NS}ID") is not None, r.body


def test_issue2_unsigned_payload_accepted(server, bucket):
    r = signed_request(server, "GET", "/", content_sha256="UNSIGNED-PAYLOAD")
    assert r.status == 200, r
    r = signed_request(server, "HEAD", f"/{bucket}", content_sha256="UNSIGNED-PAYLOAD")
    assert r.status == 200, r


def test_issue2_request_ids_differ(server, bucket):
    ids = {signed_request(server, "HEAD", f"/{bucket}").header("x-amz-request-id")
           for _ in range(5)}
    assert None not in ids and len(ids) == 5, ids


# ---- authentication ------------------------------------------------------

def test_issue2_wrong_secret(server, bucket):
    r = signed_request(server, "GET", "/", secret_key="wrong-secret-0123456789")
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    r = signed_request(server, "GET", f"/{bucket}", query="location",
                       secret_key="wrong-secret-0123456789")
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    r = signed_request(server, "HEAD", f"/{bucket}", secret_key="wrong-secret-0123456789")
    assert_s3_error(r, 403, "SignatureDoesNotMatch", head=True)


def test_issue2_wrong_secret_boto3(server, bucket):
    from botocore.exceptions import ClientError
    s3 = boto3_client(server, secret_key="wrong-secret-0123456789")
    with pytest.raises(ClientError) as ei:
        s3.list_buckets()
    e = ei.value.response
    assert e["Error"]["Code"] == "SignatureDoesNotMatch", e
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


def test_issue2_tampered_signed_header(server, bucket):
    """A signed header changed after signing invalidates the signature."""
    headers = {"Host": f"{server.host}:{server.port}", "x-amz-content-sha256": EMPTY_SHA256,
               "x-amz-meta-a": "one"}
    sigv4_sign("GET", "/", "", headers, EMPTY_SHA256, server.access_key, server.secret_key)
    headers["x-amz-meta-a"] = "two"
    assert_s3_error(raw_request(server, "GET", "/", headers=headers), 403,
                    "SignatureDoesNotMatch")


def test_issue2_unknown_access_key(server, bucket):
    r = signed_request(server, "GET", "/", access_key="NOSUCHACCESSKEY123")
    assert_s3_error(r, 403, "InvalidAccessKeyId")
    r = signed_request(server, "HEAD", f"/{bucket}", access_key="NOSUCHACCESSKEY123")
    assert_s3_error(r, 403, "InvalidAccessKeyId", head=True)


@pytest.mark.parametrize("minutes", [-20, 20, -60 * 24])
def test_issue2_request_time_too_skewed(server, bucket, minutes):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    r = signed_request(server, "GET", "/", when=when)
    assert_s3_error(r, 403, "RequestTimeTooSkewed")


def test_issue2_small_skew_accepted(server, bucket):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    r = signed_request(server, "HEAD", f"/{bucket}", when=when)
    assert r.status == 200, r


def _good_auth(server, path="/"):
    headers = {"Host": f"{server.host}:{server.port}", "x-amz-content-sha256": EMPTY_SHA256}
    sigv4_sign("GET", path, "", headers, EMPTY_SHA256, server.access_key, server.secret_key)
    return headers


def _mangle(auth, how):
    scheme, _, rest = auth.partition(" ")
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    cred = parts["Credential"]
    if how == "short_scope":
        parts["Credential"] = "/".join(cred.split("/")[:3])
    elif how == "no_signed_headers":
        del parts["SignedHeaders"]
    elif how == "no_signature":
        del parts["Signature"]
    elif how == "no_credential":
        del parts["Credential"]
    elif how == "bad_date_in_scope":
        c = cred.split("/")
        c[1] = "2023-1-1"
        parts["Credential"] = "/".join(c)
    elif how == "not_aws4_request":
        c = cred.split("/")
        c[4] = "aws3_request"
        parts["Credential"] = "/".join(c)
    elif how == "bare_scheme":
        return scheme
    elif how == "garbage_after_scheme":
        return scheme + " this is not key=value, at=all"
    return scheme + " " + ", ".join(f"{k}={v}" for k, v in parts.items())


@pytest.mark.parametrize("how", ["short_scope", "no_signed_headers", "no_signature",
                                 "no_credential", "bad_date_in_scope", "not_aws4_request",
                                 "bare_scheme", "garbage_after_scheme"])
def test_issue2_authorization_header_malformed(server, bucket, how):
    headers = _good_auth(server)
    headers["Authorization"] = _mangle(headers["Authorization"], how)
    r = raw_request(server, "GET", "/", headers=headers)
    assert_s3_error(r, 400, "AuthorizationHeaderMalformed")


def test_issue2_missing_content_sha256(server, bucket):
    r = signed_request(server, "GET", "/", content_sha256=None)
    assert_s3_error(r, 400, "InvalidRequest")
    name = unique_bucket("nosha")
    r = signed_request(server, "PUT", f"/{name}", content_sha256=None)
    assert_s3_error(r, 400, "InvalidRequest")
    assert signed_request(server, "HEAD", f"/{name}").status == 404


def test_issue2_content_sha256_mismatch_creates_nothing(server, bucket):
    name = unique_bucket("mismatch")
    body = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"</CreateBucketConfiguration>")
    r = signed_request(server, "PUT", f"/{name}", body=body,
                       content_sha256=hashlib.sha256(b"not the body").hexdigest())
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    r = signed_request(server, "HEAD", f"/{name}")
    assert r.status == 404, f"bucket exists after a hash mismatch: {r!r}"
    r = signed_request(server, "GET", "/")
    assert name.encode() not in r.body


def test_issue2_anonymous_existing_bucket_access_denied(server, bucket):
    r = raw_request(server, "GET", f"/{bucket}", query="location")
    assert_s3_error(r, 403, "AccessDenied")
    r = raw_request(server, "HEAD", f"/{bucket}")
    assert_s3_error(r, 403, "AccessDenied", head=True)
    r = raw_request(server, "DELETE", f"/{bucket}")
    assert_s3_error(r, 403, "AccessDenied")
    assert signed_request(server, "HEAD", f"/{bucket}").status == 200


def test_issue2_anonymous_list_buckets_access_denied(server, bucket):
    assert_s3_error(raw_request(server, "GET", "/"), 403, "AccessDenied")


def test_issue2_anonymous_create_bucket_denied(server, bucket):
    name = unique_bucket("anon")
    r = raw_request(server, "PUT", f"/{name}")
    assert_s3_error(r, 403, "AccessDenied")
    assert signed_request(server, "HEAD", f"/{name}").status == 404


def test_issue2_anonymous_missing_bucket_no_such_bucket(server):
    name = unique_bucket("nobody")
    r = raw_request(server, "GET", f"/{name}", query="location")
    assert_s3_error(r, 404, "NoSuchBucket")
    r = raw_request(server, "HEAD", f"/{name}")
    assert_s3_error(r, 404, "NoSuchBucket", head=True)


# ---- buckets -------------------------------------------------------------

INVALID_NAMES = [
    "ab",                    # shorter than 3
    "a" * 64,                # longer than 63
    "UpperCase",             # upper case
    "under_score",
    "-leadinghyphen",
    "trailinghyphen-",
    ".leadingdot",
    "trailingdot.",
    "two..dots",
    "192.168.5.4",           # formatted as an IP address
    "xn--punycode",          # reserved prefix
    "bucket-s3alias",        # reserved suffix
    "sp%20ace",              # space (percent-encoded on the wire)
]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_issue2_invalid_bucket_name(server, name):
    r = signed_request(server, "PUT", f"/{name}")
    assert_s3_error(r, 400, "InvalidBucketName")


def test_issue2_create_own_bucket_again(server, bucket):
    r = signed_request(server, "PUT", f"/{bucket}")
    assert_s3_error(r, 409, "BucketAlreadyOwnedByYou")


def test_issue2_missing_bucket_delete_head_location(server):
    name = unique_bucket("missing")
    assert_s3_error(signed_request(server, "DELETE", f"/{name}"), 404, "NoSuchBucket")
    assert_s3_error(signed_request(server, "HEAD", f"/{name}"), 404, "NoSuchBucket", head=True)
    assert_s3_error(signed_request(server, "GET", f"/{name}", query="location"), 404,
                    "NoSuchBucket")


def test_issue2_create_bucket_malformed_xml(server):
    name = unique_bucket("badxml")
    r = signed_request(server, "PUT", f"/{name}", body=b"<CreateBucketConfiguration><Loc")
    assert_s3_error(r, 400, "MalformedXML")
    assert signed_request(server, "HEAD", f"/{name}").status == 404


def test_issue2_create_delete_raw_statuses(server):
    name = unique_bucket("raw")
    r = signed_request(server, "PUT", f"/{name}")
    assert r.status == 200 and r.header("x-amz-request-id"), r
    assert r.header("location") in (f"/{name}", None), r
    r = signed_request(server, "GET", f"/{name}", query="location")
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == S3NS + "LocationConstraint", r.body
    r = signed_request(server, "DELETE", f"/{name}")
    assert r.status == 204 and r.body == b"" and r.header("x-amz-request-id"), r


# ---- routing: unimplemented operations and unknown methods ----------------

@pytest.mark.parametrize("method,query,body", [
    ("GET", "policy", b""),                                  # GetBucketPolicy
    ("PUT", "tagging", b'<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag>'
                       b'</TagSet></Tagging>'),                # PutBucketTagging
    ("GET", "cors", b""),                                    # GetBucketCors
    ("DELETE", "website", b""),                              # DeleteBucketWebsite
    ("GET", "replication", b""),                             # GetBucketReplication
])
def test_issue2_not_implemented(server, bucket, method, query, body):
    r = signed_request(server, method, f"/{bucket}", query=query, body=body)
    assert_s3_error(r, 501, "NotImplemented")


def test_issue2_not_implemented_boto3(server, bucket):
    from botocore.exceptions import ClientError
    s3 = boto3_client(server)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_policy(Bucket=bucket)
    e = ei.value.response
    assert e["ResponseMetadata"]["HTTPStatusCode"] == 501, e
    assert e["Error"]["Code"] == "NotImplemented", e
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_tagging(Bucket=bucket,
                              Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert ei.value.response["Error"]["Code"] == "NotImplemented", ei.value.response


@pytest.mark.parametrize("method", ["PATCH", "BREW"])
def test_issue2_unknown_method(server, bucket, method):
    r = signed_request(server, method, f"/{bucket}")
    assert_s3_error(r, 405, "MethodNotAllowed")
    assert signed_request(server, "HEAD", f"/{bucket}").status == 200
