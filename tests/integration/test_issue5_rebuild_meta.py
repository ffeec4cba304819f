"""Issue 5 part 4: lose the metadata folder, rebuild it from the shard
headers with `tarn rebuild-meta`, and read every object back as before."""
import hashlib
import os
import shutil
import subprocess

from conftest import TARN, boto3_client, unique_bucket


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
    etags = {k: s3.head_object(Bucket=k[0], Key=k[1])["ETag"] for k in objects}
    assert srv.stop() == 0

    meta = os.path.join(srv.data_dir, "meta")
    shutil.rmtree(meta)
    out = subprocess.run([TARN, "rebuild-meta", "--data", srv.data_dir,
                          "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode in (0, 1), out.stderr + out.stdout
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
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=buckets[0])["Contents"]]
    assert sorted(listed) == sorted(k for (b, k) in objects if b == buckets[0])
    # The rebuilt store takes new writes.
    s3.put_object(Bucket=buckets[1], Key="after", Body=b"ok")
    assert s3.get_object(Bucket=buckets[1], Key="after")["Body"].read() == b"ok"
