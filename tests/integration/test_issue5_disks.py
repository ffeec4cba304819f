"""Issue 5 part 2: lost disks. Six disk folders, 4+2. While a light load runs
(one thread: PUT a new object, GET it back, GET an older one, in a loop), disk
folders are made unusable in different ways:

  removed              rm -rf of the whole disk folder;
  emptied              everything inside deleted, the folder kept;
  permission denied    chmod 000 on the folder, with the server running as
                       `nobody` (setpriv): the tests run as root, and root
                       ignores permission bits, so chmod alone would test
                       nothing. EACCES on every open below it;
  immutable            chattr +i on the disk's tmp/ and data/ folders (root is
                       refused too: EPERM on every create, rename, unlink;
                       reads still work);
  replaced by a file   the folder removed and a regular file put in its
                       place: ENOTDIR on every path below it;
  read errors          every shard file of a disk replaced by a directory
                       (EISDIR on read), or truncated (short reads).

With at most m = 2 disks unusable every PUT succeeds and every GET returns the
right bytes; with a third, PUTs answer 503 and GETs answer 5xx or the right
bytes, never wrong bytes or a cut-off body. The server starts again with a
missing disk folder (re-created and formatted) and serves.

Heal: `tarn disks` and `tarn status` asking the running server, which reports
a lost disk offline with its data path's reason; `tarn heal` asked of the
running server (its healer runs the pass) and, with the server stopped,
working on the folders itself; the background healer (a server started with
a short --heal-interval rebuilds an emptied disk by itself), its counters
read through `tarn status`. The admin interface is in `tarn_admin` below.
"""

import http.client
import itertools
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import conftest
from conftest import Server, ServerStartError, signed_request, unique_bucket

MiB = 1024 * 1024
K, M = 4, 2
START_LIMIT = 5.0
FAULTS = {"n": 0}       # faults injected in this module (printed at the end)


# --------------------------------------------------------------- helpers ----

@pytest.fixture(scope="module", autouse=True)
def _faults_total():
    yield
    print(f"\nlost-disk tests: {FAULTS['n']} faults injected")


def disks(srv):
    return [os.path.join(srv.data_dir, f"disk{i}") for i in range(1, 7)]


def shard_files(disk):
    out = []
    for sub in ("data", "tmp"):
        for dp, _, fns in os.walk(os.path.join(disk, sub)):
            out += [os.path.join(dp, f) for f in fns]
    return out


def put(srv, bucket, key, data, timeout=20):
    return signed_request(srv, "PUT", f"/{bucket}/{key}", body=data, timeout=timeout)


def get(srv, bucket, key, timeout=20, headers=None):
    return signed_request(srv, "GET", f"/{bucket}/{key}", headers=headers or {},
                          timeout=timeout)


def sizes(rng, n):
    pool = [1, 4096, 70000, MiB + 3, 2 * MiB + 5, 4 * MiB + 1, 9 * MiB + 7]
    return [pool[i % len(pool)] if i < len(pool) else rng.choice(pool) for i in range(n)]


def preload(srv, bucket, n=10, rng=None):
    rng = rng or random.Random(1)
    objs = {}
    for i, size in enumerate(sizes(rng, n)):
        key = f"pre/{i:03d}-{size}"
        objs[key] = os.urandom(size)
        r = put(srv, bucket, key, objs[key])
        assert r.status == 200, r
    return objs


def check_all(srv, bucket, objs, what):
    bad = []
    for key, data in list(objs.items()):
        r = get(srv, bucket, key)
        if r.status != 200 or r.body != data:
            bad.append(f"{key}: {r.status}, {len(r.body)} bytes "
                       f"({'same' if r.body == data else 'different'})")
        elif len(data) > 3 * MiB:       # a range across stripes decodes too
            a, b = len(data) // 3, len(data) // 3 + MiB + 17
            r = get(srv, bucket, key, headers={"Range": f"bytes={a}-{b}"})
            if r.status != 206 or r.body != data[a:b + 1]:
                bad.append(f"{key} range: {r.status}, {len(r.body)} bytes")
    assert not bad, f"{what}:\n" + "\n".join(bad)


