#!/bin/sh
# Install (apt-get) the Debian packages tarn needs that are missing.
#   tests/deps.sh build   libraries and tools to build and run the server
#   tests/deps.sh test    the above plus the real clients the tests drive
set -e
BUILD_PKGS="build-essential pkg-config libmicrohttpd-dev liburing-dev librocksdb-dev \
libxml2-dev libssl-dev libisal-dev libinih-dev libjson-c-dev"
TEST_PKGS="awscli s3cmd python3-boto3 python3-botocore python3-pytest libcurl4-openssl-dev \
curl nginx-light rclone clang libclang-rt-14-dev e2fsprogs mount"
want="$BUILD_PKGS"
[ "$1" = test ] && want="$want $TEST_PKGS"
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
