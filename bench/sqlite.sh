#!/usr/bin/env bash
# SQLite: how much a second backup of a ~1 GB database adds after 1,000 scattered row
# updates, and how long it takes next to `sqlite3 DB ".backup COPY"` (issue 12's targets:
# at most 3 % of the database's size, at most 2x the time). Also measured on the same data:
# the block size (16/32/64 KiB), content-defined chunking of the raw file (what a plain stream
# backup would add), and VACUUM INTO instead of the backup API.
#
#   bash bench/sqlite.sh                          # ~1 GB database, 1,000 updates
#   BENCH_SQLITE_MB=100 bash bench/sqlite.sh      # quick
#
# Knobs: BENCH_SQLITE_MB (1024), BENCH_SQLITE_UPDATES (1000), BENCH_SQLITE_DELETES (100,
# for the VACUUM INTO comparison), BENCH_SQLITE_BLOCKS_KIB
# ("16 32 64": block sizes compared; the default, 32, is the headline run),
# BENCH_SQLITE_COMPARE (1: also CDC and VACUUM INTO), BENCH_SQLITE_WORK (bench/work/sqlite),
# LIFEBOAT_BIN (skip the build). Report: stdout and bench/results-sqlite-latest.md.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
MB=${BENCH_SQLITE_MB:-1024}
UPDATES=${BENCH_SQLITE_UPDATES:-1000}
DELETES=${BENCH_SQLITE_DELETES:-100}
BLOCKS=${BENCH_SQLITE_BLOCKS_KIB:-16 32 64}
COMPARE=${BENCH_SQLITE_COMPARE:-1}
WORK=${BENCH_SQLITE_WORK:-${BENCH_WORK:-$BENCH_DIR/work}/sqlite}
RESULTS_MD=${BENCH_SQLITE_RESULTS_MD:-$BENCH_DIR/results-sqlite-latest.md}
DEFAULT_BLOCK=32

export LIFEBOAT_PASSWORD=${LIFEBOAT_PASSWORD:-bench-password}
export LC_ALL=C

log() { printf '[bench-sqlite %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
case $MB in ''|*[!0-9]*) die "BENCH_SQLITE_MB must be an integer, got '$MB'";; esac

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
RUN=$WORK/run
LOGS=$WORK/logs
rm -rf "$RUN" "$LOGS"
mkdir -p "$RUN/tmp" "$LOGS"
# lifeboat's private copy goes to TMPDIR: the same filesystem as sqlite3's COPY.
export TMPDIR=$RUN/tmp

# ---------------------------------------------------------------- tools
if ! command -v sqlite3 >/dev/null; then
    log "installing sqlite3"
    apt-get update >/dev/null && apt-get install -y sqlite3 >/dev/null || die "cannot install sqlite3"