def assert_alive(srv, what):
    if not srv.alive():
        time.sleep(0.2)
        tail = "\n".join(srv.stderr_text(4000).splitlines()[-6:])
        raise AssertionError(f"the server died ({what}), exit status "
                             f"{srv.proc.poll()}; its log ends:\n{tail}")


def check_clean_failure(srv, bucket, objs, what, allow_cut=False):
    """More than m disks lost: every GET is 5xx or exactly right. With
    allow_cut (damage in the middle of an object, so the first stripes decode
    and the 200 is on its way before the bad stripe is met), a body cut off
    after a correct prefix is clean too: the client sees a short body, never
    wrong bytes."""
    assert_alive(srv, what)
    bad = []
    for key, data in list(objs.items()):
        if not data:
            continue
        try:
            r = get(srv, bucket, key, timeout=10)
        except http.client.IncompleteRead as e:
            if not (allow_cut and data.startswith(e.partial)):
                bad.append(f"{key}: {e!r} (cut off)"
                           f"{'' if data.startswith(e.partial) else ' WRONG prefix'}")
            continue
        except (OSError, http.client.HTTPException) as e:
            bad.append(f"{key}: {e!r} (cut off or hung)")
            continue
        if r.status == 200 and r.body == data:
            continue
        if r.status < 500:
            bad.append(f"{key}: status {r.status}, {len(r.body)} bytes "
                       f"({'same' if r.body == data else 'WRONG'} bytes)")
    assert not bad, f"{what}:\n" + "\n".join(bad)


class Load:
    """One thread: PUT load/<n>, GET it back, GET a random older object.
    Every operation is recorded with the phase it started and ended in."""

    def __init__(self, srv, bucket, objs, seed=0):
        self.srv, self.bucket, self.objs = srv, bucket, objs
        self.rng = random.Random(seed)
        self.phase = "healthy"
        self.ops = []              # (start phase, end phase, kind, key, result, detail)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive(), "load thread hangs"

    def set_phase(self, phase, min_ops=6, timeout=20):
        """Switch phase, then wait until min_ops operations ran in it."""
        with self.lock:
            self.phase = phase
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                n = sum(1 for o in self.ops if o[0] == phase)
            if n >= min_ops:
                return
            time.sleep(0.02)
        raise AssertionError(f"the load did only {n} operations in phase {phase!r}")

    def _one(self, kind, key, fn):
        with self.lock:
            p0 = self.phase
        try:
            result, detail = fn()
        except (OSError, http.client.HTTPException) as e:
            result, detail = "exception", repr(e)
        with self.lock:
            self.ops.append((p0, self.phase, kind, key, result, detail))
        return result

    def _get(self, key):
        data = self.objs[key]
        r = get(self.srv, self.bucket, key, timeout=10)
        if r.status == 200:
            return ("ok", "") if r.body == data else ("WRONG", f"{len(r.body)} bytes")
        return (f"{r.status}", r.body[:200])

    def run(self):
        n = 0
        while not self.stop.is_set():
            key = f"load/{n:05d}"
            n += 1
            size = self.rng.choice([1, 3000, 65536, 300000, MiB + 1, 5 * MiB + 3])
            data = os.urandom(size)

            def do_put():
                r = put(self.srv, self.bucket, key, data, timeout=10)
                if r.status == 200:
                    self.objs[key] = data
                    return "ok", ""
                return f"{r.status}", r.body[:200]
            if self._one("PUT", key, do_put) == "ok":
                self._one("GET", key, lambda: self._get(key))
            old = self.rng.choice(sorted(self.objs))
            self._one("GET", old, lambda: self._get(old))

    def report(self, phases):
        return [o for o in self.ops if o[0] in phases or o[1] in phases]

    def assert_all_ok(self, phases):
        """Every operation that started or ended in these phases succeeded."""
        assert_alive(self.srv, f"load in phases {phases}")
        bad = [o for o in self.report(phases) if o[4] != "ok"]
        n = len(self.report(phases))
        assert n > 0, f"no load in phases {phases}"
        assert not bad, (f"{len(bad)} of {n} load operations failed in {phases} "
                         "(quorum holds):\n" + "\n".join(map(str, bad[:20])))
        return n

    def assert_clean_failures(self, phase):
        """Beyond the quorum: PUTs that started there answer 503 (or, when the
        503 comes before the body was read, the connection is closed under the
        sending client: then the key must not exist); GETs give the right
        bytes or 5xx; nothing is wrong bytes or cut off."""
        assert_alive(self.srv, f"load in phase {phase!r}")
        ops = [o for o in self.ops if o[0] == phase]
        bad = []
        for o in ops:
            if o[2] != "PUT" or o[4] == "503":
                continue
            if o[4] == "exception" and ("BrokenPipe" in o[5] or "ConnectionReset" in o[5]):
                h = signed_request(self.srv, "HEAD", f"/{self.bucket}/{o[3]}")
                if h.status == 404:
                    continue
                o = o + (f"then HEAD {h.status}",)
            bad.append(o)
        bad += [o for o in ops if o[2] == "GET" and o[4] != "ok"
                and not (o[4].isdigit() and int(o[4]) >= 500)]
        bad += [o for o in self.ops if o[4] == "WRONG"]
        assert ops, f"no load in phase {phase}"
        assert not bad, (f"{len(bad)} of {len(ops)} load operations wrong beyond the "
                         "quorum:\n" + "\n".join(map(str, bad[:20])))
        return len(ops)


