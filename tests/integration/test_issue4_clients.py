"""Issue 4 part 6: the client matrix. Each real client runs its normal
high-level operations against a started server, with the client's own
defaults (so it goes multipart, ranged, batched or presigned on its own), and
every transfer is checked by bytes and hashes, not by exit codes:

  aws-cli v2 (/usr/bin/aws)   s3 cp of 200 MiB both ways, s3 sync of 500 files
                              and back, s3 rm --recursive, s3 presign + curl,
                              s3api multipart / copy / delete-objects / head /
                              ranged get
  boto3 1.26 and 1.43         upload_file / download_file of 64 MiB with 8 MiB
                              parts, 4 threads (multipart up, ranged GETs
                              down); list_objects(_v2) paginators over 1,100 keys
  @aws-sdk/client-s3 +        lib-storage Upload of a 100 MiB stream, GetObject
  lib-storage + presigner     stream, getSignedUrl GET/PUT fetched by node
  minio (npm)                 fPutObject (single and multipart), fGetObject,
                              getPartialObject, listObjectsV2, removeObject(s)
  s3cmd                       put (multipart, 5 MiB chunks), get, sync up and
                              back, del --recursive
  rclone                      copy, sync (deletes remotely), check; default
                              settings, and forced multipart with 5M chunks

The JS clients live in tests/integration/js (package.json + package-lock.json;
`npm ci` runs when node_modules does not match the lock file)."""

import concurrent.futures
import hashlib
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import boto3_client, run_aws, run_py_new, run_s3cmd, unique_bucket

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "js")
MiB = 1024 * 1024
JS_PACKAGES = ("@aws-sdk/client-s3", "@aws-sdk/lib-storage", "@aws-sdk/s3-request-presigner",
               "minio")


# ---------------------------------------------------------------- helpers ----

@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server)


@pytest.fixture
def bucket(s3):
    name = unique_bucket("mx")
    s3.create_bucket(Bucket=name)
    return name


def ok(p):
    assert p.returncode == 0, (f"exit {p.returncode}\nargs: {p.args}\n"
                               f"stdout: {str(p.stdout)[-3000:]}\nstderr: {str(p.stderr)[-3000:]}")
    return p


def sha(data):
    return hashlib.sha256(data).hexdigest()


def etag_of(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def mp_etag_parts(parts):
    """S3's multipart ETag from the part bodies: MD5 of the binary MD5s, -N."""
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(digests).hexdigest(), len(parts))


class GenFile:
    """A random file written in 1 MiB chunks, with its SHA-256, its single-part
    ETag and the multipart ETags for the given part sizes."""

    def __init__(self, path, size, part_sizes=()):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.path = str(path)
        self.size = size
        whole_sha = hashlib.sha256()
        whole_md5 = hashlib.md5()
        parts = {ps: [[], hashlib.md5(), 0] for ps in part_sizes}
        with open(self.path, "wb") as f:
            left = size
            while left:
                chunk = os.urandom(min(MiB, left))
                left -= len(chunk)
                f.write(chunk)
                whole_sha.update(chunk)
                whole_md5.update(chunk)
                for ps, st in parts.items():
                    view = memoryview(chunk)
                    while len(view):
                        take = min(len(view), ps - st[2])
                        st[1].update(view[:take])
                        st[2] += take
                        view = view[take:]
                        if st[2] == ps:
                            st[0].append(st[1].digest())
                            st[1], st[2] = hashlib.md5(), 0
        self.sha256 = whole_sha.hexdigest()
        self.etag = '"' + whole_md5.hexdigest() + '"'
        self.mp = {}
        for ps, (digests, cur, n) in parts.items():
            if n:
                digests.append(cur.digest())
            self.mp[ps] = '"%s-%d"' % (hashlib.md5(b"".join(digests)).hexdigest(), len(digests))

    def read(self, offset, length):
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def make_tree(root, n, min_size, max_size):
    """n random files in nested directories under root: {relpath: bytes}."""
    files = {}
    for i in range(n):
        depth = i % 4
        parts = [f"d{(i * 7) % 5}", f"s{(i * 3) % 4}", f"t{i % 3}"][:depth]
        name = f"f{i:04d}" + (".txt" if i % 2 else ".bin")
        if i % 50 == 7:
            name = f"with space {i}.dat"
        rel = "/".join(parts + [name])
        size = min_size + int.from_bytes(os.urandom(2), "big") % (max_size - min_size + 1)
        data = os.urandom(size)
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        files[rel] = data
    return files


def read_tree(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root).replace(os.sep, "/")
            with open(p, "rb") as f:
                out[rel] = f.read()
    return out


def assert_same_tree(got, want):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    differ = sorted(k for k in set(want) & set(got) if sha(got[k]) != sha(want[k]))
    assert not missing and not extra and not differ, (
        f"missing {missing[:10]} ({len(missing)}), extra {extra[:10]} ({len(extra)}), "
        f"different {differ[:10]} ({len(differ)})")


def listing(s3, bucket, prefix=""):
    """{key: (size, etag)} through the boto3 1.26 paginator."""
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for c in page.get("Contents", []):
            out[c["Key"]] = (c["Size"], c["ETag"])
    return out


def aws_json(p):
    ok(p)
    return json.loads(p.stdout) if p.stdout.strip() else {}


# ------------------------------------------------------------- aws-cli v2 ----