fi
command -v python3 >/dev/null || die "python3 is needed to generate the database"
if [ -z "${LIFEBOAT_BIN:-}" ]; then
    target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    case $target_dir in /*) ;; *) target_dir=$ROOT/$target_dir;; esac
    LIFEBOAT_BIN=$target_dir/release/lifeboat
    log "building lifeboat: cargo build --release -p lifeboat-cli"
    (cd "$ROOT" && cargo build --release -p lifeboat-cli) >"$LOGS/cargo-build.log" 2>&1 ||
        { tail -n 20 "$LOGS/cargo-build.log" >&2; die "cargo build failed"; }
fi
[ -x "$LIFEBOAT_BIN" ] || die "lifeboat binary not found: $LIFEBOAT_BIN"
cp "$LIFEBOAT_BIN" "$RUN/lifeboat"
LB=$RUN/lifeboat

# ---------------------------------------------------------------- data
BASE=$WORK/base-${MB}MB.db
if [ ! -f "$BASE" ]; then
    log "generating a ${MB} MB database (bench/gen_sqlite.py)"
    t0=$(now)
    python3 "$BENCH_DIR/gen_sqlite.py" "$BASE.tmp" "$MB" 1
    mv "$BASE.tmp" "$BASE"
    log "generated in $(elapsed "$t0" "$(now)")s"
fi
DB=$RUN/app.db
cp "$BASE" "$DB"
DB_BYTES=$(stat -c %s "$DB")
log "database: $(du -h "$DB" | cut -f1) ($DB_BYTES bytes), $(sqlite3 "$DB" 'SELECT count(*) FROM events') events"

# `lifeboat backup sqlite` into REPO: prints "wall_seconds bytes_added".
lb_sqlite() {
    local repo=$1 db=$2 kib=$3 t0 t1
    shift 3
    t0=$(now)
    "$LB" -r "$repo" backup sqlite "$db" --block-size-kib "$kib" "$@" --json >"$LOGS/last.json"
    t1=$(now)
    printf '%s %s\n' "$(elapsed "$t0" "$t1")" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["summary"]["bytes_added"])' "$LOGS/last.json")"
}
# `lifeboat backup --stdin` (content-defined chunking) of the raw file.
lb_stream() {
    local repo=$1 db=$2 t0 t1
    t0=$(now)
    "$LB" -r "$repo" backup --stdin --stdin-name app.db --json <"$db" >"$LOGS/last.json"
    t1=$(now)
    printf '%s %s\n' "$(elapsed "$t0" "$t1")" \
        "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["bytes_added"])' "$LOGS/last.json")"
}
# `sqlite3 DB ".backup COPY"`: the median of 3 runs.
sqlite_backup_time() {
    local db=$1 t0 t1 i
    for i in 1 2 3; do
        rm -f "$RUN/copy.db"
        t0=$(now)
        sqlite3 "$db" ".backup '$RUN/copy.db'"
        t1=$(now)
        elapsed "$t0" "$t1"
        echo
    done | sort -n | sed -n 2p
    rm -f "$RUN/copy.db"
}
# Pages (of PAGE_SIZE bytes) that differ between two files, counting pages beyond the shorter.
pages_differ() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
a, b, ps = open(sys.argv[1], "rb"), open(sys.argv[2], "rb"), int(sys.argv[3])
n = 0
while True:
    x, y = a.read(ps), b.read(ps)
    if not x and not y:
        break
    n += x != y
print(n)
PY
}
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.1f", a / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ---------------------------------------------------------------- the headline run
# Warm the page cache (every tool then reads from memory).
cat "$DB" >/dev/null
REPO=$RUN/repo
"$LB" -r "$REPO" init >/dev/null
log "first backup (block ${DEFAULT_BLOCK} KiB)"
read -r FIRST_S FIRST_ADDED < <(lb_sqlite "$REPO" "$DB" "$DEFAULT_BLOCK")
log "  ${FIRST_S}s, $(mib "$FIRST_ADDED") MiB added"
log "$UPDATES scattered UPDATEs"
UPDATED=$RUN/updated.db
python3 "$BENCH_DIR/gen_sqlite.py" --update "$DB" "$UPDATES" 2
cp "$DB" "$UPDATED"
rm -f "$UPDATED-wal" "$UPDATED-shm"
cat "$DB" >/dev/null
B1=$(sqlite_backup_time "$DB")
log "second backup"
read -r SECOND_S SECOND_ADDED < <(lb_sqlite "$REPO" "$DB" "$DEFAULT_BLOCK")
cp "$LOGS/last.json" "$LOGS/second.json"
B2=$(sqlite_backup_time "$DB")
SQLITE_S=$(awk -v a="$B1" -v b="$B2" 'BEGIN { printf "%.3f", (a + b) / 2 }')
log "  ${SECOND_S}s, $(mib "$SECOND_ADDED") MiB added; sqlite3 .backup ${B1}s / ${B2}s"
INFO=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))[0]["sqlite"]; print(m["page_size"], m["page_count"], m["journal_mode"], m["copy_seconds"], sum(m["row_counts"].values()), m["sqlite_version"])' "$LOGS/second.json")
read -r PAGE_SIZE PAGE_COUNT JMODE COPY_S ROWS SQLITE_VERSION <<<"$INFO"
COPY_S=$(awk -v a="$COPY_S" 'BEGIN { printf "%.3f", a }')
log "restore"
t0=$(now)
"$LB" -r "$REPO" restore sqlite latest --target "$RUN/restored.db" --json >"$LOGS/restore.json"
RESTORE_S=$(elapsed "$t0" "$(now)")
RESTORED_OK=$(sqlite3 "$RUN/restored.db" "PRAGMA integrity_check")
[ "$(sqlite3 "$RUN/restored.db" 'SELECT count(*) FROM events')" = "$(sqlite3 "$DB" 'SELECT count(*) FROM events')" ] || RESTORED_OK="row count differs"
[ "$(sqlite3 "$RUN/restored.db" 'SELECT sum(length(payload)) FROM events')" = "$(sqlite3 "$DB" 'SELECT sum(length(payload)) FROM events')" ] || RESTORED_OK="content differs"
rm -f "$RUN/restored.db"
REPO_BYTES=$(du -sb "$REPO" | cut -f1)
rm -rf "$REPO"

# ---------------------------------------------------------------- block sizes
declare -A BLK_FIRST BLK_FIRST_ADDED BLK_SECOND BLK_ADDED
for kib in $BLOCKS; do
    if [ "$kib" = "$DEFAULT_BLOCK" ]; then
        BLK_FIRST[$kib]=$FIRST_S BLK_FIRST_ADDED[$kib]=$FIRST_ADDED BLK_SECOND[$kib]=$SECOND_S BLK_ADDED[$kib]=$SECOND_ADDED
        continue
    fi
    log "block size $kib KiB"
    r=$RUN/repo-$kib
    "$LB" -r "$r" init >/dev/null
    read -r s1 a1 < <(lb_sqlite "$r" "$BASE" "$kib")
    read -r s2 a2 < <(lb_sqlite "$r" "$UPDATED" "$kib")
    BLK_FIRST[$kib]=$s1 BLK_FIRST_ADDED[$kib]=$a1 BLK_SECOND[$kib]=$s2 BLK_ADDED[$kib]=$a2
    rm -rf "$r"
done

# ---------------------------------------------------------------- --check quick
log "first and second backup with --check quick (PRAGMA quick_check)"
r=$RUN/repo-quick
"$LB" -r "$r" init >/dev/null
lb_sqlite "$r" "$BASE" "$DEFAULT_BLOCK" --check quick >/dev/null
cat "$UPDATED" >/dev/null
read -r QUICK_S QUICK_ADDED < <(lb_sqlite "$r" "$UPDATED" "$DEFAULT_BLOCK" --check quick)
B3=$(sqlite_backup_time "$UPDATED")
QUICK_RATIO=$(ratio "$QUICK_S" "$B3")
rm -rf "$r"
log "first and second backup with --check pragma (PRAGMA integrity_check itself)"
r=$RUN/repo-pragma
"$LB" -r "$r" init >/dev/null
lb_sqlite "$r" "$BASE" "$DEFAULT_BLOCK" --check pragma >/dev/null
cat "$UPDATED" >/dev/null
read -r PRAGMA_S PRAGMA_ADDED < <(lb_sqlite "$r" "$UPDATED" "$DEFAULT_BLOCK" --check pragma)
B4=$(sqlite_backup_time "$UPDATED")
PRAGMA_RATIO=$(ratio "$PRAGMA_S" "$B4")
rm -rf "$r"
# What the check costs on its own (on a copy, as lifeboat runs it: memory-mapped).
cp "$UPDATED" "$RUN/check.db"
t0=$(now)
sqlite3 "$RUN/check.db" "PRAGMA mmap_size = 4294967296; PRAGMA integrity_check" >/dev/null
FULL_CHECK_S=$(elapsed "$t0" "$(now)")
t0=$(now)
sqlite3 "$RUN/check.db" "PRAGMA mmap_size = 4294967296; PRAGMA quick_check" >/dev/null
QUICK_CHECK_S=$(elapsed "$t0" "$(now)")
rm -f "$RUN/check.db"

# ---------------------------------------------------------------- other ways
CDC_ADDED="" VAC_ADDED="" VAC_S=""
if [ "$COMPARE" = 1 ]; then
    log "content-defined chunking of the raw file (backup --stdin)"
    r=$RUN/repo-cdc
    "$LB" -r "$r" init >/dev/null
    lb_stream "$r" "$BASE" >/dev/null
    read -r CDC_S CDC_ADDED < <(lb_stream "$r" "$UPDATED")
    rm -rf "$r"
    log "VACUUM INTO, then the copies backed up"
    t0=$(now)
    sqlite3 "$BASE" "VACUUM INTO '$RUN/vacuum1.db'"
    VAC_S=$(elapsed "$t0" "$(now)")
    sqlite3 "$UPDATED" "VACUUM INTO '$RUN/vacuum2.db'"
    r=$RUN/repo-vacuum
    "$LB" -r "$r" init >/dev/null
    lb_sqlite "$r" "$RUN/vacuum1.db" "$DEFAULT_BLOCK" >/dev/null
    read -r _ VAC_ADDED < <(lb_sqlite "$r" "$RUN/vacuum2.db" "$DEFAULT_BLOCK")
    VAC_SAME=$(pages_differ "$RUN/vacuum1.db" "$RUN/vacuum2.db" "$PAGE_SIZE")
    rm -rf "$r" "$RUN/vacuum2.db"
    "$LB" -r "$r" init >/dev/null
    lb_sqlite "$r" "$RUN/vacuum1.db" "$DEFAULT_BLOCK" >/dev/null
    # The same updates plus $DELETES scattered deletes: rows leave their pages.
    log "the updates plus $DELETES scattered DELETEs: backup API vs VACUUM INTO"
    CHURNED=$RUN/churned.db
    cp "$UPDATED" "$CHURNED"
    python3 "$BENCH_DIR/gen_sqlite.py" --delete "$CHURNED" "$DELETES" 3
    r2=$RUN/repo-churn
    "$LB" -r "$r2" init >/dev/null
    lb_sqlite "$r2" "$BASE" "$DEFAULT_BLOCK" >/dev/null
    read -r _ CHURN_ADDED < <(lb_sqlite "$r2" "$CHURNED" "$DEFAULT_BLOCK")
    CHURN_PAGES=$(pages_differ "$BASE" "$CHURNED" "$PAGE_SIZE")
    rm -rf "$r2"
    sqlite3 "$CHURNED" "VACUUM INTO '$RUN/vacuum3.db'"
    read -r _ VAC_CHURN_ADDED < <(lb_sqlite "$r" "$RUN/vacuum3.db" "$DEFAULT_BLOCK")
    VAC_CHURN_PAGES=$(pages_differ "$RUN/vacuum1.db" "$RUN/vacuum3.db" "$PAGE_SIZE")
    rm -rf "$r" "$RUN/vacuum1.db" "$RUN/vacuum3.db" "$CHURNED"
fi
CHANGED_PAGES=$(pages_differ "$BASE" "$UPDATED" "$PAGE_SIZE")

# ---------------------------------------------------------------- report
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
GIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
PCT=$(pct "$SECOND_ADDED" "$DB_BYTES")
RATIO=$(ratio "$SECOND_S" "$SQLITE_S")
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a <= b) ? "PASS" : "FAIL" }'; }
{
    echo "## SQLite: second backup after $UPDATES scattered updates (bench/sqlite.sh)"
    echo
    echo "git $GIT, $(date -u '+%Y-%m-%d %H:%M UTC'), load average $LOAD at the end, SQLite $SQLITE_VERSION (lifeboat) / $(sqlite3 --version | cut -d' ' -f1) (sqlite3)."
    echo "Database: $(mib "$DB_BYTES") MiB ($PAGE_COUNT pages of $PAGE_SIZE bytes, $JMODE mode, $ROWS rows: users and events with JSON payloads, uuids, hex hashes); the updates changed $CHANGED_PAGES pages."
    echo
    echo "| metric | value |"
    echo "|---|---:|"
    echo "| first backup, wall time | ${FIRST_S} s |"
    echo "| first backup, added to the repository | $(mib "$FIRST_ADDED") MiB |"
    echo "| repository after both backups | $(mib "$REPO_BYTES") MiB |"
    echo "| second backup (default \`--check full\`), wall time | ${SECOND_S} s |"
    echo "| of which the backup-API copy | ${COPY_S} s |"
    echo "| \`sqlite3 DB \".backup COPY\"\`, wall time (median of 3, before and after; mean) | ${SQLITE_S} s |"
    echo "| \`VACUUM INTO\`, wall time (first state) | ${VAC_S:-not measured} s |"
    echo "| second backup, added to the repository | $(mib "$SECOND_ADDED") MiB ($PCT % of the database) |"
    echo "| \`PRAGMA integrity_check\` of the database alone (sqlite3, mmap) | ${FULL_CHECK_S} s |"
    echo "| \`PRAGMA quick_check\` of the database alone (sqlite3, mmap) | ${QUICK_CHECK_S} s |"
    echo "| second backup with \`--check quick\`, wall time | ${QUICK_S} s (\`.backup\` then: ${B3} s) |"
    echo "| second backup with \`--check quick\`, added | $(mib "$QUICK_ADDED") MiB ($(pct "$QUICK_ADDED" "$DB_BYTES") %) |"
    echo "| second backup with \`--check pragma\` (PRAGMA integrity_check itself), wall time | ${PRAGMA_S} s (\`.backup\` then: ${B4} s; ${PRAGMA_RATIO}×) |"
    echo "| restore (\`restore sqlite latest\`), wall time | ${RESTORE_S} s |"
    echo "| restored database: integrity_check, rows, payloads | $RESTORED_OK |"
    echo
    echo "| target | measured | result |"
    echo "|---|---|---|"
    echo "| second backup adds ≤ 3 % of the database | $PCT % | $(verdict "$PCT" 3) |"
    echo "| second backup ≤ 2× \`sqlite3 .backup\` (default \`--check full\`: all integrity_check verifies) | ${RATIO}× | $(verdict "$RATIO" 2) |"
    echo "| second backup ≤ 2× \`sqlite3 .backup\` with \`--check quick\` | ${QUICK_RATIO}× | $(verdict "$QUICK_RATIO" 2) |"
    echo
    echo "Block size (first backup, second backup, added by the second):"
    echo
    echo "| block | first backup | first backup stored | second backup | added by the second | % of database |"
    echo "|---:|---:|---:|---:|---:|---:|"
    for kib in $BLOCKS; do
        echo "| $kib KiB | ${BLK_FIRST[$kib]} s | $(mib "${BLK_FIRST_ADDED[$kib]}") MiB | ${BLK_SECOND[$kib]} s | $(mib "${BLK_ADDED[$kib]}") MiB | $(pct "${BLK_ADDED[$kib]}" "$DB_BYTES") % |"
    done
    if [ "$COMPARE" = 1 ]; then
        echo
        echo "Other ways to store the same two states:"
        echo
        echo "| method | added by the second | % of database |"
        echo "|---|---:|---:|"
        echo "| backup API + fixed ${DEFAULT_BLOCK} KiB blocks (lifeboat) | $(mib "$SECOND_ADDED") MiB | $PCT % |"
        echo "| raw file, content-defined chunks (\`backup --stdin\`, ${CDC_S}s) | $(mib "$CDC_ADDED") MiB | $(pct "$CDC_ADDED" "$DB_BYTES") % |"
        echo "| \`VACUUM INTO\` copies, fixed ${DEFAULT_BLOCK} KiB blocks ($VAC_SAME pages differ; VACUUM INTO took ${VAC_S}s) | $(mib "$VAC_ADDED") MiB | $(pct "$VAC_ADDED" "$DB_BYTES") % |"
        echo
        echo "The same updates plus $DELETES scattered single-row DELETEs:"
        echo
        echo "| method | pages that differ | added by the second | % of database |"
        echo "|---|---:|---:|---:|"
        echo "| backup API + fixed ${DEFAULT_BLOCK} KiB blocks (lifeboat) | $CHURN_PAGES | $(mib "$CHURN_ADDED") MiB | $(pct "$CHURN_ADDED" "$DB_BYTES") % |"
        echo "| \`VACUUM INTO\` copies, fixed ${DEFAULT_BLOCK} KiB blocks | $VAC_CHURN_PAGES | $(mib "$VAC_CHURN_ADDED") MiB | $(pct "$VAC_CHURN_ADDED" "$DB_BYTES") % |"
    fi
} | tee "$RESULTS_MD"
log "report written to $RESULTS_MD"
rm -rf "$RUN"
