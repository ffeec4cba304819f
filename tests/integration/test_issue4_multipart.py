"""Issue 4 part 1: multipart uploads against a started server, checked against
what AWS S3 answers: CreateMultipartUpload, UploadPart, CompleteMultipartUpload
(ETag "<md5 of md5s>-N", composite and full-object checksums), AbortMultipartUpload,
ListParts and ListMultipartUploads with pagination, GetObject/HeadObject with
partNumber, every error code of those operations, and the clients that switch
to multipart on their own: boto3 1.26 and 1.43 upload_file/download_file,
aws-cli v2 `aws s3 cp`."""

import base64
import hashlib
import os
import struct
import tempfile
import zlib

import pytest
from botocore.exceptions import ClientError

from conftest import assert_s3_error, boto3_client, run_py_new, signed_request, unique_bucket
from issue3_util import MiB, AwsV2, error_code, file_sha, ok, sha, status_of

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
SIZES = [5 * MiB, 5 * MiB, MiB + 7]


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def bucket(server, s3):
    name = unique_bucket("mpu")
    s3.create_bucket(Bucket=name)
    return name


def mp_etag(parts):
    """S3's multipart ETag: MD5 of the binary part MD5s, then -N."""
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


def upload(s3, bucket, key, parts, **create):
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    uid = up["UploadId"]
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=body)
        assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    return uid, done


@pytest.fixture(scope="module")
def three(s3, bucket):
    """One object of three parts (5 MiB, 5 MiB, 1 MiB + 7), completed."""
    parts = [os.urandom(n) for n in SIZES]
    key = "three/parts.bin"
    uid, done = upload(s3, bucket, key, parts, ContentType="application/x-three",
                       Metadata={"color": "blue"})
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": done})
    assert r["ETag"] == mp_etag(parts)
    assert r["Key"] == key and r["Bucket"] == bucket
    assert r["Location"].endswith(f"/{bucket}/three/parts.bin")
    return key, parts, b"".join(parts)


# ----------------------------------------------------------- the happy path ----

def test_issue4_complete_get_whole(s3, bucket, three):
    key, parts, data = three
    g = s3.get_object(Bucket=bucket, Key=key)
    body = g["Body"].read()
    assert len(body) == len(data) and sha(body) == sha(data)
    assert g["ETag"] == mp_etag(parts)
    assert g["ContentType"] == "application/x-three"
    assert g["Metadata"] == {"color": "blue"}
    h = s3.head_object(Bucket=bucket, Key=key)
    assert h["ContentLength"] == len(data) and h["ETag"] == mp_etag(parts)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="three/")["Contents"]
    assert listed[0]["Size"] == len(data) and listed[0]["ETag"] == mp_etag(parts)


@pytest.mark.parametrize("first,last", [
    (5 * MiB - 10, 5 * MiB + 10),           # across the first boundary
    (5 * MiB, 5 * MiB),                     # the first byte of part 2
    (5 * MiB - 1, 5 * MiB - 1),             # the last byte of part 1
    (10 * MiB - 3, 10 * MiB + 2),           # across the second boundary
    (100, 11 * MiB + 6),                    # all three parts
    (10 * MiB, 11 * MiB + 6),               # exactly part 3
])
def test_issue4_ranges_across_parts(s3, bucket, three, first, last):
    key, _, data = three
    g = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == f"bytes {first}-{last}/{len(data)}"
    assert g["Body"].read() == data[first:last + 1]


def test_issue4_suffix_range(s3, bucket, three):
    key, _, data = three
    g = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=-{MiB + 100}")
    assert g["Body"].read() == data[-(MiB + 100):]


def test_issue4_get_part_number(s3, bucket, three):
    key, parts, data = three
    g = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["PartsCount"] == 3
    assert g["ContentLength"] == len(parts[1])
    assert g["ContentRange"] == f"bytes {5 * MiB}-{10 * MiB - 1}/{len(data)}"
    assert g["ETag"] == mp_etag(parts)
    assert g["Body"].read() == parts[1]
    h = s3.head_object(Bucket=bucket, Key=key, PartNumber=3)
    assert h["ContentLength"] == len(parts[2]) and h["PartsCount"] == 3
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=key, PartNumber=4)
    # AWS: 416 InvalidPartNumber; tarn's error table says InvalidRange (416).
    assert status_of(ei.value) == 416


