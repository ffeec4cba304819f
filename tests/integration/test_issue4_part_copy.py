"""Issue 4: UploadPartCopy (x-amz-copy-source with x-amz-copy-source-range)."""
import hashlib
import os
import time

import pytest
from botocore.exceptions import ClientError

from conftest import boto3_client, unique_bucket

MIB = 1024 * 1024


@pytest.fixture()
def s3(server):
    return boto3_client(server)


def test_issue4_upload_part_copy_ranges_and_whole(s3):
    bucket = unique_bucket("partcopy")
    s3.create_bucket(Bucket=bucket)
    src = os.urandom(11 * MIB + 5)
    s3.put_object(Bucket=bucket, Key="src key é", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src key é"},
                             CopySourceRange=f"bytes=0-{5 * MIB - 1}")
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src key é"},
                             CopySourceRange=f"bytes={5 * MIB}-{len(src) - 1}")
    e1, e2 = r1["CopyPartResult"]["ETag"], r2["CopyPartResult"]["ETag"]
    assert e1.strip('"') == hashlib.md5(src[:5 * MIB]).hexdigest()
    assert e2.strip('"') == hashlib.md5(src[5 * MIB:]).hexdigest()
    parts = s3.list_parts(Bucket=bucket, Key="dst", UploadId=up)["Parts"]
    assert [p["Size"] for p in parts] == [5 * MIB, len(src) - 5 * MIB]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    got = s3.get_object(Bucket=bucket, Key="dst")["Body"].read()
    assert hashlib.sha256(got).digest() == hashlib.sha256(src).digest()
    # Without a range the whole source becomes the part.
    up2 = s3.create_multipart_upload(Bucket=bucket, Key="dst2")["UploadId"]
    r = s3.upload_part_copy(Bucket=bucket, Key="dst2", UploadId=up2, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src key é"})
    assert r["CopyPartResult"]["ETag"].strip('"') == hashlib.md5(src).hexdigest()


def test_issue4_upload_part_copy_errors(s3):
    bucket = unique_bucket("partcopyerr")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src", Body=b"x" * 100)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]

    def copy(**kw):
        args = dict(Bucket=bucket, Key="dst", UploadId=up, PartNumber=1,
                    CopySource={"Bucket": bucket, "Key": "src"})
        args.update(kw)
        with pytest.raises(ClientError) as e:
            s3.upload_part_copy(**args)
        return e.value.response

    assert copy(CopySourceRange="bytes=0-100")["Error"]["Code"] == "InvalidArgument"
    assert copy(CopySourceRange="bytes=5-")["Error"]["Code"] == "InvalidArgument"
    assert copy(CopySource={"Bucket": bucket, "Key": "nope"})["Error"]["Code"] == "NoSuchKey"
    assert copy(UploadId="no-such-upload")["Error"]["Code"] == "NoSuchUpload"
    assert copy(PartNumber=10001)["Error"]["Code"] == "InvalidArgument"
    assert copy(CopySourceIfMatch='"0000"')["ResponseMetadata"]["HTTPStatusCode"] == 412
    r = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"},
                            CopySourceRange="bytes=10-19")
    assert r["CopyPartResult"]["ETag"].strip('"') == hashlib.md5(b"x" * 10).hexdigest()


def test_issue4_copies_of_a_multipart_source_are_independent(s3):
    """CopyObject and UploadPartCopy read a multipart source's bytes and
    write their own shard sets (no layout, part or manifest is shared), so
    the copies read back whole after the source is deleted and collected."""
    bucket = unique_bucket("mpcopy")
    s3.create_bucket(Bucket=bucket)
    parts = [os.urandom(5 * MIB + 7), os.urandom(3 * MIB)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="src")["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=bucket, Key="src", UploadId=up,
                                                     PartNumber=i, Body=p)["ETag"]}
            for i, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="src", UploadId=up,
                                 MultipartUpload={"Parts": done})
    src = b"".join(parts)
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "src"})
    up2 = s3.create_multipart_upload(Bucket=bucket, Key="pc")["UploadId"]
    a, b = 5 * MIB - 100, len(src) - 1  # across the source's part boundary
    r = s3.upload_part_copy(Bucket=bucket, Key="pc", UploadId=up2, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"},
                            CopySourceRange=f"bytes={a}-{b}")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="pc", UploadId=up2,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]})
    s3.delete_object(Bucket=bucket, Key="src")
    time.sleep(0.5)  # the GC thread, kicked by the delete, removes the source's files
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == src
    assert s3.get_object(Bucket=bucket, Key="pc")["Body"].read() == src[a:b + 1]