def test_issue4_awscli_cp_200mib_multipart_both_ways(server, s3, bucket, tmp_path):
    """`aws s3 cp` with its defaults (8 MiB threshold and parts, 10 threads):
    25 UploadParts up, 25 ranged GETs down."""
    src = GenFile(tmp_path / "up" / "big.bin", 200 * MiB, part_sizes=(8 * MiB,))
    t0 = time.monotonic()
    p = ok(run_aws(server, "s3", "cp", src.path, f"s3://{bucket}/big/200m.bin", timeout=240))
    up_s = time.monotonic() - t0
    assert "upload: " in p.stdout and f"s3://{bucket}/big/200m.bin" in p.stdout, p.stdout
    h = s3.head_object(Bucket=bucket, Key="big/200m.bin")
    assert h["ContentLength"] == src.size
    assert h["ETag"] == src.mp[8 * MiB], (
        f"ETag {h['ETag']}: not the 25-part multipart ETag {src.mp[8 * MiB]}")
    hp = s3.head_object(Bucket=bucket, Key="big/200m.bin", PartNumber=25)
    assert hp["PartsCount"] == 25 and hp["ContentLength"] == 8 * MiB, hp

    dst = tmp_path / "down" / "big.bin"
    t0 = time.monotonic()
    p = run_aws(server, "--debug", "s3", "cp", f"s3://{bucket}/big/200m.bin", str(dst),
                timeout=240)
    down_s = time.monotonic() - t0
    ok(p)
    assert os.path.getsize(dst) == src.size
    assert file_sha(dst) == src.sha256, "downloaded bytes differ"
    # aws-cli downloads a large object as ranged GETs of one part size each.
    ranges = set()
    for line in p.stderr.splitlines():
        i = line.find("'Range': 'bytes=")
        if i >= 0:
            ranges.add(line[i + 16:].split("'", 1)[0])
    assert len(ranges) == 25, f"expected 25 ranged GETs, saw {sorted(ranges)[:30]}"
    assert f"0-{8 * MiB - 1}" in ranges
    print(f"aws s3 cp 200 MiB: up {up_s:.1f} s, down {down_s:.1f} s")


def test_issue4_awscli_sync_500_files_and_rm_recursive(server, s3, bucket, tmp_path):
    src = tmp_path / "src"
    files = make_tree(str(src), 500, 1024, 6 * 1024)
    # aws s3 sync compares sizes and times, and LastModified has whole seconds:
    # date the files a little back so an upload in the same second counts as newer.
    past = time.time() - 5
    for rel in files:
        os.utime(src / rel, (past, past))
    ok(run_aws(server, "s3", "sync", str(src), f"s3://{bucket}/tree", timeout=240))
    got = listing(s3, bucket, "tree/")
    want = {f"tree/{k}": (len(v), etag_of(v)) for k, v in files.items()}
    assert got == want, (f"missing {sorted(set(want) - set(got))[:10]}, "
                         f"extra {sorted(set(got) - set(want))[:10]}")

    # A second sync finds nothing to do (sizes and times match).
    p = ok(run_aws(server, "s3", "sync", str(src), f"s3://{bucket}/tree", timeout=120))
    assert "upload:" not in p.stdout, p.stdout[:2000]

    back = tmp_path / "back"
    back.mkdir()
    ok(run_aws(server, "s3", "sync", f"s3://{bucket}/tree", str(back), timeout=240))
    assert_same_tree(read_tree(str(back)), files)

    # Change one file, delete another: sync --delete uploads one, deletes one.
    changed = sorted(files)[3]
    gone = sorted(files)[10]
    files[changed] = os.urandom(len(files[changed]) + 100)
    with open(src / changed, "wb") as f:
        f.write(files[changed])
    os.remove(src / gone)
    del files[gone]
    p = ok(run_aws(server, "s3", "sync", "--delete", str(src), f"s3://{bucket}/tree",
                   timeout=120))
    assert p.stdout.count("upload:") == 1 and p.stdout.count("delete:") == 1, p.stdout
    got = listing(s3, bucket, "tree/")
    assert got == {f"tree/{k}": (len(v), etag_of(v)) for k, v in files.items()}

    s3.put_object(Bucket=bucket, Key="keep/me", Body=b"stay")
    p = ok(run_aws(server, "s3", "rm", "--recursive", f"s3://{bucket}/tree", timeout=240))
    assert p.stdout.count("delete: ") == 499, p.stdout[-2000:]
    assert listing(s3, bucket) == {"keep/me": (4, etag_of(b"stay"))}


