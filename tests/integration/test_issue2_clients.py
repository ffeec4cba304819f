"""Issue 2: the command-line clients users will point at tarn first —
Debian's awscli v2, s3cmd and curl (--aws-sigv4, Expect: 100-continue)."""

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import run_aws, run_s3cmd, unique_bucket, boto3_client


def _ok(p):
    assert p.returncode == 0, f"exit {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
    return p


def test_issue2_awscli_v2_bucket_lifecycle(server):
    name = unique_bucket("cli")
    p = _ok(run_aws(server, "s3", "mb", f"s3://{name}"))
    assert f"make_bucket: {name}" in p.stdout, p.stdout

    p = _ok(run_aws(server, "s3", "ls"))
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d " + re.escape(name) + r"$",
                     p.stdout, re.M), p.stdout

    p = _ok(run_aws(server, "s3api", "head-bucket", "--bucket", name))

    p = _ok(run_aws(server, "s3api", "get-bucket-location", "--bucket", name,
                    "--output", "json"))
    loc = json.loads(p.stdout)
    assert "LocationConstraint" in loc, p.stdout
    assert loc["LocationConstraint"] in (None, "", "us-east-1"), p.stdout

    p = _ok(run_aws(server, "s3api", "list-buckets", "--output", "json"))
    lb = json.loads(p.stdout)
    assert lb.get("Owner", {}).get("ID"), p.stdout
    assert name in [b["Name"] for b in lb["Buckets"]]

    p = _ok(run_aws(server, "s3", "rb", f"s3://{name}"))
    assert f"remove_bucket: {name}" in p.stdout, p.stdout

    p = run_aws(server, "s3api", "head-bucket", "--bucket", name)
    assert p.returncode != 0, "head-bucket of a removed bucket succeeded"
    assert "404" in p.stderr or "Not Found" in p.stderr, p.stderr

    p = _ok(run_aws(server, "s3", "ls"))
    assert name not in p.stdout


def test_issue2_awscli_v2_errors(server):
    name = unique_bucket("clierr")
    _ok(run_aws(server, "s3", "mb", f"s3://{name}"))
    try:
        p = run_aws(server, "s3", "mb", f"s3://{name}")
        assert p.returncode != 0
        assert "BucketAlreadyOwnedByYou" in p.stderr, p.stderr
        p = run_aws(server, "s3", "mb", "s3://Bad_Name")
        assert p.returncode != 0
        assert "InvalidBucketName" in p.stderr, p.stderr
        p = run_aws(server, "s3", "rb", f"s3://{unique_bucket('missing')}")
        assert p.returncode != 0
        assert "NoSuchBucket" in p.stderr, p.stderr
    finally:
        run_aws(server, "s3", "rb", f"s3://{name}")


def test_issue2_awscli_v2_wrong_secret(server):
    class Wrong:
        pass
    w = Wrong()
    w.__dict__.update(server.__dict__)
    w.secret_key = "definitely-not-the-secret-000"
    w.endpoint = server.endpoint
    p = run_aws(w, "s3api", "list-buckets")
    assert p.returncode != 0
    assert "SignatureDoesNotMatch" in p.stderr, p.stderr


def test_issue2_s3cmd_bucket_lifecycle(server):
    name = unique_bucket("s3cmd")
    p = _ok(run_s3cmd(server, "mb", f"s3://{name}"))
    assert f"s3://{name}/" in p.stdout and "created" in p.stdout, p.stdout
    p = _ok(run_s3cmd(server, "ls"))
    assert re.search(r"\s+s3://" + re.escape(name) + r"\s*$", p.stdout, re.M), p.stdout
    p = _ok(run_s3cmd(server, "rb", f"s3://{name}"))
    assert f"s3://{name}/" in p.stdout and "removed" in p.stdout, p.stdout
    p = _ok(run_s3cmd(server, "ls"))
    assert f"s3://{name}" not in p.stdout
    boto = boto3_client(server)
    assert name not in [b["Name"] for b in boto.list_buckets()["Buckets"]]


CREATE_BODY = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               b"<LocationConstraint>eu-west-1</LocationConstraint>"
               b"</CreateBucketConfiguration>")


def _curl(args, timeout=30):
    exe = shutil.which("curl")
    if not exe:
        pytest.skip("curl is not installed")
    return subprocess.run([exe, "-sS", "-v", "--max-time", "20", *args], capture_output=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_issue2_curl_expect_100_continue_create_bucket(server_factory):
    """curl -T with Expect: 100-continue: the server must answer the interim
    100 before curl sends the CreateBucketConfiguration body (curl would
    otherwise wait 1 s and send anyway, which hides the bug)."""
    srv = server_factory(["--region", "eu-west-1"])
    name = unique_bucket("curl")
    tmp = tempfile.mkdtemp(prefix="tarn-curl-")
    try:
        body_path = os.path.join(tmp, "body.xml")
        with open(body_path, "wb") as f:
            f.write(CREATE_BODY)
        sha = hashlib.sha256(CREATE_BODY).hexdigest()
        p = _curl(["--aws-sigv4", "aws:amz:eu-west-1:s3",
                   "--user", f"{srv.access_key}:{srv.secret_key}",
                   "-H", f"x-amz-content-sha256: {sha}",
                   "-H", "Expect: 100-continue",
                   "-T", body_path, "-o", "/dev/null", "-w", "%{http_code}",
                   f"{srv.endpoint}/{name}"])
        err = p.stderr.decode("utf-8", "replace")
        assert p.stdout.decode() == "200", f"status {p.stdout!r}\n{err}"
        assert re.search(r"^< HTTP/1\.1 100 Continue", err, re.M), \
            f"no interim 100 Continue seen by curl:\n{err}"
        assert re.search(r"^< x-amz-request-id: \S+", err, re.M | re.I), err
        s3 = boto3_client(srv, region="eu-west-1")
        s3.head_bucket(Bucket=name)
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        s3.delete_bucket(Bucket=name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_issue2_curl_expect_100_continue_bad_hash(server):
    """Expect: 100-continue with a body that does not match its declared
    hash: 400 XAmzContentSHA256Mismatch, no bucket."""
    name = unique_bucket("curlbad")
    tmp = tempfile.mkdtemp(prefix="tarn-curl-")
    try:
        body_path = os.path.join(tmp, "body.xml")
        with open(body_path, "wb") as f:
            f.write(CREATE_BODY)
        wrong = hashlib.sha256(b"something else").hexdigest()
        p = _curl(["--aws-sigv4", "aws:amz:us-east-1:s3",
                   "--user", f"{server.access_key}:{server.secret_key}",
                   "-H", f"x-amz-content-sha256: {wrong}",
                   "-H", "Expect: 100-continue",
                   "-T", body_path, "-w", "\n%{http_code}",
                   f"{server.endpoint}/{name}"])
        out = p.stdout.decode("utf-8", "replace")
        assert out.rstrip().endswith("400"), f"{out}\n{p.stderr.decode()}"
        assert "<Code>XAmzContentSHA256Mismatch</Code>" in out, out
        s3 = boto3_client(server)
        assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
