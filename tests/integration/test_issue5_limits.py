"""Issue 5 part 5: limits and hostile input, end to end.

5,000 idle connections without running out of file descriptors, bodies
shorter or longer than Content-Length, the 2 KiB user-metadata limit, the
1024-byte key limit (multi-byte UTF-8), Transfer-Encoding: chunked without a
length, a 200-connection slow-loris cut off by the header deadline, and 1,000
rapid connect/close cycles. Issue 2's robustness tests already cover garbage,
a single idle or slow client and header-section sizes; this file does not
repeat them. conftest's _server_watch fails any test whose server died.

Everything runs on 127.0.0.1; every socket opened here is closed here.
"""

import hashlib
import os
import resource
import select
import socket
import struct
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from conftest import (assert_s3_error, raw_request, signed_request, sigv4_sign,
                      unique_bucket)

# The test process holds thousands of sockets itself: soft limit up to hard.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _hard == resource.RLIM_INFINITY or _soft < _hard:
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
    except (ValueError, OSError):
        pass

N_IDLE = 5000
FD_SLACK = 16  # fds a server may open/close on its own (RocksDB files, timers)


# -------------------------------------------------------------- helpers ----

def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def nofile_soft_limit(pid):
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                v = line.split()[3]
                return float("inf") if v == "unlimited" else int(v)
    raise AssertionError(f"no 'Max open files' in /proc/{pid}/limits")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def wait_fds_back(pid, baseline, timeout=5.0):
    """Poll until the fd count is within FD_SLACK of baseline. Returns the last count."""
    deadline = time.monotonic() + timeout
    n = fd_count(pid)
    while n > baseline + FD_SLACK and time.monotonic() < deadline:
        time.sleep(0.1)
        n = fd_count(pid)
    return n


def settle_fds(pid, wait=0.5):
    """The fd count once it stops moving (after the server's start-up work)."""
    prev = fd_count(pid)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(wait)
        n = fd_count(pid)
        if n == prev:
            return n
        prev = n
    return prev


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def signed_head(server, method, path, body_hash, extra=None, content_length=None):
    """The bytes of a signed request head (nothing of the body)."""
    h = {"Host": f"{server.host}:{server.port}", "x-amz-content-sha256": body_hash}
    h.update(extra or {})
    sigv4_sign(method, path, "", h, body_hash, server.access_key, server.secret_key,
               region=server.region)
    if content_length is not None:
        h["Content-Length"] = str(content_length)
    head = f"{method} {path} HTTP/1.1\r\n".encode()
    head += b"".join(f"{k}: {v}\r\n".encode() for k, v in h.items()) + b"\r\n"
    return head


def read_until_close(sock, timeout):
    """Read until EOF/reset or timeout. Returns (data, closed, elapsed)."""
    t0 = time.monotonic()
    data = b""
    sock.settimeout(0.2)
    while time.monotonic() - t0 < timeout:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError, OSError):
            return data, True, time.monotonic() - t0
        if not chunk:
            return data, True, time.monotonic() - t0
        data += chunk
    return data, False, time.monotonic() - t0


def split_responses(data):
    """Parse back-to-back HTTP/1.1 responses (Content-Length framed) from
    data. Returns [(status, headers, body)], and the unparsed rest."""
    out = []
    while data:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        head = data[:end].decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        assert parts[0].startswith("HTTP/1."), f"not an HTTP response: {data[:300]!r}"
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        if len(data) < end + 4 + n:
            break
        out.append((int(parts[1]), headers, data[end + 4:end + 4 + n]))
        data = data[end + 4 + n:]
    return out, data