def test_issue4_awscli_presign_with_curl(server, s3, bucket, tmp_path):
    curl = shutil.which("curl")
    if not curl:
        pytest.skip("curl is not installed")
    data = os.urandom(3 * MiB + 11)
    key = "pre signed/ä+b=c&d.bin"
    s3.put_object(Bucket=bucket, Key=key, Body=data)
    p = ok(run_aws(server, "s3", "presign", f"s3://{bucket}/{key}", "--expires-in", "600"))
    url = p.stdout.strip()
    assert url.startswith(server.endpoint + "/") and "X-Amz-Signature=" in url, url
    out = tmp_path / "got.bin"
    c = subprocess.run([curl, "-sS", "-o", str(out), "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=60)
    assert c.returncode == 0 and c.stdout == "200", (c.stdout, c.stderr, out.read_bytes()[:500])
    assert file_sha(out) == sha(data)

    # A ranged GET through the same URL.
    c = subprocess.run([curl, "-sS", "-r", "100-199", "-o", str(out), "-w", "%{http_code}", url],
                       capture_output=True, text=True, timeout=60)
    assert c.stdout == "206" and out.read_bytes() == data[100:200], c

    # An expired URL: 403 AccessDenied "Request has expired".
    p = ok(run_aws(server, "s3", "presign", f"s3://{bucket}/{key}", "--expires-in", "1"))
    time.sleep(2.2)
    c = subprocess.run([curl, "-sS", "-o", str(out), "-w", "%{http_code}", p.stdout.strip()],
                       capture_output=True, text=True, timeout=60)
    body = out.read_bytes()
    assert c.stdout == "403" and b"AccessDenied" in body and b"Request has expired" in body, (
        c.stdout, body[:500])

    # A tampered signature is refused.
    bad = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    c = subprocess.run([curl, "-sS", "-o", str(out), "-w", "%{http_code}", bad],
                       capture_output=True, text=True, timeout=60)
    assert c.stdout == "403" and b"SignatureDoesNotMatch" in out.read_bytes(), c.stdout


def test_issue4_awscli_s3api_operations(server, s3, bucket, tmp_path):
    def api(*args, timeout=120):
        return run_aws(server, "s3api", *args, "--output", "json", timeout=timeout)

    parts = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(MiB + 333)]
    whole = b"".join(parts)
    key = "api/multi part.bin"
    up = aws_json(api("create-multipart-upload", "--bucket", bucket, "--key", key,
                      "--content-type", "application/x-tarn", "--metadata", "who=s3api"))
    uid = up["UploadId"]
    assert up["Bucket"] == bucket and up["Key"] == key and uid

    lst = aws_json(api("list-multipart-uploads", "--bucket", bucket, "--prefix", "api/"))
    assert [(u["Key"], u["UploadId"]) for u in lst.get("Uploads", [])] == [(key, uid)], lst

    done = []
    for i, body in enumerate(parts, 1):
        f = tmp_path / f"part{i}"
        f.write_bytes(body)
        r = aws_json(api("upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
                         "--part-number", str(i), "--body", str(f)))
        assert r["ETag"] == etag_of(body), r
        done.append({"PartNumber": i, "ETag": r["ETag"]})

    lp = aws_json(api("list-parts", "--bucket", bucket, "--key", key, "--upload-id", uid))
    assert [(x["PartNumber"], x["Size"], x["ETag"]) for x in lp["Parts"]] == [
        (i, len(b), etag_of(b)) for i, b in enumerate(parts, 1)], lp
    # The CLI paginates list-parts itself; one part a page must give the same.
    lp1 = aws_json(api("list-parts", "--bucket", bucket, "--key", key, "--upload-id", uid,
                       "--page-size", "1"))
    assert [x["PartNumber"] for x in lp1["Parts"]] == [1, 2, 3], lp1

    mpu = tmp_path / "mpu.json"
    mpu.write_text(json.dumps({"Parts": done}))
    r = aws_json(api("complete-multipart-upload", "--bucket", bucket, "--key", key,
                     "--upload-id", uid, "--multipart-upload", f"file://{mpu}"))
    assert r["ETag"] == mp_etag_parts(parts) and r["Key"] == key, r
    lst = aws_json(api("list-multipart-uploads", "--bucket", bucket, "--prefix", "api/"))
    assert not lst.get("Uploads"), lst

    h = aws_json(api("head-object", "--bucket", bucket, "--key", key))
    assert h["ContentLength"] == len(whole) and h["ETag"] == mp_etag_parts(parts), h
    assert h["ContentType"] == "application/x-tarn" and h["Metadata"] == {"who": "s3api"}, h
    h2 = aws_json(api("head-object", "--bucket", bucket, "--key", key, "--part-number", "2"))
    assert h2["ContentLength"] == 5 * MiB and h2["PartsCount"] == 3, h2

    out = tmp_path / "whole"
    g = aws_json(api("get-object", "--bucket", bucket, "--key", key, str(out)))
    assert g["ContentLength"] == len(whole) and sha(out.read_bytes()) == sha(whole)
    # A range across the part 1 / part 2 boundary.
    first, last = 5 * MiB - 100, 5 * MiB + 99
    g = aws_json(api("get-object", "--bucket", bucket, "--key", key, "--range",
                     f"bytes={first}-{last}", str(out)))
    assert g["ContentRange"] == f"bytes {first}-{last}/{len(whole)}", g
    assert out.read_bytes() == whole[first:last + 1]
    g = aws_json(api("get-object", "--bucket", bucket, "--key", key, "--part-number", "3",
                     str(out)))
    assert out.read_bytes() == parts[2] and g["PartsCount"] == 3, g

    # Abort: the upload and its parts are gone.
    up2 = aws_json(api("create-multipart-upload", "--bucket", bucket, "--key", "api/aborted"))
    f = tmp_path / "part1"
    ok(api("upload-part", "--bucket", bucket, "--key", "api/aborted", "--upload-id",
           up2["UploadId"], "--part-number", "1", "--body", str(f)))
    ok(api("abort-multipart-upload", "--bucket", bucket, "--key", "api/aborted",
           "--upload-id", up2["UploadId"]))
    p = api("list-parts", "--bucket", bucket, "--key", "api/aborted", "--upload-id",
            up2["UploadId"])
    assert p.returncode != 0 and "NoSuchUpload" in p.stderr, p.stderr
    lst = aws_json(api("list-multipart-uploads", "--bucket", bucket))
    assert not lst.get("Uploads"), lst
    p = api("head-object", "--bucket", bucket, "--key", "api/aborted")
    assert p.returncode != 0 and "404" in p.stderr, p.stderr

    # copy-object: within the bucket (key needing URL-encoding), metadata
    # REPLACE, and across buckets.
    small = os.urandom(70001)
    src_key = "api/src dir/ä+b&c.bin"
    s3.put_object(Bucket=bucket, Key=src_key, Body=small, Metadata={"orig": "yes"},
                  ContentType="text/x-orig")
    r = aws_json(api("copy-object", "--bucket", bucket, "--key", "api/copy1",
                     "--copy-source", f"{bucket}/{src_key}"))
    assert r["CopyObjectResult"]["ETag"] == etag_of(small), r
    h = aws_json(api("head-object", "--bucket", bucket, "--key", "api/copy1"))
    assert h["Metadata"] == {"orig": "yes"} and h["ContentType"] == "text/x-orig", h
    r = aws_json(api("copy-object", "--bucket", bucket, "--key", "api/copy2",
                     "--copy-source", f"{bucket}/{src_key}", "--metadata-directive", "REPLACE",
                     "--metadata", "new=1", "--content-type", "text/x-new"))
    h = aws_json(api("head-object", "--bucket", bucket, "--key", "api/copy2"))
    assert h["Metadata"] == {"new": "1"} and h["ContentType"] == "text/x-new", h
    other = unique_bucket("mx2")
    ok(api("create-bucket", "--bucket", other))
    r = aws_json(api("copy-object", "--bucket", other, "--key", "from/multi",
                     "--copy-source", f"{bucket}/{key}"))
    g = aws_json(api("get-object", "--bucket", other, "--key", "from/multi", str(out)))
    assert sha(out.read_bytes()) == sha(whole) and g["ContentLength"] == len(whole)
    for k in ("api/copy1", "api/copy2"):
        aws_json(api("get-object", "--bucket", bucket, "--key", k, str(out)))
        assert out.read_bytes() == small, k

    # delete-objects: present and absent keys, verbose then quiet.
    dl = {"Objects": [{"Key": "api/copy1"}, {"Key": "api/copy2"}, {"Key": "api/never"}],
          "Quiet": False}
    r = aws_json(api("delete-objects", "--bucket", bucket, "--delete", json.dumps(dl)))
    assert sorted(d["Key"] for d in r.get("Deleted", [])) == [
        "api/copy1", "api/copy2", "api/never"], r
    assert not r.get("Errors"), r
    dl = {"Objects": [{"Key": src_key}, {"Key": key}], "Quiet": True}
    r = aws_json(api("delete-objects", "--bucket", bucket, "--delete", json.dumps(dl)))
    assert not r.get("Deleted") and not r.get("Errors"), r
    assert listing(s3, bucket) == {}
    assert {k: v[0] for k, v in listing(s3, other).items()} == {"from/multi": len(whole)}
    p = api("head-object", "--bucket", bucket, "--key", key)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr


def test_issue4_awscli_s3api_upload_part_copy(server, s3, bucket, tmp_path):
    """upload-part-copy with and without --copy-source-range, from another
    bucket and a key that needs URL-encoding."""
    def api(*args):
        return run_aws(server, "s3api", *args, "--output", "json", timeout=120)

    other = unique_bucket("mxc")
    s3.create_bucket(Bucket=other)
    src = os.urandom(7 * MiB + 5)
    src_key = "copy src/ü+x.bin"
    s3.put_object(Bucket=other, Key=src_key, Body=src)
    tail = os.urandom(1000)
    key = "upc/assembled.bin"
    uid = aws_json(api("create-multipart-upload", "--bucket", bucket, "--key", key))["UploadId"]
    r1 = aws_json(api("upload-part-copy", "--bucket", bucket, "--key", key, "--upload-id", uid,
                      "--part-number", "1", "--copy-source", f"{other}/{src_key}",
                      "--copy-source-range", f"bytes=0-{5 * MiB - 1}"))
    assert r1["CopyPartResult"]["ETag"] == etag_of(src[:5 * MiB]), r1
    r2 = aws_json(api("upload-part-copy", "--bucket", bucket, "--key", key, "--upload-id", uid,
                      "--part-number", "2", "--copy-source", f"{other}/{src_key}"))
    assert r2["CopyPartResult"]["ETag"] == etag_of(src), r2
    f = tmp_path / "tail"
    f.write_bytes(tail)
    r3 = aws_json(api("upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
                      "--part-number", "3", "--body", str(f)))
    done = [{"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
            {"PartNumber": 3, "ETag": r3["ETag"]}]
    mpu = tmp_path / "mpu.json"
    mpu.write_text(json.dumps({"Parts": done}))
    r = aws_json(api("complete-multipart-upload", "--bucket", bucket, "--key", key,
                     "--upload-id", uid, "--multipart-upload", f"file://{mpu}"))
    want = src[:5 * MiB] + src + tail
    assert r["ETag"] == mp_etag_parts([src[:5 * MiB], src, tail]), r
    out = tmp_path / "out"
    aws_json(api("get-object", "--bucket", bucket, "--key", key, str(out)))
    assert sha(out.read_bytes()) == sha(want) and out.stat().st_size == len(want)


# ------------------------------------------------------------------ boto3 ----

N_LIST = 1100


def _list_key(i):
    return f"p{i % 3}/obj-{i:05d}"


@pytest.fixture(scope="module")
def bucket_1100(s3):
    """A bucket of 1,100 small objects under three prefixes."""
    name = unique_bucket("mxl")
    s3.create_bucket(Bucket=name)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: s3.put_object(Bucket=name, Key=_list_key(i), Body=b"%d" % i),
                    range(N_LIST)))
    return name


