#!/usr/bin/env bash
# lifeboat's main job on a fresh machine: build, create a local repository, back up an embedded
# default data set (this repository's docs and sources plus a generated SQL dump stream),
# restore it, prove the restore is byte-identical, verify the repository, and prove it with
# restore drills (scratch restore, every hash verified, a check, RTO/RPO against targets).
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
echo "== backup of a live SQLite database (online backup API, integrity-checked)"
python3 - "$WORK/app.db" <<'PY'
import hashlib, json, sqlite3, sys, uuid
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL, payload TEXT NOT NULL, hash TEXT NOT NULL)")
with db:
    db.execute("DELETE FROM outbox")
    for i in range(5000):
        payload = json.dumps({"order": i, "sku": "sku-%d" % (i % 97), "qty": i % 7})
        db.execute("INSERT INTO outbox (uuid, payload, hash) VALUES (?, ?, ?)",
                   (str(uuid.UUID(int=i)), payload, hashlib.sha256(payload.encode()).hexdigest()))
PY
"$LB" backup sqlite "$WORK/app.db" --tag quickstart
rm -f "$WORK/app-restored.db"
"$LB" restore sqlite latest --target "$WORK/app-restored.db"
python3 -c 'import sqlite3,sys; n=sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM outbox").fetchone()[0]; assert n == 5000, n; print("restored SQLite database holds", n, "outbox rows")' "$WORK/app-restored.db"
echo "== restore drills: restore into scratch space, verify every hash, check, measure RTO/RPO"
CONFIG="$WORK/lifeboat.toml"
cat > "$CONFIG" <<EOF
[repositories.quickstart]
url = "$LIFEBOAT_REPOSITORY"
password_env = "LIFEBOAT_PASSWORD"

[sources.sources]
kind = "files"
paths = ["$PWD/docs", "$PWD/crates"]

[sources.events]
kind = "command"
stream_name = "events.sql"
command = ["sh", "-c", "for i in \$(seq 1 20000); do echo \"INSERT INTO events VALUES (\$i);\"; done"]

[sources.outbox]
kind = "sqlite"
paths = ["$WORK/app.db"]

[targets.sources]
rpo = "1h"
rto = "5m"

[drills.sources]
source = "sources"
scratch_dir = "$WORK/scratch"

[[drills.sources.checks]]
kind = "command"
name = "restored tree equals the original"
command = ["$PWD/scripts/quickstart-compare.sh", "$PWD/docs", "$PWD/crates"]

[drills.outbox]
source = "outbox"
scratch_dir = "$WORK/scratch"

[[drills.outbox.checks]]
kind = "row_count"
table = "outbox"
expect = "recorded"

[[drills.outbox.checks]]
kind = "sql"
query = "SELECT count(*) FROM outbox WHERE length(hash) = 64"
expect = 5000

[drills.events]
source = "events"
scratch_dir = "$WORK/scratch"

[[drills.events.checks]]
kind = "command"
name = "20000 events"
command = ["sh", "-c", "n=\$(wc -l < \"\$LIFEBOAT_RESTORED_PATH\"); echo \"\$n lines\"; test \"\$n\" = 20000"]
EOF
unset LIFEBOAT_REPOSITORY
"$LB" --config "$CONFIG" config check
"$LB" --config "$CONFIG" drill run events
"$LB" --config "$CONFIG" drill run outbox
"$LB" --config "$CONFIG" drill run sources
"$LB" --config "$CONFIG" snapshots
"$LB" --config "$CONFIG" drill show latest --markdown
echo "quickstart OK: backups restored, verified and proven by drills (work dir: $WORK)"
