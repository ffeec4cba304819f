"""Issue 4, part 2: CopyObject through boto3 1.26, raw signed requests and
aws-cli v2 (`aws s3 cp` / `aws s3 mv` between S3 URLs), checked against
what AWS S3 answers: bytes and hashes of the copy, COPY vs REPLACE metadata,
copy onto itself, URL-encoded sources, x-amz-copy-source-if-* and errors."""

import datetime
import os
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET

import pytest
from botocore.exceptions import ClientError

from conftest import assert_s3_error, boto3_client, run_aws, signed_request, unique_bucket
from issue3_util import MiB, checksum_value, error_code, etag_of, rand, sha, status_of

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def buckets(s3):
    a, b = unique_bucket("cpa"), unique_bucket("cpb")
    s3.create_bucket(Bucket=a)
    s3.create_bucket(Bucket=b)
    return a, b


def _get(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.mark.parametrize("size", [0, 1, 300 * 1024, 5 * MiB + 17])
def test_issue4_copy_within_and_across_buckets(s3, buckets, size):
    a, b = buckets
    data = rand(size)
    s3.put_object(Bucket=a, Key=f"src/{size}", Body=data)
    r = s3.copy_object(Bucket=a, Key=f"dst/{size}", CopySource={"Bucket": a, "Key": f"src/{size}"})
    assert r["CopyObjectResult"]["ETag"] == etag_of(data)
    assert isinstance(r["CopyObjectResult"]["LastModified"], datetime.datetime)
    r = s3.copy_object(Bucket=b, Key="x/y", CopySource=f"{a}/src/{size}")
    assert r["CopyObjectResult"]["ETag"] == etag_of(data)
    for bk, k in ((a, f"dst/{size}"), (b, "x/y")):
        got = _get(s3, bk, k)
        assert len(got) == size and sha(got) == sha(data)
        assert s3.head_object(Bucket=bk, Key=k)["ETag"] == etag_of(data)
    # The copy is independent of its source.
    s3.delete_object(Bucket=a, Key=f"src/{size}")
    assert sha(_get(s3, b, "x/y")) == sha(data)


def test_issue4_copy_metadata_directive(server, s3, buckets):
    a, _ = buckets
    data = rand(1000)
    s3.put_object(Bucket=a, Key="meta/src", Body=data, ContentType="text/x-src",
                  CacheControl="max-age=5", ContentDisposition="inline",
                  Metadata={"colour": "red", "Mixed": "Case Value"})
    s3.copy_object(Bucket=a, Key="meta/copy", CopySource={"Bucket": a, "Key": "meta/src"},
                   ContentType="text/ignored", Metadata={"ignored": "yes"})
    h = s3.head_object(Bucket=a, Key="meta/copy")
    assert h["ContentType"] == "text/x-src"
    assert h["CacheControl"] == "max-age=5"
    assert h["ContentDisposition"] == "inline"
    assert h["Metadata"] == {"colour": "red", "mixed": "Case Value"}

    s3.copy_object(Bucket=a, Key="meta/replace", CopySource={"Bucket": a, "Key": "meta/src"},
                   MetadataDirective="REPLACE", ContentType="application/x-new",
                   Metadata={"fresh": "1"})
    h = s3.head_object(Bucket=a, Key="meta/replace")
    assert h["ContentType"] == "application/x-new"
    assert h["Metadata"] == {"fresh": "1"}
    assert "CacheControl" not in h
    assert _get(s3, a, "meta/replace") == data

    r = signed_request(server, "PUT", f"/{a}/meta/bad",
                       headers={"x-amz-copy-source": f"/{a}/meta/src",
                                "x-amz-metadata-directive": "MERGE"})
    assert_s3_error(r, 400, "InvalidArgument")


def test_issue4_copy_onto_itself(server, s3, buckets):
    a, _ = buckets
    data = rand(4096)
    s3.put_object(Bucket=a, Key="self/k", Body=data, ContentType="text/plain",
                  Metadata={"v": "1"})
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=a, Key="self/k", CopySource={"Bucket": a, "Key": "self/k"})
    assert status_of(ei.value) == 400 and error_code(ei.value) == "InvalidRequest"
    assert "copy an object to itself" in ei.value.response["Error"]["Message"]
    r = s3.copy_object(Bucket=a, Key="self/k", CopySource={"Bucket": a, "Key": "self/k"},
                       MetadataDirective="REPLACE", ContentType="application/json",
                       Metadata={"v": "2"})
    assert r["CopyObjectResult"]["ETag"] == etag_of(data)
    h = s3.head_object(Bucket=a, Key="self/k")
    assert h["ContentType"] == "application/json" and h["Metadata"] == {"v": "2"}
    assert _get(s3, a, "self/k") == data


@pytest.mark.parametrize("key", ["with space/a b.txt", "ünïcødé/ключ €.bin", "plus+and&amp=?.x",
                                 "percent%2Fliteral"])
