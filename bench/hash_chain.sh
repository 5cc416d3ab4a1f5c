#!/usr/bin/env bash
# The hash_chain drill check against plain COPY: how much longer verifying a SHA-256 chain
# takes than just streaming the same columns out of PostgreSQL.
#
#   bash bench/hash_chain.sh                               # 2,000,000 events in 50 tenants
#   BENCH_HC_ROWS=200000 bash bench/hash_chain.sh          # quick
#
# Starts a throwaway cluster (initdb in a temp dir, unix socket only, a free port; as the
# postgres user when run as root), loads an event-store table whose chain is computed by a
# small python3 generator (per-tenant sequence, JSON payloads, some with quotes, backslashes,
# newlines and non-ASCII text), then times, best of BENCH_HC_RUNS after a warm-up:
#   copy:  psql -c "COPY (SELECT <the check's columns> ... ORDER BY tenant_id, seq) TO STDOUT" > /dev/null
#   check: the check_hash_chain example (crates/lifeboat-drill/examples), release build
# and prints rows, both times and their ratio. The requirement is ratio <= 1.5.
#
# Knobs: BENCH_HC_ROWS (2000000), BENCH_HC_TENANTS (50), BENCH_HC_RUNS (3),
# BENCH_HC_BIN (a built check_hash_chain; default: cargo build --release), LIFEBOAT_PG_BINDIR,
# BENCH_HC_KEEP=1 keeps the cluster's directory (printed) instead of removing it.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
ROWS=${BENCH_HC_ROWS:-2000000}
TENANTS=${BENCH_HC_TENANTS:-50}
RUNS=${BENCH_HC_RUNS:-3}
KEEP=${BENCH_HC_KEEP:-0}
PG_USER=${BENCH_HC_PG_USER:-postgres}

die() { echo "hash_chain.sh: $*" >&2; exit 1; }

# ---------------------------------------------------------------- PostgreSQL programs
if [ -n "${LIFEBOAT_PG_BINDIR:-}" ]; then
    PGBIN=$LIFEBOAT_PG_BINDIR
elif command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    PGBIN=$(pg_config --bindir)
else
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$PGBIN" ] && [ -x "$PGBIN/initdb" ] || die "PostgreSQL server programs not found (apt-get install postgresql, or set LIFEBOAT_PG_BINDIR)"
export LIFEBOAT_PG_BINDIR=$PGBIN
command -v python3 >/dev/null || die "python3 is needed to generate the chain"

# ---------------------------------------------------------------- the check binary
if [ -n "${BENCH_HC_BIN:-}" ]; then
    BIN=$BENCH_HC_BIN
else
    (cd "$ROOT" && cargo build --release -q -p lifeboat-drill --example check_hash_chain)
    BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/check_hash_chain
fi
[ -x "$BIN" ] || die "$BIN is missing"

# ---------------------------------------------------------------- a throwaway cluster
WORK=$(mktemp -d /tmp/lb-hashchain.XXXXXX)
SOCK=$WORK
DATA=$WORK/data
if [ "$(id -u)" -eq 0 ]; then
    id "$PG_USER" >/dev/null 2>&1 || die "running as root and there is no '$PG_USER' user to run PostgreSQL as"
    chown "$PG_USER" "$WORK"
    as_pg() { runuser -u "$PG_USER" -- "$@"; }
else
    as_pg() { "$@"; }
