"""Issue 3: PutObject / GetObject / HeadObject / DeleteObject through boto3 1.26
(the Debian one, in the pytest process) and raw signed requests, checked
against what AWS S3 answers: bytes and hashes, ETags, content headers, user
metadata, flexible checksums, ranges, conditional requests, response-*
overrides, errors and awkward keys."""

import datetime
import email.utils

import pytest
from botocore.exceptions import ClientError

from conftest import assert_s3_error, boto3_client, signed_request, unique_bucket
from issue3_util import (MiB, checksum_value, error_code, etag_of, md5_b64, parse_list,
                         quote_key, rand, raw_get, raw_head, sha, status_of)


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def bucket(server, s3):
    name = unique_bucket("obj")
    s3.create_bucket(Bucket=name)
    return name


def _head_missing(s3, bucket, key):
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=bucket, Key=key)
    assert status_of(ei.value) == 404, ei.value.response
    return ei.value


# ------------------------------------------------------------ sizes, ETag ----

@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, MiB, 5 * MiB + 123])
def test_issue3_put_get_sizes(s3, bucket, size):
    data = rand(size)
    key = f"size/{size}"
    r = s3.put_object(Bucket=bucket, Key=key, Body=data)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ETag"] == etag_of(data), (r["ETag"], etag_of(data))
    assert r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")

    g = s3.get_object(Bucket=bucket, Key=key)
    body = g["Body"].read()
    assert len(body) == size
    assert sha(body) == sha(data)
    assert g["ETag"] == etag_of(data)
    assert g["ContentLength"] == size
    assert isinstance(g["LastModified"], datetime.datetime)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((g["LastModified"] - now).total_seconds()) < 120, g["LastModified"]

    h = s3.head_object(Bucket=bucket, Key=key)
    assert h["ContentLength"] == size
    assert h["ETag"] == etag_of(data)
    assert h["LastModified"] == g["LastModified"]
    assert h["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"


def test_issue3_overwrite_returns_new_bytes(s3, bucket):
    key = "overwrite/k"
    for n in (10, 70000, 3):
        data = rand(n)
        assert s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"] == etag_of(data)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data


# ------------------------------------------------------------- Content-MD5 ----

def test_issue3_content_md5_good(s3, bucket):
    data = rand(5000)
    r = s3.put_object(Bucket=bucket, Key="md5/good", Body=data, ContentMD5=md5_b64(data))
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert r["ETag"] == etag_of(data)
    assert s3.get_object(Bucket=bucket, Key="md5/good")["Body"].read() == data


def test_issue3_content_md5_wrong_bad_digest(server, s3, bucket):
    data = rand(5000)
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="md5/wrong", Body=data, ContentMD5=md5_b64(data + b"x"))
    assert status_of(ei.value) == 400
    assert error_code(ei.value) == "BadDigest", ei.value.response
    _head_missing(s3, bucket, "md5/wrong")
    # Raw too: the error XML is complete.
    r = signed_request(server, "PUT", f"/{bucket}/md5/wrong", body=data,
                       headers={"Content-MD5": md5_b64(b"other")})
    assert_s3_error(r, 400, "BadDigest")
    _head_missing(s3, bucket, "md5/wrong")


@pytest.mark.parametrize("value", ["not-base64!!", "AAAA", md5_b64(b"x")[:-4]])
def test_issue3_content_md5_malformed_invalid_digest(server, s3, bucket, value):
    r = signed_request(server, "PUT", f"/{bucket}/md5/malformed", body=b"hello",
                       headers={"Content-MD5": value})
    assert_s3_error(r, 400, "InvalidDigest")
    _head_missing(s3, bucket, "md5/malformed")


# ------------------------------------------------ content headers, metadata ----

