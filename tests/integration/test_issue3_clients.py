"""Issue 3: objects through the real clients — boto3 1.43 (x-amz-checksum-crc32
headers), Debian's aws-cli v2, s3cmd, rclone and @aws-sdk/client-s3 v3
(aws-chunked bodies with checksum trailers) — checked byte for byte.

Multipart upload comes with issue 4: every client here is configured (or the
sizes are chosen) so that it uploads in one PutObject."""

import json
import os
import shutil
import subprocess

import pytest

from conftest import boto3_client, run_py_new, run_s3cmd, unique_bucket
from issue3_util import (MiB, AwsV2, checksum_value, etag_of, file_sha, ok, rand, sha)

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture
def bucket(server, s3):
    name = unique_bucket("cli")
    s3.create_bucket(Bucket=name)
    return name


def _write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


# ------------------------------------------------------------- boto3 1.43 ----

PY_NEW_SCRIPT = r'''
import base64, hashlib, io, json, os, struct, zlib
import boto3
from botocore.config import Config
from boto3.s3.transfer import TransferConfig

s3 = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                  aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                  region_name=os.environ["TARN_REGION"],
                  config=Config(s3={"addressing_style": "path"},
                                retries={"total_max_attempts": 1}))
bucket = os.environ["BUCKET"]
wire = {}

def record(request, **kw):
    if request.method == "PUT":
        key = request.url.split("/", 4)[-1]
        wire[key] = {k.lower(): (v.decode() if isinstance(v, bytes) else v)
                     for k, v in request.headers.items()
                     if k.lower().startswith("x-amz-checksum") or k.lower() in (
                         "content-encoding", "x-amz-content-sha256", "x-amz-trailer",
                         "content-md5")}
s3.meta.events.register("before-send.s3.PutObject", record)

def sha(b): return hashlib.sha256(b).hexdigest()
def crc(b): return base64.b64encode(struct.pack(">I", zlib.crc32(b) & 0xffffffff)).decode()

out = {"boto3": boto3.__version__, "items": []}
for size, alg in [(0, None), (1, None), (4099, None), (1 << 20, None), (9 << 20, None),
                  (70000, "SHA256"), (70001, "SHA1")]:
    data = os.urandom(size)
    key = f"new/{size}"
    kw = {"ChecksumAlgorithm": alg} if alg else {}
    put = s3.put_object(Bucket=bucket, Key=key, Body=data, **kw)
    g = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = g["Body"].read()
    h = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    out["items"].append({"key": key, "size": size, "alg": alg,
        "sha_put": sha(data), "sha_get": sha(body), "len_get": len(body),
        "md5": '"' + hashlib.md5(data).hexdigest() + '"', "etag_put": put["ETag"],
        "etag_get": g["ETag"], "crc_local": crc(data),
        "sha256_local": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "sha1_local": base64.b64encode(hashlib.sha1(data).digest()).decode(),
        "put_ck": {k: put.get(k) for k in ("ChecksumCRC32", "ChecksumSHA256", "ChecksumSHA1")},
        "get_ck": {k: g.get(k) for k in ("ChecksumCRC32", "ChecksumSHA256", "ChecksumSHA1")},
        "head_ck": {k: h.get(k) for k in ("ChecksumCRC32", "ChecksumSHA256", "ChecksumSHA1")}})
    rng = s3.get_object(Bucket=bucket, Key=key, Range="bytes=-3")["Body"].read() if size else b""
    out["items"][-1]["tail_ok"] = rng == data[-3:]

# Multipart upload is issue 4: keep upload_fileobj in one PutObject.
tc = TransferConfig(multipart_threshold=64 << 20, multipart_chunksize=64 << 20)
data = os.urandom(7 << 20)
s3.upload_fileobj(io.BytesIO(data), bucket, "new/7m-fileobj", Config=tc)
buf = io.BytesIO()
s3.download_fileobj(bucket, "new/7m-fileobj", buf, Config=tc)
out["fileobj"] = {"sha_put": sha(data), "sha_get": sha(buf.getvalue()),
                  "md5": '"' + hashlib.md5(data).hexdigest() + '"',
                  "etag": s3.head_object(Bucket=bucket, Key="new/7m-fileobj")["ETag"]}
keys = []
for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}):
    keys += [(c["Key"], c["Size"]) for c in p.get("Contents", [])]
out["listed"] = keys
out["wire"] = wire
print(json.dumps(out))
'''


