"""Issue 3: consistency. A GET, HEAD or LIST that starts after a PUT's 200 sees
it, one after a DELETE's 204 does not; 8 writers hammering one key while 4
readers GET it never produce a torn or mixed read, and the last commit wins."""

import hashlib
import struct
import threading
import time

import pytest

from conftest import boto3_client, signed_request, unique_bucket
from issue3_util import etag_of, parse_list, rand, raw_get, raw_head


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server, max_pool_connections=16)


@pytest.fixture(scope="module")
def bucket(server, s3):
    name = unique_bucket("cons")
    s3.create_bucket(Bucket=name)
    return name


def _listed(server, bucket, prefix):
    r = signed_request(server, "GET", f"/{bucket}", query=f"list-type=2&prefix={prefix}")
    assert r.status == 200, r
    _, contents, _ = parse_list(r.body)
    return {c["Key"]: (int(c["Size"]), c["ETag"]) for c in contents}


def test_issue3_read_after_write_and_delete(server, s3, bucket):
    """Every check is a new connection (signed_request opens its own)."""
    for i in range(25):
        key = f"raw/k{i % 5}"
        data = rand(1 + (i * 7919) % 300000)
        r = s3.put_object(Bucket=bucket, Key=key, Body=data)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        g = raw_get(server, bucket, key)
        assert g.status == 200 and g.body == data, f"round {i}: GET after PUT saw other bytes"
        h = raw_head(server, bucket, key)
        assert h.status == 200 and h.header("etag") == etag_of(data), f"round {i}: {h!r}"
        assert h.header("content-length") == str(len(data))
        assert _listed(server, bucket, key).get(key) == (len(data), etag_of(data)), f"round {i}"
        if i % 3 == 2:
            d = s3.delete_object(Bucket=bucket, Key=key)
            assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
            assert raw_get(server, bucket, key).status == 404, f"round {i}: GET after DELETE"
            assert raw_head(server, bucket, key).status == 404, f"round {i}: HEAD after DELETE"
            assert key not in _listed(server, bucket, key), f"round {i}: LIST after DELETE"


N_WRITERS, N_WRITES, N_READERS = 8, 30, 4
PAYLOAD = 192 * 1024    # several stripes' worth of blocks


def _payload(w, s):
    """A payload that names its writer and sequence in every 8 bytes."""
    return struct.pack(">II", w, s) * (PAYLOAD // 8)


def _decode(body):
    if len(body) != PAYLOAD:
        return None
    first = body[:8]
    if body != first * (PAYLOAD // 8):
        return None
    return struct.unpack(">II", first)


def test_issue3_concurrent_writers_never_torn(server, bucket):
    key = "hammer/one-key"
    boot = boto3_client(server)
    boot.put_object(Bucket=bucket, Key=key, Body=_payload(999, 0))
    # Clients are made here, in one thread: boto3's session is not thread-safe.
    wclients = [boto3_client(server) for _ in range(N_WRITERS)]
    rclients = [boto3_client(server) for _ in range(N_READERS)]
    acked = {w: [] for w in range(N_WRITERS)}
    started = set()
    started_lock = threading.Lock()
    errors = []
    reads = []
    done = threading.Event()

    def writer(w):
        try:
            for s in range(N_WRITES):
                with started_lock:
                    started.add((w, s))
                r = wclients[w].put_object(Bucket=bucket, Key=key, Body=_payload(w, s))
                assert r["ETag"] == etag_of(_payload(w, s)), r["ETag"]
                acked[w].append(s)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"writer {w}: {e!r}")

    def reader(i):
        c = rclients[i]
        n = 0
        try:
            while not done.is_set() and n < 2000:
                n += 1
                g = c.get_object(Bucket=bucket, Key=key)
                body = g["Body"].read()
                ws = _decode(body)
                if ws is None:
                    errors.append(f"reader {i}: torn/mixed read of {len(body)} bytes, "
                                  f"first words {body[:16].hex()} etag {g['ETag']}")
                    return
                if g["ETag"] != '"' + hashlib.md5(body).hexdigest() + '"':
                    errors.append(f"reader {i}: ETag {g['ETag']} does not match the body {ws}")
                    return
                with started_lock:
                    known = ws in started or ws == (999, 0)
                if not known:
                    errors.append(f"reader {i}: read {ws}, which no writer had begun")
                    return
                reads.append(ws)
        except Exception as e:  # noqa: BLE001
            errors.append(f"reader {i}: {e!r}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(N_WRITERS)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(N_READERS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads[:N_WRITERS]:
        t.join(180)
    done.set()
    for t in threads[N_WRITERS:]:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "threads still running after 240 s"
    assert not errors, "\n".join(errors[:20])
    assert all(len(v) == N_WRITES for v in acked.values()), acked
    assert len(reads) >= N_READERS, f"only {len(reads)} reads in {time.monotonic() - t0:.1f}s"
    # Per reader order is not checked (writers race); every read was one whole payload,
    # and the readers did overlap the writers.
    assert len(set(reads)) >= 2, f"readers saw only {set(reads)}: no overlap with the writers"
    final = _decode(boot.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert final is not None
    w, s = final
    assert s == N_WRITES - 1, f"final object is {final}, not some writer's last acknowledged write"
    h = boot.head_object(Bucket=bucket, Key=key)
    assert h["ETag"] == etag_of(_payload(w, s)) and h["ContentLength"] == PAYLOAD
    lst = boot.list_objects_v2(Bucket=bucket, Prefix="hammer/")
    assert [(c["Key"], c["ETag"]) for c in lst["Contents"]] == [(key, etag_of(_payload(w, s)))]


def test_issue3_concurrent_distinct_keys(server, bucket):
    """8 threads writing distinct keys: every one is there afterwards, intact."""
    clients = [boto3_client(server) for _ in range(8)]
    datas = {f"many/{t}/{i}": rand(1000 + t * 100 + i) for t in range(8) for i in range(15)}
    errors = []

    def work(t):
        try:
            for i in range(15):
                k = f"many/{t}/{i}"
                clients[t].put_object(Bucket=bucket, Key=k, Body=datas[k])
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not errors, errors
    got = _listed(server, bucket, "many/")
    assert got == {k: (len(v), etag_of(v)) for k, v in datas.items()}
    for k, v in list(datas.items())[::7]:
        assert raw_get(server, bucket, k).body == v