def test_issue3_content_headers_and_metadata_round_trip(s3, bucket):
    data = rand(1234)
    expires = datetime.datetime(2031, 5, 17, 12, 30, 0, tzinfo=datetime.timezone.utc)
    meta = {"color": "blue", "multi-word": "Hello World", "Mixed-Case": "Keep Case"}
    s3.put_object(Bucket=bucket, Key="hdr/k", Body=data,
                  ContentType="application/x-tarn-test",
                  ContentEncoding="gzip",
                  ContentDisposition='attachment; filename="a b.txt"',
                  ContentLanguage="de-DE",
                  CacheControl="max-age=3600, public",
                  Expires=expires,
                  Metadata=meta)
    for op in ("get", "head"):
        r = (s3.get_object if op == "get" else s3.head_object)(Bucket=bucket, Key="hdr/k")
        assert r["ContentType"] == "application/x-tarn-test", (op, r)
        assert r["ContentEncoding"] == "gzip", (op, r)
        assert r["ContentDisposition"] == 'attachment; filename="a b.txt"', (op, r)
        assert r["ContentLanguage"] == "de-DE", (op, r)
        assert r["CacheControl"] == "max-age=3600, public", (op, r)
        assert r["Expires"] == expires, (op, r)
        # Names come back lower-case (HTTP headers are case-insensitive), values as sent.
        assert r["Metadata"] == {k.lower(): v for k, v in meta.items()}, (op, r)
        assert r["ContentLength"] == len(data)
        if op == "get":
            assert r["Body"].read() == data


def test_issue3_default_content_type(server, s3, bucket):
    # A PUT without Content-Type: AWS answers binary/octet-stream.
    r = signed_request(server, "PUT", f"/{bucket}/hdr/noct", body=b"abc")
    assert r.status == 200, r
    h = s3.head_object(Bucket=bucket, Key="hdr/noct")
    assert h["ContentType"] in ("binary/octet-stream", "application/octet-stream"), h


def test_issue3_metadata_too_large(s3, bucket):
    # 2 KiB is the limit for user metadata (names + values).
    s3.put_object(Bucket=bucket, Key="meta/ok", Body=b"x", Metadata={"a": "v" * 1800})
    assert s3.head_object(Bucket=bucket, Key="meta/ok")["Metadata"] == {"a": "v" * 1800}
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=bucket, Key="meta/big", Body=b"x",
                      Metadata={"a": "v" * 1500, "b": "w" * 1000})
    assert status_of(ei.value) == 400
    assert error_code(ei.value) == "MetadataTooLarge", ei.value.response
    _head_missing(s3, bucket, "meta/big")


# ------------------------------------------------------ flexible checksums ----

_PARAM = {"crc32": "ChecksumCRC32", "crc32c": "ChecksumCRC32C", "sha1": "ChecksumSHA1",
          "sha256": "ChecksumSHA256"}


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "sha1", "sha256"])
def test_issue3_checksum_good_stored_and_returned(server, s3, bucket, alg):
    data = rand(20000)
    val = checksum_value(alg, data)
    key = f"ck/{alg}"
    r = signed_request(server, "PUT", f"/{bucket}/{key}", body=data,
                       headers={f"x-amz-checksum-{alg}": val})
    assert r.status == 200, r
    assert r.header("etag") == etag_of(data)
    assert r.header(f"x-amz-checksum-{alg}") == val, r
    # boto3 1.26 validates the returned checksum itself with ChecksumMode=ENABLED.
    g = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert g.get(_PARAM[alg]) == val, g
    assert g["Body"].read() == data
    h = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert h.get(_PARAM[alg]) == val, h
    # Without the mode the checksum is not sent (AWS behaviour).
    g = raw_get(server, bucket, key)
    assert g.status == 200 and g.body == data
    assert g.header(f"x-amz-checksum-{alg}") is None, g.headers


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "sha1", "sha256"])
def test_issue3_checksum_good_via_boto3_param(s3, bucket, alg):
    data = rand(3000)
    val = checksum_value(alg, data)
    key = f"ckb/{alg}"
    s3.put_object(Bucket=bucket, Key=key, Body=data, **{_PARAM[alg]: val})
    g = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert g.get(_PARAM[alg]) == val, g
    assert g["Body"].read() == data


@pytest.mark.parametrize("alg", ["crc32", "crc32c", "sha1", "sha256", "crc64nvme"])
def test_issue3_checksum_wrong_bad_digest(server, s3, bucket, alg):
    data = rand(7000)
    wrong = checksum_value(alg, data + b"!")
    key = f"ckbad/{alg}"
    r = signed_request(server, "PUT", f"/{bucket}/{key}", body=data,
                       headers={f"x-amz-checksum-{alg}": wrong})
    assert_s3_error(r, 400, "BadDigest")
    _head_missing(s3, bucket, key)


