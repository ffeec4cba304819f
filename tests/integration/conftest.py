"""Integration-test fixtures: start a real `build/tarn server` and drive it.

DESIGN.md / STYLE.md section 8: every test talks to a real server started on
127.0.0.1 with a temporary data directory, through real clients (boto3 1.26
under /usr/bin/python3, boto3 1.43 under the default python3, Debian's awscli
v2, s3cmd, curl) or through raw sockets and requests signed here.

Fixtures
  server          one server per test module (default flags)
  server_factory  start(extra_args, ...) more servers; all stopped at teardown
Helpers (import from conftest)
  boto3_client, run_aws, run_s3cmd, run_py_new, signed_request, raw_request,
  assert_s3_error, sigv4_sign, unique_bucket

Only processes started here are signalled, by their own PID. A server's
stderr goes to a file that is printed when a test fails and, when
TARN_LOG_DIR is set (tests/run.sh), copied there so `make check` can scan it
for sanitizer reports.
"""

import datetime
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build")
BUILD_DIR = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
TARN = os.path.join(BUILD_DIR, "tarn")

ACCESS_KEY = "TARNTESTACCESSKEY01"
SECRET_KEY = "tarn-test-secret-key-0123456789abcdef"
REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

AWS_CLI = "/usr/bin/aws"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

