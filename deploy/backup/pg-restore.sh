#!/usr/bin/env bash
# Restores a base backup from S3 into a fresh, empty data directory and prepares point-in-time
# recovery from the archived WAL. Then start PostgreSQL on that directory: it replays WAL up to
# the target and promotes itself. See RUNBOOK.md.
#   pg-restore.sh --pgdata DIR [--base STAMP|latest] [--target-time 'YYYY-MM-DD HH:MM:SS+00']
# Without --target-time it replays every archived segment (the latest state).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

pgdata="" base="latest" target_time=""
while [ $# -gt 0 ]; do
    case "$1" in
        --pgdata) pgdata="$2"; shift 2 ;;
        --base) base="$2"; shift 2 ;;
        --target-time) target_time="$2"; shift 2 ;;
        *) echo "unknown argument $1; see the header of $0" >&2; exit 2 ;;
    esac
done
[ -n "$pgdata" ] || { echo "--pgdata DIR is required (a new, empty directory)" >&2; exit 2; }
if [ -d "$pgdata" ] && [ -n "$(ls -A "$pgdata")" ]; then
    echo "$pgdata is not empty: restore only into a fresh directory, never over a live cluster" >&2
    exit 2
fi

complete_backups() {
    s3 s3 ls --recursive "$BACKUP_S3_URI/base/" | awk '{ print $4 }' | grep '/COMPLETE$' |
        sed -E 's#.*/base/([^/]+)/COMPLETE$#\1#' | sort
}

if [ "$base" = "latest" ]; then
    if [ -n "$target_time" ]; then
        # The newest complete base backup taken before the target.
        cutoff="$(date -u -d "$target_time" +%Y%m%dT%H%M%SZ)"
        base="$(complete_backups | awk -v c="$cutoff" '$1 <= c' | tail -n 1)"
    else
        base="$(complete_backups | tail -n 1)"
    fi
    [ -n "$base" ] || { echo "no complete base backup under $BACKUP_S3_URI/base/ fits" >&2; exit 1; }
fi
log "restore: base backup $base into $pgdata"

mkdir -p "$pgdata"
chmod 700 "$pgdata"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
s3 s3 cp --only-show-errors --recursive "$BACKUP_S3_URI/base/$base" "$work"
[ -f "$work/COMPLETE" ] || { echo "base backup $base is incomplete (no COMPLETE marker)" >&2; exit 1; }
tar -xzf "$work/base.tar.gz" -C "$pgdata"
if [ -f "$work/pg_wal.tar.gz" ]; then
    tar -xzf "$work/pg_wal.tar.gz" -C "$pgdata/pg_wal"
fi

# restore_command runs as the PostgreSQL server user, with this environment baked in.
endpoint=""
if [ -n "${S3_ENDPOINT_URL:-}" ]; then endpoint="--endpoint-url $S3_ENDPOINT_URL "; fi
{
    echo ""
    echo "# Added by pg-restore.sh: recovery from $BACKUP_S3_URI"
    echo "restore_command = 'aws ${endpoint}s3 cp --only-show-errors $BACKUP_S3_URI/wal/%f %p'"
    echo "archive_mode = off"
    if [ -n "$target_time" ]; then
        echo "recovery_target_time = '$target_time'"
        echo "recovery_target_inclusive = true"
    fi
    echo "recovery_target_action = 'promote'"
} >> "$pgdata/postgresql.auto.conf"
touch "$pgdata/recovery.signal"
log "restore: ready; start PostgreSQL on $pgdata to replay WAL${target_time:+ up to $target_time}"