def test_issue3_checksum_crc64nvme_raw(server, bucket):
    data = rand(10000)
    val = checksum_value("crc64nvme", data)
    r = signed_request(server, "PUT", f"/{bucket}/ck/crc64", body=data,
                       headers={"x-amz-checksum-crc64nvme": val})
    assert r.status == 200, r
    g = raw_get(server, bucket, "ck/crc64", headers={"x-amz-checksum-mode": "ENABLED"})
    assert g.status == 200 and g.body == data, g
    assert g.header("x-amz-checksum-crc64nvme") == val, g.headers
    h = raw_head(server, bucket, "ck/crc64", headers={"x-amz-checksum-mode": "ENABLED"})
    assert h.status == 200
    assert h.header("x-amz-checksum-crc64nvme") == val, h.headers


# ------------------------------------------------------------------ ranges ----

@pytest.fixture(scope="module")
def ranged(s3, bucket):
    data = rand(3 * MiB + 12345)
    s3.put_object(Bucket=bucket, Key="range/obj", Body=data)
    return data


def _ranges(n):
    return [("bytes=0-0", 0, 0), ("bytes=0-99", 0, 99), ("bytes=100-199", 100, 199),
            (f"bytes=1000-{MiB + 5}", 1000, MiB + 5),
            (f"bytes={MiB - 1}-{MiB}", MiB - 1, MiB),
            (f"bytes={n - 1}-{n - 1}", n - 1, n - 1),
            (f"bytes={n - 10}-{n + 1000}", n - 10, n - 1),      # end past the size
            (f"bytes={2 * MiB + 7}-", 2 * MiB + 7, n - 1),       # a-
            ("bytes=-500", n - 500, n - 1),                       # -n
            (f"bytes=-{n + 50}", 0, n - 1),                       # suffix longer than object
            ("bytes=0-", 0, n - 1)]


def test_issue3_get_ranges(s3, bucket, ranged):
    n = len(ranged)
    for rng, a, b in _ranges(n):
        g = s3.get_object(Bucket=bucket, Key="range/obj", Range=rng)
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206, (rng, g["ResponseMetadata"])
        assert g["ContentRange"] == f"bytes {a}-{b}/{n}", (rng, g["ContentRange"])
        body = g["Body"].read()
        assert g["ContentLength"] == b - a + 1, rng
        assert body == ranged[a:b + 1], f"{rng}: wrong bytes"
        assert g["ETag"] == etag_of(ranged)


@pytest.mark.parametrize("rng", ["bytes={n}-", "bytes={n}-{m}", "bytes={m}-"])
def test_issue3_get_range_unsatisfiable(server, bucket, ranged, rng):
    n = len(ranged)
    rng = rng.format(n=n, m=n + 100)
    r = raw_get(server, bucket, "range/obj", headers={"Range": rng})
    assert_s3_error(r, 416, "InvalidRange")


def test_issue3_head_range(server, bucket, ranged):
    r = raw_head(server, bucket, "range/obj", headers={"Range": "bytes=10-19"})
    assert r.status == 206, r
    assert r.header("content-range") == f"bytes 10-19/{len(ranged)}"
    assert r.header("content-length") == "10"


# ------------------------------------------------------------- conditionals ----

def _http_date(dt):
    return email.utils.format_datetime(dt.astimezone(datetime.timezone.utc), usegmt=True)


@pytest.fixture(scope="module")
def cond(s3, bucket):
    data = rand(4321)
    s3.put_object(Bucket=bucket, Key="cond/k", Body=data)
    h = s3.head_object(Bucket=bucket, Key="cond/k")
    return data, h["ETag"], h["LastModified"]


