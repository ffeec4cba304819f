"""Issue 4, part 4: presigned URLs as users make them and paste them into
curl: boto3 1.26 and 1.43 generate_presigned_url (SigV2 by default for a
custom endpoint, SigV4 with signature_version='s3v4') for GET, PUT, HEAD
and DELETE; `aws s3 presign` (aws-cli v2: SigV4) fetched with curl;
X-Amz-Expires bounds, expired and tampered URLs."""

import http.client
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from conftest import boto3_client, json_out, run_aws, run_py_new, unique_bucket
from issue3_util import rand, sha


def _client(server, sigv4):
    return boto3_client(server, signature_version="s3v4") if sigv4 else boto3_client(server)


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture(scope="module")
def bucket(s3):
    b = unique_bucket("pre")
    s3.create_bucket(Bucket=b)
    return b


def _open(url, method="GET", data=None):
    """urllib for reads; bodies through http.client, because urllib adds
    Content-Type: application/x-www-form-urlencoded to any request with data,
    and SigV2 signs Content-Type (AWS refuses that too)."""
    if data is not None:
        return _put_raw(url, data)
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _put_raw(url, data):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    try:
        conn.request("PUT", u.path + "?" + u.query, body=data)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def _code(body):
    root = ET.fromstring(body)
    return root.find("Code").text, root.find("Message").text


def _curl(*args):
    return subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)


@pytest.mark.parametrize("sigv4", [False, True], ids=["sigv2", "sigv4"])
def test_issue4_presign_boto3_126_all_methods(server, s3, bucket, sigv4, tmp_path):
    c = _client(server, sigv4)
    data = rand(200 * 1024)
    key = f"p/{'v4' if sigv4 else 'v2'} file+ü.bin"
    url = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key},
                                   ExpiresIn=300)
    assert ("X-Amz-Signature=" in url) == sigv4 and ("Signature=" in url)
    src = tmp_path / "upload.bin"
    src.write_bytes(data)
    p = _curl("-f", "-T", str(src), url)
    assert p.returncode == 0, p.stderr
    assert sha(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == sha(data)

    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key},
                                   ExpiresIn=300)
    st, hdrs, body = _open(url)
    assert st == 200 and sha(body) == sha(data)
    p = _curl("-f", url)
    assert p.returncode == 0 and sha(p.stdout) == sha(data)

    url = c.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": key},
                                   ExpiresIn=300)
    st, hdrs, body = _open(url, "HEAD")
    assert st == 200 and int(hdrs["Content-Length"]) == len(data) and body == b""

    url = c.generate_presigned_url("delete_object", Params={"Bucket": bucket, "Key": key},
                                   ExpiresIn=300)
    st, _, _ = _open(url, "DELETE")
    assert st == 204
    st, _, _ = _open(c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))
    assert st == 404


def test_issue4_presign_urllib_put(server, s3, bucket):
    data = rand(5000)
    for c in (_client(server, False), _client(server, True)):
        url = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "u/k"})
        st, hdrs, _ = _open(url, "PUT", data)
        assert st == 200
        assert s3.get_object(Bucket=bucket, Key="u/k")["Body"].read() == data


@pytest.mark.parametrize("sigv4", [False, True], ids=["sigv2", "sigv4"])
def test_issue4_presign_boto3_143(server, s3, bucket, sigv4):
    data = rand(3000)
    s3.put_object(Bucket=bucket, Key="new/k", Body=data)
    cfg = "signature_version='s3v4', " if sigv4 else ""
    script = f"""
import boto3, json, os
from botocore.config import Config
c = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                 aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                 aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                 region_name=os.environ["TARN_REGION"],
                 config=Config({cfg}s3={{"addressing_style": "path"}}))
p = {{"Bucket": {bucket!r}, "Key": "new/k"}}
print(json.dumps({{m: c.generate_presigned_url(m, Params=p, ExpiresIn=600)
                  for m in ("get_object", "head_object", "put_object", "delete_object")}}))
"""
    urls = json_out(run_py_new(server, script))
    assert ("X-Amz-Algorithm" in urls["get_object"]) == sigv4
    st, _, body = _open(urls["get_object"])
    assert st == 200 and body == data
    assert _open(urls["head_object"], "HEAD")[0] == 200
    new = rand(1234)
    assert _open(urls["put_object"], "PUT", new)[0] == 200
    assert s3.get_object(Bucket=bucket, Key="new/k")["Body"].read() == new
    assert _open(urls["delete_object"], "DELETE")[0] == 204


def test_issue4_presign_expires_bounds(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="exp/k", Body=b"week")
    c = _client(server, True)
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp/k"},
                                   ExpiresIn=604800)
    assert "X-Amz-Expires=604800" in url
    st, _, body = _open(url)
    assert st == 200 and body == b"week"
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp/k"},
                                   ExpiresIn=604801)
    st, _, body = _open(url)
    assert st == 400 and _code(body)[0] == "AuthorizationQueryParametersError", body


@pytest.mark.parametrize("sigv4", [False, True], ids=["sigv2", "sigv4"])
def test_issue4_presign_expired(server, s3, bucket, sigv4):
    s3.put_object(Bucket=bucket, Key="exp/short", Body=b"x")
    c = _client(server, sigv4)
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "exp/short"},
                                   ExpiresIn=1)
    time.sleep(2.1)
    st, _, body = _open(url)
    assert st == 403
    assert _code(body) == ("AccessDenied", "Request has expired"), body


@pytest.mark.parametrize("sigv4", [False, True], ids=["sigv2", "sigv4"])
def test_issue4_presign_tampered(server, s3, bucket, sigv4):
    s3.put_object(Bucket=bucket, Key="t/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="t/b", Body=b"b")
    c = _client(server, sigv4)
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "t/a"})
    st, _, body = _open(url.replace("/t/a?", "/t/b?"))
    assert st == 403 and _code(body)[0] == "SignatureDoesNotMatch", body
    name = "X-Amz-Signature=" if sigv4 else "Signature="
    i = url.index(name) + len(name)
    flipped = url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:]
    st, _, body = _open(flipped)
    assert st == 403 and _code(body)[0] == "SignatureDoesNotMatch", body


def test_issue4_presign_aws_cli(server, s3, bucket):
    data = rand(64 * 1024)
    s3.put_object(Bucket=bucket, Key="cli/obj name.bin", Body=data)
    p = run_aws(server, "s3", "presign", f"s3://{bucket}/cli/obj name.bin", "--expires-in", "120")
    assert p.returncode == 0, p.stderr
    url = p.stdout.strip()
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=120" in url
    q = _curl("-f", url)
    assert q.returncode == 0, q.stderr
    assert sha(q.stdout) == sha(data)
