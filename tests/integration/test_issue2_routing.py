"""Issue 2: virtual-host-style addressing (Host: bucket.<domain>:port with
--domain) beside path style, on the same server."""

import xml.etree.ElementTree as ET

import pytest

from conftest import assert_s3_error, signed_request, unique_bucket

DOMAIN = "example.test"
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture(scope="module")
def vserver():
    from conftest import Server, ServerStartError
    s = Server(["--domain", DOMAIN])
    try:
        s.start()
    except ServerStartError as e:
        s.cleanup()
        pytest.fail(str(e), pytrace=False)
    yield s
    s.cleanup()


def vhost(srv, bucket):
    return f"{bucket}.{DOMAIN}:{srv.port}"


def test_issue2_vhost_head_and_location(vserver):
    name = unique_bucket("vh")
    assert signed_request(vserver, "PUT", f"/{name}").status == 200
    r = signed_request(vserver, "HEAD", "/", host=vhost(vserver, name))
    assert r.status == 200 and r.header("x-amz-request-id"), r
    r = signed_request(vserver, "GET", "/", query="location", host=vhost(vserver, name))
    assert r.status == 200, r
    assert ET.fromstring(r.body).tag == S3NS + "LocationConstraint", r.body


def test_issue2_vhost_create_and_delete(vserver):
    name = unique_bucket("vhc")
    r = signed_request(vserver, "PUT", "/", host=vhost(vserver, name))
    assert r.status == 200, r
    assert signed_request(vserver, "HEAD", f"/{name}").status == 200
    assert_s3_error(signed_request(vserver, "PUT", "/", host=vhost(vserver, name)), 409,
                    "BucketAlreadyOwnedByYou")
    r = signed_request(vserver, "DELETE", "/", host=vhost(vserver, name))
    assert r.status == 204, r
    assert signed_request(vserver, "HEAD", f"/{name}").status == 404


def test_issue2_vhost_missing_bucket(vserver):
    name = unique_bucket("vhm")
    r = signed_request(vserver, "GET", "/", query="location", host=vhost(vserver, name))
    assert_s3_error(r, 404, "NoSuchBucket")
    r = signed_request(vserver, "HEAD", "/", host=vhost(vserver, name))
    assert_s3_error(r, 404, "NoSuchBucket", head=True)


def test_issue2_vhost_bare_domain_lists_buckets(vserver):
    name = unique_bucket("vhl")
    assert signed_request(vserver, "PUT", f"/{name}").status == 200
    r = signed_request(vserver, "GET", "/", host=f"{DOMAIN}:{vserver.port}")
    assert r.status == 200, r
    root = ET.fromstring(r.body)
    assert root.tag == S3NS + "ListAllMyBucketsResult", r.body
    assert name in [e.text for e in root.iter(S3NS + "Name")]


def test_issue2_vhost_not_implemented_subresource(vserver):
    name = unique_bucket("vhn")
    assert signed_request(vserver, "PUT", f"/{name}").status == 200
    r = signed_request(vserver, "GET", "/", query="policy", host=vhost(vserver, name))
    assert_s3_error(r, 501, "NotImplemented")


def test_issue2_vhost_case_insensitive_host(vserver):
    name = unique_bucket("vhi")
    assert signed_request(vserver, "PUT", f"/{name}").status == 200
    r = signed_request(vserver, "HEAD", "/", host=f"{name}.EXAMPLE.test:{vserver.port}")
    assert r.status == 200, r


def test_issue2_path_style_still_works_with_domain(vserver):
    name = unique_bucket("vhp")
    assert signed_request(vserver, "PUT", f"/{name}").status == 200
    assert signed_request(vserver, "HEAD", f"/{name}").status == 200
    assert signed_request(vserver, "DELETE", f"/{name}").status == 204
