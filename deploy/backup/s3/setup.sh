#!/usr/bin/env bash
# Turns on versioning, cross-region replication and a lifecycle for one TwinMCP bucket:
#   setup.sh <bucket> <replica bucket> <replica region> <replication role ARN> <lifecycle.json>
# e.g. setup.sh twinmcp-backups twinmcp-backups-replica eu-west-1 \
#        arn:aws:iam::123456789012:role/twinmcp-s3-replication lifecycle-backups.json
# Run it for the backups bucket (lifecycle-backups.json) and the raw documents bucket
# (lifecycle-raw.json). The replica bucket is created in its region if missing. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bucket="${1:?usage: setup.sh <bucket> <replica bucket> <replica region> <role ARN> <lifecycle.json>}"
replica="${2:?replica bucket missing}"
replica_region="${3:?replica region missing}"
role="${4:?replication role ARN missing}"
lifecycle="${5:?lifecycle file missing}"
[ -f "$lifecycle" ] || lifecycle="$here/$lifecycle"

s3api() {
    if [ -n "${S3_ENDPOINT_URL:-}" ]; then
        aws --endpoint-url "$S3_ENDPOINT_URL" s3api "$@"
    else
        aws s3api "$@"
    fi
}

if ! s3api head-bucket --bucket "$replica" >/dev/null 2>&1; then
    s3api create-bucket --bucket "$replica" --region "$replica_region" \
        --create-bucket-configuration "LocationConstraint=$replica_region" >/dev/null
fi
# Replication needs versioning on both sides.
for b in "$bucket" "$replica"; do
    s3api put-bucket-versioning --bucket "$b" --versioning-configuration "file://$here/versioning.json"
done
rules="$(mktemp)"
trap 'rm -f "$rules"' EXIT
sed -e "s#REPLICATION_ROLE_ARN#$role#" -e "s#REPLICA_BUCKET#$replica#" \
    "$here/replication.json" > "$rules"
s3api put-bucket-replication --bucket "$bucket" --replication-configuration "file://$rules"
s3api put-bucket-lifecycle-configuration --bucket "$bucket" \
    --lifecycle-configuration "file://$lifecycle"
echo "$bucket: versioned, replicated to $replica ($replica_region), lifecycle $(basename "$lifecycle")"