_live_servers = []  # every Server currently started, for crash checks and logs
_log_seq = itertools.count(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique_bucket(prefix="b"):
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


class ServerStartError(Exception):
    pass


class Server:
    """One `tarn server` process on 127.0.0.1:<free port>.

    Attributes: host, port, endpoint, access_key, secret_key, region,
    data_dir, proc (Popen), stderr_path, stdout_lines, extra_args."""

    def __init__(self, extra_args=(), data_dir=None, access_key=ACCESS_KEY,
                 secret_key=SECRET_KEY, use_data_flag=True, env=None, cred_flags=True):
        self.extra_args = list(extra_args)
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        for i, a in enumerate(self.extra_args):
            if a == "--region" and i + 1 < len(self.extra_args):
                self.region = self.extra_args[i + 1]
        self.tmp = tempfile.mkdtemp(prefix="tarn-it-")
        self.owns_data = data_dir is None
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.use_data_flag = use_data_flag
        self.env = env
        self.cred_flags = cred_flags
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.stderr_path = None
        self.stdout_lines = []
        self.exit_codes = []  # exit status of every stop so far
        self._stderr_file = None

    @property
    def endpoint(self):
        return f"http://{self.host}:{self.port}"

    @property
    def creds(self):
        return (self.access_key, self.secret_key)

    def start(self, new_port=False):
        """Start (or start again: same port, data dir and flags, so clients
        made before a restart keep working)."""
        if not os.path.exists(TARN):
            raise ServerStartError(f"{TARN} does not exist: the build failed or did not run")
        if self.port is None or new_port:
            self.port = free_port()
        args = [TARN, "server", "--listen", f"127.0.0.1:{self.port}"]
        if self.use_data_flag:
            args += ["--data", self.data_dir]
        if self.cred_flags:
            args += ["--access-key", self.access_key, "--secret-key", self.secret_key]
        args += self.extra_args
        self.stderr_path = os.path.join(self.tmp, f"stderr-{next(_log_seq)}.log")
        self._stderr_file = open(self.stderr_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if self.env:
            env.update(self.env)
        self.args = args
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr_file, env=env, cwd=self.tmp)
        _live_servers.append(self)
        ready = threading.Event()
        self.stdout_lines = []
        lines = self.stdout_lines
        proc = self.proc

        def pump():
            for raw in iter(proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                if "listening on http://" in line:
                    ready.set()
            proc.stdout.close()

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.05):
            if self.proc.poll() is not None:
                time.sleep(0.1)
                if ready.is_set():
                    break
                raise ServerStartError(
                    f"tarn exited with status {self.proc.returncode} before listening\n"
                    f"args: {args}\nstdout: {lines}\nstderr:\n{self.stderr_text()}")
            if time.monotonic() > deadline:
                self._kill()
                raise ServerStartError(
                    f"tarn did not print 'listening on http://' within {START_TIMEOUT:.0f} s\n"
                    f"args: {args}\nstdout: {lines}\nstderr:\n{self.stderr_text()}")
        m = None
        for line in lines:
            m = re.search(r"listening on http://([^\s:/]+):(\d+)", line)
            if m:
                break
        if not m or int(m.group(2)) != self.port:
            raise ServerStartError(f"unexpected listening line(s): {lines}")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def stop(self, sig=signal.SIGTERM):
        """SIGTERM (by default) this server's PID; SIGKILL it after 10 s.
        Returns the exit status (negative: killed by that signal; None if it
        had to be SIGKILLed after the grace period)."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                code = self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill()
                code = None
        self._finish_logs()
        self.exit_codes.append(code)
        if self in _live_servers:
            _live_servers.remove(self)
        self.proc_last = self.proc
        self.proc = None
        return code

    def restart(self):
        """Stop (SIGTERM) and start again on the same data dir and flags.
        Returns the exit status of the stop."""
        code = self.stop()
        self.start()
        return code

    def _finish_logs(self):
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None
        log_dir = os.environ.get("TARN_LOG_DIR")
        if log_dir and self.stderr_path and os.path.exists(self.stderr_path):
            try:
                os.makedirs(log_dir, exist_ok=True)
                shutil.copy(self.stderr_path, os.path.join(
                    log_dir, f"{os.getpid()}-{os.path.basename(self.tmp)}-"
                             f"{os.path.basename(self.stderr_path)}"))
            except OSError:
                pass

    def stderr_text(self, limit=20000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except (OSError, TypeError):
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_server(extra_args=(), **kw):
    return Server(extra_args, **kw).start()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _server_watch(request):
    """After each test: fail if a server died on its own (a crash), and print
    the stderr of the servers when the test failed."""
    before = {id(s): s for s in _live_servers}
    yield
    rep = getattr(request.node, "rep_call", None)
    crashed = [s for s in _live_servers if not s.alive()]
    if (rep is not None and rep.failed) or crashed:
        for s in list(_live_servers) + [s for s in before.values() if s not in _live_servers]:
            sys.stderr.write(f"\n---- tarn server {getattr(s, 'args', '')} stderr (tail) ----\n")
            sys.stderr.write(s.stderr_text(8000))
            sys.stderr.write("\n---- stdout ----\n" + "\n".join(s.stdout_lines[-50:]) + "\n")
    if crashed:
        msgs = []
        for s in crashed:
            msgs.append(f"server on port {s.port} died on its own with status {s.proc.returncode}")
            s.stop()
        pytest.fail("; ".join(msgs))


@pytest.fixture(scope="module")
def server():
    s = Server()
    try:
        s.start()
    except ServerStartError as e:
        s.cleanup()
        pytest.fail(str(e), pytrace=False)
    yield s
    s.cleanup()


@pytest.fixture
def server_factory():
    started = []

    def start(extra_args=(), **kw):
        s = Server(extra_args, **kw)
        started.append(s)
        try:
            return s.start()
        except ServerStartError as e:
            pytest.fail(str(e), pytrace=False)

    yield start
    for s in started:
        s.cleanup()


# ---------------------------------------------------------------- SigV4 ----

def _uri_encode(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def canonical_query(query):
    """query: raw string 'a=b&c' (already encoded as it will be sent)."""
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        k, _, v = part.partition("=")
        k = _uri_encode(urllib.parse.unquote(k))
        v = _uri_encode(urllib.parse.unquote(v))
        pairs.append((k, v))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sigv4_sign(method, path, query, headers, payload_hash, access_key, secret_key,
               region=REGION, when=None, service="s3", signed_names=None):
    """Add x-amz-date and Authorization to `headers` (a dict; must hold Host).

    path is sent as is (S3 does not double-encode). payload_hash is the value
    put in the canonical request (and, unless None, the x-amz-content-sha256
    header already present in headers is what the caller chose). Every header
    in `headers` is signed unless signed_names limits them."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    headers["x-amz-date"] = amz_date
    lower = {}
    for k, v in headers.items():
        if signed_names is not None and k.lower() not in signed_names and k.lower() != "x-amz-date":
            continue
        lower[k.lower()] = " ".join(str(v).strip().split())
    names = sorted(lower)
    canonical_headers = "".join(f"{n}:{lower[n]}\n" for n in names)
    signed = ";".join(names)
    creq = "\n".join([method, path, canonical_query(query), canonical_headers, signed,
                      payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    k = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    sig = hmac.new(k, sts.encode("utf-8"), hashlib.sha256).hexdigest()
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                f"SignedHeaders={signed}, Signature={sig}")
    return headers


class Resp:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # dict, lower-case names
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return (f"Resp({self.status} {self.reason}, headers={self.headers}, "
                f"body={self.body[:2000]!r})")


def raw_request(server, method, path, query="", headers=None, body=b"", host=None,
                timeout=15, conn=None):
    """One HTTP/1.1 request with exactly `headers` (plus Host, and
    Content-Length when there is a body). Returns a Resp."""
    headers = dict(headers or {})
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = host or f"{server.host}:{server.port}"
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    url = path + ("?" + query if query else "")
    try:
        conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body or method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        if own:
            conn.close()


def signed_request(server, method, path, query="", headers=None, body=b"", host=None,
                   access_key=None, secret_key=None, region=None, when=None,
                   content_sha256="auto", conn=None, timeout=15):
    """A SigV4 header-auth request signed here. content_sha256: "auto" (hash
    of body), None (header omitted), or a literal value to send and sign."""
    headers = dict(headers or {})
    headers["Host"] = host or f"{server.host}:{server.port}"
    if content_sha256 == "auto":
        content_sha256 = hashlib.sha256(body).hexdigest()
    if content_sha256 is not None:
        headers["x-amz-content-sha256"] = content_sha256
        payload_hash = content_sha256
    else:
        payload_hash = hashlib.sha256(body).hexdigest()
    sigv4_sign(method, path, query, headers, payload_hash,
               access_key or server.access_key, secret_key or server.secret_key,
               region=region or server.region, when=when)
    return raw_request(server, method, path, query, headers, body, conn=conn, timeout=timeout)


def parse_error(body):
    root = ET.fromstring(body)
    return root


def assert_s3_error(resp, status, code, head=False):
    """resp: a Resp. Checks the status, x-amz-request-id and (not HEAD) the
    S3 error XML: <Error><Code/><Message/><Resource/><RequestId/></Error>."""
    assert resp.status == status, f"expected {status} {code}, got {resp!r}"
    rid = resp.header("x-amz-request-id")
    assert rid, f"no x-amz-request-id header: {resp!r}"
    if head:
        assert resp.body == b"", f"HEAD error with a body: {resp!r}"
        return None
    try:
        root = ET.fromstring(resp.body)
    except ET.ParseError as e:
        raise AssertionError(f"error body is not XML ({e}): {resp!r}")
    tag = root.tag.split("}")[-1]
    assert tag == "Error", f"root element is {root.tag}, not Error: {resp!r}"
    fields = {c.tag.split("}")[-1]: (c.text or "") for c in root}
    assert fields.get("Code") == code, f"expected Code {code}, got {fields}: {resp!r}"
    for f in ("Message", "Resource", "RequestId"):
        assert f in fields, f"error XML lacks <{f}>: {resp!r}"
    assert fields["Message"], f"empty <Message>: {resp!r}"
    assert fields["RequestId"] == rid, (
        f"<RequestId> {fields['RequestId']!r} differs from x-amz-request-id {rid!r}")
    ctype = resp.header("content-type") or ""
    assert "xml" in ctype, f"error Content-Type is {ctype!r}: {resp!r}"
    return fields


# -------------------------------------------------------------- clients ----

def boto3_client(server, access_key=None, secret_key=None, region=None, **cfg):
    """boto3 (1.26, the Debian one) S3 client: path style, no retries."""
    import boto3
    from botocore.config import Config
    config = Config(s3={"addressing_style": "path"},
                    retries={"total_max_attempts": 1, "mode": "standard"},
                    connect_timeout=5, read_timeout=20, **cfg)
    return boto3.client("s3", endpoint_url=server.endpoint,
                        aws_access_key_id=access_key or server.access_key,
                        aws_secret_access_key=secret_key or server.secret_key,
                        region_name=region or server.region, config=config)


def _client_env(server, tmpdir):
    env = dict(os.environ)
    cfg = os.path.join(tmpdir, "aws-config")
    with open(cfg, "w") as f:
        f.write(f"[default]\nregion = {server.region}\ns3 =\n    addressing_style = path\n")
    env.update({
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_REGION": server.region,
        "AWS_CONFIG_FILE": cfg,
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmpdir, "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
    })
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    return env


def run_aws(server, *args, timeout=60):
    """Run Debian's awscli v2 (/usr/bin/aws) against the server."""
    if not os.path.exists(AWS_CLI):
        pytest.skip(f"{AWS_CLI} (awscli v2) is not installed")
    tmpdir = tempfile.mkdtemp(prefix="tarn-aws-")
    try:
        return subprocess.run([AWS_CLI, "--endpoint-url", server.endpoint, *args],
                              env=_client_env(server, tmpdir), capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def run_s3cmd(server, *args, timeout=60):
    exe = shutil.which("s3cmd")
    if not exe:
        pytest.skip("s3cmd is not installed")
    tmpdir = tempfile.mkdtemp(prefix="tarn-s3cmd-")
    try:
        cfg = os.path.join(tmpdir, "s3cfg")
        hp = f"{server.host}:{server.port}"
        with open(cfg, "w") as f:
            f.write("[default]\n"
                    f"access_key = {server.access_key}\n"
                    f"secret_key = {server.secret_key}\n"
                    f"host_base = {hp}\n"
                    f"host_bucket = {hp}\n"
                    f"bucket_location = {server.region}\n"
                    "use_https = False\n"
                    "signature_v2 = False\n"
                    "check_ssl_certificate = False\n"
                    "socket_timeout = 20\n"
                    "max_retries = 1\n"
                    "progress_meter = False\n")
        env = dict(os.environ)
        env["HOME"] = tmpdir
        return subprocess.run([exe, "-c", cfg, *args], env=env, capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


_py_new = None


def python_new():
    """The default (pyenv) python3 with boto3 1.43, or None when absent."""
    global _py_new
    if _py_new is not None:
        return _py_new or None
    cands = [os.environ.get("TARN_PYTHON_NEW"), os.path.expanduser("~/.pyenv/shims/python3"),
             shutil.which("python3")]
    _py_new = ""
    for c in cands:
        if not c or not os.path.exists(c) or os.path.realpath(c) == "/usr/bin/python3":
            continue
        try:
            r = subprocess.run([c, "-c", "import boto3; print(boto3.__version__)"],
                               capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if r.returncode == 0 and r.stdout.strip():
            _py_new = c
            break
    return _py_new or None


def run_py_new(server, script, timeout=60, extra_env=None):
    """Run `script` under the default python3 (boto3 1.43). The script finds
    TARN_ENDPOINT, TARN_ACCESS_KEY, TARN_SECRET_KEY, TARN_REGION in os.environ."""
    exe = python_new()
    if not exe:
        pytest.skip("no python3 with boto3 besides /usr/bin/python3 (boto3 1.43 absent)")
    tmpdir = tempfile.mkdtemp(prefix="tarn-py-")
    try:
        env = _client_env(server, tmpdir)
        env.update({"TARN_ENDPOINT": server.endpoint, "TARN_ACCESS_KEY": server.access_key,
                    "TARN_SECRET_KEY": server.secret_key, "TARN_REGION": server.region})
        env.update(extra_env or {})
        return subprocess.run([exe, "-c", script], env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def json_out(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return json.loads(proc.stdout)