fi
cleanup() {
    as_pg "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || true
    if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -N -D "$DATA" -A trust -U postgres -E UTF8 --locale=C --no-instructions >"$WORK/initdb.log" 2>&1 ||
    { tail -n 20 "$WORK/initdb.log" >&2; die "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$SOCK'
port = $PORT
fsync = off
synchronous_commit = off
shared_buffers = 256MB
maintenance_work_mem = 256MB
work_mem = 64MB
max_wal_size = 4GB
lc_messages = 'C'
EOF
as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w start >/dev/null
DSN="host=$SOCK port=$PORT user=postgres dbname=postgres"
psql_q() { "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$DSN" "$@"; }

# ---------------------------------------------------------------- the event store
echo "generating $ROWS events in $TENANTS tenants ..." >&2
t0=$(date +%s.%N)
psql_q -c "CREATE TABLE events (tenant_id int, stream text, seq int, created_at timestamptz,
           event_type text, payload jsonb, prev_hash text, event_hash text)"
python3 - "$ROWS" "$TENANTS" <<'PY' | psql_q -c "COPY events FROM STDIN"
# Writes COPY text rows with a correct chain: event_hash = sha256(prev_hash || event_type ||
# tenant_id || payload::text), per tenant in seq order. payload::text is jsonb's canonical
# output: keys ordered by length then bytes, ", " and ": " separators.
import hashlib, json, random, sys
from datetime import datetime, timedelta, timezone

rows, tenants = int(sys.argv[1]), int(sys.argv[2])
rnd = random.Random(42)
kinds = ["order_placed", "payment_received", "order_shipped", "refund_issued", "address_changed"]
notes = ["", "gift wrap", 'said "leave it at the door"\nthen hung up', "back\\slash path C:\\tmp",
         "café ✓ naïve", "tab\tinside"]

def jsonb_text(v):
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + jsonb_text(v[k]) for k in keys) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(jsonb_text(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, ensure_ascii=False)

def copy_text(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

base = datetime(2026, 1, 1, tzinfo=timezone.utc)
out = sys.stdout
per = rows // tenants
buf = []
for t in range(1, tenants + 1):
    n = per + (1 if t <= rows % tenants else 0)
    prev = "0" * 64
    stream = "tenant-%03d" % t
    for s in range(1, n + 1):
        kind = kinds[rnd.randrange(len(kinds))]
        payload = {
            "order_id": "ord-%d-%d" % (t, s),
            "amount_cents": rnd.randrange(100, 1000000),
            "currency": "EUR",
            "items": [rnd.randrange(1, 10000) for _ in range(rnd.randrange(1, 4))],
            "customer": {"id": rnd.randrange(1, 100000), "tier": rnd.choice(["gold", "silver", "basic"])},
            "note": notes[rnd.randrange(len(notes))],
        }
        text = jsonb_text(payload)
        h = hashlib.sha256((prev + kind + str(t) + text).encode()).hexdigest()
        at = (base + timedelta(seconds=s * 7 + t)).strftime("%Y-%m-%d %H:%M:%S+00")
        buf.append("%d\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (t, stream, s, at, kind, copy_text(text), prev, h))
        prev = h
        if len(buf) >= 10000:
            out.write("".join(buf))
            buf.clear()
out.write("".join(buf))
PY
psql_q -c "CREATE INDEX ON events (tenant_id, seq)" -c "VACUUM ANALYZE events"
t1=$(date +%s.%N)
N=$(psql_q -c "SELECT count(*) FROM events")
SIZE=$(psql_q -c "SELECT pg_size_pretty(pg_table_size('events'))")
BAD=$(psql_q -c "SELECT count(*) FROM (SELECT * FROM events ORDER BY tenant_id, seq LIMIT 10000) e
                 WHERE event_hash <> encode(sha256(convert_to(prev_hash || event_type || tenant_id || payload::text, 'UTF8')), 'hex')")
[ "$BAD" = 0 ] || die "the generator's chain does not match PostgreSQL's jsonb text ($BAD of 10000 rows differ)"
echo "loaded $N rows ($SIZE) in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')s" >&2

# ---------------------------------------------------------------- timing
# The statement the check runs (crates/lifeboat-drill/src/checks/hash_chain.rs, copy_query).
INPUT="prev_hash || event_type || tenant_id || payload::text"
COPY_SQL="COPY (SELECT \"tenant_id\", (seq)::text AS lb__order, \"event_hash\" AS lb__hash, \"prev_hash\" AS lb__prev, ($INPUT)::text AS lb__input FROM \"events\" ORDER BY \"tenant_id\", (seq)) TO STDOUT"
run_copy() { PGCLIENTENCODING=UTF8 PGTZ=UTC "$PGBIN/psql" -X -q -w -v ON_ERROR_STOP=1 -d "$DSN" -c "$COPY_SQL" >/dev/null; }
run_check() {
    "$BIN" --host "$SOCK" --port "$PORT" --user postgres --db postgres --table events \
        --partition-by tenant_id --order-by seq --hash event_hash --prev prev_hash --input "$INPUT"
}
seconds() { local a b; a=$(date +%s.%N); "$@" >/dev/null; b=$(date +%s.%N); awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b - a }'; }
lt() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x < y) }'; }

run_copy # warm-up: the table into the page cache
OUT=$(run_check) || { echo "$OUT" >&2; die "the check failed on a correct chain"; }
echo "$OUT" >&2
best_copy=""; best_check=""
for i in $(seq 1 "$RUNS"); do
    c=$(seconds run_copy)
    k=$(seconds run_check)
    echo "run $i: copy ${c}s, check ${k}s" >&2
    if [ -z "$best_copy" ] || lt "$c" "$best_copy"; then best_copy=$c; fi
    if [ -z "$best_check" ] || lt "$k" "$best_check"; then best_check=$k; fi
done
RATIO=$(awk -v k="$best_check" -v c="$best_copy" 'BEGIN { printf "%.2f", k / c }')
printf '\nrows\tcopy_seconds\tcheck_seconds\tratio\n%s\t%s\t%s\t%s\n' "$N" "$best_copy" "$best_check" "$RATIO"
if lt 1.5 "$RATIO"; then
    echo "hash_chain takes more than 1.5x the time of COPY" >&2
    exit 1
fi