def _expected_listing():
    return sorted(_list_key(i) for i in range(N_LIST))


def test_issue4_boto3_126_transfer_64mib(server, bucket, tmp_path):
    import boto3
    from boto3.s3.transfer import TransferConfig
    assert boto3.__version__.startswith("1.26"), boto3.__version__
    s3 = boto3_client(server, max_pool_connections=10)
    src = GenFile(tmp_path / "src.bin", 64 * MiB, part_sizes=(8 * MiB,))
    parts_sent, ranges = [], []
    s3.meta.events.register("provide-client-params.s3.UploadPart",
                            lambda params, **kw: parts_sent.append(params["PartNumber"]))
    s3.meta.events.register("provide-client-params.s3.GetObject",
                            lambda params, **kw: ranges.append(params.get("Range")))
    tc = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB,
                        max_concurrency=4)
    s3.upload_file(src.path, bucket, "t/64m.bin", Config=tc)
    assert sorted(parts_sent) == list(range(1, 9)), parts_sent
    h = s3.head_object(Bucket=bucket, Key="t/64m.bin")
    assert h["ContentLength"] == src.size and h["ETag"] == src.mp[8 * MiB], h
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "t/64m.bin", str(dst), Config=tc)
    assert file_sha(dst) == src.sha256
    # s3transfer asks for the last part open-ended.
    want = {f"bytes={i * 8 * MiB}-{(i + 1) * 8 * MiB - 1}" for i in range(7)} | {
        f"bytes={56 * MiB}-"}
    assert set(ranges) == want and len(ranges) == 8, ranges
    g = s3.get_object(Bucket=bucket, Key="t/64m.bin", PartNumber=5)
    assert g["PartsCount"] == 8 and g["Body"].read() == src.read(32 * MiB, 8 * MiB)