def test_issue4_part_number_single_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="single", Body=b"x" * 1000)
    g = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert g["Body"].read() == b"x" * 1000 and "PartsCount" not in g
    for bad in (2, 10001):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="single", PartNumber=bad)
        assert status_of(ei.value) in (400, 416)


def test_issue4_part_number_and_range(server, bucket, three):
    r = signed_request(server, "GET", f"/{bucket}/three/parts.bin", query="partNumber=1",
                       headers={"Range": "bytes=0-1"})
    assert_s3_error(r, 400, "InvalidRequest")


def test_issue4_reupload_part_replaces(s3, bucket):
    key = "reupload"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)
    uid = up["UploadId"]
    s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=b"a" * 100)
    second = os.urandom(300)
    r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=1, Body=second)
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)["Parts"]
    assert len(parts) == 1 and parts[0]["Size"] == 300 and parts[0]["ETag"] == r["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": r["ETag"].strip('"')}]})  # quotes optional
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == second


def test_issue4_complete_replaces_object_and_skips_parts(s3, bucket):
    key = "replaced"
    s3.put_object(Bucket=bucket, Key=key, Body=b"old")
    a, b = os.urandom(5 * MiB), os.urandom(10)
    uid, done = upload(s3, bucket, key, [a, os.urandom(5 * MiB), b])
    chosen = [done[0], done[2]]  # part 2 is left out, and collected
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": chosen})
    assert r["ETag"] == mp_etag([a, b])
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == a + b
    g = s3.get_object(Bucket=bucket, Key=key, PartNumber=2)
    assert g["Body"].read() == b and g["PartsCount"] == 2


# ---------------------------------------------------------------- errors ----

def _code(call):
    with pytest.raises(ClientError) as ei:
        call()
    return status_of(ei.value), error_code(ei.value)


def test_issue4_upload_part_errors(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="err")["UploadId"]
    for n in (0, 10001):
        assert _code(lambda: s3.upload_part(Bucket=bucket, Key="err", UploadId=uid,
                                            PartNumber=n, Body=b"x")) == (400, "InvalidArgument")
    assert _code(lambda: s3.upload_part(Bucket=bucket, Key="err", UploadId="nope",
                                        PartNumber=1, Body=b"x")) == (404, "NoSuchUpload")
    assert _code(lambda: s3.upload_part(Bucket=bucket, Key="other", UploadId=uid,
                                        PartNumber=1, Body=b"x")) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=bucket, Key="err", UploadId=uid)


def test_issue4_complete_errors(s3, bucket):
    key = "cerr"
    small = [os.urandom(MiB), os.urandom(MiB)]
    uid, done = upload(s3, bucket, key, small)

    def complete(parts):
        return _code(lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": parts}))

    assert complete(list(reversed(done))) == (400, "InvalidPartOrder")
    assert complete([done[0], {"PartNumber": 3, "ETag": done[1]["ETag"]}]) == (400, "InvalidPart")
    assert complete([{"PartNumber": 1, "ETag": '"%s"' % ("0" * 32)}]) == (400, "InvalidPart")
    assert complete(done) == (400, "EntityTooSmall")
    assert _code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId="nope", MultipartUpload={"Parts": done})) == \
        (404, "NoSuchUpload")
    # A single small part is fine: only the last part may be small.
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": done[:1]})
    assert r["ETag"] == mp_etag(small[:1])


@pytest.mark.parametrize("body", [b"<CompleteMultipartUpload", b"<Other/>",
                                  b"<CompleteMultipartUpload></CompleteMultipartUpload>",
                                  b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part>"
                                  b"</CompleteMultipartUpload>"])
def test_issue4_complete_malformed(server, s3, bucket, body):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mal")["UploadId"]
    r = signed_request(server, "POST", f"/{bucket}/mal", query=f"uploadId={uid}", body=body)
    assert_s3_error(r, 400, "MalformedXML")
    s3.abort_multipart_upload(Bucket=bucket, Key="mal", UploadId=uid)


def test_issue4_abort(s3, bucket):
    key = "aborted"
    uid, _ = upload(s3, bucket, key, [b"a" * 1000, b"b" * 1000])
    r = s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _code(lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=uid)) == \
        (404, "NoSuchUpload")
    assert _code(lambda: s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)) == \
        (404, "NoSuchUpload")
    ups = s3.list_multipart_uploads(Bucket=bucket, Prefix=key).get("Uploads", [])
    assert ups == []
    assert _code(lambda: s3.get_object(Bucket=bucket, Key=key)) == (404, "NoSuchKey")


