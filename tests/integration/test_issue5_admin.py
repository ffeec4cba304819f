"""Issue 5: the admin socket of a running server (`tarn disks|status|heal|scrub`
ask it; README "Admin commands"), against what can go wrong: garbage and
over-long command lines, a client that connects and says nothing (the next
command is answered once the read times out, and S3 requests are served
throughout), the socket file a SIGKILLed server leaves (a restart replaces
it; meanwhile the commands fall back to the folders and `tarn status` says
no server runs), a second server on the same socket, and a stop while a
`tarn scrub` waits for its pass."""

import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

import conftest
from conftest import Server, ServerStartError, signed_request, unique_bucket

READ_TIMEOUT = 3.0  # SRV_ADMIN_READ_TIMEOUT_MS


def sock_path(srv):
    return os.path.join(srv.data_dir, "admin.sock")


def tarn_admin(srv, *args, timeout=60):
    return subprocess.run([conftest.TARN, *args, "--data", srv.data_dir,
                           "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def raw(srv, data, timeout=15):
    """Send data on the admin socket, read until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(sock_path(srv))
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
    return out.decode("utf-8", "replace")


def assert_error_answer(text, needle):
    lines = text.splitlines()
    assert lines and lines[-1] == "exit 2", text
    assert any(ln.startswith("error: ") and needle in ln for ln in lines), text


def test_issue5_admin_socket_mode_and_commands(server):
    st = os.lstat(sock_path(server))
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    for cmd, want in (("disks", "6 of 6 disks online"), ("status", "counters since start:"),
                      ("heal", "heal: "), ("scrub", "scrub: ")):
        r = tarn_admin(server, cmd)
        assert r.returncode == 0, f"tarn {cmd}: {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert want in r.stdout and "exit 0" not in r.stdout, r.stdout
        assert raw(server, f"{cmd}\n".encode()).endswith("exit 0\n")


@pytest.mark.parametrize("line,needle", [
    (b"bogus\n", "unknown command 'bogus'"),
    (b"heal please\n", "unknown command"),
    (b"DISKS\n", "unknown command"),
    (b"\n", "unknown command ''"),
    (b"\x00\xff\x1b[2J\n", "unknown command"),
    (b"status" + b" " * 300 + b"\n", "too long"),
    (b"x" * 20000, "too long"),
])
def test_issue5_admin_garbage(server, line, needle):
    assert_error_answer(raw(server, line), needle)
    assert raw(server, b"status\n").endswith("exit 0\n"), "the admin socket stopped answering"
    assert server.alive()


def test_issue5_admin_silent_client(server):
    """A client that connects and sends nothing holds the admin thread for the
    read timeout at most; S3 requests never wait for it."""
    bucket = unique_bucket("silent")
    assert signed_request(server, "PUT", f"/{bucket}").status == 200
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(sock_path(server))
    t0 = time.monotonic()
    result = {}

    def status():
        result["r"] = tarn_admin(server, "status")
        result["t"] = time.monotonic() - t0

    th = threading.Thread(target=status)
    th.start()
    s3_times = []
    while th.is_alive() and time.monotonic() - t0 < READ_TIMEOUT + 10:
        t = time.monotonic()
        body = os.urandom(3000)
        assert signed_request(server, "PUT", f"/{bucket}/k", body=body).status == 200
        r = signed_request(server, "GET", f"/{bucket}/k")
        assert r.status == 200 and r.body == body
        s3_times.append(time.monotonic() - t)
        time.sleep(0.05)
    th.join(30)
    assert result["r"].returncode == 0, result["r"].stdout + result["r"].stderr
    assert result["t"] < READ_TIMEOUT + 3, f"tarn status took {result['t']:.1f} s"
    assert s3_times and max(s3_times) < 1.0, f"S3 requests waited: {max(s3_times):.2f} s"
    silent.settimeout(5)
    told = silent.recv(4096).decode()
    silent.close()
    assert_error_answer(told, "no command line")


def test_issue5_admin_stale_socket_after_sigkill(server_factory):
    srv = server_factory()
    path = sock_path(srv)
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.stop()
    assert stat.S_ISSOCK(os.lstat(path).st_mode), "the killed server's socket file is gone"
    r = tarn_admin(srv, "status")
    assert r.returncode == 2 and "no server is running" in r.stderr, r.stdout + r.stderr
    r = tarn_admin(srv, "disks")
    assert r.returncode == 0 and "working on the folders directly" in r.stderr, r.stderr
    assert "6 of 6 disks online" in r.stdout and "server:" not in r.stdout, r.stdout
    r = tarn_admin(srv, "heal")     # offline: the store is free now
    assert r.returncode == 0 and "heal: " in r.stdout, r.stdout + r.stderr
    srv.start()
    assert "removed the stale socket file" in srv.stderr_text()
    r = tarn_admin(srv, "status")
    assert r.returncode == 0 and "counters since start" in r.stdout, r.stdout + r.stderr
    srv.stop()
    assert not os.path.lexists(path), "a clean stop leaves the socket file"


def test_issue5_admin_status_without_server(server_factory):
    srv = server_factory()
    srv.stop()
    r = tarn_admin(srv, "status")
    assert r.returncode == 2 and "no server is running" in r.stderr, r.stdout + r.stderr
    r = tarn_admin(srv, "status", "--offline")
    assert r.returncode == 2, r.stdout + r.stderr


def test_issue5_admin_needs_no_credentials(tmp_path, server):
    """disks, status, heal and scrub sign nothing: without keys they work and
    leave no generated credentials file behind (rebuild-meta still needs the
    access key, as the owner of the buckets it recreates)."""
    data = tmp_path / "data"
    r = subprocess.run([conftest.TARN, "disks", "--data", str(data)], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "QUORUM LOST" in r.stdout, r.stdout + r.stderr
    assert not (data / "credentials").exists()
    r = subprocess.run([conftest.TARN, "status", "--data", server.data_dir],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and "6 of 6 disks online" in r.stdout, r.stdout + r.stderr
    meta = tmp_path / "m"
    r = subprocess.run([conftest.TARN, "scrub", "--disks", ",".join(
        str(tmp_path / f"d{i}") for i in range(3)), "--meta", str(meta), "--ec", "2+1"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert "no credentials" not in r.stderr, r.stderr


def test_issue5_admin_second_server_refused(server_factory):
    first = server_factory()
    other = Server(["--admin-socket", sock_path(first)])
    try:
        with pytest.raises(ServerStartError):
            other.start()
        assert "another tarn server answers there" in other.stderr_text()
    finally:
        other.cleanup()
    r = tarn_admin(first, "status")
    assert r.returncode == 0, "the first server lost its socket"


def test_issue5_admin_stop_while_scrub_waits(server_factory):
    """SIGTERM while `tarn scrub` waits for a (slow, rate-limited) pass: the
    client is told the server is stopping, and the server stops promptly and
    cleanly, removing its socket."""
    srv = server_factory(["--heal-rate-mib-s", "1", "--heal-interval", "0"])
    bucket = unique_bucket("stop")
    assert signed_request(srv, "PUT", f"/{bucket}").status == 200
    for i in range(3):
        body = os.urandom(5 * 1024 * 1024)
        assert signed_request(srv, "PUT", f"/{bucket}/big{i}", body=body).status == 200
    scrub = subprocess.Popen([conftest.TARN, "scrub", "--data", srv.data_dir,
                              "--access-key", srv.access_key, "--secret-key", srv.secret_key],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while "scrub pass asked for" not in srv.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert scrub.poll() is None, "the scrub at 1 MiB/s finished too soon to test a stop"
    t0 = time.monotonic()
    assert srv.stop() == 0
    took = time.monotonic() - t0
    out, err = scrub.communicate(timeout=10)
    assert scrub.returncode == 2 and "the server is stopping" in err, out + err
    assert took < 5, f"stopping took {took:.1f} s"
    assert not os.path.lexists(sock_path(srv))