def test_issue3_boto3_143_put_get_list(server, bucket):
    p = run_py_new(server, PY_NEW_SCRIPT, timeout=180, extra_env={"BUCKET": bucket})
    assert p.returncode == 0, f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-5000:]}"
    out = json.loads(p.stdout)
    for it in out["items"]:
        assert it["sha_get"] == it["sha_put"] and it["len_get"] == it["size"], it
        assert it["etag_put"] == it["md5"] and it["etag_get"] == it["md5"], it
        if it["size"]:
            assert it["tail_ok"], it
        w = out["wire"][it["key"]]
        if it["alg"] is None:
            # boto3 1.43 over http: a signed payload with an x-amz-checksum-crc32 header.
            assert w.get("x-amz-checksum-crc32") == it["crc_local"], w
            assert it["put_ck"]["ChecksumCRC32"] == it["crc_local"], it
            assert it["get_ck"]["ChecksumCRC32"] == it["crc_local"], it
            assert it["head_ck"]["ChecksumCRC32"] == it["crc_local"], it
        else:
            name = "Checksum" + it["alg"]
            local = it[it["alg"].lower() + "_local"]
            assert it["put_ck"][name] == local and it["get_ck"][name] == local, it
            assert it["head_ck"][name] == local, it
    fo = out["fileobj"]
    assert fo["sha_get"] == fo["sha_put"], fo
    assert fo["etag"] == fo["md5"], "upload_fileobj was not one PutObject"
    want = sorted([(it["key"], it["size"]) for it in out["items"]] + [("new/7m-fileobj", 7 * MiB)])
    assert [tuple(k) for k in out["listed"]] == want


# ------------------------------------------------------------- aws-cli v2 ----

def test_issue3_awscli_v2_cp_ls_rm_range(server, s3, bucket, tmp_path):
    aws = AwsV2(server)
    try:
        data = rand(7 * MiB + 3)
        src = _write(str(tmp_path / "up" / "big.bin"), data)
        _write(str(tmp_path / "up" / "dir" / "a.txt"), b"alpha\n")
        _write(str(tmp_path / "up" / "dir" / "sub" / "b c.txt"), b"bravo charlie\n")

        p = ok(aws.run("s3", "cp", src, f"s3://{bucket}/big.bin"))
        assert "upload: " in p.stdout and f"s3://{bucket}/big.bin" in p.stdout, p.stdout
        h = s3.head_object(Bucket=bucket, Key="big.bin")
        assert h["ContentLength"] == len(data)
        assert h["ETag"] == etag_of(data), "aws s3 cp did not upload in one PutObject"

        p = ok(aws.run("s3", "cp", "--recursive", str(tmp_path / "up" / "dir"),
                       f"s3://{bucket}/dir/"))

        dst = str(tmp_path / "down" / "big.bin")
        ok(aws.run("s3", "cp", f"s3://{bucket}/big.bin", dst))
        assert file_sha(dst) == sha(data)

        p = aws.run("s3", "cp", f"s3://{bucket}/big.bin", "-", text=False)
        assert p.returncode == 0, p.stderr
        assert len(p.stdout) == len(data) and sha(p.stdout) == sha(data)

        p = ok(aws.run("s3", "ls", f"s3://{bucket}/", "--recursive"))
        lines = [ln.split(None, 3) for ln in p.stdout.splitlines() if ln.strip()]
        listed = {parts[3]: int(parts[2]) for parts in lines}
        assert listed == {"big.bin": len(data), "dir/a.txt": 6, "dir/sub/b c.txt": 14}, p.stdout

        p = ok(aws.run("s3", "ls", f"s3://{bucket}/dir/"))
        assert "PRE sub/" in p.stdout and "a.txt" in p.stdout and "b c.txt" not in p.stdout, p.stdout

        p = ok(aws.run("s3", "rm", f"s3://{bucket}/big.bin"))
        assert f"delete: s3://{bucket}/big.bin" in p.stdout
        p = ok(aws.run("s3", "ls", f"s3://{bucket}/", "--recursive"))
        assert "big.bin" not in p.stdout and "dir/a.txt" in p.stdout

        body = rand(5000)
        f = _write(str(tmp_path / "api.bin"), body)
        p = ok(aws.run("s3api", "put-object", "--bucket", bucket, "--key", "api/k", "--body", f,
                       "--content-type", "text/x-tarn", "--metadata", "who=cli",
                       "--output", "json"))
        assert json.loads(p.stdout)["ETag"] == etag_of(body)
        out = str(tmp_path / "api.range")
        p = ok(aws.run("s3api", "get-object", "--bucket", bucket, "--key", "api/k",
                       "--range", "bytes=100-199", out, "--output", "json"))
        meta = json.loads(p.stdout)
        assert meta["ContentRange"] == "bytes 100-199/5000", meta
        assert meta["ContentLength"] == 100 and meta["ContentType"] == "text/x-tarn"
        assert meta["Metadata"] == {"who": "cli"}
        with open(out, "rb") as fh:
            assert fh.read() == body[100:200]

        p = aws.run("s3api", "get-object", "--bucket", bucket, "--key", "api/none", out)
        assert p.returncode != 0 and "NoSuchKey" in p.stderr, p.stderr
        ok(aws.run("s3", "rm", "--recursive", f"s3://{bucket}/"))
        assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    finally:
        aws.close()