def test_issue4_no_such_bucket(s3):
    assert _code(lambda: s3.create_multipart_upload(Bucket="no-such-bkt-4", Key="k")) == \
        (404, "NoSuchBucket")


# ------------------------------------------------------------ listings ----

def test_issue4_list_parts_pagination(s3, bucket):
    key = "lp"
    uid, done = upload(s3, bucket, key, [b"1" * 10, b"22" * 10, b"333" * 10])
    p = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, MaxParts=2)
    assert p["IsTruncated"] is True and p["NextPartNumberMarker"] == 2
    assert [x["PartNumber"] for x in p["Parts"]] == [1, 2]
    assert p["Parts"][1]["Size"] == 20 and p["Parts"][1]["ETag"] == done[1]["ETag"]
    assert p["Parts"][0]["LastModified"] is not None
    q = s3.list_parts(Bucket=bucket, Key=key, UploadId=uid, PartNumberMarker=2)
    assert q["IsTruncated"] is False and [x["PartNumber"] for x in q["Parts"]] == [3]
    pages = s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=uid,
                                                    PaginationConfig={"PageSize": 1})
    assert [x["PartNumber"] for pg in pages for x in pg.get("Parts", [])] == [1, 2, 3]
    s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)


def test_issue4_list_uploads_pagination(s3):
    b = unique_bucket("mpl")
    s3.create_bucket(Bucket=b)
    ids = [s3.create_multipart_upload(Bucket=b, Key=k)["UploadId"]
           for k in ("a", "a", "dir/x", "dir/y", "z")]
    r = s3.list_multipart_uploads(Bucket=b)
    assert [(u["Key"], u["UploadId"]) for u in r["Uploads"]] == \
        list(zip(["a", "a", "dir/x", "dir/y", "z"], ids))
    r = s3.list_multipart_uploads(Bucket=b, MaxUploads=2)
    assert r["IsTruncated"] is True and r["NextKeyMarker"] == "a" and \
        r["NextUploadIdMarker"] == ids[1]
    r = s3.list_multipart_uploads(Bucket=b, KeyMarker="a", UploadIdMarker=ids[0])
    assert [u["UploadId"] for u in r["Uploads"]] == ids[1:]
    r = s3.list_multipart_uploads(Bucket=b, Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["a", "a", "z"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"]
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=b, PaginationConfig={"PageSize": 2})
    assert [u["UploadId"] for pg in pages for u in pg.get("Uploads", [])] == ids
    for k, i in zip(["a", "a", "dir/x", "dir/y", "z"], ids):
        s3.abort_multipart_upload(Bucket=b, Key=k, UploadId=i)
    s3.delete_bucket(Bucket=b)


# ------------------------------------------------------------ checksums ----

def _crc(v):
    return base64.b64encode(struct.pack(">I", v & 0xFFFFFFFF)).decode()


def test_issue4_composite_crc32(s3, bucket):
    key = "ck/composite"
    parts = [os.urandom(5 * MiB), os.urandom(1234)]
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="CRC32")
    uid = up["UploadId"]
    done = []
    for i, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=body,
                           ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == _crc(zlib.crc32(body))
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": done})
    joined = b"".join(struct.pack(">I", zlib.crc32(p)) for p in parts)
    want = _crc(zlib.crc32(joined)) + "-2"
    assert r["ChecksumCRC32"] == want
    h = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == want
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "COMPOSITE"


