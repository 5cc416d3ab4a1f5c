#!/usr/bin/env bash
# lifeboat's main job on a fresh machine: build, create a local repository, back up an embedded
# default data set (this repository's docs and sources plus a generated SQL dump stream),
# restore it, prove the restore is byte-identical, and verify the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p lifeboat-cli 2>&1 | tail -n 2
LB="${CARGO_TARGET_DIR:-$PWD/target}/release/lifeboat"
WORK="${LIFEBOAT_QUICKSTART_DIR:-$(mktemp -d /tmp/lifeboat-quickstart.XXXXXX)}"
export LIFEBOAT_REPOSITORY="$WORK/repo"
export LIFEBOAT_PASSWORD="${LIFEBOAT_PASSWORD:-quickstart-password}"
DATA="$PWD/docs $PWD/crates"

echo "== repository at $LIFEBOAT_REPOSITORY"
[ -f "$LIFEBOAT_REPOSITORY/config" ] || "$LB" init
echo "== backup of $DATA"
"$LB" backup $DATA --tag quickstart
echo "== backup of a generated SQL dump stream"
"$LB" backup --tag quickstart --stdin-name events.sql --stdin-from-command -- \
    sh -c 'for i in $(seq 1 20000); do echo "INSERT INTO events VALUES ($i, '"'"'event-$i'"'"', now());"; done'
echo "== second backup (unchanged files are not re-read)"
"$LB" backup $DATA --tag quickstart
"$LB" snapshots
echo "== restore"
rm -rf "$WORK/restore"
"$LB" restore latest --target "$WORK/restore"
for d in $DATA; do diff -r "$d" "$WORK/restore$d"; done
"$LB" dump "$("$LB" snapshots --json | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["stream"]][-1])')" > "$WORK/events.sql"
echo "restored files are identical; dumped stream: $(wc -l < "$WORK/events.sql") lines"
echo "== check --read-data"
"$LB" check --read-data
"$LB" stats
echo "quickstart OK (work dir: $WORK)"