def rmtree_racing(path):
    """rm -rf while the server may still rename a file into data/ below it."""
    for _ in range(100):
        if not os.path.lexists(path):
            return
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    raise AssertionError(f"cannot remove {path}")


def lose(path, how):
    """Make disk folder `path` unusable. Returns an undo function (or None)."""
    FAULTS["n"] += 1
    if how == "removed":
        rmtree_racing(path)
        return None
    if how == "emptied":
        for _ in range(3):
            for name in os.listdir(path):
                rmtree_racing(os.path.join(path, name))
        return None
    if how == "file":
        rmtree_racing(path)
        with open(path, "w") as f:
            f.write("not a disk\n")
        return None
    if how == "chmod":
        # The folder and every folder below it: the server holds descriptors
        # of tmp/ and data/ and opens relative to them, so denying the disk
        # folder alone would change nothing for a running server.
        dirs = [path] + [os.path.join(dp, dn) for dp, dns, _ in os.walk(path) for dn in dns]
        modes = [(p, stat.S_IMODE(os.stat(p).st_mode)) for p in dirs]
        for p, _ in reversed(modes):
            os.chmod(p, 0)

        def undo():
            for p, mode in modes:
                os.chmod(p, mode)
        return undo
    if how == "immutable":
        dirs = [os.path.join(path, "tmp"), os.path.join(path, "data")]
        subprocess.run(["chattr", "+i", *dirs], check=True)
        return lambda: subprocess.run(["chattr", "-i", *dirs], check=True)
    raise ValueError(how)


def chattr_works(where):
    d = tempfile.mkdtemp(dir=where)
    try:
        r = subprocess.run(["chattr", "+i", d], capture_output=True)
        if r.returncode:
            return False
        try:
            open(os.path.join(d, "x"), "w").close()
            return False
        except OSError:
            return True
        finally:
            subprocess.run(["chattr", "-i", d])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def log_mentions_disk(srv, path):
    text = srv.stderr_text(400000)
    return any(path in line and ("not usable" in line or "failed" in line
                                 or "to heal" in line or "dropped" in line)
               for line in text.splitlines())


def new_object_lands_on(srv, bucket, disk_paths, tries=20):
    """PUT fresh objects until one of them has a shard on each given disk
    (placement rotates by key); returns True if one did."""
    for i in range(tries):
        before = {d: set(shard_files(d)) for d in disk_paths}
        r = put(srv, bucket, f"probe/{time.monotonic_ns()}-{i}", os.urandom(5000))
        assert r.status == 200, r
        if all(set(shard_files(d)) - before[d] for d in disk_paths):
            return True
    return False


def timed_start(srv):
    t0 = time.monotonic()
    srv.start()
    took = time.monotonic() - t0
    assert took < START_LIMIT, f"start took {took:.2f} s"
    return took