def test_issue4_copy_source_encoded(server, s3, buckets, key):
    a, b = buckets
    data = rand(777)
    s3.put_object(Bucket=a, Key=key, Body=data)
    s3.copy_object(Bucket=b, Key=key, CopySource={"Bucket": a, "Key": key})
    assert _get(s3, b, key) == data
    # Raw: both spellings of the header, URL-encoded.
    enc = urllib.parse.quote(key, safe="/")
    for src in (f"{a}/{enc}", f"/{a}/{enc}"):
        dst = "raw/" + urllib.parse.quote(str(len(src)), safe="")
        r = signed_request(server, "PUT", f"/{b}/{dst}", headers={"x-amz-copy-source": src})
        assert r.status == 200, r
        root = ET.fromstring(r.body)
        assert root.tag == S3NS + "CopyObjectResult"
        assert root.find(S3NS + "ETag").text == etag_of(data)
        assert _get(s3, b, dst) == data


def test_issue4_copy_conditions(s3, buckets):
    a, _ = buckets
    data = rand(2048)
    etag = s3.put_object(Bucket=a, Key="cond/src", Body=data)["ETag"]
    mtime = s3.head_object(Bucket=a, Key="cond/src")["LastModified"]
    past = mtime - datetime.timedelta(days=1)
    future = mtime + datetime.timedelta(days=1)
    src = {"Bucket": a, "Key": "cond/src"}
    ok = [dict(CopySourceIfMatch=etag), dict(CopySourceIfNoneMatch='"0123"'),
          dict(CopySourceIfModifiedSince=past), dict(CopySourceIfUnmodifiedSince=future),
          # If-Match true wins over If-Unmodified-Since false (AWS's rule).
          dict(CopySourceIfMatch=etag, CopySourceIfUnmodifiedSince=past)]
    bad = [dict(CopySourceIfMatch='"0123"'), dict(CopySourceIfNoneMatch=etag),
           dict(CopySourceIfModifiedSince=future), dict(CopySourceIfUnmodifiedSince=past),
           dict(CopySourceIfNoneMatch=etag, CopySourceIfModifiedSince=past)]
    for i, kw in enumerate(ok):
        r = s3.copy_object(Bucket=a, Key=f"cond/ok{i}", CopySource=src, **kw)
        assert r["CopyObjectResult"]["ETag"] == etag
        assert _get(s3, a, f"cond/ok{i}") == data
    for i, kw in enumerate(bad):
        with pytest.raises(ClientError) as ei:
            s3.copy_object(Bucket=a, Key=f"cond/bad{i}", CopySource=src, **kw)
        assert status_of(ei.value) == 412, (kw, ei.value.response)
        assert error_code(ei.value) == "PreconditionFailed"
        with pytest.raises(ClientError):
            s3.head_object(Bucket=a, Key=f"cond/bad{i}")


def test_issue4_copy_missing_source(server, s3, buckets):
    a, b = buckets
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": a, "Key": "no/such/key"})
    assert status_of(ei.value) == 404 and error_code(ei.value) == "NoSuchKey"
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": unique_bucket("gone"), "Key": "k"})
    assert status_of(ei.value) == 404 and error_code(ei.value) == "NoSuchBucket"
    r = signed_request(server, "PUT", f"/{b}/k", headers={"x-amz-copy-source": f"/{a}"})
    assert_s3_error(r, 400, "InvalidArgument")


def test_issue4_copy_keeps_checksum(server, s3, buckets):
    a, b = buckets
    data = rand(10000)
    s3.put_object(Bucket=a, Key="ck/src", Body=data, ChecksumAlgorithm="SHA256")
    r = signed_request(server, "PUT", f"/{b}/ck/dst", headers={"x-amz-copy-source": f"/{a}/ck/src"})
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.find(S3NS + "ChecksumSHA256").text == checksum_value("sha256", data)
    h = s3.head_object(Bucket=b, Key="ck/dst", ChecksumMode="ENABLED")
    assert h["ChecksumSHA256"] == checksum_value("sha256", data)


def test_issue4_copy_aws_cli_cp_and_mv(server, s3, buckets):
    a, b = buckets
    data = rand(3 * MiB + 5)
    s3.put_object(Bucket=a, Key="cli/k", Body=data)
    p = run_aws(server, "s3", "cp", f"s3://{a}/cli/k", f"s3://{b}/cli/k2")
    assert p.returncode == 0, p.stderr
    assert sha(_get(s3, b, "cli/k2")) == sha(data)
    p = run_aws(server, "s3", "mv", f"s3://{b}/cli/k2", f"s3://{a}/cli/moved")
    assert p.returncode == 0, p.stderr
    assert sha(_get(s3, a, "cli/moved")) == sha(data)
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=b, Key="cli/k2")
    assert status_of(ei.value) == 404
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "f")
        p = run_aws(server, "s3", "cp", f"s3://{a}/cli/moved", out)
        assert p.returncode == 0, p.stderr
        with open(out, "rb") as f:
            assert sha(f.read()) == sha(data)