def test_issue4_boto3_126_paginators(s3, bucket_1100):
    want = _expected_listing()
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_1100))
    assert [p["KeyCount"] for p in pages] == [1000, 100], [p["KeyCount"] for p in pages]
    assert [c["Key"] for p in pages for c in p["Contents"]] == want
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket_1100, PaginationConfig={"PageSize": 150}))
    assert len(pages) == 8 and [c["Key"] for p in pages for c in p["Contents"]] == want
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket_1100, Prefix="p1/", PaginationConfig={"PageSize": 100}))
    assert [c["Key"] for p in pages for c in p["Contents"]] == [k for k in want
                                                                   if k.startswith("p1/")]
    assert len(pages) == 4
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket_1100,
                                                             Delimiter="/"))
    assert [cp["Prefix"] for p in pages for cp in p.get("CommonPrefixes", [])] == [
        "p0/", "p1/", "p2/"]
    pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket_1100, PaginationConfig={"PageSize": 400}))
    assert len(pages) == 3 and [c["Key"] for p in pages for c in p["Contents"]] == want


PY_NEW_SCRIPT = r'''
import hashlib, json, os
import boto3
from botocore.config import Config
from boto3.s3.transfer import TransferConfig

s3 = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                  aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                  region_name=os.environ["TARN_REGION"],
                  config=Config(s3={"addressing_style": "path"}, read_timeout=60,
                                max_pool_connections=10, retries={"total_max_attempts": 1}))
bucket, src, dst = os.environ["BUCKET"], os.environ["SRC"], os.environ["DST"]
parts, ranges, crc = [], [], []
def on_part(params, **kw):
    parts.append(params["PartNumber"])
s3.meta.events.register("provide-client-params.s3.UploadPart", on_part)
s3.meta.events.register("provide-client-params.s3.GetObject",
                        lambda params, **kw: ranges.append(params.get("Range")))
def on_send(request, **kw):
    v = request.headers.get("x-amz-checksum-crc32")
    if v: crc.append(v.decode() if isinstance(v, bytes) else v)
s3.meta.events.register("before-send.s3.UploadPart", on_send)
tc = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
out = {"boto3": boto3.__version__}
s3.upload_file(src, bucket, "t/64m-new.bin", Config=tc)
h = s3.head_object(Bucket=bucket, Key="t/64m-new.bin", ChecksumMode="ENABLED")
out["head"] = {"len": h["ContentLength"], "etag": h["ETag"],
               "crc32": h.get("ChecksumCRC32"), "type": h.get("ChecksumType")}
s3.download_file(bucket, "t/64m-new.bin", dst, Config=tc)
d = hashlib.sha256()
with open(dst, "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        d.update(b)
out["sha_get"] = d.hexdigest()
out["parts"], out["ranges"], out["part_crc32_sent"] = parts, ranges, len(crc)
keys, sizes = [], []
for p in s3.get_paginator("list_objects_v2").paginate(Bucket=os.environ["LIST_BUCKET"]):
    sizes.append(p["KeyCount"])
    keys += [c["Key"] for c in p.get("Contents", [])]
out["list"] = {"keys": keys, "pages": sizes}
keys = []
for p in s3.get_paginator("list_objects_v2").paginate(Bucket=os.environ["LIST_BUCKET"],
                                                      PaginationConfig={"PageSize": 250}):
    keys += [c["Key"] for c in p.get("Contents", [])]
out["list250"] = keys
print(json.dumps(out))
'''


