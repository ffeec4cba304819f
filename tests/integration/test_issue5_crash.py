"""Issue 5 part 1: crash safety. A concurrent storm of PUT (new keys and
overwrites), DELETE, GET and multipart uploads runs against the server, which
is SIGKILLed at a random moment while requests are in flight; then it is
started again on the same data directory and everything acknowledged is
checked. At least 20 rounds (TARN_CRASH_ROUNDS to run more).

Every payload encodes its key and a generation ("tarn-crash|<key>|<gen>|<size>|"
then SHAKE-128 bytes seeded by both), so any body read back names the write it
came from and is checked byte for byte against it: a partial or mixed body can
not pass. Per round and key the test records every operation with its start
and end time (time.monotonic) and its outcome:

  acked      200/204 received: the write happened;
  failed     a 4xx answer: it did not happen;
  uncertain  a 5xx, a timeout, a reset or refused connection (the kill): it may
             or may not have happened.

After the restart a key may hold (linearizability, with the kill as the end of
every uncertain operation):
  - the state verified after the previous restart, if no operation on the key
    was acknowledged in this round;
  - the result of any acked or uncertain operation O such that no acknowledged
    operation started after O ended (an uncertain O never ended).
The state found is then the key's known state for the next round. Keys not
touched in a round must be unchanged: checked against the listing (size and
ETag) every round, by GET for a sample every round and for all at the end.

Also checked at every start: start-to-listening under 5 s, and no file under
any disk's tmp/ right after the listening line (the start-up sweep). At the
end: every object deleted and every unfinished upload aborted leaves no shard
file on any disk (crashes leak nothing). Totals are printed (pytest -s shows
them; they are in docs/durability.md).
"""

import concurrent.futures
import hashlib
import os
import random
import re
import signal
import threading
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from conftest import unique_bucket

MiB = 1024 * 1024
ROUNDS = int(os.environ.get("TARN_CRASH_ROUNDS", "22"))
THREADS = 8
HOT_KEYS = [f"hot/{i:02d}" for i in range(12)]
MP_KEYS = [f"mpu/{i}" for i in range(3)]
START_LIMIT = 5.0
SEED = int(os.environ.get("TARN_CRASH_SEED", str(random.randrange(1 << 30))))


# ------------------------------------------------------------- payloads ----

def payload(key, gen, size):
    head = f"tarn-crash|{key}|{gen}|{size}|".encode()
    assert size >= len(head)
    return head + hashlib.shake_128(head).digest(size - len(head))


_HEAD_RE = re.compile(rb"tarn-crash\|([^|]*)\|(\d+)\|(\d+)\|")


class Expect:
    """What one (key, gen) write put there: size, sha256, ETag."""

    def __init__(self, size, digest, etag):
        self.size, self.digest, self.etag = size, digest, etag


def md5_etag(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def mp_etag(parts):
    return '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts))
                        .hexdigest(), len(parts))


# ---------------------------------------------------------------- model ----

INF = float("inf")


class Op:
    __slots__ = ("kind", "key", "gen", "start", "end", "outcome", "detail")

    def __init__(self, kind, key, gen):
        self.kind, self.key, self.gen = kind, key, gen   # gen None: a delete
        self.start = self.end = None
        self.outcome = None
        self.detail = ""

    def __repr__(self):
        when = ("not sent" if self.start is None else
                f"{self.start:.3f}-{'?' if self.end is None else round(self.end, 3)}")
        return f"{self.kind}({self.key} gen={self.gen} {self.outcome} {when} {self.detail})"