class _R:
    """Adapts a parsed raw response to conftest.assert_s3_error."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return f"Resp({self.status}, {self.headers}, {self.body[:1500]!r})"


def s3_error_code(body):
    root = ET.fromstring(body)
    for c in root:
        if c.tag.split("}")[-1] == "Code":
            return c.text
    return None


@pytest.fixture(scope="module")
def bucket(server):
    name = unique_bucket("lim")
    assert signed_request(server, "PUT", f"/{name}").status == 200
    return name


def head_object(server, bucket, key):
    return signed_request(server, "HEAD", f"/{bucket}/{urllib.parse.quote(key, safe='-_.~')}")


# ------------------------------------------------------ 1. idle conns ----

def test_issue5_5000_idle_connections(server_factory):
    srv = server_factory(["--idle-timeout", "30"])
    pid = srv.proc.pid
    b = unique_bucket("idle5k")
    assert signed_request(srv, "PUT", f"/{b}").status == 200
    baseline = settle_fds(pid)
    limit = nofile_soft_limit(pid)
    rss0 = rss_kib(pid)
    socks = []
    try:
        t0 = time.monotonic()
        for i in range(N_IDLE):
            try:
                socks.append(socket.create_connection((srv.host, srv.port), timeout=5))
            except OSError as e:
                pytest.fail(f"connection {i + 1} of {N_IDLE} failed: {e!r} "
                            f"(server fds {fd_count(pid)}, limit {limit})")
        connect_s = time.monotonic() - t0
        # Give the server time to accept what is still in its backlog.
        deadline = time.monotonic() + 10
        peak = fd_count(pid)
        while peak < baseline + N_IDLE - 50 and time.monotonic() < deadline:
            time.sleep(0.1)
            peak = max(peak, fd_count(pid))
        assert srv.alive(), "server died holding 5,000 idle connections"
        # A normal request on a new connection, promptly.
        t = time.monotonic()
        r = signed_request(srv, "HEAD", f"/{b}", timeout=5)
        took = time.monotonic() - t
        assert r.status == 200, r
        assert took < 2.0, f"HeadBucket took {took:.2f} s with {N_IDLE} idle connections open"
        r = signed_request(srv, "PUT", f"/{b}/during", body=b"x" * 1000, timeout=5)
        assert r.status == 200, r
        now = fd_count(pid)
        peak = max(peak, now)
        assert peak < limit, f"server fds {peak} reached RLIMIT_NOFILE {limit}"
        assert peak >= baseline + N_IDLE * 0.9, (
            f"server holds only {peak - baseline} more fds than at start with {N_IDLE} "
            f"connections open: they are not accepted")
        # Nothing was sent on them: none may have been closed yet.
        r_ready, _, _ = select.select(socks[:1000], [], [], 0)
        assert not r_ready, f"{len(r_ready)} of the first 1,000 idle connections closed early"
        rss1 = rss_kib(pid)
    finally:
        close_all(socks)
    after = wait_fds_back(pid, baseline, timeout=5)
    assert after <= baseline + FD_SLACK, (
        f"server fds {after} 5 s after closing {N_IDLE} connections (baseline {baseline})")
    assert srv.alive()
    assert signed_request(srv, "HEAD", f"/{b}", timeout=5).status == 200
    print(f"\n5k idle: connect {connect_s:.2f} s, fds {baseline} -> {peak} -> {after}, "
          f"limit {limit}, RSS {rss0} -> {rss1} KiB")


def test_issue5_server_raises_its_own_nofile_soft_limit(server_factory):
    """Started with a soft RLIMIT_NOFILE of 1024 (a common default), tarn
    raises it to the hard limit itself, so 2,000 connections still fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 2100:
        pytest.skip(f"hard RLIMIT_NOFILE {hard} too low for this test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    try:
        srv = server_factory()  # inherits soft 1024
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    pid = srv.proc.pid
    limit = nofile_soft_limit(pid)
    assert limit > 1024, f"server kept a soft RLIMIT_NOFILE of {limit}"
    b = unique_bucket("nofile")
    assert signed_request(srv, "PUT", f"/{b}").status == 200
    socks = []
    try:
        for _ in range(2000):
            socks.append(socket.create_connection((srv.host, srv.port), timeout=5))
        r = signed_request(srv, "HEAD", f"/{b}", timeout=5)
        assert r.status == 200, r
    finally:
        close_all(socks)
    assert srv.alive()


# ------------------------------------------------ 2. body too short ----

def test_issue5_body_shorter_than_content_length_then_close(server, bucket):
    key = "short-close"
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        s.sendall(signed_head(server, "PUT", f"/{bucket}/{key}", "UNSIGNED-PAYLOAD",
                              content_length=1000) + b"0123456789")
        time.sleep(0.2)
    finally:
        s.close()
    time.sleep(0.5)
    assert server.alive()
    r = head_object(server, bucket, key)
    assert r.status == 404, f"a 10-of-1000-byte PUT stored something: {r!r}"
    r = signed_request(server, "PUT", f"/{bucket}/after-short", body=b"ok")
    assert r.status == 200, r


def test_issue5_body_shorter_then_idle_times_out(server_factory):
    idle = 2
    srv = server_factory(["--idle-timeout", str(idle)])
    b = unique_bucket("shortidle")
    assert signed_request(srv, "PUT", f"/{b}").status == 200
    key = "short-idle"
    s = socket.create_connection((srv.host, srv.port), timeout=5)
    try:
        s.sendall(signed_head(srv, "PUT", f"/{b}/{key}", "UNSIGNED-PAYLOAD",
                              content_length=1000) + b"0123456789")
        data, closed, elapsed = read_until_close(s, idle + 5)
    finally:
        s.close()
    assert closed, f"connection with a short body still open {idle + 5} s later (idle-timeout {idle})"
    assert elapsed >= idle - 0.5, f"closed after {elapsed:.2f} s, before the idle timeout"
    if data:
        resps, _ = split_responses(data)
        assert resps and resps[0][0] in (400, 408), f"unexpected answer: {data[:500]!r}"
    assert srv.alive()
    r = head_object(srv, b, key)
    assert r.status == 404, f"a timed-out short PUT stored something: {r!r}"
    assert signed_request(srv, "HEAD", f"/{b}").status == 200


# ------------------------------------------------- 3. body too long ----

def test_issue5_body_longer_than_content_length_keepalive(server, bucket):
    key = "long-body"
    body = b"0123456789"
    extra = b"THIS-IS-NOT-A-REQUEST\r\n\r\n"
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        s.sendall(signed_head(server, "PUT", f"/{bucket}/{key}", hashlib.sha256(body).hexdigest(),
                              content_length=len(body)) + body + extra)
        data, closed, _ = read_until_close(s, 5)
    finally:
        s.close()
    resps, rest = split_responses(data)
    assert resps, f"no answer to the PUT: {data[:500]!r}"
    assert resps[0][0] == 200, f"PUT of the first Content-Length bytes: {resps[0]!r}"
    print(f"\nbody too long: answers {[x[0] for x in resps]}, closed={closed}")
    if len(resps) > 1:
        assert resps[1][0] == 400, f"the extra bytes were answered with {resps[1]!r}"
    else:
        assert closed, (f"the extra bytes after the body got neither a 400 nor a close "
                        f"within 5 s (rest {rest[:200]!r})")
    r = signed_request(server, "GET", f"/{bucket}/{key}")
    assert r.status == 200, r
    assert r.body == body, f"stored {r.body[:100]!r} ({len(r.body)} bytes), want {body!r}"
    assert server.alive()


# ---------------------------------------------------- 4. metadata ----

META_CASES = {
    # name + value bytes (without the x-amz-meta- prefix)
    "one_header": lambda extra: {"x-amz-meta-k": "v" * (2047 + extra)},
    "four_headers": lambda extra: {f"x-amz-meta-m{i}": "w" * (510 + (extra if i == 3 else 0))
                                   for i in range(4)},
    "utf8_value": lambda extra: {"x-amz-meta-u": "é" * 1023 + "a" * (1 + extra)},
}


def _put_with_meta(server, path, meta, body=b"m"):
    """A signed PUT whose metadata values go on the wire as raw UTF-8 (the
    signature is computed over the same UTF-8 bytes)."""
    h = {"Host": f"{server.host}:{server.port}",
         "x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    h.update(meta)
    sigv4_sign("PUT", path, "", h, h["x-amz-content-sha256"], server.access_key,
               server.secret_key, region=server.region)
    # http.client writes header values as latin-1: pre-encode the UTF-8 bytes.
    wire = {k: v.encode("utf-8").decode("latin-1") for k, v in h.items()}
    return raw_request(server, "PUT", path, headers=wire, body=body)


@pytest.mark.parametrize("case", sorted(META_CASES))
def test_issue5_user_metadata_2kib_limit(server, bucket, case):
    ok = META_CASES[case](0)
    too = META_CASES[case](1)

    def size(h):
        return sum(len(k[len("x-amz-meta-"):].encode()) + len(v.encode()) for k, v in h.items())

    assert size(ok) == 2048 and size(too) == 2049
    key_ok, key_too = f"meta-{case}-ok", f"meta-{case}-too"
    r = _put_with_meta(server, f"/{bucket}/{key_ok}", ok)
    assert r.status == 200, f"2048 bytes of metadata refused: {r!r}"
    r = signed_request(server, "HEAD", f"/{bucket}/{key_ok}")
    assert r.status == 200, r
    for k, v in ok.items():
        got = r.header(k)
        if got is not None:
            got = got.encode("latin-1").decode("utf-8", "replace")
        assert got == v, f"{k}: got {str(got)[:60]!r}"
    r = _put_with_meta(server, f"/{bucket}/{key_too}", too)
    assert_s3_error(r, 400, "MetadataTooLarge")
    assert head_object(server, bucket, key_too).status == 404


# ------------------------------------------------------- 5. keys ----

def _utf8_key(nbytes):
    """A key of exactly nbytes bytes of multi-byte UTF-8 (2-, 3- and 4-byte chars)."""
    key = "é€𝄞" * (nbytes // 9)
    rest = nbytes - len(key.encode())
    key += "é" * (rest // 2) + "a" * (rest % 2)
    assert len(key.encode()) == nbytes
    return key


def test_issue5_key_1024_utf8_bytes(server, bucket):
    key = _utf8_key(1024)
    path = f"/{bucket}/{urllib.parse.quote(key, safe='-_.~')}"
    r = signed_request(server, "PUT", path, body=b"k1024")
    assert r.status == 200, r
    r = signed_request(server, "GET", path)
    assert r.status == 200 and r.body == b"k1024", r
    r = signed_request(server, "GET", f"/{bucket}", query="list-type=2&prefix=" +
                       urllib.parse.quote(key[:20], safe=""))
    assert r.status == 200, r
    keys = [c.text for c in ET.fromstring(r.body).iter() if c.tag.split("}")[-1] == "Key"]
    assert key in keys, f"1024-byte key not listed: {keys!r}"


def test_issue5_key_1025_utf8_bytes_too_long(server, bucket):
    key = _utf8_key(1025)
    path = f"/{bucket}/{urllib.parse.quote(key, safe='-_.~')}"
    r = signed_request(server, "PUT", path, body=b"k1025")
    assert_s3_error(r, 400, "KeyTooLongError")
    assert server.alive()


# ---------------------------------------------- 6. chunked, no length ----

CHUNKED_BODY = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"


@pytest.mark.parametrize("variant", ["plain", "aws_chunked_no_decoded_length"])
def test_issue5_transfer_encoding_chunked_without_length(server, bucket, variant):
    """AWS S3 answers a PUT with Transfer-Encoding: chunked and no length with
    501 NotImplemented (Header: Transfer-Encoding), and an aws-chunked body
    without x-amz-decoded-content-length with 411 MissingContentLength. Either
    is accepted here; it must be a clean S3 error and store nothing."""
    key = f"te-{variant}"
    extra = {"Transfer-Encoding": "chunked"}
    payload = "UNSIGNED-PAYLOAD"
    body = CHUNKED_BODY
    if variant != "plain":
        payload = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        extra["Content-Encoding"] = "aws-chunked"
        # aws-chunked framing inside the HTTP chunked framing
        inner = b"b\r\nhello world\r\n0\r\n\r\n"
        body = f"{len(inner):x}\r\n".encode() + inner + b"\r\n0\r\n\r\n"
    s = socket.create_connection((server.host, server.port), timeout=5)
    try:
        try:
            s.sendall(signed_head(server, "PUT", f"/{bucket}/{key}", payload, extra) + body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, closed, _ = read_until_close(s, 3)
    finally:
        s.close()
    assert data, f"no answer (closed={closed}) to a chunked PUT without a length"
    resps, _ = split_responses(data)
    assert resps, f"unparsable answer: {data[:500]!r}"
    status, headers, rbody = resps[0]
    print(f"\nchunked {variant}: {status} {s3_error_code(rbody) if rbody else ''}")
    assert status in (411, 501), f"chunked PUT without a length: {resps[0]!r}"
    want = "MissingContentLength" if status == 411 else "NotImplemented"
    assert_s3_error(_R(status, headers, rbody), status, want)
    assert head_object(server, bucket, key).status == 404
    assert server.alive()
    assert signed_request(server, "HEAD", f"/{bucket}").status == 200


# -------------------------------------------------- 7. slow-loris ----

def test_issue5_slowloris_200_connections(server_factory):
    header_timeout = 3
    n = 200
    srv = server_factory(["--header-timeout", str(header_timeout)])
    b = unique_bucket("loris")
    assert signed_request(srv, "PUT", f"/{b}").status == 200
    pid = srv.proc.pid
    baseline = settle_fds(pid)
    payload = (f"GET /{b} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a" * 100 +
               "\r\n\r\n").encode()
    limit = header_timeout + 5
    socks = []
    try:
        for _ in range(n):
            socks.append(socket.create_connection((srv.host, srv.port), timeout=5))
        t0 = time.monotonic()
        open_socks = {s: 0 for s in socks}  # socket -> bytes sent
        closed_at = []
        served = []
        next_tick = t0
        while open_socks and time.monotonic() - t0 < limit + 2:
            now = time.monotonic()
            if now >= next_tick:
                for s in list(open_socks):
                    i = open_socks[s]
                    if i >= len(payload):
                        continue
                    try:
                        s.send(payload[i:i + 1])
                        open_socks[s] = i + 1
                    except (BrokenPipeError, ConnectionResetError, OSError):
                        del open_socks[s]
                        closed_at.append(time.monotonic() - t0)
                next_tick += 1.0
                if len(served) < 6:
                    t = time.monotonic()
                    r = signed_request(srv, "HEAD", f"/{b}", timeout=5)
                    assert r.status == 200, r
                    served.append(time.monotonic() - t)
            ready, _, _ = select.select(list(open_socks), [], [], 0.1)
            for s in ready:
                try:
                    d = s.recv(65536)
                except (ConnectionResetError, OSError):
                    d = b""
                if d:
                    # an answer (400/408) is allowed; the close must follow
                    code = int(d.split(b" ", 2)[1]) if d.startswith(b"HTTP/1.") else None
                    assert code in (400, 408), f"slow client got {d[:300]!r}"
                    continue
                del open_socks[s]
                closed_at.append(time.monotonic() - t0)
        still = len(open_socks)
    finally:
        close_all(socks)
    assert len(served) >= 3 and max(served) < 2.0, (
        f"normal requests during the slow-loris: {['%.2f' % x for x in served]} s")
    assert still == 0, (f"{still} of {n} slow-loris connections still open after "
                        f"{limit + 2} s (header-timeout {header_timeout})")
    assert max(closed_at) <= limit, (
        f"last slow-loris connection closed after {max(closed_at):.1f} s, "
        f"limit header-timeout+5 = {limit} s")
    assert min(closed_at) >= header_timeout - 1, (
        f"a slow-loris connection was closed after {min(closed_at):.1f} s, "
        f"before the header timeout of {header_timeout} s")
    assert srv.alive()
    after = wait_fds_back(pid, baseline)
    assert after <= baseline + FD_SLACK, f"fds {after} after the slow-loris (baseline {baseline})"
    print(f"\nslow-loris: closed between {min(closed_at):.1f} and {max(closed_at):.1f} s; "
          f"requests meanwhile {max(served) * 1000:.0f} ms at most")


# ------------------------------------------- 8. connect/close cycles ----

def test_issue5_1000_connect_close_cycles(server, bucket):
    pid = server.proc.pid
    baseline = settle_fds(pid, wait=0.2)

    for i in range(1000):
        s = socket.create_connection((server.host, server.port), timeout=5)
        try:
            mode = i % 4
            if mode == 1:  # abortive close: RST
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif mode == 2:  # half a request line, then close
                s.sendall(b"GET /")
            elif mode == 3:  # a full head with no reading of the answer, RST
                s.sendall(f"HEAD /{bucket} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            s.close()
    assert server.alive(), "server died during 1,000 connect/close cycles"
    after = wait_fds_back(pid, baseline, timeout=5)
    assert after <= baseline + FD_SLACK, (
        f"server fds {after} 5 s after 1,000 connect/close cycles (baseline {baseline})")
    r = signed_request(server, "HEAD", f"/{bucket}", timeout=5)
    assert r.status == 200, r
