"""Issue 4, part 5: browser-based uploads (POST Object with a signed policy)
built with boto3's generate_presigned_post (1.26 here, 1.43 in a
subprocess) and posted as multipart/form-data through http.client, the
way a browser form does: success_action_status 200/201/204, redirects,
${filename}, metadata fields, policy conditions (content-length-range,
starts-with, extra fields, expiry) and malformed forms."""

import hashlib
import http.client
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest

from conftest import boto3_client, json_out, run_py_new, unique_bucket
from issue3_util import MiB, etag_of, rand, sha


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def s3v4(server):
    return boto3_client(server, signature_version="s3v4")


@pytest.fixture(scope="module")
def bucket(s3):
    b = unique_bucket("post")
    s3.create_bucket(Bucket=b)
    return b


def form_body(fields, file_data, filename="upload.bin", boundary=None, file_type=None,
              after=()):
    """multipart/form-data: the fields in order, then the file, then `after`."""
    boundary = boundary or "----tarnform" + uuid.uuid4().hex
    out = bytearray()
    for name, value in list(fields.items()) if isinstance(fields, dict) else fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                .encode() + value.encode() + b"\r\n")
    if file_data is not None:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{filename}\"\r\n").encode()
        if file_type:
            out += f"Content-Type: {file_type}\r\n".encode()
        out += b"\r\n" + file_data + b"\r\n"
    for name, value in after:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                .encode() + value.encode() + b"\r\n")
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def post(server, bucket, body, content_type):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        headers = {"Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        conn.request("POST", f"/{bucket}", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def post_form(server, presigned, data, extra=(), **kw):
    fields = list(presigned["fields"].items()) + list(extra)
    body, ctype = form_body(fields, data, **kw)
    bucket = urllib.parse.urlsplit(presigned["url"]).path.strip("/")
    return post(server, bucket, body, ctype)


def error_of(body):
    root = ET.fromstring(body)
    return root.find("Code").text, root.find("Message").text


@pytest.mark.parametrize("v4", [False, True], ids=["default", "s3v4"])
def test_issue4_post_default_204(server, s3, s3v4, bucket, v4):
    c = s3v4 if v4 else s3
    data = rand(100 * 1024)
    pp = c.generate_presigned_post(bucket, f"form/{int(v4)}.bin")
    st, hdrs, body = post_form(server, pp, data)
    assert st == 204, body
    assert hdrs["etag"] == etag_of(data)
    g = s3.get_object(Bucket=bucket, Key=f"form/{int(v4)}.bin")
    assert sha(g["Body"].read()) == sha(data)
    assert g["ETag"] == etag_of(data)


def test_issue4_post_201_and_200(server, s3v4, s3, bucket):
    data = rand(3 * MiB + 11)
    pp = s3v4.generate_presigned_post(bucket, "form/201 key.bin",
                                      Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    st, hdrs, body = post_form(server, pp, data)
    assert st == 201, body
    root = ET.fromstring(body)
    assert root.tag == "PostResponse"
    assert root.find("Bucket").text == bucket
    assert root.find("Key").text == "form/201 key.bin"
    assert root.find("ETag").text == etag_of(data)
    assert root.find("Location").text.endswith(f"/{bucket}/form/201%20key.bin")
    assert sha(s3.get_object(Bucket=bucket, Key="form/201 key.bin")["Body"].read()) == sha(data)
    pp = s3v4.generate_presigned_post(bucket, "form/200", Fields={"success_action_status": "200"},
                                      Conditions=[{"success_action_status": "200"}])
    st, _, body = post_form(server, pp, b"two hundred")
    assert st == 200 and body == b""


def test_issue4_post_redirect(server, s3v4, s3, bucket):
    to = "http://example.test/done?x=1"
    pp = s3v4.generate_presigned_post(bucket, "form/redir", Fields={"success_action_redirect": to},
                                      Conditions=[{"success_action_redirect": to}])
    data = b"redirect me"
    st, hdrs, _ = post_form(server, pp, data)
    assert st == 303
    loc = urllib.parse.urlsplit(hdrs["location"])
    q = urllib.parse.parse_qs(loc.query)
    assert loc.netloc == "example.test" and q["x"] == ["1"]
    assert q["bucket"] == [bucket] and q["key"] == ["form/redir"]
    assert q["etag"] == [etag_of(data)]


def test_issue4_post_filename_metadata_content_type(server, s3v4, s3, bucket):
    pp = s3v4.generate_presigned_post(
        bucket, "up/${filename}",
        Fields={"Content-Type": "image/png", "x-amz-meta-owner": "Ada"},
        Conditions=[["starts-with", "$key", "up/"], ["starts-with", "$Content-Type", "image/"],
                    {"x-amz-meta-owner": "Ada"}])
    data = rand(5000)
    st, _, body = post_form(server, pp, data, filename="photo 1.png")
    assert st == 204, body
    h = s3.head_object(Bucket=bucket, Key="up/photo 1.png")
    assert h["ContentType"] == "image/png" and h["Metadata"] == {"owner": "Ada"}
    assert h["ContentLength"] == len(data)


def test_issue4_post_length_range(server, s3v4, s3, bucket):
    pp = s3v4.generate_presigned_post(bucket, "range/k",
                                      Conditions=[["content-length-range", 10, 100]])
    assert post_form(server, pp, b"x" * 50)[0] == 204
    for data, code in ((b"x" * 101, "EntityTooLarge"), (b"x" * 9, "EntityTooSmall")):
        st, _, body = post_form(server, pp, data)
        assert st == 400 and error_of(body)[0] == code, body
    assert s3.get_object(Bucket=bucket, Key="range/k")["Body"].read() == b"x" * 50


def test_issue4_post_policy_violations(server, s3v4, bucket):
    pp = s3v4.generate_presigned_post(bucket, "pol/k", Conditions=[["starts-with", "$key", "pol/"]])
    # starts-with violated: the key field changed after signing.
    fields = dict(pp["fields"], key="other/k")
    body, ctype = form_body(fields, b"data")
    st, _, resp = post(server, bucket, body, ctype)
    assert st == 403 and error_of(resp)[0] == "AccessDenied", resp
    assert "Policy Condition failed" in error_of(resp)[1]
    # A field the policy does not name.
    st, _, resp = post_form(server, pp, b"data", extra=[("x-amz-meta-extra", "1")])
    assert st == 403 and "Extra input fields" in error_of(resp)[1], resp
    # x-ignore-* needs no condition; fields after the file are ignored.
    st, _, resp = post_form(server, pp, b"data", extra=[("x-ignore-me", "1")],
                            after=[("x-amz-meta-late", "ignored")])
    assert st == 204, resp
    # A tampered signature.
    sig = "x-amz-signature"
    fields = dict(pp["fields"])
    fields[sig] = ("0" if fields[sig][0] != "0" else "1") + fields[sig][1:]
    body, ctype = form_body(fields, b"data")
    st, _, resp = post(server, bucket, body, ctype)
    assert st == 403 and error_of(resp)[0] == "SignatureDoesNotMatch", resp


def test_issue4_post_expired_policy(server, s3v4, bucket):
    pp = s3v4.generate_presigned_post(bucket, "exp/k", ExpiresIn=-10)
    st, _, body = post_form(server, pp, b"late")
    assert st == 403
    assert error_of(body) == ("AccessDenied", "Invalid according to Policy: Policy expired."), body


def test_issue4_post_anonymous_and_malformed(server, s3v4, bucket):
    body, ctype = form_body({"key": "anon/k"}, b"data")
    st, _, resp = post(server, bucket, body, ctype)
    assert st == 403 and error_of(resp)[0] == "AccessDenied", resp
    pp = s3v4.generate_presigned_post(bucket, "bad/k")
    # No file field.
    body, ctype = form_body(pp["fields"], None)
    st, _, resp = post(server, bucket, body, ctype)
    assert st == 400 and error_of(resp) == (
        "InvalidArgument", "POST requires exactly one file upload per request."), resp
    # Missing boundary parameter, and not multipart at all.
    body, ctype = form_body(pp["fields"], b"data")
    st, _, resp = post(server, bucket, body, "multipart/form-data")
    assert st == 400 and error_of(resp)[0] == "InvalidArgument", resp
    st, _, resp = post(server, bucket, body, "application/x-www-form-urlencoded")
    assert st == 412 and error_of(resp)[0] == "PreconditionFailed", resp
    # Truncated: the closing boundary never comes.
    cut = body[:body.rindex(b"\r\n--")]
    st, _, resp = post(server, bucket, cut, ctype)
    assert st == 400 and error_of(resp)[0] == "InvalidArgument", resp
    # No key field.
    fields = {k: v for k, v in pp["fields"].items() if k != "key"}
    body, ctype = form_body(fields, b"data")
    st, _, resp = post(server, bucket, body, ctype)
    assert st in (400, 403), resp


def test_issue4_post_boto3_143(server, s3, bucket):
    script = f"""
import boto3, json, os
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                 aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                 aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                 region_name=os.environ["TARN_REGION"],
                 config=Config(s3={{"addressing_style": "path"}}))
print(json.dumps(c.generate_presigned_post({bucket!r}, "new/post",
      Conditions=[["content-length-range", 1, 1048576]])))
"""
    pp = json_out(run_py_new(server, script))
    data = rand(65536)
    st, hdrs, body = post_form(server, pp, data)
    assert st == 204, body
    assert hashlib.md5(s3.get_object(Bucket=bucket, Key="new/post")["Body"].read()).hexdigest() \
        == hashlib.md5(data).hexdigest()