class Model:
    def __init__(self):
        self.lock = threading.Lock()
        self.known = {}          # key -> gen (int) or None (absent), as verified
        self.expect = {}         # (key, gen) -> Expect
        self.next_gen = {}       # key -> next generation number
        self.ops = {}            # key -> [Op] in this round
        self.own_new = [[] for _ in range(THREADS)]   # keys thread i created, maybe live
        self.stats = {"acked": 0, "uncertain": 0, "failed": 0, "reads_checked": 0,
                      "mpu_acked": 0, "mpu_uncertain": 0}

    def new_op(self, kind, key, with_gen=True):
        with self.lock:
            gen = None
            if with_gen:
                gen = self.next_gen.get(key, 1)
                self.next_gen[key] = gen + 1
            op = Op(kind, key, gen)
            self.ops.setdefault(key, []).append(op)
            return op

    def record(self, op, outcome, detail=""):
        with self.lock:
            op.outcome = outcome
            op.detail = detail
            self.stats[outcome] += 1
            if op.kind == "mpu" and outcome in ("acked", "uncertain"):
                self.stats["mpu_" + outcome] += 1

    def valid_states(self, key):
        """Every state the key may be in after the kill (gen or None)."""
        ops = [o for o in self.ops.get(key, []) if o.start is not None]
        acked = [o for o in ops if o.outcome == "acked"]
        valid = set()
        if not acked:
            valid.add(self.known.get(key))
        for o in ops:
            if o.outcome not in ("acked", "uncertain"):
                continue
            end = o.end if o.outcome == "acked" else INF
            if not any(a.start > end for a in acked):
                valid.add(o.gen)
        return valid


# ------------------------------------------------------------- clients ----

def make_client(session, endpoint, srv, read_timeout=10):
    cfg = Config(s3={"addressing_style": "path"},
                 retries={"total_max_attempts": 1, "mode": "standard"},
                 connect_timeout=2, read_timeout=read_timeout,
                 max_pool_connections=4)
    return session.client("s3", endpoint_url=endpoint, aws_access_key_id=srv.access_key,
                          aws_secret_access_key=srv.secret_key, region_name=srv.region,
                          config=cfg)


def classify(exc):
    """(outcome, detail) of an exception from a write."""
    if isinstance(exc, ClientError):
        st = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code")
        return ("failed" if 400 <= st < 500 else "uncertain"), f"{st} {code}"
    return "uncertain", type(exc).__name__


def get_state(s3, bucket, key, model):
    """GET key: (state, error). state is None (404) or the gen of a full body
    of a write to this key; error describes anything else."""
    try:
        r = s3.get_object(Bucket=bucket, Key=key)
        body = r["Body"].read()
    except ClientError as e:
        st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if st == 404 and e.response.get("Error", {}).get("Code") == "NoSuchKey":
            return None, None, None
        return None, f"GET {key}: {st} {e.response.get('Error', {}).get('Code')}", None
    except (BotoCoreError, OSError) as e:
        return None, f"GET {key}: {type(e).__name__}: {e}", None
    m = _HEAD_RE.match(body[:200])
    if not m:
        return None, f"GET {key}: body of {len(body)} bytes has no payload header: " \
                     f"{body[:60]!r}", None
    bkey, gen, size = m.group(1).decode(), int(m.group(2)), int(m.group(3))
    if bkey != key:
        return None, f"GET {key}: body belongs to key {bkey!r} gen {gen}", None
    with model.lock:
        exp = model.expect.get((key, gen))
    if exp is None:
        return None, f"GET {key}: body names gen {gen}, never written", None
    if len(body) != exp.size or hashlib.sha256(body).digest() != exp.digest:
        return None, (f"GET {key}: PARTIAL/MIXED body for gen {gen}: {len(body)} bytes "
                      f"(header says {size}, wrote {exp.size})"), None
    if r["ETag"] != exp.etag:
        return None, f"GET {key}: ETag {r['ETag']} != {exp.etag} (gen {gen})", None
    return gen, None, r


# --------------------------------------------------------------- storm ----