# ------------------------------------------------------------------ s3cmd ----

def test_issue3_s3cmd_put_get_ls_del(server, s3, bucket, tmp_path):
    small = rand(200)
    big = rand(3 * MiB + 17)      # below s3cmd's 15 MB multipart chunk
    fs = _write(str(tmp_path / "small.bin"), small)
    fb = _write(str(tmp_path / "big file.bin"), big)
    p = ok(run_s3cmd(server, "put", fs, f"s3://{bucket}/s/small.bin", timeout=120))
    p = ok(run_s3cmd(server, "put", "--disable-multipart", fb, f"s3://{bucket}/s/big file.bin",
                     timeout=120))
    assert s3.head_object(Bucket=bucket, Key="s/big file.bin")["ETag"] == etag_of(big)

    p = ok(run_s3cmd(server, "ls", f"s3://{bucket}/s/"))
    assert f"s3://{bucket}/s/small.bin" in p.stdout and f"s3://{bucket}/s/big file.bin" in p.stdout
    sizes = {ln.split()[-1]: int(ln.split()[2]) for ln in p.stdout.splitlines()
             if "s3://" in ln and "DIR" not in ln and len(ln.split()) >= 4}
    assert sizes.get(f"s3://{bucket}/s/small.bin") == 200, p.stdout

    for key, data in (("s/small.bin", small), ("s/big file.bin", big)):
        out = str(tmp_path / ("got-" + os.path.basename(key)))
        p = ok(run_s3cmd(server, "get", f"s3://{bucket}/{key}", out, timeout=120))
        assert "MD5 signatures do not match" not in p.stderr, p.stderr
        assert file_sha(out) == sha(data)

    ok(run_s3cmd(server, "del", f"s3://{bucket}/s/small.bin"))
    p = ok(run_s3cmd(server, "ls", f"s3://{bucket}/s/"))
    assert "small.bin" not in p.stdout and "big file.bin" in p.stdout
    ok(run_s3cmd(server, "del", f"s3://{bucket}/s/big file.bin"))
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# ----------------------------------------------------------------- rclone ----

def test_issue3_rclone_copy_and_check(server, s3, bucket, tmp_path):
    exe = shutil.which("rclone")
    if not exe:
        pytest.skip("rclone is not installed (tests/deps.sh test installs it)")
    src = tmp_path / "src"
    files = {}
    for i in range(20):
        rel = f"d{i % 3}/sub{i % 2}/file {i}.bin" if i % 4 else f"top-{i}.dat"
        size = [0, 1, 4096, 70000, 300000][i % 5] + i
        files[rel] = rand(size)
        _write(str(src / rel), files[rel])
    cfg = tmp_path / "rclone.conf"
    cfg.write_text("")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "RCLONE_"))}   # e.g. AWS_CA_BUNDLE confuses rclone
    env.update({"RCLONE_CONFIG": str(cfg),
                "RCLONE_CONFIG_TARN_TYPE": "s3",
                "RCLONE_CONFIG_TARN_PROVIDER": "Other",
                "RCLONE_CONFIG_TARN_ENDPOINT": server.endpoint,
                "RCLONE_CONFIG_TARN_ACCESS_KEY_ID": server.access_key,
                "RCLONE_CONFIG_TARN_SECRET_ACCESS_KEY": server.secret_key,
                "RCLONE_CONFIG_TARN_REGION": "us-east-1",
                "RCLONE_CONFIG_TARN_FORCE_PATH_STYLE": "true"})
    common = ["--s3-upload-cutoff", "64M", "--retries", "1", "--low-level-retries", "1",
              "--contimeout", "10s", "--timeout", "60s"]

    def rc(*args):
        return subprocess.run([exe, *args, *common], env=env, capture_output=True, text=True,
                              timeout=180, stdin=subprocess.DEVNULL)

    ok(rc("copy", str(src), f"tarn:{bucket}/tree"))
    listed = {c["Key"]: c["Size"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket) for c in p.get("Contents", [])}
    assert listed == {f"tree/{k}": len(v) for k, v in files.items()}
    for k, v in files.items():
        assert s3.head_object(Bucket=bucket, Key=f"tree/{k}")["ETag"] == etag_of(v)

    p = ok(rc("check", str(src), f"tarn:{bucket}/tree"))
    assert "0 differences found" in p.stderr, p.stderr
    assert "20 matching files" in p.stderr, p.stderr

    back = tmp_path / "back"
    ok(rc("copy", f"tarn:{bucket}/tree", str(back)))
    for k, v in files.items():
        with open(back / k, "rb") as f:
            assert f.read() == v, k

    # check notices a difference made behind its back.
    s3.put_object(Bucket=bucket, Key="tree/top-0.dat", Body=b"changed")
    p = rc("check", str(src), f"tarn:{bucket}/tree")
    assert p.returncode != 0 and "1 differences found" in p.stderr, p.stderr