# ------------------------------------------------- disks lost while running ----

@pytest.mark.parametrize("how", ["removed", "emptied"])
def test_issue5_two_disks_lost_then_third(server_factory, how):
    srv = server_factory()
    bucket = unique_bucket("lost")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    with Load(srv, bucket, objs) as load:
        load.set_phase("healthy")
        lose(d[1], how)
        load.set_phase("one lost")
        lose(d[4], how)
        load.set_phase("two lost", min_ops=10)
        n_ok = load.assert_all_ok(["healthy", "one lost", "two lost"])
        check_all(srv, bucket, objs, f"two disks {how}")
        for p in (d[1], d[4]):
            assert log_mentions_disk(srv, p), f"nothing in the log names {p}"
        lose(d[0], how)
        load.set_phase("three lost", min_ops=6)
    n_bad = load.assert_clean_failures("three lost")
    check_clean_failure(srv, bucket, objs, f"three disks {how}")
    r = put(srv, bucket, "after/three", os.urandom(10000))
    assert r.status == 503, r
    assert signed_request(srv, "HEAD", f"/{bucket}/after/three").status == 404
    assert srv.alive()
    print(f"\n{how}: {n_ok} load ops ok with <= 2 disks lost, {n_bad} clean under 3")


def test_issue5_disks_emptied_then_restart(server_factory):
    """Two disks emptied while running; a restart formats them as new disks,
    everything reads back, new objects are written to all six again."""
    srv = server_factory()
    bucket = unique_bucket("empt")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    with Load(srv, bucket, objs) as load:
        load.set_phase("healthy")
        lose(d[2], "emptied")
        lose(d[5], "emptied")
        load.set_phase("two emptied", min_ops=10)
    load.assert_all_ok(["healthy", "two emptied"])
    srv.stop()
    timed_start(srv)
    for p in (d[2], d[5]):
        assert os.path.isfile(os.path.join(p, ".tarn-format")), f"{p} not formatted again"
    check_all(srv, bucket, objs, "after restart with two emptied disks")
    assert new_object_lands_on(srv, bucket, [d[2], d[5]]), "new objects avoid the new disks"