class Storm:
    def __init__(self, srv, bucket, model, rnd, rng, sessions):
        self.srv, self.bucket, self.model, self.rnd = srv, bucket, model, rnd
        self.stop = threading.Event()
        self.inflight = 0
        self.inflight_lock = threading.Lock()
        self.read_errors = []
        self.early_errors = []     # 5xx or connection errors before the kill
        self.killed_at = None
        self.completing = threading.Event()   # a CompleteMultipartUpload was sent
        self.rngs = [random.Random(rng.random()) for _ in range(THREADS)]
        self.clients = [make_client(sessions[i], srv.endpoint, srv) for i in range(THREADS)]
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True)
                        for i in range(THREADS)]
        self.new_seq = [0] * THREADS

    def _enter(self):
        with self.inflight_lock:
            self.inflight += 1

    def _leave(self):
        with self.inflight_lock:
            self.inflight -= 1

    def _call(self, op, fn):
        """Run one write; record its outcome. True if acked."""
        self._enter()
        op.start = time.monotonic()
        try:
            fn()
        except (ClientError, BotoCoreError, OSError) as e:
            op.end = time.monotonic()
            outcome, detail = classify(e)
            self.model.record(op, outcome, detail)
            if self.killed_at is None and outcome == "uncertain" and not self.stop.is_set():
                self.early_errors.append(repr(op))
            return False
        finally:
            self._leave()
        op.end = time.monotonic()
        self.model.record(op, "acked")
        return True

    def _size(self, rng, big_ok):
        x = rng.random()
        if x < 0.6 or not big_ok:
            return rng.randint(64, 16 * 1024)
        if x < 0.88:
            return rng.randint(16 * 1024, 512 * 1024)
        return rng.randint(512 * 1024, 4 * MiB + MiB // 2)

    def _put(self, s3, key, size):
        op = self.model.new_op("put", key)
        data = payload(key, op.gen, size)
        with self.model.lock:
            self.model.expect[(key, op.gen)] = Expect(len(data), hashlib.sha256(data).digest(),
                                                      md5_etag(data))
        ok = self._call(op, lambda: s3.put_object(Bucket=self.bucket, Key=key, Body=data))
        return op, ok

    def _mpu(self, s3, rng, key):
        n = rng.choice((2, 3))
        sizes = [5 * MiB] * (n - 1) + [rng.randint(MiB, 5 * MiB)]
        op = self.model.new_op("mpu", key)
        data = payload(key, op.gen, sum(sizes))
        parts, off = [], 0
        for sz in sizes:
            parts.append(data[off:off + sz])
            off += sz
        with self.model.lock:
            self.model.expect[(key, op.gen)] = Expect(len(data), hashlib.sha256(data).digest(),
                                                      mp_etag(parts))
        try:
            self._enter()
            try:
                uid = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
                done = []
                for i, p in enumerate(parts, 1):
                    if self.stop.is_set():
                        return
                    r = s3.upload_part(Bucket=self.bucket, Key=key, UploadId=uid,
                                       PartNumber=i, Body=p)
                    done.append({"PartNumber": i, "ETag": r["ETag"]})
            finally:
                self._leave()
        except (ClientError, BotoCoreError, OSError) as e:
            if self.killed_at is None and not self.stop.is_set():
                self.early_errors.append(f"multipart {key} before complete: {e!r}")
            return     # the op never reached its commit: op.start stays None
        def complete():
            self.completing.set()
            s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=uid,
                                         MultipartUpload={"Parts": done})
        self._call(op, complete)

    def run(self, t):
        rng = self.rngs[t]
        s3 = self.clients[t]
        model = self.model
        if self.rnd % 3 == 0 and t < 2:
            self._mpu(s3, rng, rng.choice(MP_KEYS))
        while not self.stop.is_set():
            x = rng.random()
            if x < 0.35:
                key = f"new/r{self.rnd:02d}/t{t}/{self.new_seq[t]:05d}"
                self.new_seq[t] += 1
                with model.lock:
                    model.own_new[t].append(key)
                op, ok = self._put(s3, key, self._size(rng, False))
                if ok and rng.random() < 0.3:   # read your write: only this thread writes it
                    self._enter()
                    try:
                        gen, err, _ = get_state(s3, self.bucket, key, model)
                    finally:
                        self._leave()
                    if self.stop.is_set() or self.killed_at is not None:
                        continue
                    if err or gen != op.gen:
                        self.read_errors.append(f"read-after-write {key}: gen {gen}, "
                                                f"wanted {op.gen}: {err}")
                    else:
                        with model.lock:
                            model.stats["reads_checked"] += 1
            elif x < 0.65:
                key = rng.choice(HOT_KEYS)
                self._put(s3, key, self._size(rng, True))
            elif x < 0.75:
                key = rng.choice(HOT_KEYS)
                op = model.new_op("delete", key, with_gen=False)
                self._call(op, lambda: s3.delete_object(Bucket=self.bucket, Key=key))
            elif x < 0.85:
                with model.lock:
                    own = model.own_new[t]
                    key = own[rng.randrange(len(own))] if own else None
                if key is None:
                    continue
                op = model.new_op("delete", key, with_gen=False)
                self._call(op, lambda: s3.delete_object(Bucket=self.bucket, Key=key))
            else:
                key = rng.choice(HOT_KEYS + MP_KEYS)
                self._enter()
                try:
                    gen, err, _ = get_state(s3, self.bucket, key, model)
                finally:
                    self._leave()
                if err and any(w in err for w in ("PARTIAL", "never written", "belongs to",
                                                   "no payload header", "ETag")):
                    self.read_errors.append("during storm: " + err)
                elif err and self.killed_at is None and not self.stop.is_set():
                    self.early_errors.append("during storm: " + err)
                elif not err and gen is not None:
                    with model.lock:
                        model.stats["reads_checked"] += 1