def test_issue4_boto3_143_transfer_64mib_and_paginator(server, s3, bucket, bucket_1100,
                                                       tmp_path):
    src = GenFile(tmp_path / "src.bin", 64 * MiB, part_sizes=(8 * MiB,))
    dst = tmp_path / "dst.bin"
    p = run_py_new(server, PY_NEW_SCRIPT, timeout=240,
                   extra_env={"BUCKET": bucket, "SRC": src.path, "DST": str(dst),
                              "LIST_BUCKET": bucket_1100})
    assert p.returncode == 0, f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-5000:]}"
    out = json.loads(p.stdout)
    assert out["boto3"].startswith("1.43"), out["boto3"]
    assert sorted(out["parts"]) == list(range(1, 9)), out["parts"]
    assert out["head"]["len"] == src.size and out["head"]["etag"] == src.mp[8 * MiB], out["head"]
    assert out["sha_get"] == src.sha256 and file_sha(dst) == src.sha256
    # s3transfer asks for the last part open-ended.
    want = {f"bytes={i * 8 * MiB}-{(i + 1) * 8 * MiB - 1}" for i in range(7)} | {
        f"bytes={56 * MiB}-"}
    assert set(out["ranges"]) == want and len(out["ranges"]) == 8, out["ranges"]
    assert out["list"]["keys"] == _expected_listing() and out["list"]["pages"] == [1000, 100]
    assert out["list250"] == _expected_listing()
    # The bytes through boto3 1.26 as well.
    assert s3.get_object(Bucket=bucket, Key="t/64m-new.bin", Range="bytes=-5")[
        "Body"].read() == src.read(src.size - 5, 5)


# ------------------------------------------------------------- JS clients ----

def _npm_ready():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm are not installed: cannot run the JS clients")
    lock = json.load(open(os.path.join(JS_DIR, "package-lock.json")))["packages"]
    stale = False
    for pkg in JS_PACKAGES:
        want = lock[f"node_modules/{pkg}"]["version"]
        have_path = os.path.join(JS_DIR, "node_modules", *pkg.split("/"), "package.json")
        have = json.load(open(have_path))["version"] if os.path.exists(have_path) else None
        stale = stale or have != want
    if stale:
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR,
                           capture_output=True, text=True, timeout=300,
                           stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"npm ci failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return node, {pkg: lock[f"node_modules/{pkg}"]["version"] for pkg in JS_PACKAGES}


def _run_node(server, script, plan, tmp_path, timeout=240):
    node, versions = _npm_ready()
    pf = tmp_path / "plan.json"
    pf.write_text(json.dumps(plan))
    env = dict(os.environ)
    env.update({"TARN_ENDPOINT": server.endpoint, "TARN_ACCESS_KEY": server.access_key,
                "TARN_SECRET_KEY": server.secret_key, "TARN_REGION": server.region,
                "AWS_EC2_METADATA_DISABLED": "true"})
    for v in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
              "AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION",
              "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        env.pop(v, None)
    p = subprocess.run([node, os.path.join(JS_DIR, script), str(pf)], cwd=JS_DIR, env=env,
                       capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1]), versions


def test_issue4_aws_sdk_js_lib_storage_upload_100mib_and_presigner(server, s3, bucket,
                                                                  tmp_path):
    src = GenFile(tmp_path / "src.bin", 100 * MiB, part_sizes=(5 * MiB,))
    small = os.urandom(123457)
    (tmp_path / "small.bin").write_bytes(small)
    key = "js/lib storage/100m.bin"
    plan = {"bucket": bucket, "key": key, "file": src.path, "small_file": str(tmp_path / "small.bin"),
            "put_key": "js/presigned-put.bin"}
    out, versions = _run_node(server, "lib_storage.mjs", plan, tmp_path)
    errors = {k: v["error"] for k, v in out.items() if isinstance(v, dict) and "error" in v}
    info = f"\nversions {versions}\nresult {json.dumps(out)[:3000]}"
    assert not errors, f"{errors}{info}"
    up = out["upload"]
    assert up["etag"] == src.mp[5 * MiB], f"Upload ETag {up['etag']} != {src.mp[5 * MiB]}{info}"
    calls = out["calls"]
    assert calls.get("CreateMultipartUploadCommand") == 1 and \
        calls.get("UploadPartCommand") == 20 and \
        calls.get("CompleteMultipartUploadCommand") == 1, f"calls {calls}{info}"
    g = out["get"]
    assert g["len"] == src.size and g["sha256"] == src.sha256, f"GetObject stream differs{info}"
    assert g["etag"] == src.mp[5 * MiB] and g["content_type"] == "application/x-tarn-test", info
    assert out["head_part"] == {"content_length": 5 * MiB, "parts_count": 20,
                                "etag": src.mp[5 * MiB]}, info
    pg = out["presign_get"]
    assert "X-Amz-Signature=" in pg["url"] and pg["url"].startswith(server.endpoint), info
    assert pg["status"] == 200 and pg["len"] == src.size and pg["sha256"] == src.sha256, info
    pr = out["presign_get_range"]
    assert pr["status"] == 206 and pr["hex"] == src.read(5242870, 20).hex(), info
    assert pr["content_range"] == f"bytes 5242870-5242889/{src.size}", info
    pp = out["presign_put"]
    assert pp["status"] == 200 and pp["etag"] == etag_of(small), info
    assert pp["sha256"] == sha(small) and pp["len"] == len(small), info
    bad = out["presign_unsigned_tamper"]
    assert bad["changed"] and bad["status"] == 403 and "SignatureDoesNotMatch" in bad["body"], info
    h = s3.head_object(Bucket=bucket, Key=key)
    assert h["ContentLength"] == src.size and h["ETag"] == src.mp[5 * MiB]


