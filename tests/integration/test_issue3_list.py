"""Issue 3: ListObjectsV2 and ListObjects (v1) as AWS answers them: prefix,
delimiter with CommonPrefixes, max-keys, continuation tokens over ~1,200 keys,
start-after, encoding-type=url, fetch-owner, KeyCount, marker / NextMarker,
and the boto3 paginators returning every key once, in order."""

import concurrent.futures
import datetime
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from conftest import assert_s3_error, boto3_client, signed_request, unique_bucket
from issue3_util import etag_of, parse_list, error_code

N_BIG = 1200

TREE = ["a/b/c/d", "docs/readme", "photos/2020/a.jpg", "photos/2020/b.jpg",
        "photos/2021/c.jpg", "photos/x.jpg", "top.txt", "zz", "sp ace/k+1", "sp ace/k%2",
        "ü/ß"]


def _body(key):
    return ("body of " + key).encode()


@pytest.fixture(scope="module")
def s3(server):
    return boto3_client(server, max_pool_connections=16)


@pytest.fixture(scope="module")
def big(server, s3):
    """A bucket with N_BIG keys "big/00000".."big/01199", written by 8 threads."""
    name = unique_bucket("lsbig")
    s3.create_bucket(Bucket=name)
    keys = [f"big/{i:05d}" for i in range(N_BIG)]

    def put(k):
        s3.put_object(Bucket=name, Key=k, Body=_body(k))
        return k

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        done = list(ex.map(put, keys))
    assert done == keys
    return name, keys


@pytest.fixture(scope="module")
def tree(server, s3):
    name = unique_bucket("lstree")
    s3.create_bucket(Bucket=name)
    for k in TREE:
        s3.put_object(Bucket=name, Key=k, Body=_body(k))
    return name


def _sorted(keys):
    return sorted(keys, key=lambda s: s.encode())


# --------------------------------------------------------------- V2 paging ----

def test_issue3_v2_default_page_and_continuation(s3, big):
    name, keys = big
    r = s3.list_objects_v2(Bucket=name)
    assert r["KeyCount"] == 1000, r["KeyCount"]
    assert r["MaxKeys"] == 1000
    assert r["IsTruncated"] is True
    token = r["NextContinuationToken"]
    assert token
    first = [c["Key"] for c in r["Contents"]]
    assert first == keys[:1000]
    c0 = r["Contents"][0]
    assert c0["Size"] == len(_body(keys[0]))
    assert c0["ETag"] == etag_of(_body(keys[0]))
    assert isinstance(c0["LastModified"], datetime.datetime)
    assert c0.get("StorageClass") == "STANDARD"
    assert "Owner" not in c0, "ListObjectsV2 returns Owner only with fetch-owner=true"

    r2 = s3.list_objects_v2(Bucket=name, ContinuationToken=token)
    assert r2["ContinuationToken"] == token
    assert r2["KeyCount"] == N_BIG - 1000
    assert r2["IsTruncated"] is False
    assert "NextContinuationToken" not in r2
    assert [c["Key"] for c in r2["Contents"]] == keys[1000:]


def test_issue3_v2_paginator_every_key_once(s3, big):
    name, keys = big
    got = []
    pages = 0
    for p in s3.get_paginator("list_objects_v2").paginate(Bucket=name,
                                                          PaginationConfig={"PageSize": 250}):
        pages += 1
        assert p["KeyCount"] == len(p.get("Contents", []))
        assert p["KeyCount"] <= 250
        got += [c["Key"] for c in p.get("Contents", [])]
    assert got == keys
    assert pages == 5


def test_issue3_v2_max_keys_small_and_start_after(s3, big):
    name, keys = big
    r = s3.list_objects_v2(Bucket=name, MaxKeys=7, StartAfter="big/00599")
    assert [c["Key"] for c in r["Contents"]] == keys[600:607]
    assert r["KeyCount"] == 7 and r["IsTruncated"] is True
    assert r["StartAfter"] == "big/00599"
    # start-after between keys, and past the end.
    r = s3.list_objects_v2(Bucket=name, StartAfter="big/00599x", MaxKeys=2)
    assert [c["Key"] for c in r["Contents"]] == keys[600:602]
    r = s3.list_objects_v2(Bucket=name, StartAfter="big/99999")
    assert r["KeyCount"] == 0 and "Contents" not in r and r["IsTruncated"] is False
    # The token wins over start-after once paging.
    r = s3.list_objects_v2(Bucket=name, StartAfter="big/00010", MaxKeys=5)
    r2 = s3.list_objects_v2(Bucket=name, StartAfter="big/00010", MaxKeys=5,
                            ContinuationToken=r["NextContinuationToken"])
    assert [c["Key"] for c in r2["Contents"]] == keys[16:21]


