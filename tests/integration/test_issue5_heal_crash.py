"""Issue 5: a heal cut short by a crash. A disk is replaced by an empty
folder, `tarn heal` is asked of the running server with the rebuild paced
to 1 MiB/s, and the server is SIGKILLed while the pass is rebuilding (some
shards already renamed into data/, one maybe half-written under tmp/ as
<id>.heal). After the restart: nothing left under tmp/ (the start-up sweep
removes .heal files), every object reads back (decoded around what is still
missing), a second `tarn heal` rebuilds exactly the rest, a third finds
nothing to do, and losing two other disks loses nothing."""

import os
import re
import signal
import subprocess
import time

import conftest
from conftest import signed_request, unique_bucket
from test_issue5_disks import (all_shards_present, check_all, disks, lose, preload,
                               shard_files, tarn_admin, timed_start)

MiB = 1024 * 1024


def healed_so_far(srv):
    return len(re.findall(r"heal: healed data", srv.stderr_text(10 ** 7)))


def heal_summary(out):
    m = re.search(r"(\d+) shards missing or damaged, (\d+) shards rebuilt, (\d+) unrecoverable, "
                  r"(\d+) write errors", out)
    assert m, out
    return [int(x) for x in m.groups()]


def test_issue5_heal_killed_midway(server_factory):
    srv = server_factory(["--heal-interval", "0", "--heal-rate-mib-s", "1",
                          "--log-level", "info"])
    bucket = unique_bucket("healkill")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    objs = preload(srv, bucket, n=14)      # 1 B .. 9 MiB: ~6 MiB of shards per disk
    d = disks(srv)
    srv.stop()
    lose(d[1], "emptied")
    timed_start(srv)

    heal = subprocess.Popen([conftest.TARN, "heal", "--data", srv.data_dir,
                             "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while healed_so_far(srv) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    first = healed_so_far(srv)
    assert first >= 3, "the heal pass rebuilt nothing within 30 s:\n" + srv.stderr_text(3000)
    os.kill(srv.proc.pid, signal.SIGKILL)
    out, err = heal.communicate(timeout=30)
    assert heal.returncode == 2 and "no complete answer" in err, (heal.returncode, out, err)
    srv.stop()
    want = all_shards_present(srv, bucket, objs)[1]
    assert first < want, f"the pass finished ({first} of {want}) before the kill: pace it slower"

    timed_start(srv)
    left = [f for p in d for f in shard_files(p) if f.startswith(os.path.join(p, "tmp", ""))]
    assert not left, f"tmp/ not swept after the crash: {left}"
    check_all(srv, bucket, objs, "after a heal killed midway")
    r = tarn_admin(srv, "heal")
    assert r.returncode == 0, f"tarn heal: {r.returncode}\n{r.stdout}\n{r.stderr}"
    missing, rebuilt, unrecoverable, write_errors = heal_summary(r.stdout)
    counts, want = all_shards_present(srv, bucket, objs)
    assert rebuilt == missing and unrecoverable == write_errors == 0, r.stdout
    assert first <= want - rebuilt <= first + 1, \
        f"{first} healed before the kill, {rebuilt} after, {want} were missing"
    assert counts[d[1]] == want, counts
    r = tarn_admin(srv, "heal")
    assert r.returncode == 0 and heal_summary(r.stdout)[:2] == [0, 0], r.stdout
    for p in (d[3], d[5]):
        lose(p, "removed")
    check_all(srv, bucket, objs, "healed after the crash, then two other disks lost")
    print(f"\nheal killed midway: {first} of {want} shards rebuilt before the SIGKILL, "
          f"{rebuilt} after the restart")
