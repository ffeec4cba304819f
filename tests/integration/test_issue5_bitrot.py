"""Issue 5 part 3: flip random bytes in random shard files. GETs still
return the right bytes (decoded around the bad blocks), the running server
counts the bad blocks its reads met (`tarn status`), and `tarn scrub`, asked
of the running server through its admin socket, finds and rewrites every
damaged shard, so a later loss of two whole disks still loses nothing."""
import glob
import hashlib
import os
import random
import re
import shutil
import subprocess

from conftest import TARN, boto3_client, unique_bucket

SHARD_HEADER_MIN = 4096  # headers are padded to 4 KiB; blocks follow
K = 4                    # erasure coding 4+2: shard indexes 0..3 hold data


def _shard_index(path):
    """Byte 22 of a shard header: 0..k-1 data, k.. parity (docs/erasure.md)."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"TARNSHRD", path
    return head[22]


def _flip_blocks(data_dir, rng, count):
    """Flip one byte inside the last block of a data shard of `count`
    random objects, at most one file per object so every stripe keeps k
    good shards. Data shards, so that a GET of the whole object must read
    (and count) every flipped block. Returns the data ids flipped."""
    files = sorted(glob.glob(os.path.join(data_dir, "disk*", "data", "*", "*")))
    by_id = {}
    for f in files:
        if _shard_index(f) < K:
            by_id.setdefault(os.path.basename(f), []).append(f)
    flipped = []
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
        flipped.append(data_id)
    return flipped


def tarn_admin(srv, *args):
    """`tarn <command>` with the server's flags: it asks the running server
    through its admin socket (the keys only keep the command from
    generating a credentials file in the data dir)."""
    return subprocess.run([TARN, *args, "--data", srv.data_dir, "--access-key", srv.access_key,
                           "--secret-key", srv.secret_key], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def status_counter(srv, name):
    r = tarn_admin(srv, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(rf"^\s+{name}\s+(\d+)", r.stdout, re.M)
    assert m, r.stdout
    return int(m.group(1))


def scrub_counts(out):
    m = re.search(r"(\d+) bad blocks, (\d+) shards missing or damaged, (\d+) shards rebuilt, "
                  r"(\d+) unrecoverable", out)
    assert m, out
    return tuple(int(g) for g in m.groups())


def test_issue5_bitrot_read_around_then_scrub(server_factory):
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    # No background healer (--heal-interval 0): the reads' notes would heal
    # the flipped shards behind the scrub's back. The server still runs
    # passes asked for through its admin socket.
    srv = server_factory(["--heal-interval", "0", "--scrub-interval", "0"])
    s3 = boto3_client(srv)
    bucket = unique_bucket("rot")
    s3.create_bucket(Bucket=bucket)
    bodies = {}
    for i in range(12):
        body = os.urandom(rng.choice([64 * 1024, 300 * 1024, 3 * 1024 * 1024 + 17]))
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
        bodies[f"k{i}"] = body
    assert status_counter(srv, "read_bad") == 0
    flipped = _flip_blocks(srv.data_dir, rng, 8)
    assert len(flipped) >= 4
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key
    # Every flipped block was met once by the reads, logged and counted.
    assert status_counter(srv, "read_bad") == len(flipped)
    log = srv.stderr_text(400000)
    for data_id in flipped:
        assert f"data {data_id} shard" in log and "block checksum mismatch" in log, data_id

    pid = srv.proc.pid
    out = tarn_admin(srv, "scrub")
    assert out.returncode == 0, out.stdout + out.stderr
    bad, damaged, rebuilt, unrecoverable = scrub_counts(out.stdout)
    assert (bad, damaged, rebuilt, unrecoverable) == (len(flipped),) * 3 + (0,), out.stdout
    # Scrub again: everything it found was rewritten, so it is clean now.
    again = tarn_admin(srv, "scrub")
    assert again.returncode == 0, again.stdout + again.stderr
    assert scrub_counts(again.stdout) == (0, 0, 0, 0), again.stdout
    assert srv.alive() and srv.proc.pid == pid, "the scrubs ran without a restart"
    assert status_counter(srv, "healed") == len(flipped)
    assert status_counter(srv, "scrub_passes") == 2

    # After the repair, any two disks may go: nothing is lost.
    for d in rng.sample(range(1, 7), 2):
        shutil.rmtree(os.path.join(srv.data_dir, f"disk{d}"))
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest(), key