def test_issue3_v2_prefix_over_big(s3, big):
    name, keys = big
    r = s3.list_objects_v2(Bucket=name, Prefix="big/011")
    assert [c["Key"] for c in r["Contents"]] == keys[1100:1200]
    assert r["Prefix"] == "big/011" and r["KeyCount"] == 100
    r = s3.list_objects_v2(Bucket=name, Prefix="nothing/")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_issue3_v2_max_keys_zero(server, big):
    name, _ = big
    r = signed_request(server, "GET", f"/{name}", query="list-type=2&max-keys=0")
    assert r.status == 200, r
    fields, contents, _ = parse_list(r.body)
    assert contents == [] and fields["KeyCount"] == "0" and fields["MaxKeys"] == "0"


# ------------------------------------------------------- delimiter, prefix ----

def test_issue3_v2_delimiter_common_prefixes(s3, tree):
    r = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["top.txt", "zz"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "docs/", "photos/", "sp ace/", "ü/"]
    assert r["KeyCount"] == 7
    assert r["Delimiter"] == "/"

    r = s3.list_objects_v2(Bucket=tree, Prefix="photos/", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["photos/x.jpg"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/2020/", "photos/2021/"]
    assert r["KeyCount"] == 3

    r = s3.list_objects_v2(Bucket=tree, Prefix="photos/2020/", Delimiter="/")
    assert [c["Key"] for c in r["Contents"]] == ["photos/2020/a.jpg", "photos/2020/b.jpg"]
    assert "CommonPrefixes" not in r

    # A delimiter other than '/'.
    r = s3.list_objects_v2(Bucket=tree, Prefix="photos/", Delimiter="0")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["photos/20"]
    assert [c["Key"] for c in r["Contents"]] == ["photos/x.jpg"]


def test_issue3_v2_delimiter_paging_counts_prefixes(s3, tree):
    seen = []
    pages = 0
    token = None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=tree, Delimiter="/", MaxKeys=2, **kw)
        pages += 1
        assert pages < 20
        n = len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        assert r["KeyCount"] == n and n <= 2, r
        seen += [c["Key"] for c in r.get("Contents", [])]
        seen += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert _sorted(seen) == ["a/", "docs/", "photos/", "sp ace/", "top.txt", "zz", "ü/"]
    assert len(seen) == len(set(seen)) == 7
    assert pages == 4


def test_issue3_v2_fetch_owner(s3, tree):
    r = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert len(r["Contents"]) == len(TREE)
    for c in r["Contents"]:
        assert c.get("Owner", {}).get("ID"), c
    r = s3.list_objects_v2(Bucket=tree)
    assert all("Owner" not in c for c in r["Contents"])


def test_issue3_v2_encoding_type_url_raw(server, tree):
    r = signed_request(server, "GET", f"/{tree}",
                       query="list-type=2&encoding-type=url&prefix=sp%20ace%2F&delimiter=%2B")
    assert r.status == 200, r
    fields, contents, prefixes = parse_list(r.body)
    assert fields.get("EncodingType") == "url", fields
    # Prefix and Delimiter come back url-encoded too; botocore decodes with unquote_plus.
    assert urllib.parse.unquote_plus(fields["Prefix"]) == "sp ace/", fields
    assert " " not in fields["Prefix"]
    assert urllib.parse.unquote_plus(fields["Delimiter"]) == "+", fields
    assert [urllib.parse.unquote_plus(p) for p in prefixes] == ["sp ace/k+"]
    assert [urllib.parse.unquote_plus(c["Key"]) for c in contents] == ["sp ace/k%2"]
    assert contents[0]["Key"].endswith("%252"), contents
    r = signed_request(server, "GET", f"/{tree}", query="list-type=2&encoding-type=url")
    _, contents, _ = parse_list(r.body)
    raw = [c["Key"] for c in contents]
    assert all(ch.isascii() and ch not in " +" for k in raw for ch in k), raw
    assert _sorted(urllib.parse.unquote_plus(k) for k in raw) == _sorted(TREE)
    # Without encoding-type the keys are exact in the XML.
    r = signed_request(server, "GET", f"/{tree}", query="list-type=2")
    _, contents, _ = parse_list(r.body)
    assert [c["Key"] for c in contents] == _sorted(TREE)


def test_issue3_v2_bad_arguments(server, tree):
    r = signed_request(server, "GET", f"/{tree}", query="list-type=2&encoding-type=bogus")
    assert_s3_error(r, 400, "InvalidArgument")
    r = signed_request(server, "GET", f"/{tree}", query="list-type=2&max-keys=-1")
    assert_s3_error(r, 400, "InvalidArgument")
    r = signed_request(server, "GET", f"/{tree}", query="list-type=2&continuation-token=%21%21garbage")
    assert_s3_error(r, 400, "InvalidArgument")
    r = signed_request(server, "GET", f"/{unique_bucket('nolist')}", query="list-type=2")
    assert_s3_error(r, 404, "NoSuchBucket")


# ---------------------------------------------------------------------- V1 ----

def test_issue3_v1_marker_and_paginator(s3, big):
    name, keys = big
    r = s3.list_objects(Bucket=name)
    assert len(r["Contents"]) == 1000 and r["IsTruncated"] is True
    assert r["Marker"] == ""
    assert "NextMarker" not in r, "v1 sends NextMarker only with a delimiter"
    r2 = s3.list_objects(Bucket=name, Marker=r["Contents"][-1]["Key"])
    assert [c["Key"] for c in r2["Contents"]] == keys[1000:]
    assert r2["IsTruncated"] is False
    assert r2["Contents"][0]["Owner"]["ID"], "ListObjects v1 always returns Owner"

    r = s3.list_objects(Bucket=name, Marker="big/00099", MaxKeys=3)
    assert [c["Key"] for c in r["Contents"]] == keys[100:103]
    assert r["Marker"] == "big/00099" and r["MaxKeys"] == 3

    got = [c["Key"] for p in s3.get_paginator("list_objects").paginate(
        Bucket=name, PaginationConfig={"PageSize": 300}) for c in p.get("Contents", [])]
    assert got == keys


def test_issue3_v1_next_marker_with_delimiter(s3, tree):
    r = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=3)
    assert r["IsTruncated"] is True
    items = [c["Key"] for c in r.get("Contents", [])] + \
            [p["Prefix"] for p in r.get("CommonPrefixes", [])]
    assert _sorted(items) == ["a/", "docs/", "photos/"]
    assert r["NextMarker"] == "photos/", r
    r2 = s3.list_objects(Bucket=tree, Delimiter="/", Marker=r["NextMarker"], MaxKeys=10)
    assert r2["IsTruncated"] is False
    items2 = [c["Key"] for c in r2.get("Contents", [])] + \
             [p["Prefix"] for p in r2.get("CommonPrefixes", [])]
    assert _sorted(items2) == ["sp ace/", "top.txt", "zz", "ü/"]

    got = []
    for p in s3.get_paginator("list_objects").paginate(Bucket=tree, Delimiter="/",
                                                        PaginationConfig={"PageSize": 2}):
        got += [c["Key"] for c in p.get("Contents", [])]
        got += [q["Prefix"] for q in p.get("CommonPrefixes", [])]
    assert _sorted(got) == ["a/", "docs/", "photos/", "sp ace/", "top.txt", "zz", "ü/"]
    assert len(got) == 7


def test_issue3_v1_prefix_and_missing_bucket(s3, tree):
    r = s3.list_objects(Bucket=tree, Prefix="photos/20")
    assert [c["Key"] for c in r["Contents"]] == ["photos/2020/a.jpg", "photos/2020/b.jpg",
                                                 "photos/2021/c.jpg"]
    with pytest.raises(ClientError) as ei:
        s3.list_objects(Bucket=unique_bucket("nolist"))
    assert error_code(ei.value) == "NoSuchBucket"