@pytest.fixture
def nobody_server(monkeypatch):
    """A server running as nobody (setpriv), so that chmod 000 bites."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    base = tempfile.mkdtemp(prefix="tarn-nobody-")
    os.chmod(base, 0o755)
    data = os.path.join(base, "data")
    os.mkdir(data)
    os.chown(data, 65534, 65534)
    wrapper = os.path.join(base, "tarn-as-nobody")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "
                f"{conftest.TARN} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    monkeypatch.setattr(conftest, "TARN", wrapper)
    srv = Server(data_dir=data)
    try:
        srv.start()
    except ServerStartError as e:
        srv.cleanup()
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(str(e), pytrace=False)
    yield srv
    srv.cleanup()
    for p in disks(srv):
        if os.path.isdir(p):
            os.chmod(p, 0o755)
    shutil.rmtree(base, ignore_errors=True)


def test_issue5_permission_denied(nobody_server):
    srv = nobody_server
    out = subprocess.run(["ps", "-o", "user=", "-p", str(srv.proc.pid)], capture_output=True,
                         text=True).stdout.strip()
    assert out == "nobody", f"server runs as {out!r}"
    bucket = unique_bucket("perm")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    undo = []
    try:
        with Load(srv, bucket, objs) as load:
            load.set_phase("healthy")
            undo.append(lose(d[0], "chmod"))
            load.set_phase("one denied")
            undo.append(lose(d[3], "chmod"))
            load.set_phase("two denied", min_ops=10)
            load.assert_all_ok(["healthy", "one denied", "two denied"])
            check_all(srv, bucket, objs, "two disks chmod 000")
            r = tarn_admin(srv, "disks")
            assert r.returncode == 0, r.stdout + r.stderr
            lines = disk_lines(r.stdout, d)
            for p in (d[0], d[3]):
                assert re.search(r"server: offline since \S+: .*Permission denied", lines[p]), \
                    lines[p]
            undo.append(lose(d[5], "chmod"))
            load.set_phase("three denied")
        load.assert_clean_failures("three denied")
        check_clean_failure(srv, bucket, objs, "three disks chmod 000")
    finally:
        for u in undo:
            u()
    # Permissions back: the disks are re-checked (at most every 5 s) and used
    # again; everything reads back.
    time.sleep(5.5)
    check_all(srv, bucket, objs, "permissions restored")
    assert new_object_lands_on(srv, bucket, [d[0], d[3], d[5]]), \
        "disks whose permissions came back are not written again"
    # Each worker re-checks a disk it found unusable when one of its puts
    # wants it: puts on fresh connections reach every worker.
    deadline = time.monotonic() + 20
    for i in itertools.count():
        r = tarn_admin(srv, "disks")
        if "6 of 6 disks online" in r.stdout or time.monotonic() > deadline:
            break
        assert put(srv, bucket, f"recheck-{i}", os.urandom(1000)).status == 200
        time.sleep(0.2)
    assert r.returncode == 0 and "6 of 6 disks online" in r.stdout, r.stdout + r.stderr
    log = srv.stderr_text(400000)
    for p in (d[0], d[3], d[5]):
        assert f"disk {p} online again" in log, f"no 'online again' for {p}"


def test_issue5_file_and_immutable(server_factory):
    """One disk folder replaced by a file (ENOTDIR), one disk's tmp/ and data/
    made immutable (EPERM on writes, reads work)."""
    srv = server_factory()
    if not chattr_works(srv.tmp):
        pytest.skip("chattr +i does not work on this file system")
    bucket = unique_bucket("file")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    undo = None
    try:
        with Load(srv, bucket, objs) as load:
            load.set_phase("healthy")
            lose(d[1], "file")
            load.set_phase("file")
            undo = lose(d[2], "immutable")
            load.set_phase("file+immutable", min_ops=10)
            load.assert_all_ok(["healthy", "file", "file+immutable"])
            check_all(srv, bucket, objs, "a file and an immutable disk")
            lose(d[3], "file")
            load.set_phase("three")
        load.assert_clean_failures("three")
        check_clean_failure(srv, bucket, objs, "two files and an immutable disk")
    finally:
        if undo:
            undo()
    assert srv.alive()


def test_issue5_shard_read_errors(server_factory):
    """Every shard of disk 2 replaced by a directory (EISDIR on read), every
    shard of disk 5 truncated: reads decode around both while writes go on;
    a third disk's shards truncated: 5xx or right bytes."""
    srv = server_factory()
    bucket = unique_bucket("rerr")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket, n=12)
    d = disks(srv)

    def committed(disk):
        return [f for f in shard_files(disk)
                if os.path.relpath(f, disk).startswith("data" + os.sep)]

    def to_dirs(disk):
        fs = committed(disk)
        for f in fs:
            os.unlink(f)
            os.mkdir(f)
        FAULTS["n"] += len(fs)
        return len(fs)

    def truncate(disk, keep):
        fs = committed(disk)
        for f in fs:
            size = os.path.getsize(f)
            os.truncate(f, keep(size))
        FAULTS["n"] += len(fs)
        return len(fs)

    with Load(srv, bucket, dict(objs)) as load:
        load.set_phase("healthy")
        n1 = to_dirs(d[1])
        n2 = truncate(d[4], lambda size: size // 2)
        check_all(srv, bucket, objs, "shards on two disks unreadable")
        load.set_phase("two bad", min_ops=8)
        load.assert_all_ok(["healthy", "two bad"])
    n3 = truncate(d[0], lambda size: min(size, 4096 + 100))   # header and a bit
    check_clean_failure(srv, bucket, objs, "shards on three disks unreadable",
                        allow_cut=True)
    assert n1 and n2 and n3
    assert "to heal" in srv.stderr_text(400000), "bad shards are not logged"
    assert srv.alive()


# -------------------------------------------------------------- restarts ----

def test_issue5_restart_with_missing_disk_folders(server_factory):
    srv = server_factory()
    bucket = unique_bucket("miss")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    srv.stop()
    lose(d[1], "removed")
    took1 = timed_start(srv)
    assert os.path.isfile(os.path.join(d[1], ".tarn-format"))
    check_all(srv, bucket, objs, "one disk folder missing at start")
    # SIGKILL this time, and a second folder gone.
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.stop()
    lose(d[4], "removed")
    took2 = timed_start(srv)
    for p in (d[1], d[4]):
        assert os.path.isfile(os.path.join(p, ".tarn-format")), f"{p} not formatted"
    check_all(srv, bucket, objs, "two disk folders missing at start")
    assert new_object_lands_on(srv, bucket, [d[1], d[4]])
    more = {f"after/{n}": os.urandom(n) for n in (10, 70000, 5 * MiB)}
    for k, v in more.items():
        assert put(srv, bucket, k, v).status == 200
    check_all(srv, bucket, more, "written after the restart")
    print(f"\nrestart with a missing disk folder: {took1:.2f} s, with two: {took2:.2f} s")


def test_issue5_restart_with_unusable_disk(server_factory):
    """A disk that is there but unusable at start (its folder replaced by a
    file) is fewer than m lost: the server must start and serve, writing
    around it, as it does when the disk fails while running."""
    srv = server_factory()
    bucket = unique_bucket("unus")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket)
    d = disks(srv)
    srv.stop()
    lose(d[3], "file")
    try:
        timed_start(srv)
    except ServerStartError:
        raise AssertionError("tarn refuses to start with one disk (of 6, m=2) unusable:\n"
                             + srv.stderr_text(3000)) from None
    check_all(srv, bucket, objs, "one disk unusable at start")
    assert put(srv, bucket, "after", os.urandom(70000)).status == 200


