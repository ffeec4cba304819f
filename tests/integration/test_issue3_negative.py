"""Issue 3: uploads that must leave nothing behind — a body cut short, a
payload that does not match its signed x-amz-content-sha256, and aws-chunked
bodies with bad framing or a bad trailer — plus the good aws-chunked forms
they are measured against."""

import hashlib
import hmac
import socket
import time

import pytest

from conftest import (assert_s3_error, boto3_client, raw_request, sigv4_sign, signed_request,
                      unique_bucket)
from issue3_util import (MiB, aws_chunked_unsigned, checksum_value, etag_of,
                         put_chunked, rand, raw_get, raw_head)


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def bucket(server, s3):
    name = unique_bucket("neg")
    s3.create_bucket(Bucket=name)
    return name


def _absent(server, bucket, key, what):
    r = raw_head(server, bucket, key)
    assert r.status == 404, f"{what}: object exists after a failed PUT: {r!r}"
    lst = signed_request(server, "GET", f"/{bucket}", query=f"list-type=2&prefix={key}")
    assert b"<Key>" + key.encode() + b"</Key>" not in lst.body, f"{what}: listed: {lst.body!r}"


# --------------------------------------------------------- body cut short ----

def _cut_put(server, bucket, key, declared, sent, payload_hash):
    headers = {"Host": f"{server.host}:{server.port}", "x-amz-content-sha256": payload_hash,
               "Content-Length": str(declared)}
    sigv4_sign("PUT", f"/{bucket}/{key}", "", headers, payload_hash, server.access_key,
               server.secret_key, region=server.region)
    head = f"PUT /{bucket}/{key} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(head.encode() + sent)
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass


@pytest.mark.parametrize("declared,sent", [(100000, 5000), (3 * MiB, 2 * MiB + 7), (10, 0)])
def test_issue3_short_body_stores_nothing(server, bucket, declared, sent):
    key = f"short/{declared}-{sent}"
    body = rand(declared)
    _cut_put(server, bucket, key, declared, body[:sent], "UNSIGNED-PAYLOAD")
    time.sleep(0.3)
    _absent(server, bucket, key, "unsigned payload cut short")
    key2 = key + "-signed"
    _cut_put(server, bucket, key2, declared, body[:sent], hashlib.sha256(body).hexdigest())
    time.sleep(0.3)
    _absent(server, bucket, key2, "signed payload cut short")


def test_issue3_short_body_keeps_old_version(server, s3, bucket):
    old = rand(300000)
    s3.put_object(Bucket=bucket, Key="short/keep", Body=old)
    _cut_put(server, bucket, "short/keep", 500000, rand(200000), "UNSIGNED-PAYLOAD")
    time.sleep(0.3)
    r = raw_get(server, bucket, "short/keep")
    assert r.status == 200 and r.body == old, "an interrupted overwrite changed the object"
    assert r.header("etag") == etag_of(old)


# ------------------------------------------------- x-amz-content-sha256 ----

def test_issue3_content_sha256_mismatch_stores_nothing(server, s3, bucket):
    body = rand(70000)
    r = signed_request(server, "PUT", f"/{bucket}/sha/k", body=body,
                       content_sha256=hashlib.sha256(body + b"x").hexdigest())
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    _absent(server, bucket, "sha/k", "sha256 mismatch")
    # Over an existing object: the old bytes stay.
    old = rand(1000)
    s3.put_object(Bucket=bucket, Key="sha/keep", Body=old)
    r = signed_request(server, "PUT", f"/{bucket}/sha/keep", body=body,
                       content_sha256=hashlib.sha256(b"other").hexdigest())
    assert_s3_error(r, 400, "XAmzContentSHA256Mismatch")
    assert raw_get(server, bucket, "sha/keep").body == old


def test_issue3_unsigned_payload_put(server, bucket):
    body = rand(12345)
    r = signed_request(server, "PUT", f"/{bucket}/unsigned/k", body=body,
                       content_sha256="UNSIGNED-PAYLOAD")
    assert r.status == 200, r
    assert r.header("etag") == etag_of(body)
    assert raw_get(server, bucket, "unsigned/k").body == body


# ----------------------------------------------------------- aws-chunked ----

@pytest.mark.parametrize("alg", ["crc32", "crc32c", "crc64nvme", "sha256", None])
def test_issue3_aws_chunked_unsigned_trailer_good(server, bucket, alg):
    data = rand(150000)
    key = f"chunked/good-{alg}"
    body = aws_chunked_unsigned(data, chunk=65536, trailer_alg=alg)
    r = put_chunked(server, bucket, key, body, len(data), trailer_alg=alg)
    assert r.status == 200, r
    assert r.header("etag") == etag_of(data)
    g = raw_get(server, bucket, key, headers={"x-amz-checksum-mode": "ENABLED"})
    assert g.status == 200 and g.body == data, "aws-chunked upload stored other bytes"
    assert g.header("content-encoding") in (None, ""), \
        f"aws-chunked must not be stored as the Content-Encoding: {g.headers}"
    assert g.header("content-length") == str(len(data))
    if alg:
        assert g.header(f"x-amz-checksum-{alg}") == checksum_value(alg, data), g.headers