# --------------------------------------------------------------- checks ----

def disks(srv):
    return [os.path.join(srv.data_dir, f"disk{i}") for i in range(1, 7)]


def files_under(path):
    out = []
    for dp, dns, fns in os.walk(path):
        out += [os.path.join(dp, f) for f in fns]
        out += [os.path.join(dp, d) for d in dns]
    return out


def tmp_leftovers(srv):
    return [f for d in disks(srv) for f in files_under(os.path.join(d, "tmp"))]


def data_files(srv):
    return [f for d in disks(srv) for f in files_under(os.path.join(d, "data"))
            if os.path.isfile(f)]


# With no disk fault injected, every committed object has all k+m shards: a
# read that had to decode around a missing or bad shard, a put that dropped
# one, or any ERROR means a crash left something behind.
_LOG_BAD = ("(to heal)", "dropped", " ERROR ", "AddressSanitizer", "runtime error:")


def log_problems(srv):
    return ["server log: " + ln for ln in srv.stderr_text(10 ** 8).splitlines()
            if any(w in ln for w in _LOG_BAD)]


def list_all(s3, bucket):
    out = {}
    token = None
    while True:
        kw = {"Bucket": bucket, "MaxKeys": 1000}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        for c in r.get("Contents", []):
            out[c["Key"]] = (c["Size"], c["ETag"])
        if not r.get("IsTruncated"):
            return out
        token = r["NextContinuationToken"]


