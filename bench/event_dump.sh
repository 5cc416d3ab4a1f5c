#!/usr/bin/env bash
# Repository size and first-backup time on a real pg_dump of the event-store cluster that
# `BENCH_PG_DATA=events bash bench/postgres.sh` builds (its cached template): lifeboat vs restic,
# with `zstd -3 -T0` as the speed reference. Run bench/postgres.sh with BENCH_PG_DATA=events
# once first.
#
#   bash bench/event_dump.sh
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${BENCH_PG_WORK:-${BENCH_WORK:-$BENCH_DIR/work}/pg}
LIFEBOAT_BIN=${LIFEBOAT_BIN:-$BENCH_DIR/../target/release/lifeboat}
PG_USER=${BENCH_PG_USER:-postgres}
export LIFEBOAT_PASSWORD=${LIFEBOAT_PASSWORD:-bench-password} RESTIC_PASSWORD=${RESTIC_PASSWORD:-bench-password}

log() { printf '[event-dump %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

TEMPLATE=$(ls -d "$WORK"/cluster-eventstore-*/ 2>/dev/null | head -n 1)
[ -n "$TEMPLATE" ] && [ -d "$TEMPLATE/data" ] || die "no event-store template under $WORK: run BENCH_PG_DATA=events bash bench/postgres.sh first"
PGBIN=${BENCH_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
[ -x "$PGBIN/pg_dump" ] || die "no PostgreSQL binaries (set BENCH_PG_BINDIR)"
[ -x "$LIFEBOAT_BIN" ] || die "lifeboat binary $LIFEBOAT_BIN missing (cargo build --release)"
command -v restic >/dev/null || die "restic missing (apt-get install restic)"

RUN=$WORK/event-dump
rm -rf "$RUN"; mkdir -p "$RUN"; chown "$PG_USER:" "$RUN"
DUMP=$WORK/events-dump.sql
if [ ! -s "$DUMP" ] || [ "$DUMP" -ot "$TEMPLATE/data" ]; then
    log "copying the template and dumping it (pg_dump, plain format)"
    cp -a "$TEMPLATE/data" "$RUN/data"
    port=$((20000 + RANDOM % 20000))
    runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$RUN/data" -l "$RUN/pg.log" -w \
        -o "-p $port -k $RUN -c archive_mode=off -c listen_addresses=''" start >/dev/null
    runuser -u "$PG_USER" -- "$PGBIN/pg_dump" -h "$RUN" -p "$port" -U postgres -d postgres >"$DUMP.tmp"
    runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$RUN/data" -m fast -w stop >/dev/null
    mv "$DUMP.tmp" "$DUMP"
    rm -rf "$RUN/data"
fi
bytes=$(stat -c %s "$DUMP")
log "dump: $bytes bytes"

timed() {  # NAME CMD... (stdin from the dump); prints seconds
    local name=$1 t0 t1; shift
    sync; sleep 5
    t0=$(date +%s.%N)
    "$@" <"$DUMP" >"$RUN/$name.log" 2>&1 || die "$* failed (see $RUN/$name.log)"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}
"$LIFEBOAT_BIN" -r "$RUN/lifeboat" init >/dev/null
restic -r "$RUN/restic" init >/dev/null
lb_s=$(timed lifeboat "$LIFEBOAT_BIN" -r "$RUN/lifeboat" backup --stdin --stdin-name events.sql)
rs_s=$(timed restic restic -r "$RUN/restic" backup --stdin --stdin-filename events.sql)
zs_s=$(timed zstd sh -c 'exec zstd -3 -T0 -q -c >/dev/null')
lb_b=$(du -sb "$RUN/lifeboat" | cut -f1)
rs_b=$(du -sb "$RUN/restic" | cut -f1)
zs_b=$(zstd -3 -T0 -q -c <"$DUMP" | wc -c)
awk -v d="$bytes" -v lb="$lb_b" -v rs="$rs_b" -v zs="$zs_b" -v lt="$lb_s" -v rt="$rs_s" -v zt="$zs_s" 'BEGIN {
    printf "| pg_dump of the event-store cluster (%.0f MB) | lifeboat | restic | zstd -3 -T0 | lifeboat/restic | lifeboat/zstd |\n", d / 1e6
    printf "|---|---:|---:|---:|---:|---:|\n"
    printf "| first backup, wall time | %.2f s | %.2f s | %.2f s | %.2f | %.2f |\n", lt, rt, zt, lt / rt, lt / zt
    printf "| repository size | %.1f MiB | %.1f MiB | %.1f MiB | %.3f | |\n", lb / 1048576, rs / 1048576, zs / 1048576, lb / rs
}'
rm -rf "$RUN/lifeboat" "$RUN/restic"