def test_issue3_aws_chunked_keeps_other_content_encoding(server, bucket):
    data = rand(1000)
    body = aws_chunked_unsigned(data)
    r = put_chunked(server, bucket, "chunked/gzip", body, len(data),
                    extra={"Content-Encoding": "aws-chunked,gzip"})
    assert r.status == 200, r
    h = raw_head(server, bucket, "chunked/gzip")
    assert h.header("content-encoding") == "gzip", h.headers


def _bad_bodies(data):
    good = aws_chunked_unsigned(data, chunk=4096)
    crc = checksum_value("crc32", data)
    n = len(data)
    return {
        "size-larger-than-data": b"%x\r\n" % (n + 100) + data + b"\r\n0\r\n"
                                 + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode(),
        "size-smaller-than-data": b"%x\r\n" % (n - 100) + data + b"\r\n0\r\n"
                                  + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode(),
        "non-hex-size": b"zz\r\n" + data + b"\r\n0\r\n"
                        + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode(),
        "missing-crlf-after-data": b"%x\r\n" % n + data + b"0\r\n"
                                   + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode(),
        "no-final-chunk": b"%x\r\n" % n + data + b"\r\n",
        "truncated-mid-chunk": good[:len(good) // 2],
        "trailer-missing": b"%x\r\n" % n + data + b"\r\n0\r\n\r\n",
        "decoded-length-mismatch": ("decoded", aws_chunked_unsigned(data + b"extra", chunk=4096)),
    }


@pytest.mark.parametrize("case", ["size-larger-than-data", "size-smaller-than-data",
                                  "non-hex-size", "missing-crlf-after-data", "no-final-chunk",
                                  "truncated-mid-chunk", "trailer-missing",
                                  "decoded-length-mismatch"])
def test_issue3_aws_chunked_bad_framing(server, bucket, case):
    data = rand(10000)
    body = _bad_bodies(data)[case]
    decoded = len(data)
    if isinstance(body, tuple):
        body = body[1]
    key = f"chunked/bad-{case}"
    try:
        r = put_chunked(server, bucket, key, body, decoded)
    except (ConnectionError, OSError) as e:
        pytest.fail(f"{case}: connection dropped instead of a 400: {e!r}")
    assert r.status == 400, f"{case}: {r!r}"
    assert r.header("x-amz-request-id")
    assert b"<Error>" in r.body, r
    _absent(server, bucket, key, case)


def test_issue3_aws_chunked_bad_trailer_checksum(server, s3, bucket):
    data = rand(20000)
    body = aws_chunked_unsigned(data, trailer_value=checksum_value("crc32", data + b"!"))
    r = put_chunked(server, bucket, "chunked/badcrc", body, len(data))
    assert_s3_error(r, 400, "BadDigest")
    _absent(server, bucket, "chunked/badcrc", "bad trailer checksum")


# -------------------------------------- STREAMING-AWS4-HMAC-SHA256-PAYLOAD ----

def _signing_key(secret, date, region):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _signed_chunked_put(server, bucket, key, data, chunk=8192, tamper=False):
    decl = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    body_len = sum(len(b"%x;chunk-signature=" % len(p)) + 64 + 2 + len(p) + 2 for p in parts)
    headers = {"Host": f"{server.host}:{server.port}", "x-amz-content-sha256": decl,
               "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "Content-Length": str(body_len)}
    sigv4_sign("PUT", f"/{bucket}/{key}", "", headers, decl, server.access_key,
               server.secret_key, region=server.region)
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{server.region}/s3/aws4_request"
    prev = headers["Authorization"].rsplit("Signature=", 1)[1]
    skey = _signing_key(server.secret_key, amz_date[:8], server.region)
    body = bytearray()
    empty = hashlib.sha256(b"").hexdigest()
    for i, p in enumerate(parts):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, empty,
                         hashlib.sha256(p).hexdigest()])
        sig = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
        if tamper and i == 1:
            p = bytes([p[0] ^ 1]) + p[1:]
        body += b"%x;chunk-signature=%s\r\n" % (len(p), sig.encode()) + p + b"\r\n"
        prev = sig
    del headers["Content-Length"]
    return raw_request(server, "PUT", f"/{bucket}/{key}", headers=headers, body=bytes(body))


def test_issue3_streaming_signed_chunks(server, bucket):
    data = rand(50000)
    r = _signed_chunked_put(server, bucket, "chunked/signed", data)
    assert r.status == 200, r
    assert r.header("etag") == etag_of(data)
    assert raw_get(server, bucket, "chunked/signed").body == data
    r = _signed_chunked_put(server, bucket, "chunked/signed-bad", data, tamper=True)
    assert_s3_error(r, 403, "SignatureDoesNotMatch")
    _absent(server, bucket, "chunked/signed-bad", "tampered signed chunk")
