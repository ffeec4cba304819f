"""Issue 4, part 3: DeleteObjects (POST /bucket?delete) from boto3 1.26
(Content-MD5), boto3 1.43 (x-amz-checksum-crc32, in a subprocess), raw
signed requests and `aws s3 rm --recursive`: 1000 keys, Quiet mode,
per-key errors, absent keys, 1001 keys and malformed bodies."""

import concurrent.futures
import json

import pytest
import xml.etree.ElementTree as ET

from conftest import (assert_s3_error, boto3_client, json_out, run_aws, run_py_new,
                      signed_request, unique_bucket)
from issue3_util import checksum_value, md5_b64

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


def _fill(s3, bucket, keys, body=b"x"):
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=body), keys))


def _all_keys(s3, bucket):
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        out += [o["Key"] for o in page.get("Contents", [])]
    return out


def _delete_xml(keys, quiet=False):
    objs = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return (f'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Quiet>{'true' if quiet else 'false'}</Quiet>{objs}</Delete>").encode()


def test_issue4_delete_objects_1000_boto3_126(s3):
    b = unique_bucket("del")
    s3.create_bucket(Bucket=b)
    keys = [f"k/{i:04d}" for i in range(1000)]
    _fill(s3, b, keys[:990])  # the last 10 do not exist: still "Deleted"
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": k} for k in keys]})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sorted(d["Key"] for d in r["Deleted"]) == keys
    assert not r.get("Errors")
    assert _all_keys(s3, b) == []
    s3.delete_bucket(Bucket=b)


def test_issue4_delete_objects_boto3_143_crc32(server, s3):
    b = unique_bucket("del")
    s3.create_bucket(Bucket=b)
    keys = [f"n/{i}" for i in range(50)] + ["keep"]
    _fill(s3, b, keys)
    script = f"""
import boto3, json, os
from botocore.config import Config
events = []
c = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                 aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                 aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                 region_name=os.environ["TARN_REGION"],
                 config=Config(s3={{"addressing_style": "path"}}))
def seen(request, **kw):
    events.append(sorted(k.lower() for k in request.headers.keys()))
c.meta.events.register("before-send.s3.DeleteObjects", seen)
r = c.delete_objects(Bucket={b!r}, Delete={{"Objects": [{{"Key": f"n/{{i}}"}} for i in range(50)]}})
print(json.dumps({{"deleted": sorted(d["Key"] for d in r.get("Deleted", [])),
                  "errors": r.get("Errors", []), "headers": events}}))
"""
    out = json_out(run_py_new(server, script))
    assert out["deleted"] == sorted(f"n/{i}" for i in range(50))
    assert out["errors"] == []
    assert "x-amz-checksum-crc32" in out["headers"][0], out["headers"]
    assert "content-md5" not in out["headers"][0]
    assert _all_keys(s3, b) == ["keep"]


def test_issue4_delete_objects_quiet_and_errors(server, s3):
    b = unique_bucket("del")
    s3.create_bucket(Bucket=b)
    _fill(s3, b, ["a", "b"])
    long_key = "L" * 1025
    r = s3.delete_objects(Bucket=b, Delete={"Quiet": True, "Objects": [
        {"Key": "a"}, {"Key": "b"}, {"Key": "absent"}, {"Key": long_key}]})
    assert "Deleted" not in r
    errs = r["Errors"]
    assert len(errs) == 1 and errs[0]["Key"] == long_key and errs[0]["Code"] == "KeyTooLongError"
    assert _all_keys(s3, b) == []


def test_issue4_delete_objects_limits_and_malformed(server, s3):
    b = unique_bucket("del")
    s3.create_bucket(Bucket=b)
    _fill(s3, b, ["stay"])
    for body in (_delete_xml([f"k{i}" for i in range(1001)]), b"<Delete><Object>",
                 b"not xml at all", b"<Delete></Delete>", b"<Other><Object><Key>stay</Key>"
                 b"</Object></Other>", b"<Delete><Object><VersionId>1</VersionId></Object></Delete>"):
        r = signed_request(server, "POST", f"/{b}", query="delete", body=body,
                           headers={"Content-MD5": md5_b64(body)})
        assert_s3_error(r, 400, "MalformedXML")
    body = _delete_xml(["stay"])
    r = signed_request(server, "POST", f"/{b}", query="delete", body=body)
    fields = assert_s3_error(r, 400, "InvalidRequest")
    assert "Content-MD5" in fields["Message"]
    r = signed_request(server, "POST", f"/{b}", query="delete", body=body,
                       headers={"Content-MD5": md5_b64(b"other")})
    assert_s3_error(r, 400, "BadDigest")
    r = signed_request(server, "POST", f"/{b}", query="delete", body=body,
                       headers={"x-amz-checksum-crc32": checksum_value("crc32", b"zz")})
    assert_s3_error(r, 400, "BadDigest")
    assert _all_keys(s3, b) == ["stay"]
    # CRC32 alone is enough, and the raw answer is a DeleteResult.
    r = signed_request(server, "POST", f"/{b}", query="delete", body=body,
                       headers={"x-amz-checksum-crc32": checksum_value("crc32", body)})
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == S3NS + "DeleteResult"
    assert [e.find(S3NS + "Key").text for e in root.findall(S3NS + "Deleted")] == ["stay"]
    r = signed_request(server, "POST", f"/{unique_bucket('none')}", query="delete", body=body,
                       headers={"Content-MD5": md5_b64(body)})
    assert_s3_error(r, 404, "NoSuchBucket")


def test_issue4_delete_objects_aws_rm_recursive(server, s3):
    b = unique_bucket("del")
    s3.create_bucket(Bucket=b)
    keys = [f"tree/{i % 7}/{i}.txt" for i in range(300)]
    _fill(s3, b, keys + ["other/x"])
    p = run_aws(server, "s3", "rm", "--recursive", f"s3://{b}/tree/", timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("delete:") == 300
    assert _all_keys(s3, b) == ["other/x"]
