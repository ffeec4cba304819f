"""Issue 5 part 1, the harder half: power loss. The crash test's storm runs
against a server whose data directory is an ext4 file system on a loop
device; at a random moment the server is SIGKILLed and the device's backing
file is copied *without flushing anything*: the copy holds exactly what had
reached the device, and everything that was only in the page cache (writes
not yet fdatasynced, directory entries not yet fsynced, RocksDB writes not
yet synced) is lost, as after a power cut. The copy is then mounted (ext4
replays its journal) and the server started on it: every acknowledged write
must read back byte for byte, nothing unacknowledged partially, tmp/ swept,
start-up under 5 s — the crash test's checks (test_issue5_crash.py).

How "only what reached the device" is ensured while the test runs:
  - vm.dirty_writeback_centisecs = 0 (no periodic writeback) and the mount
    option commit=3600 (no periodic journal commit): dirty pages and
    metadata leave memory only when tarn asks (fdatasync, fsync) — or when
    something calls sync(2), which this test cannot prevent on a shared
    machine; both sysctls are restored at the end;
  - the loop device uses direct I/O, so what it writes is in the backing
    file at once;
  - after the SIGKILL the test waits until the device has no I/O in flight
    (the kernel finishes what the ring had submitted) before copying.
What it does not model: a disk's volatile write cache reordering writes that
were not flushed (the loop device has none).

Needs root, losetup and mount (skipped otherwise, with the reason).
TARN_POWERLOSS_ROUNDS (default 8) and TARN_CRASH_SEED as in the crash test.
"""

import os
import random
import shutil
import subprocess
import tempfile
import time

import boto3
import pytest

from conftest import unique_bucket
from test_issue5_crash import (SEED, THREADS, Model, delete_all_leaks_nothing, make_client,
                               new_totals, print_totals, run_rounds)

ROUNDS = int(os.environ.get("TARN_POWERLOSS_ROUNDS", "8"))
IMAGE_SIZE = 1 << 30          # sparse, per file system
SYSCTLS = {"vm/dirty_writeback_centisecs": "0", "vm/dirty_expire_centisecs": "360000"}


def sh(*args, timeout=60):
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          timeout=timeout).stdout.strip()


class PowerDisk:
    """One ext4 image on a loop device mounted at `mount`; power_cut() swaps
    it for a copy of what the device holds."""

    def __init__(self, workdir, name, mount):
        self.workdir, self.name, self.mount = workdir, name, mount
        os.makedirs(self.mount)
        self.image = os.path.join(workdir, f"{name}-0.img")
        self.generation = 0
        self.loop = None
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_SIZE)
        sh("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", self.image)
        self.attach()
        os.rmdir(os.path.join(self.mount, "lost+found"))

    def attach(self):
        self.loop = sh("losetup", "--find", "--show", "--direct-io=on", self.image)
        sh("mount", "-o", "commit=3600", self.loop, self.mount)

    def detach(self):
        if self.loop:
            sh("umount", self.mount, timeout=120)
            sh("losetup", "-d", self.loop)
            self.loop = None

    def busy(self):
        with open(f"/sys/block/{os.path.basename(self.loop)}/inflight") as f:
            return any(int(x) for x in f.read().split())

    def keep_what_reached_the_device(self):
        self.generation += 1
        survivor = os.path.join(self.workdir, f"{self.name}-{self.generation}.img")
        sh("cp", "--sparse=always", self.image, survivor, timeout=300)
        self.detach()            # flushes the lost page cache into the old image
        os.unlink(self.image)
        self.image = survivor
        self.attach()            # ext4 replays its journal here


class PowerDisks:
    """The server's six disk folders and its meta folder, each its own file
    system (as separate devices would be: an fsync on one commits nothing
    on another), mounted at <data>/disk1..6 and <data>/meta."""

    NAMES = [f"disk{i}" for i in range(1, 7)] + ["meta"]

    def __init__(self, workdir):
        self.data_dir = os.path.join(workdir, "data")
        self.disks = []
        for name in self.NAMES:
            self.disks.append(PowerDisk(workdir, name, os.path.join(self.data_dir, name)))

    def settle(self):
        """Wait until no device has had anything in flight for 0.3 s."""
        quiet_since = time.monotonic()
        deadline = quiet_since + 30
        while time.monotonic() < deadline:
            now = time.monotonic()
            if any(d.busy() for d in self.disks):
                quiet_since = now
            elif now - quiet_since >= 0.3:
                return
            time.sleep(0.02)
        raise AssertionError("loop devices still busy 30 s after the kill")

    def power_cut(self):
        """The server is dead: keep only what reached each device."""
        self.settle()
        for d in self.disks:
            d.keep_what_reached_the_device()

    def detach(self):
        for d in self.disks:
            try:
                d.detach()
            except subprocess.CalledProcessError:
                pass


def set_sysctls(values):
    old = {}
    for name, value in values.items():
        path = "/proc/sys/" + name
        with open(path) as f:
            old[name] = f.read().strip()
        with open(path, "w") as f:
            f.write(value)
    return old


@pytest.fixture
def power_disks():
    if os.geteuid() != 0 or not shutil.which("losetup") or not shutil.which("mkfs.ext4"):
        pytest.skip("power-loss test needs root, losetup and mkfs.ext4")
    workdir = tempfile.mkdtemp(prefix="tarn-power-")
    disks = None
    old = None
    try:
        try:
            disks = PowerDisks(workdir)
            old = set_sysctls(SYSCTLS)
        except (subprocess.CalledProcessError, OSError) as e:
            pytest.skip(f"cannot set up a loop-mounted ext4 here: {e}")
        yield disks
    finally:
        if old:
            set_sysctls(old)
        if disks:
            disks.detach()
        shutil.rmtree(workdir, ignore_errors=True)


def test_issue5_power_loss_rounds(power_disks, server_factory):
    rng = random.Random(SEED ^ 0x5057)
    print(f"\npower-loss test: seed {SEED} (TARN_CRASH_SEED), {ROUNDS} rounds")
    srv = server_factory(["--log-level", "info"], data_dir=power_disks.data_dir)
    sessions = [boto3.session.Session() for _ in range(THREADS)]
    bucket = unique_bucket("power")
    make_client(sessions[0], srv.endpoint, srv).create_bucket(Bucket=bucket)
    model = Model()
    totals = new_totals()
    starts = []
    t_begin = time.monotonic()

    run_rounds(srv, bucket, model, sessions, rng, ROUNDS, totals, starts,
               after_kill=lambda rnd: power_disks.power_cut())

    uploads = delete_all_leaks_nothing(srv, bucket, model, sessions)
    assert srv.stop() == 0
    print_totals("power-loss test", "SIGKILL + page cache lost", model, totals, starts,
                 uploads, t_begin)
