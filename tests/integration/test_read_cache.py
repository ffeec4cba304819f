"""The read cache (docs/storage-io.md "The read cache"): once a small
object has been read, later GETs (whole or ranged) are served from memory
even with every shard file gone; a large object is always read from the
disks; an overwrite is seen at once (new data id); `--read-cache-mib 0`
turns the cache off."""
import glob
import os

import botocore.exceptions
import pytest

from conftest import boto3_client, unique_bucket


def _remove_shards(data_dir):
    files = glob.glob(os.path.join(data_dir, "disk*", "data", "*", "*"))
    assert files
    for f in files:
        os.unlink(f)


def _get(s3, bucket, key, rng=None):
    kw = {"Range": rng} if rng else {}
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def test_read_cache_serves_small_objects(server_factory):
    srv = server_factory(["--heal-interval", "0", "--scrub-interval", "0"])
    s3 = boto3_client(srv)
    bucket = unique_bucket("rc")
    s3.create_bucket(Bucket=bucket)
    small, large = os.urandom(4096), os.urandom(1024 * 1024)
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    s3.put_object(Bucket=bucket, Key="large", Body=large)
    assert _get(s3, bucket, "small", "bytes=10-20") == small[10:21]  # reads it whole
    assert _get(s3, bucket, "large") == large
    _remove_shards(srv.data_dir)
    assert _get(s3, bucket, "small") == small
    assert _get(s3, bucket, "small", "bytes=4000-") == small[4000:]
    with pytest.raises(botocore.exceptions.ClientError):
        _get(s3, bucket, "large")
    # Read-after-write: the head names a new data id, read from the disks.
    new = os.urandom(3000)
    s3.put_object(Bucket=bucket, Key="small", Body=new)
    assert _get(s3, bucket, "small") == new
    s3.delete_object(Bucket=bucket, Key="small")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        _get(s3, bucket, "small")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"


def test_read_cache_off(server_factory):
    srv = server_factory(["--read-cache-mib", "0", "--heal-interval", "0",
                          "--scrub-interval", "0"])
    s3 = boto3_client(srv)
    bucket = unique_bucket("rc")
    s3.create_bucket(Bucket=bucket)
    small = os.urandom(4096)
    s3.put_object(Bucket=bucket, Key="small", Body=small)
    assert _get(s3, bucket, "small") == small
    _remove_shards(srv.data_dir)
    with pytest.raises(botocore.exceptions.ClientError):
        _get(s3, bucket, "small")
