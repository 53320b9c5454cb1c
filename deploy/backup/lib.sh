# Shared by the backup scripts: where backups live and how the aws CLI is called.
# BACKUP_S3_URI   s3://bucket/prefix where backups go (required), e.g. s3://twinmcp-backups/postgres
# S3_ENDPOINT_URL an S3-compatible endpoint (MinIO, a test stand-in); unset for AWS itself.
# AWS credentials and region come from the usual AWS_* variables.

: "${BACKUP_S3_URI:?BACKUP_S3_URI is not set: give the s3://bucket/prefix that holds the backups}"
BACKUP_S3_URI="${BACKUP_S3_URI%/}"

s3() {
    if [ -n "${S3_ENDPOINT_URL:-}" ]; then
        aws --endpoint-url "$S3_ENDPOINT_URL" "$@"
    else
        aws "$@"
    fi
}

log() {
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}