def test_issue4_full_object_crc32(server, s3, bucket):
    key = "ck/full"
    r = signed_request(server, "POST", f"/{bucket}/{key}", query="uploads",
                       headers={"x-amz-checksum-algorithm": "CRC32",
                                "x-amz-checksum-type": "FULL_OBJECT"})
    assert r.status == 200, r
    uid = r.body.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
    parts = [os.urandom(5 * MiB + 1), os.urandom(77)]
    done = []
    for i, body in enumerate(parts, 1):  # no checksum sent: the server computes it
        pr = s3.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=i, Body=body)
        done.append({"PartNumber": i, "ETag": pr["ETag"]})
    whole = _crc(zlib.crc32(b"".join(parts)))
    # x-amz-checksum-crc32 on the completion names the whole object's CRC.
    assert _code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done},
        ChecksumCRC32=_crc(1))) == (400, "BadDigest")
    r = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid,
                                     MultipartUpload={"Parts": done}, ChecksumCRC32=whole)
    assert r["ChecksumCRC32"] == whole
    g = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert g["Body"].read() == b"".join(parts)  # botocore validates FULL_OBJECT CRCs
    assert g["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "FULL_OBJECT"


def test_issue4_checksum_rules(server, s3, bucket):
    r = signed_request(server, "POST", f"/{bucket}/ck/bad", query="uploads",
                       headers={"x-amz-checksum-algorithm": "SHA256",
                                "x-amz-checksum-type": "FULL_OBJECT"})
    assert_s3_error(r, 400, "InvalidRequest")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="ck/mm",
                                     ChecksumAlgorithm="SHA256")["UploadId"]
    assert _code(lambda: s3.upload_part(Bucket=bucket, Key="ck/mm", UploadId=uid, PartNumber=1,
                                        Body=b"abc", ChecksumAlgorithm="CRC32")) == \
        (400, "InvalidRequest")
    pr = s3.upload_part(Bucket=bucket, Key="ck/mm", UploadId=uid, PartNumber=1, Body=b"abc")
    assert pr["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"abc").digest()).decode()
    # COMPOSITE: the completion must name every part's checksum.
    assert _code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="ck/mm", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": pr["ETag"]}]})) == \
        (400, "InvalidRequest")
    s3.abort_multipart_upload(Bucket=bucket, Key="ck/mm", UploadId=uid)


# --------------------------------------------------------------- clients ----

def test_issue4_boto3_upload_file(server, s3, bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(os.urandom(23 * MiB))
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=5 * MiB,
                         max_concurrency=4)
    s3.upload_file(str(src), bucket, "tx/23mib", Config=cfg)
    h = s3.head_object(Bucket=bucket, Key="tx/23mib")
    assert h["ContentLength"] == 23 * MiB and h["ETag"].endswith('-5"')
    s3.download_file(bucket, "tx/23mib", str(dst), Config=cfg)
    assert file_sha(str(dst)) == file_sha(str(src))


def test_issue4_aws_cli_cp(server, bucket, tmp_path):
    aws = AwsV2(server)
    try:
        for kv in (("default.s3.multipart_threshold", "8MB"),
                   ("default.s3.multipart_chunksize", "8MB")):
            ok(aws.run("configure", "set", *kv))
        src, dst = tmp_path / "big", tmp_path / "back"
        src.write_bytes(os.urandom(40 * MiB))
        ok(aws.run("s3", "cp", str(src), f"s3://{bucket}/cli/40mib", timeout=300))
        h = ok(aws.run("s3api", "head-object", "--bucket", bucket, "--key", "cli/40mib"))
        assert '-5\\"' in h.stdout, h.stdout
        ok(aws.run("s3", "cp", f"s3://{bucket}/cli/40mib", str(dst), timeout=300))
        assert file_sha(str(dst)) == file_sha(str(src))
    finally:
        aws.close()


PY_NEW = r"""
import hashlib, os, sys, tempfile, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                  aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                  region_name=os.environ["TARN_REGION"],
                  config=Config(s3={"addressing_style": "path"}))
b = os.environ["BUCKET"]
d = tempfile.mkdtemp()
src, dst = os.path.join(d, "src"), os.path.join(d, "dst")
data = os.urandom(18 * 1024 * 1024 + 5)
open(src, "wb").write(data)
cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
s3.upload_file(src, b, "new/18mib", Config=cfg)
h = s3.head_object(Bucket=b, Key="new/18mib", ChecksumMode="ENABLED")
s3.download_file(b, "new/18mib", dst, Config=cfg)
g = s3.get_object(Bucket=b, Key="new/18mib", ChecksumMode="ENABLED")
assert g["Body"].read() == data
print(h["ETag"], h.get("ChecksumCRC32"), h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-checksum-type"))
assert hashlib.sha256(open(dst, "rb").read()).digest() == hashlib.sha256(data).digest()
print("OK")
"""


def test_issue4_boto3_new_upload_file(server, bucket):
    p = run_py_new(server, PY_NEW, timeout=180, extra_env={"BUCKET": bucket})
    assert p.returncode == 0 and "OK" in p.stdout, (p.stdout, p.stderr[-3000:])
    etag, crc, kind = p.stdout.split()[:3]
    assert etag.endswith('-3"'), p.stdout
    assert crc != "None" and kind in ("COMPOSITE", "FULL_OBJECT"), p.stdout