# ------------------------------------------------------ @aws-sdk/client-s3 ----

def _npm_ready():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm are not installed: cannot run @aws-sdk/client-s3")
    want = json.load(open(os.path.join(JS_DIR, "package-lock.json")))["packages"][
        "node_modules/@aws-sdk/client-s3"]["version"]
    have_path = os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-s3", "package.json")
    have = json.load(open(have_path))["version"] if os.path.exists(have_path) else None
    if have != want:
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR,
                           capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"npm ci failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return node, want


def test_issue3_aws_sdk_js_v3_put_get(server, bucket, tmp_path):
    node, version = _npm_ready()
    small = rand(100 * 1024 + 5)
    large = rand(3 * MiB + 1)       # many aws-chunked chunks
    ck = rand(200 * 1024 + 3)       # pure-Python CRC32C/CRC64NVME: keep it modest
    fs = _write(str(tmp_path / "small"), small)
    fl = _write(str(tmp_path / "large"), large)
    fc = _write(str(tmp_path / "ck"), ck)
    items = [
        {"key": "js/buffer-default", "mode": "buffer", "file": fs, "data": small},
        {"key": "js/stream-default", "mode": "stream", "file": fl, "data": large},
        {"key": "js/buffer-crc32c", "mode": "buffer", "file": fc, "alg": "CRC32C", "data": ck},
        {"key": "js/stream-crc32c", "mode": "stream", "file": fc, "alg": "CRC32C", "data": ck},
        {"key": "js/buffer-crc64nvme", "mode": "buffer", "file": fc, "alg": "CRC64NVME", "data": ck},
        {"key": "js/stream-crc64nvme", "mode": "stream", "file": fc, "alg": "CRC64NVME", "data": ck},
        {"key": "js/stream-empty", "mode": "stream", "file": _write(str(tmp_path / "e"), b""),
         "data": b""},
    ]
    plan = {"bucket": bucket, "sdk": version,
            "items": [{k: v for k, v in it.items() if k != "data"} for it in items]}
    pf = tmp_path / "plan.json"
    pf.write_text(json.dumps(plan))
    env = dict(os.environ)
    env.update({"TARN_ENDPOINT": server.endpoint, "TARN_ACCESS_KEY": server.access_key,
                "TARN_SECRET_KEY": server.secret_key, "TARN_REGION": server.region,
                "AWS_EC2_METADATA_DISABLED": "true"})
    for v in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        env.pop(v, None)
    p = subprocess.run([node, os.path.join(JS_DIR, "put_get.mjs"), str(pf)], cwd=JS_DIR,
                       env=env, capture_output=True, text=True, timeout=180,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"
    out = json.loads(p.stdout.strip().splitlines()[-1])
    failures = []
    by_key = {r["key"]: r for r in out["items"]}
    for it in items:
        r = by_key[it["key"]]
        data = it["data"]
        if r.get("error"):
            failures.append(f"{it['key']}: {r['error']} wire={out['wire'].get(it['key'])}")
            continue
        if r["get_sha256"] != sha(data) or r["get_len"] != len(data):
            failures.append(f"{it['key']}: GET returned other bytes")
        if r["put_etag"] != etag_of(data) or r["get_etag"] != etag_of(data):
            failures.append(f"{it['key']}: ETag {r['put_etag']}/{r['get_etag']} != {etag_of(data)}")
        if r["head_len"] != len(data):
            failures.append(f"{it['key']}: HEAD length {r['head_len']}")
        if len(data) > 10 and (r["range_hex"] != data[1:11].hex() or
                               r["range_content_range"] != f"bytes 1-10/{len(data)}"):
            failures.append(f"{it['key']}: range {r['range_content_range']}")
        alg = (it.get("alg") or "CRC32").lower()
        want = checksum_value(alg, data)
        if r["get_checksums"].get(alg) != want:
            failures.append(f"{it['key']}: GET {alg} {r['get_checksums']} != {want}")
        w = out["wire"].get(it["key"], {})
        if it["mode"] == "stream" and data:
            # The SDK streams aws-chunked with the checksum as a trailer.
            if w.get("content-encoding") != "aws-chunked" or \
                    w.get("x-amz-trailer") != f"x-amz-checksum-{alg}":
                failures.append(f"{it['key']}: not sent as aws-chunked with a trailer: {w}")
    assert not failures, "\n".join(failures) + f"\nsdk {version}, wire {out['wire']}"
    listed = {k: (s, e) for k, s, e in out["listed"]}
    for it in items:
        assert listed.get(it["key"]) == (len(it["data"]), etag_of(it["data"])), it["key"]
