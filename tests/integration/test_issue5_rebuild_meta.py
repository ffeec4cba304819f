"""Issue 5 part 4: lose the metadata folder, rebuild it from the shard
headers with `tarn rebuild-meta`, and read every object back as before —
multipart objects included (rebuilt from the manifest their completion
wrote)."""
import hashlib
import io
import os
import shutil
import subprocess

from boto3.s3.transfer import TransferConfig

from conftest import TARN, boto3_client, unique_bucket

MiB = 1024 * 1024


def _multipart_objects(s3, bucket):
    """Multipart uploads the ways clients make them: boto3's transfer
    manager (parts of 5 MiB, 4 threads), and by hand with content headers,
    user metadata and a CRC32 checksum; one overwrites a plain object.
    Returns {key: (body, parts count)}."""
    made = {}
    body = os.urandom(17 * MiB + 123)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                         max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(body), bucket, "mp/transfer é", Config=cfg,
                      ExtraArgs={"ContentType": "video/x-test", "Metadata": {"kind": "tx"}})
    made["mp/transfer é"] = (body, 4)
    s3.put_object(Bucket=bucket, Key="mp/over-plain", Body=b"plain, replaced")
    parts = [os.urandom(5 * MiB + 1), os.urandom(5 * MiB), os.urandom(777)]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp/over-plain",
                                     ContentType="text/x-parts", CacheControl="max-age=9",
                                     Metadata={"colour": "green"},
                                     ChecksumAlgorithm="CRC32")["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp/over-plain", UploadId=uid, PartNumber=i,
                           Body=p, ChecksumAlgorithm="CRC32")
        done.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp/over-plain", UploadId=uid,
                                 MultipartUpload={"Parts": done})
    made["mp/over-plain"] = (b"".join(parts), 3)
    # Never completed: its part is counted, left on disk, and no object.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp/pending")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp/pending", UploadId=uid, PartNumber=1, Body=b"x" * 100)
    return made


def test_issue5_rebuild_meta_after_losing_the_metadata_folder(server_factory):
    srv = server_factory()
    s3 = boto3_client(srv)
    buckets = [unique_bucket("rb1"), unique_bucket("rb2")]
    objects = {}
    for b in buckets:
        s3.create_bucket(Bucket=b)
    sizes = [0, 1, 4097, 5 * 1024 * 1024 + 3]
    for i, size in enumerate(sizes):
        b = buckets[i % 2]
        key = f"dir/obj {i} é"
        body = os.urandom(size)
        s3.put_object(Bucket=b, Key=key, Body=body, ContentType="text/x-test",
                      Metadata={"colour": f"c{i}"})
        objects[(b, key)] = body
    # An overwrite: the newer bytes must win after the rebuild.
    newer = os.urandom(2 * 1024 * 1024 + 5)
    s3.put_object(Bucket=buckets[0], Key="dir/obj 0 é", Body=newer)
    objects[(buckets[0], "dir/obj 0 é")] = newer
    multipart = _multipart_objects(s3, buckets[1])
    for key, (body, _) in multipart.items():
        objects[(buckets[1], key)] = body
    heads = {k: s3.head_object(Bucket=k[0], Key=k[1], ChecksumMode="ENABLED") for k in objects}
    etags = {k: h["ETag"] for k, h in heads.items()}
    assert srv.stop() == 0

    meta = os.path.join(srv.data_dir, "meta")
    shutil.rmtree(meta)
    out = subprocess.run([TARN, "rebuild-meta", "--data", srv.data_dir,
                          "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                         capture_output=True, text=True, timeout=120)
    # Everything was rebuilt; the uncompleted upload's part does not count.
    assert out.returncode == 0, out.stderr + out.stdout
    assert "2 multipart, from manifests" in out.stdout, out.stdout
    assert "1 parts of uncompleted uploads, not rebuilt" in out.stdout, out.stdout
    assert os.path.isdir(meta)

    srv.start()
    s3 = boto3_client(srv)
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert set(buckets) <= names
    for (b, key), body in objects.items():
        got = s3.get_object(Bucket=b, Key=key)
        data = got["Body"].read()
        assert hashlib.sha256(data).digest() == hashlib.sha256(body).digest(), key
        assert got["ETag"] == etags[(b, key)]
    first = s3.head_object(Bucket=buckets[1], Key="dir/obj 1 é")
    assert first["ContentType"] == "text/x-test" and first["Metadata"] == {"colour": "c1"}
    for key, (body, n) in multipart.items():
        h = s3.head_object(Bucket=buckets[1], Key=key, PartNumber=1)
        assert h["PartsCount"] == n and h["ETag"].endswith(f'-{n}"'), (key, h)
        h = s3.head_object(Bucket=buckets[1], Key=key, ChecksumMode="ENABLED")
        before = heads[(buckets[1], key)]
        for field in ("ContentType", "Metadata", "CacheControl", "ChecksumCRC32"):
            assert h.get(field) == before.get(field), (key, field)
        last = s3.get_object(Bucket=buckets[1], Key=key, PartNumber=n)
        assert last["Body"].read() == body[-last["ContentLength"]:], key
    assert heads[(buckets[1], "mp/over-plain")]["ChecksumCRC32"].endswith("-3")
    assert s3.list_multipart_uploads(Bucket=buckets[1]).get("Uploads", []) == []
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=buckets[0])["Contents"]]
    assert sorted(listed) == sorted(k for (b, k) in objects if b == buckets[0])
    # The rebuilt store takes new writes.
    s3.put_object(Bucket=buckets[1], Key="after", Body=b"ok")
    assert s3.get_object(Bucket=buckets[1], Key="after")["Body"].read() == b"ok"