def test_issue4_minio_js(server, s3, bucket, tmp_path):
    src = GenFile(tmp_path / "src.bin", 20 * MiB, part_sizes=(5 * MiB,))
    small_keys = [f"mc/dir/small-{i}.txt" for i in range(5)] + ["mc/dir/sub/deep.txt"]
    plan = {"bucket": bucket, "port": server.port, "file": src.path,
            "key_single": "mc/single 20m.bin", "key_multi": "mc/multi-20m.bin",
            "out_single": str(tmp_path / "out" / "single.bin"),
            "out_multi": str(tmp_path / "out" / "multi.bin"),
            "small_keys": small_keys, "list_prefix": "mc/dir/"}
    out, versions = _run_node(server, "minio_client.mjs", plan, tmp_path)
    info = f"\nversions {versions}\nresult {json.dumps(out)[:4000]}"
    errors = {k: v["error"] for k, v in out.items()
              if isinstance(v, dict) and "error" in v and k != "stat_removed"}
    assert not errors, f"{errors}{info}"
    assert out["exists"] == {"exists": True}, info
    # The region-less client asked GetBucketLocation before it wrote anything
    # and cached the answer until its first error response (the 404 of the
    # stat after removeObject drops the cache, so one more lookup follows).
    # The first HEAD is recorded before the lookup it triggers.
    mine = [tuple(s[1:]) for s in out["seen"] if s[0] == "noregion"]
    loc = ("GET", bucket, "", "location")
    first_put = min(i for i, s in enumerate(mine) if s[0] == "PUT")
    first_delete = min(i for i, s in enumerate(mine) if s[0] == "DELETE")
    assert mine[:first_put].count(loc) == 1, f"GetBucketLocation requests: {mine}{info}"
    assert mine[:first_delete + 1].count(loc) == 1, f"lookup not cached: {mine}{info}"
    # The 5 MiB-part client went multipart. (minio-js 8.0.7 numbers the parts
    # 2..5: it increments before sending. S3 takes any ascending numbers.)
    part_puts = [s for s in out["seen"] if s[0] == "region" and s[1] == "PUT" and
                 "partNumber=" in s[4]]
    assert len(part_puts) == 4, f"{part_puts}{info}"
    assert out["put_single"]["etag"] == src.etag.strip('"'), info
    assert out["put_multi"]["etag"] == src.mp[5 * MiB].strip('"'), info
    assert out["stat_single"]["size"] == src.size and out["stat_multi"]["size"] == src.size, info
    assert out["stat_single"]["etag"] == src.etag.strip('"'), info
    assert out["stat_single"]["metaData"].get("who") == "minio", info
    assert out["stat_multi"]["etag"] == src.mp[5 * MiB].strip('"'), info
    assert out["get_single"]["sha256"] == src.sha256, info
    assert out["get_multi"]["sha256"] == src.sha256, info
    assert out["partial"]["hex"] == src.read(5 * MiB - 8, 16).hex(), info
    listed = {x[0]: (x[1], x[2]) for x in out["list_recursive"]}
    want = {"mc/single 20m.bin": (src.size, src.etag.strip('"')),
            "mc/multi-20m.bin": (src.size, src.mp[5 * MiB].strip('"'))}
    for k in small_keys:
        want[k] = (len(f"body of {k}"), etag_of(f"body of {k}".encode()).strip('"'))
    assert listed == want, info
    delim = [tuple(x) for x in out["list_delim"]]
    assert sorted(delim) == sorted([(k, len(f"body of {k}"),
                                     etag_of(f"body of {k}".encode()).strip('"'))
                                    for k in small_keys if k.count("/") == 2] +
                                   [("prefix", "mc/dir/sub/")]), info
    assert out["remove"] == {"ok": True}, info
    assert "NotFound" in out["stat_removed"].get("error", ""), info
    assert not [r for r in out["remove_many"]["result"] if r.get("Error") or r.get("Code")], info
    assert [x[0] for x in out["list_after"]] == ["mc/multi-20m.bin"], info
    assert listing(s3, bucket) == {"mc/multi-20m.bin": (src.size, src.mp[5 * MiB])}


# ------------------------------------------------------------------ s3cmd ----

def test_issue4_s3cmd_multipart_put_get_sync_del(server, s3, bucket, tmp_path):
    src = GenFile(tmp_path / "big" / "20m.bin", 20 * MiB, part_sizes=(5 * MiB,))
    p = ok(run_s3cmd(server, "put", "--multipart-chunk-size-mb=5", src.path,
                     f"s3://{bucket}/s3cmd/20m.bin", timeout=180))
    h = s3.head_object(Bucket=bucket, Key="s3cmd/20m.bin")
    assert h["ContentLength"] == src.size and h["ETag"] == src.mp[5 * MiB], (h, p.stdout)
    out = tmp_path / "got" / "20m.bin"
    out.parent.mkdir()
    p = ok(run_s3cmd(server, "get", f"s3://{bucket}/s3cmd/20m.bin", str(out), timeout=180))
    assert "MD5 signatures do not match" not in p.stderr + p.stdout, p.stderr
    assert file_sha(out) == src.sha256

    tree = tmp_path / "tree"
    files = make_tree(str(tree), 50, 10, 9000)
    ok(run_s3cmd(server, "sync", str(tree) + "/", f"s3://{bucket}/tree/", timeout=180))
    got = listing(s3, bucket, "tree/")
    assert got == {f"tree/{k}": (len(v), etag_of(v)) for k, v in files.items()}
    # Nothing to do the second time.
    p = ok(run_s3cmd(server, "sync", str(tree) + "/", f"s3://{bucket}/tree/", timeout=180))
    assert "upload:" not in p.stdout, p.stdout
    back = tmp_path / "back"
    back.mkdir()
    ok(run_s3cmd(server, "sync", f"s3://{bucket}/tree/", str(back) + "/", timeout=180))
    assert_same_tree(read_tree(str(back)), files)

    gone = sorted(files)[5]
    os.remove(tree / gone)
    del files[gone]
    ok(run_s3cmd(server, "sync", "--delete-removed", str(tree) + "/", f"s3://{bucket}/tree/",
                 timeout=180))
    assert listing(s3, bucket, "tree/") == {f"tree/{k}": (len(v), etag_of(v))
                                            for k, v in files.items()}

    p = ok(run_s3cmd(server, "del", "--recursive", "--force", f"s3://{bucket}/tree/",
                     timeout=180))
    assert p.stdout.count("delete: ") == 49, p.stdout[-2000:]
    assert set(listing(s3, bucket)) == {"s3cmd/20m.bin"}
    ok(run_s3cmd(server, "del", "--recursive", "--force", f"s3://{bucket}/", timeout=180))
    assert listing(s3, bucket) == {}


