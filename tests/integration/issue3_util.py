"""Helpers shared by the issue 3 (objects) integration tests.

Pure-Python CRC32C and CRC64NVME (the Debian boto3 1.26 and the pyenv boto3
1.43 have no awscrt, so the tests compute these themselves), S3 checksum
header values, aws-chunked body builders for raw signed requests, and small
wrappers around the conftest helpers."""

import base64
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zlib

from conftest import AWS_CLI, _client_env, signed_request

S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MiB = 1024 * 1024


# ------------------------------------------------------------------ CRCs ----

def _table(poly):
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_CRC32C_T = _table(0x82F63B78)          # Castagnoli, reflected
_CRC64NVME_T = _table(0x9A6C9329AC4BC9B5)  # reflected form of 0xad93d23594c93659
_M64 = 0xFFFFFFFFFFFFFFFF


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), init/xorout all ones. Slow: keep data small."""
    c = crc ^ 0xFFFFFFFF
    t = _CRC32C_T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc64nvme(data, crc=0):
    """CRC-64/NVME: reflected poly 0xad93d23594c93659, init/xorout all ones."""
    c = crc ^ _M64
    t = _CRC64NVME_T
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ _M64


assert crc32c(b"123456789") == 0xE3069283
assert crc64nvme(b"123456789") == 0xAE8B14860A799888
assert zlib.crc32(b"123456789") == 0xCBF43926


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def checksum_value(alg, data):
    """The x-amz-checksum-<alg> header value S3 uses for `data`."""
    alg = alg.lower()
    if alg == "crc32":
        return b64(struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF))
    if alg == "crc32c":
        return b64(struct.pack(">I", crc32c(data)))
    if alg == "crc64nvme":
        return b64(struct.pack(">Q", crc64nvme(data)))
    if alg == "sha1":
        return b64(hashlib.sha1(data).digest())
    if alg == "sha256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(alg)


def md5_b64(data):
    return b64(hashlib.md5(data).digest())


def etag_of(data):
    return '"' + hashlib.md5(data).hexdigest() + '"'


def sha(data):
    return hashlib.sha256(data).hexdigest()


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def rand(n, seed=None):
    return os.urandom(n)


# ----------------------------------------------------------- aws-chunked ----

def aws_chunked_unsigned(data, chunk=64 * 1024, trailer_alg="crc32", trailer_value=None):
    """A STREAMING-UNSIGNED-PAYLOAD-TRAILER body: hex-size CRLF data CRLF ...,
    then 0 CRLF, the trailer line and a final CRLF."""
    out = bytearray()
    for i in range(0, len(data), chunk):
        part = data[i:i + chunk]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    out += b"0\r\n"
    if trailer_alg:
        val = trailer_value if trailer_value is not None else checksum_value(trailer_alg, data)
        out += f"x-amz-checksum-{trailer_alg}:{val}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def chunked_headers(decoded_len, trailer_alg="crc32"):
    h = {"Content-Encoding": "aws-chunked",
         "x-amz-decoded-content-length": str(decoded_len)}
    if trailer_alg:
        h["x-amz-trailer"] = f"x-amz-checksum-{trailer_alg}"
    return h


def put_chunked(server, bucket, key, body, decoded_len, trailer_alg="crc32", extra=None):
    headers = chunked_headers(decoded_len, trailer_alg)
    headers.update(extra or {})
    return signed_request(server, "PUT", f"/{bucket}/{quote_key(key)}", headers=headers,
                          body=body, content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER")


# ------------------------------------------------------------------ misc ----

def quote_key(key):
    """A key as it goes in a path (S3: every byte but unreserved and '/')."""
    import urllib.parse
    return urllib.parse.quote(key, safe="/-_.~")


def raw_get(server, bucket, key, headers=None, query=""):
    return signed_request(server, "GET", f"/{bucket}/{quote_key(key)}", query=query,
                          headers=headers or {})


def raw_head(server, bucket, key, headers=None):
    return signed_request(server, "HEAD", f"/{bucket}/{quote_key(key)}", headers=headers or {})


def xml_fields(elem):
    return {c.tag.replace(S3NS, ""): (c.text or "") for c in elem}


def parse_list(body):
    """ListObjects(V2) XML → (root fields dict, [contents dicts], [common prefixes])."""
    root = ET.fromstring(body)
    assert root.tag.replace(S3NS, "") == "ListBucketResult", body[:500]
    fields = {}
    contents = []
    prefixes = []
    for c in root:
        tag = c.tag.replace(S3NS, "")
        if tag == "Contents":
            d = xml_fields(c)
            owner = c.find(S3NS + "Owner")
            if owner is not None:
                d["Owner"] = xml_fields(owner)
            contents.append(d)
        elif tag == "CommonPrefixes":
            prefixes.append(xml_fields(c)["Prefix"])
        else:
            fields[tag] = c.text or ""
    return fields, contents, prefixes


def error_code(exc):
    return exc.response.get("Error", {}).get("Code")


def status_of(exc):
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]


class AwsV2:
    """aws-cli v2 with its own AWS_CONFIG_FILE (multipart threshold raised)."""

    def __init__(self, server):
        self.server = server
        self.tmp = tempfile.mkdtemp(prefix="tarn-aws3-")
        self.env = _client_env(server, self.tmp)
        # Multipart upload arrives with issue 4: keep aws s3 cp single-part.
        for kv in (("default.s3.multipart_threshold", "64MB"),
                   ("default.s3.multipart_chunksize", "64MB")):
            p = subprocess.run([AWS_CLI, "configure", "set", *kv], env=self.env,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stderr

    def run(self, *args, timeout=120, text=True):
        return subprocess.run([AWS_CLI, "--endpoint-url", self.server.endpoint, *args],
                              env=self.env, capture_output=True, text=text,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def ok(p):
    assert p.returncode == 0, (f"exit {p.returncode}\nargs: {p.args}\nstdout: {p.stdout!r:.3000}"
                               f"\nstderr: {p.stderr!r:.3000}")
    return p