def verify(srv, bucket, model, s3s, rng, full, totals):
    """After a restart: GET every key touched in the round (and all keys when
    full, a sample otherwise), check them against the model, the listing
    against the GETs and the known states. Returns a list of problems."""
    problems = []
    listing = list_all(s3s[0], bucket)
    with model.lock:
        touched = {k for k, ops in model.ops.items() if any(o.start is not None for o in ops)}
        all_keys = set(model.known) | touched
    untouched = sorted(all_keys - touched)
    sample = untouched if full else rng.sample(untouched, min(40, len(untouched)))
    to_get = sorted(touched) + sample

    def one(i_key):
        i, key = i_key
        return key, get_state(s3s[i % len(s3s)], bucket, key, model)

    with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
        results = dict(ex.map(one, enumerate(to_get)))

    for key, (state, err, resp) in results.items():
        if err:
            problems.append(err)
            continue
        if key in touched:
            valid = model.valid_states(key)
            if state not in valid:
                ops = model.ops.get(key, [])
                problems.append(f"{key}: found {'absent' if state is None else 'gen %d' % state}"
                                f", allowed {sorted(valid, key=str)}; known before: "
                                f"{model.known.get(key)}; ops: {ops}")
                continue
        elif state != model.known.get(key):
            problems.append(f"{key}: untouched this round but changed: "
                            f"{model.known.get(key)} -> {state}")
            continue
        if state is None:
            totals["absent_verified"] += 1
            if key in listing:
                problems.append(f"{key}: GET says absent but it is listed: {listing[key]}")
        else:
            totals["objects_verified"] += 1
            exp = model.expect[(key, state)]
            if listing.get(key) != (exp.size, exp.etag):
                problems.append(f"{key}: GET gives gen {state} ({exp.size}, {exp.etag}), "
                                f"listing gives {listing.get(key)}")
        model.known[key] = state

    # Keys not read this time: the listing must show their known state.
    for key in untouched:
        if key in results:
            continue
        st = model.known.get(key)
        want = None if st is None else (model.expect[(key, st)].size,
                                        model.expect[(key, st)].etag)
        if listing.get(key) != want:
            problems.append(f"{key}: untouched, known {st} -> {want}, "
                            f"listed as {listing.get(key)}")
        else:
            totals["listing_verified"] += 1
    extra = set(listing) - all_keys
    if extra:
        problems.append(f"listed keys never written: {sorted(extra)[:10]}")
    # The round is over: forget its ops, keep the known states.
    model.ops = {}
    for t in range(THREADS):
        model.own_new[t] = [k for k in model.own_new[t] if model.known.get(k) is not None]
    return problems


def restart_and_verify(srv, bucket, model, sessions, rng, rnd, final, totals, starts):
    """Start the server after round rnd - 1's crash and check everything
    (start time, tmp/ swept, the model, the log)."""
    t0 = time.monotonic()
    srv.start()
    took = time.monotonic() - t0
    starts.append(took)
    left = tmp_leftovers(srv)          # right after the listening line
    log = srv.stderr_text(200000)
    for a, r in re.findall(r"sweep moved (\d+) committed shard files into data/, "
                           r"removed (\d+) uncommitted", log):
        totals["swept_adopted"] += int(a)
        totals["swept_removed"] += int(r)
    assert took < START_LIMIT, f"round {rnd}: start took {took:.2f} s"
    assert not left, f"round {rnd}: files under tmp/ after start-up: {left[:10]}"
    s3s = [make_client(sessions[i], srv.endpoint, srv, read_timeout=30)
           for i in range(THREADS)]
    problems = verify(srv, bucket, model, s3s, rng, final, totals)
    problems += log_problems(srv)
    assert not problems, (f"round {rnd - 1} (seed {SEED}): {len(problems)} problems "
                          "after the restart:\n" + "\n".join(problems[:30]))


def storm_and_kill(srv, bucket, model, sessions, rng, rnd, totals):
    """Run the storm for a random while and SIGKILL the server with requests
    in flight; check nothing went wrong before the kill."""
    storm = Storm(srv, bucket, model, rnd, rng, sessions)
    for th in storm.threads:
        th.start()
    if rnd % 6 == 0:    # aim the kill at a CompleteMultipartUpload in flight
        time.sleep(0.3)
        storm.completing.wait(2.0)
    else:
        time.sleep(rng.uniform(0.3, 2.0))
    deadline = time.monotonic() + 1.0     # kill while requests are in flight
    while storm.inflight < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    assert srv.alive(), f"round {rnd}: the server died on its own:\n{srv.stderr_text()}"
    storm.killed_at = time.monotonic()
    totals["inflight_at_kill"] += storm.inflight
    os.kill(srv.proc.pid, signal.SIGKILL)
    storm.stop.set()
    srv.proc.wait()
    for th in storm.threads:
        th.join(60)
        assert not th.is_alive(), f"round {rnd}: a storm thread hangs"
    code = srv.stop()
    assert code == -signal.SIGKILL, f"round {rnd}: exit status {code}, not SIGKILL"
    bad_log = log_problems(srv)
    assert not bad_log, (f"round {rnd}: the server logged, with no disk fault injected:\n"
                         + "\n".join(bad_log[:20]))
    assert not storm.read_errors, (f"round {rnd} (seed {SEED}): bad reads during the "
                                   "storm:\n" + "\n".join(storm.read_errors[:20]))
    assert not storm.early_errors, (f"round {rnd} (seed {SEED}): errors before the kill:"
                                    "\n" + "\n".join(storm.early_errors[:20]))