def test_issue3_conditional_get_head(server, bucket, cond):
    data, etag, lm = cond
    past = _http_date(lm - datetime.timedelta(days=1))
    future = _http_date(lm + datetime.timedelta(days=1))
    other = '"0123456789abcdef0123456789abcdef"'
    cases = [
        ({"If-Match": etag}, 200),
        ({"If-Match": other}, 412),
        ({"If-Match": "*"}, 200),
        ({"If-None-Match": etag}, 304),
        ({"If-None-Match": other}, 200),
        ({"If-None-Match": "*"}, 304),
        ({"If-Modified-Since": past}, 200),
        ({"If-Modified-Since": future}, 304),
        ({"If-Unmodified-Since": past}, 412),
        ({"If-Unmodified-Since": future}, 200),
        # AWS (RFC 7232 section 6): If-Match true wins over If-Unmodified-Since false,
        ({"If-Match": etag, "If-Unmodified-Since": past}, 200),
        # If-None-Match false with If-Modified-Since true → 304,
        ({"If-None-Match": etag, "If-Modified-Since": past}, 304),
        # If-Match false → 412 whatever the rest.
        ({"If-Match": other, "If-None-Match": other}, 412),
    ]
    for headers, want in cases:
        for method in ("GET", "HEAD"):
            r = signed_request(server, method, f"/{bucket}/cond/k", headers=dict(headers))
            assert r.status == want, f"{method} {headers}: {r!r}"
            if want == 200:
                assert r.header("etag") == etag
                if method == "GET":
                    assert r.body == data
            elif want == 304:
                assert r.body == b"", r
                assert r.header("etag") == etag, f"304 without the ETag: {r!r}"
            elif method == "GET":
                assert_s3_error(r, 412, "PreconditionFailed")
            else:
                assert r.body == b""


def test_issue3_conditional_boto3(s3, bucket, cond):
    data, etag, lm = cond
    g = s3.get_object(Bucket=bucket, Key="cond/k", IfMatch=etag)
    assert g["Body"].read() == data
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="cond/k", IfMatch='"nope"')
    assert status_of(ei.value) == 412
    assert error_code(ei.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="cond/k", IfNoneMatch=etag)
    assert status_of(ei.value) == 304


# ----------------------------------------------------- response-* overrides ----

def test_issue3_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ovr/k", Body=b"override me", ContentType="text/plain",
                  CacheControl="no-cache")
    exp = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    g = s3.get_object(Bucket=bucket, Key="ovr/k",
                      ResponseContentType="application/json",
                      ResponseContentLanguage="fr",
                      ResponseExpires=exp,
                      ResponseCacheControl="max-age=60",
                      ResponseContentDisposition='attachment; filename="x y.json"',
                      ResponseContentEncoding="identity")
    assert g["Body"].read() == b"override me"
    assert g["ContentType"] == "application/json"
    assert g["ContentLanguage"] == "fr"
    assert g["Expires"] == exp
    assert g["CacheControl"] == "max-age=60"
    assert g["ContentDisposition"] == 'attachment; filename="x y.json"'
    assert g["ContentEncoding"] == "identity"
    # The stored headers are unchanged.
    h = s3.head_object(Bucket=bucket, Key="ovr/k")
    assert h["ContentType"] == "text/plain" and h["CacheControl"] == "no-cache"


# ----------------------------------------------------------- missing things ----

def test_issue3_missing_key_and_bucket(server, s3, bucket):
    r = raw_head(server, bucket, "no/such/key")
    assert_s3_error(r, 404, "NoSuchKey", head=True)
    r = raw_get(server, bucket, "no/such/key")
    fields = assert_s3_error(r, 404, "NoSuchKey")
    assert fields.get("Key") in (None, "no/such/key"), fields
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="no/such/key")
    assert error_code(ei.value) == "NoSuchKey"

    missing = unique_bucket("nob")
    r = raw_get(server, missing, "k")
    assert_s3_error(r, 404, "NoSuchBucket")
    r = raw_head(server, missing, "k")
    assert r.status == 404 and r.body == b""
    r = signed_request(server, "PUT", f"/{missing}/k", body=b"x")
    assert_s3_error(r, 404, "NoSuchBucket")
    r = signed_request(server, "DELETE", f"/{missing}/k")
    assert_s3_error(r, 404, "NoSuchBucket")


