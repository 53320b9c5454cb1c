#!/usr/bin/env bash
# Takes a PostgreSQL base backup and stores it in S3 under base/<UTC timestamp>/.
# Run daily (deploy/backup/k8s/cronjob.yaml). With WAL archiving (wal-archive.sh) this gives
# point-in-time recovery to any moment since the oldest kept base backup (30 days, by the
# bucket's lifecycle rule in s3/lifecycle.json, or by `--prune` here).
#   DATABASE_URL  postgresql://user@host:5432/db of a role with REPLICATION
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"
: "${DATABASE_URL:?DATABASE_URL is not set: give postgresql://user@host:5432/db of a replication role}"
RETENTION_DAYS="${BACKUP_RETENTION_DAYS:-30}"

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "base-backup: starting $stamp"
# Tar format, compressed, with the WAL needed to make the copy consistent included, so a base
# backup restores on its own even if the archive lost a segment.
pg_basebackup --dbname="$DATABASE_URL" --pgdata="$work/base" --format=tar --gzip \
    --wal-method=fetch --checkpoint=fast --label="twinmcp-$stamp" --no-password
s3 s3 cp --only-show-errors --recursive "$work/base" "$BACKUP_S3_URI/base/$stamp"
# The marker is written last: a base backup without it is incomplete and restore ignores it.
date -u +%Y-%m-%dT%H:%M:%SZ > "$work/COMPLETE"
s3 s3 cp --only-show-errors "$work/COMPLETE" "$BACKUP_S3_URI/base/$stamp/COMPLETE"
log "base-backup: stored $BACKUP_S3_URI/base/$stamp"

if [ "${1:-}" = "--prune" ]; then
    cutoff="$(date -u -d "-$RETENTION_DAYS days" +%Y%m%dT%H%M%SZ)"
    s3 s3 ls "$BACKUP_S3_URI/base/" | awk '$1 == "PRE" { sub("/$", "", $2); print $2 }' |
        while read -r old; do
            if [[ "$old" < "$cutoff" ]]; then
                log "base-backup: pruning $old (older than $RETENTION_DAYS days)"
                s3 s3 rm --only-show-errors --recursive "$BACKUP_S3_URI/base/$old"
            fi
        done
fi