def new_totals():
    return {"objects_verified": 0, "absent_verified": 0, "listing_verified": 0,
            "swept_adopted": 0, "swept_removed": 0, "inflight_at_kill": 0}


def run_rounds(srv, bucket, model, sessions, rng, rounds, totals, starts, after_kill=None):
    """rounds x (storm, SIGKILL, after_kill(rnd), restart, verify); the last
    verification GETs every key."""
    for rnd in range(1, rounds + 2):
        if rnd > 1:
            final = rnd == rounds + 1
            restart_and_verify(srv, bucket, model, sessions, rng, rnd, final, totals, starts)
            if final:
                return
        storm_and_kill(srv, bucket, model, sessions, rng, rnd, totals)
        if after_kill:
            after_kill(rnd)


def delete_all_leaks_nothing(srv, bucket, model, sessions):
    """Crashes leak nothing: delete every object, abort every upload left by a
    kill, and every shard file must go (GC). Returns the uploads aborted."""
    s3 = make_client(sessions[0], srv.endpoint, srv, read_timeout=30)
    live = [k for k, st in model.known.items() if st is not None]
    for i in range(0, len(live), 1000):
        r = s3.delete_objects(Bucket=bucket, Delete={
            "Objects": [{"Key": k} for k in live[i:i + 1000]], "Quiet": True})
        assert not r.get("Errors"), r["Errors"][:5]
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    for u in uploads:
        s3.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    deadline = time.monotonic() + 15
    while data_files(srv) and time.monotonic() < deadline:
        time.sleep(0.2)
    leaked = data_files(srv)
    assert not leaked, (f"{len(leaked)} shard files left after deleting everything and "
                        f"aborting {len(uploads)} uploads: {leaked[:10]}")
    assert not tmp_leftovers(srv)
    return uploads


def print_totals(label, fault, model, totals, starts, uploads, t_begin):
    st = model.stats
    print(f"{label}: {len(starts)} rounds ({fault} each), restarts in "
          f"{min(starts):.2f}-{max(starts):.2f} s (limit {START_LIMIT} s); "
          f"ops acknowledged {st['acked']} (multipart {st['mpu_acked']}), uncertain "
          f"{st['uncertain']} (multipart {st['mpu_uncertain']}), failed {st['failed']}; "
          f"objects verified by GET {totals['objects_verified']}, deletions verified "
          f"{totals['absent_verified']}, unchanged objects verified by listing "
          f"{totals['listing_verified']}, storm reads checked {st['reads_checked']}; "
          f"requests in flight at the kills {totals['inflight_at_kill']}; sweep adopted "
          f"{totals['swept_adopted']} committed and removed {totals['swept_removed']} "
          f"uncommitted tmp/ files; {len(uploads)} unfinished uploads aborted; "
          f"{time.monotonic() - t_begin:.0f} s")


def test_issue5_crash_rounds(server_factory):
    rng = random.Random(SEED)
    print(f"\ncrash test: seed {SEED} (TARN_CRASH_SEED), {ROUNDS} rounds")
    srv = server_factory(["--log-level", "info"])
    sessions = [boto3.session.Session() for _ in range(THREADS)]
    bucket = unique_bucket("crash")
    make_client(sessions[0], srv.endpoint, srv).create_bucket(Bucket=bucket)
    model = Model()
    totals = new_totals()
    starts = []
    t_begin = time.monotonic()
    run_rounds(srv, bucket, model, sessions, rng, ROUNDS, totals, starts)

    uploads = delete_all_leaks_nothing(srv, bucket, model, sessions)
    assert srv.stop() == 0

    print_totals("crash test", "SIGKILL", model, totals, starts, uploads, t_begin)
