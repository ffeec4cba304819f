"""Issue 5 part 3: flip random bytes in random shard files. GETs still
return the right bytes (decoded around the bad blocks), and `tarn scrub`
finds and rewrites every damaged shard, so a later loss of two whole disks
still loses nothing."""
import glob
import hashlib
import os
import random
import re
import shutil
import subprocess

from conftest import TARN, boto3_client, unique_bucket

SHARD_HEADER_MIN = 4096  # headers are padded to 4 KiB; blocks follow


def _flip_blocks(data_dir, rng, count):
    """Flip one byte inside the block area of `count` random shard files,
    at most one file per object so every stripe keeps k good shards."""
    files = sorted(glob.glob(os.path.join(data_dir, "disk*", "data", "*", "*")))
    by_id = {}
    for f in files:
        by_id.setdefault(os.path.basename(f), []).append(f)
    flipped = 0
    for data_id in rng.sample(sorted(by_id), min(count, len(by_id))):
        path = rng.choice(by_id[data_id])
        size = os.path.getsize(path)
        if size <= SHARD_HEADER_MIN + 8192:
            continue  # header-sized only: nothing to flip in the blocks
        with open(path, "r+b") as f:
            off = rng.randrange(size - 4096, size)  # inside the last block
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0xFF]))
        flipped += 1
    return flipped


def test_issue5_bitrot_read_around_then_scrub(server_factory):
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    srv = server_factory()
    s3 = boto3_client(srv)
    bucket = unique_bucket("rot")
    s3.create_bucket(Bucket=bucket)
    bodies = {}
    for i in range(12):
        body = os.urandom(rng.choice([64 * 1024, 300 * 1024, 3 * 1024 * 1024 + 17]))
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
        bodies[f"k{i}"] = body
    flipped = _flip_blocks(srv.data_dir, rng, 8)
    assert flipped >= 4
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key
    assert srv.stop() == 0

    out = subprocess.run([TARN, "scrub", "--data", srv.data_dir, "--access-key", srv.access_key,
                          "--secret-key", srv.secret_key],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    rebuilt = int(re.search(r"(\d+) shards rebuilt", out.stdout).group(1))
    assert rebuilt >= flipped, out.stdout
    # Scrub again: everything it found was rewritten, so it is clean now.
    again = subprocess.run([TARN, "scrub", "--data", srv.data_dir, "--access-key",
                            srv.access_key, "--secret-key", srv.secret_key],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert re.search(r" 0 bad blocks, 0 shards missing or damaged", again.stdout), again.stdout

    # After the repair, any two disks may go: nothing is lost.
    for d in rng.sample(range(1, 7), 2):
        shutil.rmtree(os.path.join(srv.data_dir, f"disk{d}"))
    srv.start()
    s3 = boto3_client(srv)
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key
