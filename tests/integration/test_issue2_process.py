"""Issue 2: the process — start-up flags and config, SIGTERM/SIGINT graceful
stop with exit status 0, buckets kept across a restart, bad flags and bad
config refused with one stderr line and exit status 2."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (ACCESS_KEY, SECRET_KEY, TARN, Server, boto3_client, free_port,
                      signed_request, unique_bucket)


def test_issue2_restart_keeps_buckets(server_factory):
    srv = server_factory()
    s3 = boto3_client(srv)
    names = sorted(unique_bucket("keep") for _ in range(3))
    for n in names:
        s3.create_bucket(Bucket=n)
    before = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
    gone = unique_bucket("gone")
    s3.create_bucket(Bucket=gone)
    s3.delete_bucket(Bucket=gone)

    code = srv.stop()
    assert code == 0, f"SIGTERM exit status {code}, want 0\n{srv.stderr_text()}"
    srv.start()

    s3 = boto3_client(srv)
    for n in names:
        s3.head_bucket(Bucket=n)
    after = {b["Name"]: b["CreationDate"] for b in s3.list_buckets()["Buckets"]}
    for n in names:
        assert n in after, after
        assert after[n] == before[n], f"CreationDate of {n} changed over restart"
    assert gone not in after, "a deleted bucket came back after restart"
    # The restarted server still refuses to create the same bucket twice.
    r = signed_request(srv, "PUT", f"/{names[0]}")
    assert r.status == 409, r

    code = srv.stop()
    assert code == 0, f"second SIGTERM exit status {code}\n{srv.stderr_text()}"


def test_issue2_sigint_exits_zero(server_factory):
    srv = server_factory()
    assert signed_request(srv, "GET", "/").status == 200
    code = srv.stop(signal.SIGINT)
    assert code == 0, f"SIGINT exit status {code}\n{srv.stderr_text()}"


def test_issue2_sigterm_with_open_connections(server_factory):
    """Idle keep-alive connections and a half-sent request do not hold up
    a graceful stop: exit 0 within the 10 s grace period."""
    srv = server_factory()
    socks = []
    try:
        for _ in range(4):
            socks.append(socket.create_connection((srv.host, srv.port), timeout=5))
        socks[0].sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n")  # unfinished headers
        b = unique_bucket("term")
        assert signed_request(srv, "PUT", f"/{b}").status == 200
        t0 = time.monotonic()
        code = srv.stop()
        took = time.monotonic() - t0
        assert code == 0, f"exit status {code} (None = needed SIGKILL)\n{srv.stderr_text()}"
        assert took < 10, took
    finally:
        for s in socks:
            s.close()
    srv.start()
    assert signed_request(srv, "HEAD", f"/{b}").status == 200


def test_issue2_credentials_from_environment(server_factory):
    srv = server_factory(cred_flags=False,
                         env={"TARN_ACCESS_KEY": "ENVACCESSKEY0001",
                              "TARN_SECRET_KEY": "env-secret-key-abcdefgh"})
    srv.access_key = "ENVACCESSKEY0001"
    srv.secret_key = "env-secret-key-abcdefgh"
    s3 = boto3_client(srv)
    n = unique_bucket("env")
    s3.create_bucket(Bucket=n)
    s3.head_bucket(Bucket=n)
    r = signed_request(srv, "GET", "/", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    assert r.status == 403, r


def test_issue2_explicit_disks_meta_ec(server_factory):
    tmp = tempfile.mkdtemp(prefix="tarn-disks-")
    srv = None
    try:
        disks = [os.path.join(tmp, f"d{i}") for i in range(1, 7)]
        for d in disks:
            os.makedirs(d)
        meta = os.path.join(tmp, "meta")
        srv = server_factory(["--disks", ",".join(disks), "--meta", meta, "--ec", "4+2",
                              "--workers", "2", "--log-level", "debug"], use_data_flag=False)
        s3 = boto3_client(srv)
        n = unique_bucket("disks")
        s3.create_bucket(Bucket=n)
        assert srv.stop() == 0
        srv.start()
        s3.head_bucket(Bucket=n)
    finally:
        if srv is not None:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_issue2_data_dir_layout(server_factory):
    srv = server_factory()
    for i in range(1, 7):
        assert os.path.isdir(os.path.join(srv.data_dir, f"disk{i}")), os.listdir(srv.data_dir)
    assert os.path.isdir(os.path.join(srv.data_dir, "meta")), os.listdir(srv.data_dir)


def _dirs(tmp, n):
    out = []
    for i in range(n):
        out.append(os.path.join(tmp, f"d{i}"))
        os.makedirs(out[-1], exist_ok=True)
    return out


def _bad_config(tmp, text):
    p = os.path.join(tmp, "bad.conf")
    with open(p, "w") as f:
        f.write(text)
    return p


BAD = {
    "unknown_flag": lambda tmp: ["--no-such-flag"],
    "flag_missing_value": lambda tmp: ["--workers"],
    "ec_word": lambda tmp: ["--ec", "banana"],
    "ec_no_parity": lambda tmp: ["--ec", "4+"],
    "ec_zero_data": lambda tmp: ["--ec", "0+2"],
    "ec_more_shards_than_disks": lambda tmp: ["--disks", ",".join(_dirs(tmp, 3)), "--ec", "4+2"],
    "listen_garbage": lambda tmp: ["--listen", "not-an-address"],
    "listen_port_range": lambda tmp: ["--listen", "127.0.0.1:99999"],
    "workers_word": lambda tmp: ["--workers", "many"],
    "log_level": lambda tmp: ["--log-level", "loud"],
    "idle_timeout_negative": lambda tmp: ["--idle-timeout", "-5"],
    "config_missing": lambda tmp: ["--config", os.path.join(tmp, "nope", "tarn.conf")],
    "config_is_directory": lambda tmp: ["--config", tmp],
    "config_unparsable": lambda tmp: ["--config", _bad_config(tmp, "[server\nlisten 1\n")],
    "config_unknown_setting": lambda tmp: ["--config",
                                           _bad_config(tmp, "no_such_setting_xyz = 1\n")],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_issue2_bad_flag_or_config_exits_2(case):
    if not os.path.exists(TARN):
        pytest.fail(f"{TARN} not built")
    tmp = tempfile.mkdtemp(prefix="tarn-bad-")
    try:
        port = free_port()
        bad = BAD[case](tmp)
        # --data DIR makes as many disks as K+M needs: only an explicit
        # --disks list can be too short, and it replaces --data.
        data = [] if "--disks" in bad else ["--data", os.path.join(tmp, "data")]
        args = [TARN, "server", "--listen", f"127.0.0.1:{port}", *data,
                "--meta", os.path.join(tmp, "meta"),
                "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY] + bad
        _expect_exit_2(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_issue2_unknown_subcommand_exits_2():
    if not os.path.exists(TARN):
        pytest.fail(f"{TARN} not built")
    tmp = tempfile.mkdtemp(prefix="tarn-bad-")
    try:
        _expect_exit_2([TARN, "no-such-subcommand"], tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _expect_exit_2(args, cwd):
    # Output goes to files, not pipes: a wrong binary that forks must not
    # hang the test on a pipe its child keeps open.
    out_path, err_path = os.path.join(cwd, "stdout"), os.path.join(cwd, "stderr")
    with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
        p = subprocess.Popen(args, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, cwd=cwd)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
    with open(out_path, "rb") as f:
        out = f.read()
    with open(err_path, "rb") as f:
        err = f.read()
    assert p.returncode is not None and p.returncode != -signal.SIGKILL, (
        f"still running after 10 s: {args}\nstdout: {out!r}\nstderr: {err!r}")
    err_lines = [ln for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    assert p.returncode == 2, (f"exit status {p.returncode}, want 2: {args}\n"
                               f"stdout: {out!r}\nstderr: {err!r}")
    assert len(err_lines) == 1, f"want exactly one stderr line, got {err_lines}"
    assert b"listening on" not in out, out


def test_issue2_config_file(server_factory):
    """Settings from --config (INI, conf/tarn.conf's sections); a flag given
    as well overrides the file."""
    tmp = tempfile.mkdtemp(prefix="tarn-conf-")
    try:
        conf = os.path.join(tmp, "tarn.conf")
        with open(conf, "w") as f:
            f.write("[server]\nregion = eu-west-1\nworkers = 1\nlog_level = warn\n"
                    "[credentials]\naccess_key = CONFACCESSKEY001\n"
                    "secret_key = conf-secret-key-abcdefgh\n")
        srv = server_factory(["--config", conf, "--workers", "2"], cred_flags=False)
        srv.access_key, srv.secret_key, srv.region = ("CONFACCESSKEY001",
                                                      "conf-secret-key-abcdefgh", "eu-west-1")
        s3 = boto3_client(srv)
        n = unique_bucket("conf")
        s3.create_bucket(Bucket=n, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        assert s3.get_bucket_location(Bucket=n)["LocationConstraint"] == "eu-west-1"
        r = signed_request(srv, "GET", "/", access_key=ACCESS_KEY, secret_key=SECRET_KEY)
        assert r.status == 403, r
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
