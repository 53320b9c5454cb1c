#!/usr/bin/env bash
# PostgreSQL archive_command: copies one finished WAL segment to S3.
#   archive_command = '/usr/local/bin/wal-archive.sh %p %f'
# Exit 0 only once the segment is safely stored, so PostgreSQL keeps it and retries otherwise.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

path="${1:?usage: wal-archive.sh <path %p> <file name %f>}"
name="${2:?usage: wal-archive.sh <path %p> <file name %f>}"
target="$BACKUP_S3_URI/wal/$name"

# A segment already archived (a retry after a lost acknowledgement) is fine if identical; a
# different file under the same name means two clusters share a prefix: refuse, loudly.
if s3 s3 ls "$target" >/dev/null 2>&1; then
    tmp="$(mktemp)"
    trap 'rm -f "$tmp"' EXIT
    s3 s3 cp --only-show-errors "$target" "$tmp"
    if cmp -s "$path" "$tmp"; then
        log "wal-archive: $name already archived"
        exit 0
    fi
    log "wal-archive: $target exists with different content; is another cluster archiving here?"
    exit 1
fi
s3 s3 cp --only-show-errors "$path" "$target"
log "wal-archive: archived $name"