# ----------------------------------------------------------------- heal ----

def tarn_admin(srv, *args, timeout=120):
    """`tarn <command> --data DIR` (plus the server's keys, so the command
    does not generate a credentials file): disks, status, heal and scrub ask
    the running server through its admin socket; with the server stopped
    they work on the folders themselves (status then fails)."""
    return subprocess.run([conftest.TARN, *args, "--data", srv.data_dir,
                           "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def disk_lines(out, paths):
    """The `tarn disks` line of each disk folder in paths."""
    lines = {}
    for ln in out.splitlines():
        for p in paths:
            if re.search(rf"\s{re.escape(p)}\s", ln):
                lines[p] = ln
    assert len(lines) == len(paths), out
    return lines


def counters(srv):
    r = tarn_admin(srv, "status")
    assert r.returncode == 0, f"tarn status: {r.returncode}\n{r.stdout}\n{r.stderr}"
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s", r.stdout, re.M)}


def all_shards_present(srv, bucket, objs):
    """Every object written with 4+2 has a shard file on each of the 6 disks:
    per disk, one shard file per non-empty object (single PUTs here)."""
    want = sum(1 for v in objs.values() if v)
    return {p: len(shard_files(p)) for p in disks(srv)}, want


def test_issue5_admin_reports_offline_disk(server_factory):
    """A disk removed under the running server: the put that meets it marks it
    offline, logged once; `tarn disks` and `tarn status` ask the server, which
    reports it offline with its data path's reason beside the folder check."""
    srv = server_factory()
    bucket = unique_bucket("adm")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    d = disks(srv)
    shutil.rmtree(d[2])
    for i in range(4):
        assert put(srv, bucket, f"k{i}", os.urandom(5000)).status == 200
    r = tarn_admin(srv, "disks")
    assert r.returncode == 0, r.stderr
    assert "working on the folders" not in r.stderr, "tarn disks did not reach the server"
    lines = disk_lines(r.stdout, d)
    gone = lines[d[2]]
    assert re.search(r"\boffline\b", gone), gone
    assert re.search(r"server: offline since \S+: open failed: No such file or directory", gone), gone
    assert "folder: missing" in gone, gone
    for p in d:
        if p != d[2]:
            assert re.search(r"\bonline\b.*server: online since .*; folder: ok", lines[p]), lines[p]
    assert "5 of 6 disks online" in r.stdout and "quorum holds" in r.stdout, r.stdout
    st = tarn_admin(srv, "status")
    assert st.returncode == 0 and "server: offline since" in disk_lines(st.stdout, d)[d[2]], \
        st.stdout
    assert counters(srv)["put_dropped"] >= 4
    offline_logs = [ln for ln in srv.stderr_text(400000).splitlines()
                    if f"disk {d[2]} offline" in ln]
    assert len(offline_logs) == 1, offline_logs


def test_issue5_idle_disk_lost_is_reported(server_factory):
    """With no request touching it, a disk folder removed under the running
    server is still reported: the disk watch (every 5 s) logs it offline
    once and `tarn status` shows it with the reason."""
    srv = server_factory()
    d = disks(srv)
    time.sleep(0.5)
    shutil.rmtree(d[4])
    deadline = time.monotonic() + 12
    line = ""
    while time.monotonic() < deadline:
        line = disk_lines(tarn_admin(srv, "status").stdout, d)[d[4]]
        if "server: offline" in line:
            break
        time.sleep(0.5)
    assert re.search(r"server: offline since \S+: missing \(No such file or directory\)", line), line
    time.sleep(6)     # more watch rounds: still one line
    logs = [ln for ln in srv.stderr_text(400000).splitlines() if f"disk {d[4]} offline" in ln]
    assert len(logs) == 1 and "found by the disk watch" in logs[0], logs


@pytest.mark.parametrize("where", ["online", "offline"])
def test_issue5_heal_rebuilds_replaced_disk(server_factory, where):
    """A disk replaced by an empty folder: `tarn heal` rebuilds every missing
    shard, asked of the running server (which goes on serving), or with the
    server stopped (the command opens the store itself); then losing two
    other disks loses nothing."""
    srv = server_factory(["--heal-interval", "0"])   # only the heal asked for
    bucket = unique_bucket("heal")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket, n=12)
    d = disks(srv)
    srv.stop()
    lose(d[0], "emptied")
    timed_start(srv)
    pid = srv.proc.pid
    if where == "offline":
        srv.stop()
    r = tarn_admin(srv, "heal")
    assert r.returncode == 0, f"tarn heal: {r.returncode}\n{r.stdout}\n{r.stderr}"
    fell_back = "working on the folders directly" in r.stderr
    assert fell_back == (where == "offline"), r.stderr
    rebuilt = int(re.search(r"(\d+) shards rebuilt", r.stdout).group(1))
    counts, want = all_shards_present(srv, bucket, objs)
    assert rebuilt == want and counts[d[0]] >= want, \
        f"after heal: {r.stdout}shard files per disk {counts}, want {want}"
    if where == "offline":
        timed_start(srv)
    else:
        assert srv.alive() and srv.proc.pid == pid, "the server was restarted"
        assert counters(srv)["healed"] == want
    again = tarn_admin(srv, "heal")
    assert again.returncode == 0 and " 0 shards rebuilt" in again.stdout, again.stdout
    shutil.rmtree(d[1])
    shutil.rmtree(d[2])
    check_all(srv, bucket, objs, "healed disk 1, then disks 2 and 3 lost")


def test_issue5_background_heal(server_factory):
    """The background healer (rate-limited) rebuilds a replaced disk without
    being asked. --heal-interval 2: a heal pass 2 s after start and every
    2 s (the default is an hour); the rate limit stays at its default."""
    r = subprocess.run([conftest.TARN, "heal", "--help"], capture_output=True, text=True)
    assert "unknown command" not in r.stderr, "no heal in this build"
    srv = server_factory(["--heal-interval", "2"])
    bucket = unique_bucket("bgh")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket, n=8)
    d = disks(srv)
    srv.stop()
    lose(d[5], "emptied")
    timed_start(srv)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts, want = all_shards_present(srv, bucket, objs)
        if counts[d[5]] >= want:
            break
        time.sleep(0.5)
    assert counts[d[5]] >= want, f"background heal: shard files per disk {counts}, want {want}"
    c = counters(srv)
    assert c["healed"] >= want and c["heal_passes"] >= 1, c
    assert c["unrecoverable"] == 0 and c["scrub_passes"] == 0, c
    shutil.rmtree(d[3])
    shutil.rmtree(d[4])
    check_all(srv, bucket, objs, "background-healed disk 6, then disks 4 and 5 lost")


