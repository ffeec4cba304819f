"""Issue 2: bucket lifecycle through boto3 1.26 and boto3 1.43.

CreateBucket / HeadBucket / ListBuckets / GetBucketLocation / DeleteBucket as
AWS S3 answers them, checked through the SDKs' own parsing."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import boto3_client, run_py_new, unique_bucket, json_out


def _rid(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


def test_issue2_boto3_bucket_lifecycle(server):
    s3 = boto3_client(server)
    name = unique_bucket("life")
    before = datetime.datetime.now(datetime.timezone.utc)

    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _rid(r)

    r = s3.head_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _rid(r)

    r = s3.list_buckets()
    assert _rid(r)
    assert "Owner" in r and r["Owner"].get("ID"), f"ListBuckets has no Owner/ID: {r}"
    mine = [b for b in r["Buckets"] if b["Name"] == name]
    assert len(mine) == 1, f"{name} not listed exactly once: {r['Buckets']}"
    created = mine[0]["CreationDate"]
    assert isinstance(created, datetime.datetime), f"CreationDate did not parse: {created!r}"
    # The server clock is this machine's clock: the date must be "now".
    assert abs((created - before).total_seconds()) < 120, f"CreationDate {created} vs now {before}"

    r = s3.get_bucket_location(Bucket=name)
    assert _rid(r)
    # AWS answers an empty LocationConstraint for us-east-1 (boto3: None).
    assert r.get("LocationConstraint") in (None, "", "us-east-1"), r

    r = s3.delete_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _rid(r)

    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name not in names


def test_issue2_boto3_list_buckets_sorted_and_complete(server):
    s3 = boto3_client(server)
    made = sorted(unique_bucket("sort") for _ in range(5))
    for n in reversed(made):
        s3.create_bucket(Bucket=n)
    try:
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        for n in made:
            assert n in names
        # S3 lists buckets in lexicographic order of name.
        assert names == sorted(names), names
    finally:
        for n in made:
            s3.delete_bucket(Bucket=n)


def test_issue2_boto3_location_constraint_body(server_factory):
    """A LocationConstraint body naming the server's region is accepted and
    GetBucketLocation returns it (server started with --region eu-west-1)."""
    srv = server_factory(["--region", "eu-west-1"])
    s3 = boto3_client(srv, region="eu-west-1")
    name = unique_bucket("loc")
    r = s3.create_bucket(Bucket=name,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.delete_bucket(Bucket=name)


def test_issue2_boto3_bucket_name_edges(server):
    """Names at the edges of the S3 naming rules are accepted."""
    s3 = boto3_client(server)
    for name in ("abc", "a" * 63, "a.b-c1", "0" + unique_bucket("d")[:20]):
        s3.create_bucket(Bucket=name)
        s3.head_bucket(Bucket=name)
        s3.delete_bucket(Bucket=name)


NEW_BOTO3_SCRIPT = r"""
import datetime, json, os, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
s3 = boto3.client("s3", endpoint_url=os.environ["TARN_ENDPOINT"],
                  aws_access_key_id=os.environ["TARN_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["TARN_SECRET_KEY"],
                  region_name=os.environ["TARN_REGION"],
                  config=Config(s3={"addressing_style": "path"},
                                retries={"total_max_attempts": 1, "mode": "standard"},
                                connect_timeout=5, read_timeout=20))
name = os.environ["BUCKET"]
out = {"version": boto3.__version__}
r = s3.create_bucket(Bucket=name)
out["create"] = r["ResponseMetadata"]["HTTPStatusCode"]
out["create_rid"] = r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
out["head"] = s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"]
lb = s3.list_buckets()
out["owner_id"] = (lb.get("Owner") or {}).get("ID")
out["listed"] = [b["Name"] for b in lb["Buckets"] if b["Name"] == name]
out["created_type"] = [type(b["CreationDate"]).__name__ for b in lb["Buckets"] if b["Name"] == name]
out["location"] = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
try:
    s3.create_bucket(Bucket=name)
    out["again"] = "no error"
except ClientError as e:
    out["again"] = e.response["Error"]["Code"]
out["delete"] = s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"]
try:
    s3.head_bucket(Bucket=name)
    out["head_after"] = 200
except ClientError as e:
    out["head_after"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
"""


def test_issue2_boto3_new_bucket_lifecycle(server):
    name = unique_bucket("new")
    out = json_out(run_py_new(server, NEW_BOTO3_SCRIPT, extra_env={"BUCKET": name}))
    assert out["version"].startswith("1."), out
    assert out["create"] == 200, out
    assert out["create_rid"], out
    assert out["head"] == 200, out
    assert out["owner_id"], out
    assert out["listed"] == [name], out
    assert out["created_type"] == ["datetime"], out
    assert out["location"] in (None, "", "us-east-1"), out
    assert out["again"] == "BucketAlreadyOwnedByYou", out
    assert out["delete"] == 204, out
    assert out["head_after"] == 404, out