def test_issue3_delete_object(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="del/k", Body=b"bye")
    r = s3.delete_object(Bucket=bucket, Key="del/k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    _head_missing(s3, bucket, "del/k")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="del/k")
    assert error_code(ei.value) == "NoSuchKey"
    r = s3.delete_object(Bucket=bucket, Key="del/k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    r = s3.delete_object(Bucket=bucket, Key="del/never-existed")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    lst = s3.list_objects_v2(Bucket=bucket, Prefix="del/")
    assert lst["KeyCount"] == 0 and "Contents" not in lst
    # A bucket with objects cannot be deleted; once empty it can.
    b2 = unique_bucket("delb")
    s3.create_bucket(Bucket=b2)
    s3.put_object(Bucket=b2, Key="x", Body=b"1")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=b2)
    assert error_code(ei.value) == "BucketNotEmpty", ei.value.response
    s3.delete_object(Bucket=b2, Key="x")
    assert s3.delete_bucket(Bucket=b2)["ResponseMetadata"]["HTTPStatusCode"] == 204


# -------------------------------------------------------------------- keys ----

def test_issue3_key_length_limit(server, s3, bucket):
    k1024 = "L/" + "k" * 1022
    s3.put_object(Bucket=bucket, Key=k1024, Body=b"long")
    assert s3.get_object(Bucket=bucket, Key=k1024)["Body"].read() == b"long"
    keys = [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="L/")["Contents"]]
    assert keys == [k1024]
    # Multi-byte UTF-8: 1024 bytes is fine, 1025 is not.
    u1024 = "U/" + "é" * 511
    assert len(u1024.encode()) == 1024
    s3.put_object(Bucket=bucket, Key=u1024, Body=b"utf")
    assert s3.get_object(Bucket=bucket, Key=u1024)["Body"].read() == b"utf"
    for bad in ("L/" + "k" * 1023, "U/" + "é" * 511 + "x"):
        assert len(bad.encode()) == 1025
        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket=bucket, Key=bad, Body=b"x")
        assert status_of(ei.value) == 400
        assert error_code(ei.value) == "KeyTooLongError", ei.value.response
    r = signed_request(server, "PUT", f"/{bucket}/{quote_key('L/' + 'k' * 1023)}", body=b"x")
    assert_s3_error(r, 400, "KeyTooLongError")


ODD_KEYS = [
    "odd/a b c", "odd/a+b", "odd/100%", "odd/%41", "odd/a//b", "odd//lead", "odd/trail/",
    "odd/ü/日本語/😀", "odd/what?x=1&y", "odd/hash#frag", "odd/semi;colon", "odd/tilde~",
    "odd/quote\"'", "odd/<xml>&amp;", "odd/back\\slash", "odd/tab\tx", "odd/star*",
    "odd/comma,eq=", "odd/@at:colon", "odd/  two spaces  ",
]


def test_issue3_odd_keys_round_trip_and_list(server, s3, bucket):
    for k in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in ODD_KEYS:
        g = s3.get_object(Bucket=bucket, Key=k)
        assert g["Body"].read() == k.encode(), repr(k)
        s3.head_object(Bucket=bucket, Key=k)
    # boto3 asks for encoding-type=url and decodes.
    keys = [c["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="odd/") for c in p.get("Contents", [])]
    want = sorted(ODD_KEYS, key=lambda s: s.encode())
    assert keys == want, (keys, want)
    keys = [c["Key"] for c in s3.list_objects(Bucket=bucket, Prefix="odd/")["Contents"]]
    assert keys == want
    # Raw, without encoding-type: the XML itself carries the exact keys.
    r = signed_request(server, "GET", f"/{bucket}", query="list-type=2&prefix=odd%2F")
    assert r.status == 200, r
    _, contents, _ = parse_list(r.body)
    assert [c["Key"] for c in contents] == want
    # A raw GET with the key encoded differently ('%7E' for '~', lower-case hex).
    path = f"/{bucket}/odd/tilde%7E"
    r = signed_request(server, "GET", path)
    assert r.status == 200 and r.body == b"odd/tilde~", r
    for k in ODD_KEYS:
        assert s3.delete_object(Bucket=bucket, Key=k)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_objects_v2(Bucket=bucket, Prefix="odd/")["KeyCount"] == 0


def test_issue3_key_with_dot_segments_not_normalised(server, s3, bucket):
    # S3 does not normalise paths: "a/./b" and "a/../b" are keys of their own.
    for k in ("dots/a/./b", "dots/a/../b"):
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    for k in ("dots/a/./b", "dots/a/../b"):
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
    keys = [c["Key"] for c in s3.list_objects_v2(Bucket=bucket, Prefix="dots/")["Contents"]]
    assert keys == ["dots/a/../b", "dots/a/./b"]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="dots/b")