# ----------------------------------------------------------------- rclone ----

def _rclone(server, tmp_path):
    exe = shutil.which("rclone")
    if not exe:
        pytest.skip("rclone is not installed (tests/deps.sh test installs it)")
    cfg = tmp_path / "rclone.conf"
    cfg.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env.update({"RCLONE_CONFIG": str(cfg),
                "RCLONE_CONFIG_TARN_TYPE": "s3",
                "RCLONE_CONFIG_TARN_PROVIDER": "Other",
                "RCLONE_CONFIG_TARN_ENDPOINT": server.endpoint,
                "RCLONE_CONFIG_TARN_ACCESS_KEY_ID": server.access_key,
                "RCLONE_CONFIG_TARN_SECRET_ACCESS_KEY": server.secret_key,
                "RCLONE_CONFIG_TARN_REGION": "us-east-1",
                "RCLONE_CONFIG_TARN_FORCE_PATH_STYLE": "true"})
    # Fail fast instead of retrying; the S3 settings stay rclone's defaults.
    common = ["--retries", "1", "--low-level-retries", "1", "--contimeout", "10s",
              "--timeout", "60s"]

    def rc(*args, text=True):
        return subprocess.run([exe, *args, *common], env=env, capture_output=True, text=text,
                              timeout=240, stdin=subprocess.DEVNULL)
    return rc


def test_issue4_rclone_copy_sync_check(server, s3, bucket, tmp_path):
    rc = _rclone(server, tmp_path)
    src = tmp_path / "src"
    files = make_tree(str(src), 40, 1, 200000)
    big = GenFile(src / "big" / "7m.bin", 7 * MiB)       # below the 200 MiB cutoff
    with open(big.path, "rb") as f:
        files["big/7m.bin"] = f.read()

    ok(rc("copy", str(src), f"tarn:{bucket}/r"))
    assert listing(s3, bucket) == {f"r/{k}": (len(v), etag_of(v)) for k, v in files.items()}
    p = ok(rc("check", str(src), f"tarn:{bucket}/r"))
    assert "0 differences found" in p.stderr and f"{len(files)} matching files" in p.stderr, \
        p.stderr

    # sync after a local delete and a local change: gone remotely, changed remotely.
    gone, changed = sorted(files)[2], sorted(files)[7]
    os.remove(src / gone)
    del files[gone]
    files[changed] = os.urandom(len(files[changed]) + 1)
    (src / changed).write_bytes(files[changed])
    ok(rc("sync", str(src), f"tarn:{bucket}/r"))
    assert listing(s3, bucket) == {f"r/{k}": (len(v), etag_of(v)) for k, v in files.items()}
    p = ok(rc("check", str(src), f"tarn:{bucket}/r"))
    assert "0 differences found" in p.stderr and f"{len(files)} matching files" in p.stderr, \
        p.stderr

    back = tmp_path / "back"
    ok(rc("copy", f"tarn:{bucket}/r", str(back)))
    assert_same_tree(read_tree(str(back)), files)

    # A change made behind rclone's back is found by check.
    s3.put_object(Bucket=bucket, Key=f"r/{changed}", Body=b"other bytes")
    p = rc("check", str(src), f"tarn:{bucket}/r")
    assert p.returncode != 0 and "1 differences found" in p.stderr, p.stderr


def test_issue4_rclone_forced_multipart(server, s3, bucket, tmp_path):
    rc = _rclone(server, tmp_path)
    src = GenFile(tmp_path / "mp" / "12m.bin", 12 * MiB, part_sizes=(5 * MiB,))
    ok(rc("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(tmp_path / "mp"),
          f"tarn:{bucket}/mp"))
    h = s3.head_object(Bucket=bucket, Key="mp/12m.bin")
    assert h["ContentLength"] == src.size and h["ETag"] == src.mp[5 * MiB], h
    # rclone keeps the whole-file MD5 as metadata for multipart objects.
    assert h["Metadata"].get("md5chksum"), h["Metadata"]
    p = ok(rc("check", str(tmp_path / "mp"), f"tarn:{bucket}/mp"))
    assert "0 differences found" in p.stderr and "1 matching files" in p.stderr, p.stderr
    p = ok(rc("md5sum", f"tarn:{bucket}/mp"))
    assert p.stdout.split()[0] == src.etag.strip('"'), p.stdout
    back = tmp_path / "back"
    ok(rc("copy", f"tarn:{bucket}/mp", str(back)))
    assert file_sha(back / "12m.bin") == src.sha256
    # A read across the part 1 / part 2 boundary.
    raw = rc("cat", "--offset", str(5 * MiB - 4), "--count", "8", f"tarn:{bucket}/mp/12m.bin",
             text=False)
    assert raw.returncode == 0 and raw.stdout == src.read(5 * MiB - 4, 8), raw.stderr
