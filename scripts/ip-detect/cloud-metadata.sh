#!/bin/sh
# ip-detect: the private IPv4 address from the cloud's instance metadata
# service. CLOUD selects the provider: aws (IMDSv2, token first), gcp or
# azure. METADATA_URL overrides the service's base address (for tests and
# proxies). POSIX sh (runs under dash, unlike DC/OS's aws.sh, which uses
# `source`); needs curl.
set -eu

CLOUD=${CLOUD:-aws}
BASE=${METADATA_URL:-http://169.254.169.254}
CURL="curl -fsS --connect-timeout 2 --max-time 5 --retry 3 --retry-delay 1"

case "$CLOUD" in
aws)
    token=$($CURL -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$BASE/latest/api/token")
    addr=$($CURL -H "X-aws-ec2-metadata-token: $token" "$BASE/latest/meta-data/local-ipv4")
    ;;
gcp)
    addr=$($CURL -H "Metadata-Flavor: Google" "$BASE/computeMetadata/v1/instance/network-interfaces/0/ip")
    ;;
azure)
    addr=$($CURL -H "Metadata: true" "$BASE/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2021-02-01&format=text")
    ;;
*)
    echo "ip-detect: unknown CLOUD '$CLOUD' (aws, gcp or azure)" >&2
    exit 1
    ;;
esac
echo "$addr"
