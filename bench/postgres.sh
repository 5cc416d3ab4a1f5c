#!/usr/bin/env bash
# lifeboat vs pgBackRest on one generated PostgreSQL cluster: full backup time and repository
# size, a second (unchanged) full backup's added bytes, restore time, a restore drill (lifeboat
# `drill run` vs pgBackRest restore + start + the same SQL checks by hand), and the latency of
# archive_command per WAL segment under a pgbench load.
#
#   bash bench/postgres.sh                                   # ~1.5 GB cluster
#   BENCH_PG_MB=60 BENCH_PG_PGBENCH_SECS=20 BENCH_PG_WAL_SEGMENTS=8 bash bench/postgres.sh   # quick
#
# See bench/README.md ("PostgreSQL: lifeboat vs pgBackRest") for what is measured and the knobs.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

# ---------------------------------------------------------------- knobs
WORK=${BENCH_PG_WORK:-${BENCH_WORK:-$BENCH_DIR/work}/pg}
PG_MB=${BENCH_PG_MB:-1500}
SCALE=${BENCH_PG_SCALE:-}
EXTRA_MB=${BENCH_PG_EXTRA_MB:-}
PGBENCH_SECS=${BENCH_PG_PGBENCH_SECS:-60}
PGBENCH_CLIENTS=${BENCH_PG_CLIENTS:-4}
BULK_WEIGHT=${BENCH_PG_BULK_WEIGHT:-1}
WAL_SEGMENTS=${BENCH_PG_WAL_SEGMENTS:-30}
KEY_CACHE=${BENCH_PG_KEY_CACHE:-1}
WAL_VARIANTS=${BENCH_PG_WAL_VARIANTS:-lifeboat pgbackrest}
PGBR_PROCESS_MAX=${BENCH_PG_PGBR_PROCESS_MAX:-2}
LB_METHOD=${BENCH_PG_LB_METHOD:-auto}
PGBR_COMPRESS=${BENCH_PG_PGBR_COMPRESS:-zst:3}
PGBR_CIPHER=${BENCH_PG_PGBR_CIPHER:-aes-256-cbc}
LB_WAL_TIMEOUT=${BENCH_PG_WAL_TIMEOUT:-180}
PG_USER=${BENCH_PG_USER:-postgres}
SHARED_BUFFERS=${BENCH_PG_SHARED_BUFFERS:-256MB}
VERIFY=${BENCH_VERIFY:-1}
SKIP_INSTALL=${BENCH_SKIP_INSTALL:-0}
STRICT=${BENCH_STRICT:-0}
RESULTS_MD=${BENCH_PG_RESULTS_MD:-$BENCH_DIR/results-postgres-latest.md}

export LIFEBOAT_PASSWORD=${LIFEBOAT_PASSWORD:-bench-password}
export LIFEBOAT_KDF_TEST=${LIFEBOAT_KDF_TEST:-0}
PGBR_CIPHER_PASS=${BENCH_PG_PGBR_CIPHER_PASS:-bench-password}
export LC_ALL=C

log() { printf '[bench-pg %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
is_num() { case $1 in ''|*[!0-9.]*) return 1;; esac; }

is_num "$PG_MB" || die "BENCH_PG_MB must be a number (MB), got '$PG_MB'"
# Default split: ~70% pgbench tables (scale 1 is ~15 MB with indexes), ~30% an `events` table
# with JSON payloads (much less compressible than pgbench's blank-padded rows).
# BENCH_PG_DATA=events: an event store instead (pgbench scale 1 for the WAL load, the rest one
# `events` table of nested JSON payloads with uuids, 64-hex-digit hashes and timestamps: what
# real event stores hold, and far harder on compression and restore than pgbench's filler).
DATA_KIND=${BENCH_PG_DATA:-mixed}
case $DATA_KIND in mixed|events) ;; *) die "BENCH_PG_DATA must be mixed or events, got '$DATA_KIND'";; esac
if [ "$DATA_KIND" = events ]; then
    [ -n "$SCALE" ] || SCALE=1
    [ -n "$EXTRA_MB" ] || EXTRA_MB=$PG_MB
fi
[ -n "$SCALE" ] || SCALE=$(awk -v m="$PG_MB" 'BEGIN { s = int(m * 0.7 / 15 + 0.5); print (s < 1 ? 1 : s) }')
[ -n "$EXTRA_MB" ] || EXTRA_MB=$(awk -v m="$PG_MB" 'BEGIN { print int(m * 0.3 + 0.5) }')
case $SCALE in ''|*[!0-9]*) die "BENCH_PG_SCALE must be an integer, got '$SCALE'";; esac
case $EXTRA_MB in ''|*[!0-9]*) die "BENCH_PG_EXTRA_MB must be an integer, got '$EXTRA_MB'";; esac
case $PGBR_COMPRESS in *:*) PGBR_CTYPE=${PGBR_COMPRESS%%:*} PGBR_CLEVEL=${PGBR_COMPRESS#*:} ;; *) PGBR_CTYPE=$PGBR_COMPRESS PGBR_CLEVEL="" ;; esac

[ "$(id -u)" -eq 0 ] || die "run as root (PostgreSQL and pgBackRest run as the '$PG_USER' user through runuser)"

# ---------------------------------------------------------------- layout
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
LOGS=$WORK/logs
RESULTS=$WORK/results.tsv
RUN=$WORK/run             # this run's cluster, repositories, restores (fresh each run)
CTL=$RUN/ctl              # archive wrapper, its mode file and latency log
DATA=$RUN/data
SOCK=$RUN/sock
LB_REPO=$RUN/repo-lifeboat
LB_REPO_NOCACHE=$RUN/repo-lifeboat-nocache   # BENCH_PG_WAL_VARIANTS=lifeboat-nocache pushes here
PGBR_REPO=$RUN/repo-pgbackrest
PGBR_CONF=$RUN/pgbackrest.conf
STATE=$RUN/state
BIN=$RUN/bin
rm -rf "$LOGS"
mkdir -p "$LOGS"
: >"$RESULTS"
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

# ---------------------------------------------------------------- servers started by this script
STARTED_DIRS=()
cleanup() {
    local d
    for d in "${STARTED_DIRS[@]}"; do
        if [ -f "$d/postmaster.pid" ]; then
            runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 1. packages
apt_install() {
    [ "$SKIP_INSTALL" = 1 ] && die "missing $* and BENCH_SKIP_INSTALL=1"
    log "installing from Debian: $*"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
find_pgbin() {
    local d
    if command -v pg_config >/dev/null 2>&1 && d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/postgres" ]; then
        printf '%s' "$d"; return 0
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/postgres" ] && printf '%s' "$d"
}
PGBIN=${BENCH_PG_BINDIR:-$(find_pgbin || true)}
missing=()
{ [ -n "$PGBIN" ] && [ -x "$PGBIN/pgbench" ]; } || missing+=(postgresql postgresql-contrib)
command -v pgbackrest >/dev/null 2>&1 || missing+=(pgbackrest)
[ -x /usr/bin/time ] || missing+=(time)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
PGBIN=${BENCH_PG_BINDIR:-$(find_pgbin || true)}
[ -n "$PGBIN" ] && [ -x "$PGBIN/pgbench" ] || die "PostgreSQL binaries not found (set BENCH_PG_BINDIR)"
# Debian's postgresql-common creates clusters on install; a stray one does not matter (other port).
id "$PG_USER" >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash "$PG_USER"

as_pg() { runuser -u "$PG_USER" -- "$@"; }
psql_q() { as_pg "$PGBIN/psql" -X -q -A -t -h "$SOCK" -p "$1" -U postgres -d postgres -v ON_ERROR_STOP=1 -c "$2"; }

# ---------------------------------------------------------------- 2. lifeboat binary
LB_ERR=""
if [ -z "${LIFEBOAT_BIN:-}" ]; then
    target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    case $target_dir in /*) ;; *) target_dir=$ROOT/$target_dir;; esac
    LIFEBOAT_BIN=$target_dir/release/lifeboat
    log "building lifeboat: cargo build --release -p lifeboat-cli"
    if ! (cd "$ROOT" && cargo build --release -p lifeboat-cli) >"$LOGS/cargo-build.log" 2>&1; then
        tail -n 20 "$LOGS/cargo-build.log" >&2 || true
        LB_ERR="cargo build --release -p lifeboat-cli failed (see $LOGS/cargo-build.log)"
    fi
fi
# A private copy: a concurrent cargo build must not swap the binary mid-run, and the path ends up
# in the restored cluster's restore_command.
# A server left running by an interrupted earlier run would keep files open under $RUN.
for d in "$RUN/data" "$WORK"/restore/* "$WORK"/cluster-*/data; do
    if [ -f "$d/postmaster.pid" ] && [ -n "$PGBIN" ]; then
        log "stopping a server left over in $d"
        runuser -u "$PG_USER" -- "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
    fi
done
rm -rf "$RUN"
mkdir -p "$BIN" "$CTL" "$SOCK" "$STATE" "$LOGS"
chown "$PG_USER:" "$LOGS"   # server logs and the archive wrapper's logs
if [ -z "$LB_ERR" ]; then
    if [ -x "$LIFEBOAT_BIN" ]; then
        cp "$LIFEBOAT_BIN" "$BIN/lifeboat"
    else
        LB_ERR="lifeboat binary not found: $LIFEBOAT_BIN"
    fi
fi
LB=$BIN/lifeboat
if [ -z "$LB_ERR" ]; then
    for c in "backup --help" "backup postgres --help" "restore postgres --help" "wal-push --help"; do
        # shellcheck disable=SC2086
        "$LB" $c >"$LOGS/lifeboat-$(printf '%s' "$c" | tr ' ' '_')-help.txt" 2>&1 ||
            log "note: 'lifeboat $c' failed (see $LOGS)"
    done
    put lifeboat_version meta "$("$LB" --version 2>/dev/null | head -n1 || true)"
else
    log "lifeboat unavailable: $LB_ERR (its rows will read ERR)"
    put lifeboat_error meta "$LB_ERR"
fi
ERRORS=0
LB_FAILS=()
[ -z "$LB_ERR" ] || { ERRORS=1; LB_FAILS+=("$LB_ERR"); }

# ---------------------------------------------------------------- 3. the cluster (template, reused)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)

# Run-specific settings live in bench.conf (included from postgresql.conf), so the template can
# be copied anywhere.
write_bench_conf() {
    cat >"$1/bench.conf" <<EOF
listen_addresses = ''
port = $2
unix_socket_directories = '$SOCK'
archive_mode = on
archive_command = '$CTL/archive.sh "%p" "%f"  # timing wrapper around lifeboat wal-push / pgbackrest archive-push'
EOF
    chown "$PG_USER:" "$1/bench.conf"
}

# Server environment: nothing secret; the archive wrapper sets what each tool needs.
pg_start() {  # DATA PORT LOGFILE [extra postgres options]
    local d=$1 p=$2 lf=$3 extra=${4:-}
    STARTED_DIRS+=("$d")
    as_pg env LIFEBOAT_PASSWORD="$LIFEBOAT_PASSWORD" LIFEBOAT_KDF_TEST="$LIFEBOAT_KDF_TEST" \
        XDG_CACHE_HOME="$STATE/lifeboat-cache" \
        "$PGBIN/pg_ctl" -D "$d" -l "$lf" -w -t 3600 -o "-p $p -k $SOCK $extra" start >/dev/null
}
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$1" -m "${2:-fast}" -w -t 600 stop >/dev/null; }

TEMPLATE=$WORK/cluster-s${SCALE}-e${EXTRA_MB}MB
[ "$DATA_KIND" = events ] && TEMPLATE=$WORK/cluster-eventstore-s${SCALE}-e${EXTRA_MB}MB
if [ -f "$TEMPLATE.done" ] && [ -d "$TEMPLATE/data" ]; then
    log "reusing cluster template $TEMPLATE"
else
    log "generating cluster: pgbench -i -s $SCALE + events table of ~${EXTRA_MB} MB"
    rm -rf "$TEMPLATE" "$TEMPLATE.done"
    mkdir -p "$TEMPLATE"
    chown -R "$PG_USER:" "$TEMPLATE" "$RUN"
    t0=$(date +%s.%N)
    as_pg "$PGBIN/initdb" -D "$TEMPLATE/data" --auth=trust -U postgres -E UTF8 --locale=C >"$LOGS/initdb.log" 2>&1 ||
        { tail -n 20 "$LOGS/initdb.log" >&2; die "initdb failed"; }
    cat >>"$TEMPLATE/data/postgresql.conf" <<EOF

# ---- bench/postgres.sh
wal_level = replica
max_wal_senders = 10
shared_buffers = $SHARED_BUFFERS
max_wal_size = 2GB
checkpoint_timeout = 15min
archive_timeout = 0
log_checkpoints = on
include_if_exists = 'bench.conf'
EOF
    write_bench_conf "$TEMPLATE/data" "$PORT"
    printf 'none\n' >"$CTL/mode"    # the template's WAL is not archived anywhere
    cat >"$CTL/archive.sh" <<'EOF'
#!/bin/sh
exit 0
EOF
    chmod 755 "$CTL/archive.sh"; chown -R "$PG_USER:" "$CTL"
    pg_start "$TEMPLATE/data" "$PORT" "$LOGS/template-server.log"
    as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -i -s "$SCALE" -q postgres >"$LOGS/pgbench-init.log" 2>&1 ||
        { tail -n 20 "$LOGS/pgbench-init.log" >&2; die "pgbench -i failed"; }
    psql_q "$PORT" "
        CREATE TABLE events (id bigint PRIMARY KEY, stream_id uuid NOT NULL, occurred_at timestamptz NOT NULL,
                             kind text NOT NULL, payload jsonb NOT NULL);" >/dev/null
    rows=0
    batch=100000
    while [ "$EXTRA_MB" -gt 0 ]; do
        size=$(psql_q "$PORT" "SELECT pg_total_relation_size('events')")
        [ "$size" -ge $((EXTRA_MB * 1000000)) ] && break
        if [ "$DATA_KIND" = events ]; then
        # Event store rows: streams of ~40 events, a per-stream sequence, a hash chain field,
        # nested JSON (actor, data with order lines, metadata with trace ids and hashes).
        psql_q "$PORT" "
            SELECT setseed(0.42 - $rows / 1e12);
            INSERT INTO events
            SELECT g, md5('stream' || (g / 40))::uuid, timestamptz '2026-01-01 00:00:00+00' + g * interval '37 ms' + (random() * 30) * interval '1 ms',
                   (ARRAY['order.created','order.paid','payment.captured','shipment.sent','user.signed_in',
                          'email.sent','invoice.issued','refund.requested'])[1 + g % 8],
                   jsonb_build_object(
                     'event_id', md5('event' || g)::uuid,
                     'stream_seq', g % 40 + 1,
                     'hash', encode(sha256(('event' || g)::bytea), 'hex'),
                     'prev_hash', encode(sha256(('event' || (g - 1))::bytea), 'hex'),
                     'actor', jsonb_build_object('id', md5('actor' || (g / 7))::uuid,
                              'type', (ARRAY['customer','admin','system','partner'])[1 + (random() * 3)::int],
                              'ip', format('%s.%s.%s.%s', 10 + g % 200, (g / 251) % 251, (random() * 250)::int, (random() * 250)::int),
                              'user_agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1)','okhttp/4.12.0','python-requests/2.31'])[1 + (random() * 3)::int]),
                     'data', jsonb_build_object('order_id', md5('order' || (g / 40))::uuid,
                              'total_cents', (random() * 100000)::int,
                              'currency', (ARRAY['EUR','USD','GBP','CHF'])[1 + g % 4],
                              'lines', jsonb_build_array(
                                 jsonb_build_object('sku', 'SKU-' || (random() * 99999)::int, 'qty', 1 + (random() * 4)::int, 'price_cents', (random() * 20000)::int),
                                 jsonb_build_object('sku', 'SKU-' || (random() * 99999)::int, 'qty', 1 + (random() * 4)::int, 'price_cents', (random() * 20000)::int)),
                              'note', substr(md5(random()::text) || md5(random()::text), 1, (random() * 64)::int)),
                     'meta', jsonb_build_object('trace_id', md5(random()::text), 'span_id', substr(md5(random()::text), 1, 16),
                              'correlation_id', md5('order' || (g / 40))::uuid,
                              'schema', 'v' || (1 + g % 3), 'recorded_at', to_char(timestamptz '2026-01-01 00:00:00+00' + g * interval '37 ms', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')))
            FROM generate_series($rows + 1, $rows + $batch) g;" >/dev/null
        else
        # Deterministic pseudo-random payloads (seeded per batch).
        psql_q "$PORT" "
            SELECT setseed(0.42 - $rows / 1e12);
            INSERT INTO events
            SELECT g, md5(g::text)::uuid, timestamptz '2026-01-01 00:00:00+00' + g * interval '37 ms',
                   (ARRAY['order.created','order.paid','payment.captured','shipment.sent','user.signed_in',
                          'email.sent','invoice.issued','refund.requested'])[1 + g % 8],
                   jsonb_build_object('customer_id', md5((g / 7)::text), 'amount_cents', (random() * 100000)::int,
                          'currency', (ARRAY['EUR','USD','GBP','CHF'])[1 + g % 4], 'items', (random() * 12)::int,
                          'note', md5(random()::text) || ' ' || substr(md5(random()::text), 1, (random() * 32)::int),
                          'ip', format('10.%s.%s.%s', g % 251, (g / 251) % 251, (random() * 250)::int))
            FROM generate_series($rows + 1, $rows + $batch) g;" >/dev/null
        fi
        rows=$((rows + batch))
    done
    psql_q "$PORT" "VACUUM ANALYZE" >/dev/null
    psql_q "$PORT" "CHECKPOINT" >/dev/null
    pg_stop "$TEMPLATE/data"
    t1=$(date +%s.%N)
    put cluster_generation_s meta "$(elapsed "$t0" "$t1")"
    printf 'scale=%s extra_mb=%s rows=%s\n' "$SCALE" "$EXTRA_MB" "$rows" >"$TEMPLATE.done"
    log "cluster generated in $(elapsed "$t0" "$t1")s"
fi

log "copying the template to $DATA"
cp -a "$TEMPLATE/data" "$DATA"
rm -f "$DATA/postmaster.pid"
write_bench_conf "$DATA" "$PORT"
mkdir -p "$STATE/lifeboat-cache" "$STATE/keycache" "$WORK/restore"
chmod 700 "$STATE/keycache"
chown -R "$PG_USER:" "$RUN"

# ---------------------------------------------------------------- 4. archive wrapper
# (archive_command ends in a shell comment naming pgbackrest: `pgbackrest check` refuses an
# archive_command that does not contain the word.)
# archive_command runs $CTL/archive.sh "%p" "%f". $CTL/mode names the tool(s) to push to:
#   none | lifeboat | pgbackrest | several of them separated by spaces.
# One tool: the wrapper returns that tool's exit status. Several (the WAL-latency phase): each
# gets the segment in turn, the order alternating per segment, and the wrapper returns 0 so a
# failing tool cannot stall archiving for the others. Every push appends
#   "<variant> <segment> <start_ns> <duration_us> <exit status>"  to $CTL/latency.log.
LB_KEY_CACHE_ARGS=""
[ "$KEY_CACHE" = 1 ] && LB_KEY_CACHE_ARGS="--key-cache $STATE/keycache"
cat >"$CTL/archive.sh" <<EOF
#!/bin/bash
# generated by bench/postgres.sh
p=\$1 f=\$2
mode=\$(cat "$CTL/mode" 2>/dev/null || echo none)
push() {
    case \$1 in
        lifeboat)
            env LIFEBOAT_REPOSITORY="$LB_REPO" LIFEBOAT_PASSWORD="$LIFEBOAT_PASSWORD" \\
                LIFEBOAT_KDF_TEST="$LIFEBOAT_KDF_TEST" LIFEBOAT_PG_BINDIR="$PGBIN" XDG_CACHE_HOME="$STATE/lifeboat-cache" \\
                "$LB" wal-push --json $LB_KEY_CACHE_ARGS "\$p" ;;
        lifeboat-nocache)
            env LIFEBOAT_REPOSITORY="$LB_REPO_NOCACHE" LIFEBOAT_PASSWORD="$LIFEBOAT_PASSWORD" \\
                LIFEBOAT_KDF_TEST="$LIFEBOAT_KDF_TEST" LIFEBOAT_PG_BINDIR="$PGBIN" XDG_CACHE_HOME="$STATE/lifeboat-cache" \\
                "$LB" wal-push --json "\$p" ;;
        pgbackrest)
            pgbackrest --config="$PGBR_CONF" --stanza=bench archive-push "\$p" ;;
        *) echo "archive.sh: unknown tool \$1" >&2; return 1 ;;
    esac
}
timed() {
    local t0 t1 rc=0
    t0=\$(date +%s%N)
    push "\$1" >>"$LOGS/archive-\$1.log" 2>&1 || rc=\$?
    t1=\$(date +%s%N)
    echo "\$1 \$f \$t0 \$(( (t1 - t0) / 1000 )) \$rc" >>"$CTL/latency.log"
    if [ \$rc -ne 0 ]; then echo "\$(date +%T) \$f: exit \$rc" >>"$LOGS/archive-\$1.log"; fi
    return \$rc
}
set -- \$mode
case \$# in
    0) exit 0 ;;
    1) [ "\$1" = none ] && exit 0; timed "\$1"; exit \$? ;;
esac
tools=("\$@")
# alternate the order: segment names end in hex digits
last=\${f: -1}
case \$last in [13579bdfBDF]) tools=(\$(printf '%s\n' "\${tools[@]}" | tac)) ;; esac
for t in "\${tools[@]}"; do timed "\$t" || true; done
exit 0
EOF
chmod 755 "$CTL/archive.sh"
printf 'none\n' >"$CTL/mode"
: >"$CTL/latency.log"
chown -R "$PG_USER:" "$CTL"
set_mode() { printf '%s\n' "$*" >"$CTL/mode"; }

# ---------------------------------------------------------------- 5. pgBackRest configuration
{
    echo "[global]"
    echo "repo1-path=$PGBR_REPO"
    echo "repo1-retention-full=99"
    echo "process-max=$PGBR_PROCESS_MAX"
    echo "compress-type=$PGBR_CTYPE"
    [ -n "$PGBR_CLEVEL" ] && echo "compress-level=$PGBR_CLEVEL"
    echo "start-fast=y"
    echo "archive-async=n"
    echo "log-path=$RUN/pgbackrest-log"
    echo "lock-path=$RUN/pgbackrest-lock"
    echo "spool-path=$RUN/pgbackrest-spool"
    echo "log-level-console=warn"
    echo "log-level-file=info"
    if [ "$PGBR_CIPHER" != none ]; then
        echo "repo1-cipher-type=$PGBR_CIPHER"
        echo "repo1-cipher-pass=$PGBR_CIPHER_PASS"
    fi
    echo
    echo "[bench]"
    echo "pg1-path=$DATA"
    echo "pg1-port=$PORT"
    echo "pg1-socket-path=$SOCK"
    echo "pg1-user=postgres"
} >"$PGBR_CONF"
mkdir -p "$PGBR_REPO" "$LB_REPO" "$RUN/pgbackrest-log" "$RUN/pgbackrest-lock" "$RUN/pgbackrest-spool"
chown -R "$PG_USER:" "$RUN"
chmod 600 "$PGBR_CONF"

# ---------------------------------------------------------------- 6. timing helpers
# run_timed NAME CMD...  (as the PostgreSQL OS user). Sets LAST_S, LAST_RSS_KB; returns CMD's status.
run_timed() {
    local name=$1; shift
    local out=$LOGS/$name.log tf=$LOGS/$name.time rc=0 t0 t1
    sync
    t0=$(date +%s.%N)
    (cd "$RUN" && exec /usr/bin/time -v -o "$tf" runuser -u "$PG_USER" -- "$@") >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    LAST_S=$(elapsed "$t0" "$t1")
    LAST_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf" 2>/dev/null || true)
    LAST_RSS_KB=${LAST_RSS_KB:-0}
    if [ "$rc" -ne 0 ]; then
        log "FAILED ($rc): $name: $* -- last lines of $out:"
        tail -n 15 "$out" >&2 || true
        ERRORS=$((ERRORS + 1))
        case $name in lifeboat*) LB_FAILS+=("$name (exit $rc): $(tail -n 3 "$out" | tr '\n' ' ')");; esac
    else
        log "$name: ${LAST_S}s, peak RSS $((LAST_RSS_KB / 1024)) MiB"
    fi
    return "$rc"
}
dir_bytes() { du -sb "$1" | cut -f1; }
LB_ENV=(env LIFEBOAT_REPOSITORY="$LB_REPO" LIFEBOAT_PASSWORD="$LIFEBOAT_PASSWORD" LIFEBOAT_KDF_TEST="$LIFEBOAT_KDF_TEST"
        LIFEBOAT_PG_BINDIR="$PGBIN" XDG_CACHE_HOME="$STATE/lifeboat-cache")
PGBR=(pgbackrest --config="$PGBR_CONF" --stanza=bench)
DSN="host=$SOCK port=$PORT user=postgres dbname=postgres"

# ---------------------------------------------------------------- 7. start the cluster
pg_start "$DATA" "$PORT" "$LOGS/server.log"
CLUSTER_BYTES=$(psql_q "$PORT" "SELECT sum(pg_database_size(oid)) FROM pg_database")
DATA_BYTES=$(dir_bytes "$DATA")
# What a restore must reproduce (checked on the restored clusters).
FINGERPRINT="SELECT (SELECT count(*) || '/' || sum(abalance) FROM pgbench_accounts) || ' ' || (SELECT count(*) || '/' || coalesce(sum(length(payload::text)), 0) FROM events)"
SRC_FP=$(psql_q "$PORT" "$FINGERPRINT")
log "cluster: $CLUSTER_BYTES bytes in databases, $DATA_BYTES bytes in the data directory (port $PORT)"
put cluster_bytes meta "$CLUSTER_BYTES"
put datadir_bytes meta "$DATA_BYTES"
put scale meta "$SCALE"
put extra_mb meta "$EXTRA_MB"
put date meta "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put host meta "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
put git meta "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
put pg_version meta "$("$PGBIN/postgres" --version)"
put pgbackrest_version meta "$(pgbackrest version)"
put pgbackrest_config meta "process-max=$PGBR_PROCESS_MAX, compress-type=$PGBR_CTYPE${PGBR_CLEVEL:+ level $PGBR_CLEVEL}, start-fast=y, archive-async=n, cipher=$PGBR_CIPHER"
put key_cache meta "$KEY_CACHE"
put lifeboat_method meta "$LB_METHOD"
put wal_variants meta "$WAL_VARIANTS"
put loadavg meta "$(cut -d' ' -f1-3 /proc/loadavg)"

log "warming page cache"
find "$DATA" -type f -print0 | xargs -0 -r cat >/dev/null

# ---------------------------------------------------------------- 8. pgBackRest: two full backups
log "==================== pgBackRest"
set_mode pgbackrest
PGBR_OK=1
run_timed pgbackrest-stanza-create "${PGBR[@]}" stanza-create || PGBR_OK=0
[ "$PGBR_OK" = 1 ] && { run_timed pgbackrest-check "${PGBR[@]}" check || PGBR_OK=0; }
if [ "$PGBR_OK" = 1 ]; then
    before=$(dir_bytes "$PGBR_REPO")
    if run_timed pgbackrest-full1 "${PGBR[@]}" --type=full backup; then
        put full1_s pgbackrest "$LAST_S"; put full1_rss_kb pgbackrest "$LAST_RSS_KB"
        after=$(dir_bytes "$PGBR_REPO")
        put repo_full1_bytes pgbackrest "$after"
        put full1_added_bytes pgbackrest "$((after - before))"
        if run_timed pgbackrest-full2 "${PGBR[@]}" --type=full backup; then
            put full2_s pgbackrest "$LAST_S"
            put full2_added_bytes pgbackrest "$(($(dir_bytes "$PGBR_REPO") - after))"
        else
            put full2_s pgbackrest ERR; put full2_added_bytes pgbackrest ERR
        fi
    else
        put full1_s pgbackrest ERR; put repo_full1_bytes pgbackrest ERR
    fi
else
    put full1_s pgbackrest ERR
fi

# ---------------------------------------------------------------- 9. lifeboat: two full backups
log "==================== lifeboat"
LB_OK=1
if [ -n "$LB_ERR" ]; then
    LB_OK=0
    put full1_s lifeboat ERR
else
    set_mode lifeboat
    run_timed lifeboat-init "${LB_ENV[@]}" "$LB" init || LB_OK=0
    if [ "$LB_OK" = 1 ]; then
        before=$(dir_bytes "$LB_REPO")
        if run_timed lifeboat-full1 "${LB_ENV[@]}" "$LB" backup postgres --physical --method "$LB_METHOD" --dsn "$DSN" --wal-timeout "$LB_WAL_TIMEOUT"; then
            put full1_s lifeboat "$LAST_S"; put full1_rss_kb lifeboat "$LAST_RSS_KB"
            after=$(dir_bytes "$LB_REPO")
            put repo_full1_bytes lifeboat "$after"
            put full1_added_bytes lifeboat "$((after - before))"
            if run_timed lifeboat-full2 "${LB_ENV[@]}" "$LB" backup postgres --physical --method "$LB_METHOD" --dsn "$DSN" --wal-timeout "$LB_WAL_TIMEOUT"; then
                put full2_s lifeboat "$LAST_S"
                put full2_added_bytes lifeboat "$(($(dir_bytes "$LB_REPO") - after))"
            else
                put full2_s lifeboat ERR; put full2_added_bytes lifeboat ERR
            fi
        else
            put full1_s lifeboat ERR; put repo_full1_bytes lifeboat ERR
        fi
    else
        put full1_s lifeboat ERR
    fi
fi

# ---------------------------------------------------------------- 10. restores
# Start a restored data directory (untimed), wait for the end of recovery, compare the data.
verify_restore() {  # TOOL DIR
    local tool=$1 dir=$2 port fp i state
    port=$(free_port)
    # archive_mode=off: the restored server must not archive into the benchmark's repositories.
    if ! pg_start "$dir" "$port" "$LOGS/$tool-restored-server.log" "-c archive_mode=off"; then
        log "restored $tool cluster did not start; tail of its log:"
        tail -n 20 "$LOGS/$tool-restored-server.log" >&2 || true
        put restore_verified "$tool" "NO-START"; ERRORS=$((ERRORS + 1)); return 0
    fi
    state=t
    for i in $(seq 1 1200); do
        state=$(psql_q "$port" "SELECT pg_is_in_recovery()" 2>/dev/null || echo "?")
        [ "$state" = f ] && break
        sleep 0.5
    done
    fp=$(psql_q "$port" "$FINGERPRINT" 2>&1 || true)
    pg_stop "$dir" immediate || true
    if [ "$state" != f ]; then
        log "restored $tool cluster still in recovery after 600 s"
        put restore_verified "$tool" "IN-RECOVERY"; ERRORS=$((ERRORS + 1))
    elif [ "$fp" = "$SRC_FP" ]; then
        put restore_verified "$tool" ok
    else
        log "restored $tool cluster differs: '$fp' vs source '$SRC_FP'"
        put restore_verified "$tool" MISMATCH; ERRORS=$((ERRORS + 1))
    fi
}

if [ "$PGBR_OK" = 1 ]; then
    log "==================== pgBackRest restore"
    dir=$WORK/restore/pgbackrest
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"; chown "$PG_USER:" "$dir"
    if run_timed pgbackrest-restore "${PGBR[@]}" --pg1-path="$dir" restore; then
        put restore_s pgbackrest "$LAST_S"; put restore_rss_kb pgbackrest "$LAST_RSS_KB"
        [ "$VERIFY" = 1 ] && verify_restore pgbackrest "$dir"
    else
        put restore_s pgbackrest ERR
    fi
    rm -rf "$dir"
fi
if [ "$LB_OK" = 1 ]; then
    log "==================== lifeboat restore"
    dir=$WORK/restore/lifeboat
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"; chown "$PG_USER:" "$dir"
    if run_timed lifeboat-restore "${LB_ENV[@]}" "$LB" restore postgres --physical --target-dir "$dir" --latest; then
        put restore_s lifeboat "$LAST_S"; put restore_rss_kb lifeboat "$LAST_RSS_KB"
        [ "$VERIFY" = 1 ] && verify_restore lifeboat "$dir"
    else
        put restore_s lifeboat ERR
    fi
    rm -rf "$dir"
else
    put restore_s lifeboat ERR
fi

# ---------------------------------------------------------------- 10b. drill vs the same by hand
# lifeboat `drill run` (restore into scratch, WAL replay and start, three SQL checks) against
# doing the same by hand with pgBackRest: `restore`, `pg_ctl start`, wait for promotion, the
# same three queries through psql. lifeboat's number is the drill's own RTO (start of the drill
# until the last check passed); the by-hand number is the wall time of the same steps. The
# order alternates with BENCH_PG_DRILL_FIRST (pgbackrest | lifeboat).
drill_byhand() {
    local dir=$WORK/restore/byhand port t0 t1 ok=1 i
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"; chown "$PG_USER:" "$dir"
    port=$(free_port)
    t0=$(date +%s.%N)
    run_timed pgbackrest-drill-restore "${PGBR[@]}" --pg1-path="$dir" restore || ok=0
    if [ "$ok" = 1 ] && pg_start "$dir" "$port" "$LOGS/byhand-server.log" "-c archive_mode=off"; then
        for i in $(seq 1 18000); do
            [ "$(psql_q "$port" "SELECT pg_is_in_recovery()" 2>/dev/null || echo t)" = f ] && break
            sleep 0.2
        done
        if [ "$(psql_q "$port" "$Q1")" != "$E1" ] || [ "$(psql_q "$port" "$Q2")" != "$E2" ] ||
            [ "$(psql_q "$port" "$Q3")" != "$E3" ]; then
            log "by-hand checks did not match the source"; ok=0
        fi
        t1=$(date +%s.%N)
        pg_stop "$dir" immediate || true
    else
        t1=$(date +%s.%N); ok=0
    fi
    rm -rf "$dir"
    if [ "$ok" = 1 ]; then
        put drill_s pgbackrest "$(elapsed "$t0" "$t1")"
    else
        put drill_s pgbackrest ERR; ERRORS=$((ERRORS + 1))
    fi
}
drill_lifeboat() {
    if run_timed lifeboat-drill "${LB_ENV[@]}" "$LB" --config "$DRILL_CONF" drill run bench --json; then
        put drill_total_s lifeboat "$LAST_S"; put drill_rss_kb lifeboat "$LAST_RSS_KB"
        python3 - "$LOGS/lifeboat-drill.log" "$RESULTS" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
r = json.loads(text[text.index("{"):])
with open(sys.argv[2], "a") as f:
    f.write("drill_s\tlifeboat\t%.3f\n" % r["rto_seconds"])
    f.write("drill_result\tlifeboat\t%s\n" % r["result"])
    for p in r["phases"]:
        f.write("drill_phase_%s\tlifeboat\t%.3f\n" % (p["name"].replace(" ", "_"), p["seconds"]))
PY
    else
        put drill_s lifeboat ERR
    fi
}
if [ "$LB_OK" = 1 ] && [ "$PGBR_OK" = 1 ]; then
    log "==================== drill: lifeboat drill run vs pgBackRest restore + start + psql checks"
    Q1="SELECT count(*) FROM pgbench_accounts"
    Q2="SELECT sum(abalance) FROM pgbench_accounts"
    Q3="SELECT count(*) || '/' || coalesce(sum(length(payload::text)), 0) FROM events"
    E1=$(psql_q "$PORT" "$Q1"); E2=$(psql_q "$PORT" "$Q2"); E3=$(psql_q "$PORT" "$Q3")
    DRILL_CONF=$RUN/drill.toml
    cat >"$DRILL_CONF" <<EOF
[repositories.bench]
url = "$LB_REPO"
password_env = "LIFEBOAT_PASSWORD"

[sources.bench]
kind = "postgres-physical"
dsn = "$DSN"
data_directory = "$DATA"

[targets.bench]
rto = "1h"

[drills.bench]
source = "bench"
scratch_dir = "$WORK/restore/drill"
timeout = "30m"

[[drills.bench.checks]]
kind = "sql"
query = "$Q1"
expect = "$E1"

[[drills.bench.checks]]
kind = "sql"
query = "$Q2"
expect = "$E2"

[[drills.bench.checks]]
kind = "sql"
query = "$Q3"
expect = "$E3"
EOF
    chown "$PG_USER:" "$DRILL_CONF"; chmod 600 "$DRILL_CONF"
    mkdir -p "$WORK/restore/drill"; chown "$PG_USER:" "$WORK/restore/drill"
    for tool in $([ "${BENCH_PG_DRILL_FIRST:-pgbackrest}" = lifeboat ] && echo "lifeboat pgbackrest" || echo "pgbackrest lifeboat"); do
        sync; sleep "${BENCH_PG_SETTLE_SECS:-10}"
        if [ "$tool" = lifeboat ]; then drill_lifeboat; else drill_byhand; fi
    done
fi

# ---------------------------------------------------------------- 11. WAL push latency under load
log "==================== archive_command latency under pgbench ($WAL_VARIANTS)"
wal_variants=""
for v in $WAL_VARIANTS; do
    case $v in
        lifeboat|lifeboat-nocache) [ "$LB_OK" = 1 ] || { put wal_push_p50_ms "$v" ERR; continue; } ;;
        pgbackrest) [ "$PGBR_OK" = 1 ] || { put wal_push_p50_ms "$v" ERR; continue; } ;;
        *) die "unknown BENCH_PG_WAL_VARIANTS entry '$v' (lifeboat, lifeboat-nocache, pgbackrest)" ;;
    esac
    if [ "$v" = lifeboat-nocache ]; then
        # Its own repository: pushing into the key-cached variant's would find every segment
        # already archived half of the time.
        run_timed lifeboat-nocache-init "${LB_ENV[@]}" LIFEBOAT_REPOSITORY="$LB_REPO_NOCACHE" "$LB" init ||
            { put wal_push_p50_ms "$v" ERR; continue; }
    fi
    wal_variants="$wal_variants $v"
done
ready_count() { find "$DATA/pg_wal/archive_status" -name '*.ready' | wc -l; }
wait_archived() {  # wait until the archiver has no .ready segments (max $1 s)
    local i
    for i in $(seq 1 $(($1 * 2))); do
        [ "$(ready_count)" -eq 0 ] && return 0
        sleep 0.5
    done
    return 1
}
if [ -n "$wal_variants" ]; then
    # Start from an empty queue so only segments written under the load are measured.
    psql_q "$PORT" "SELECT pg_switch_wal()" >/dev/null
    wait_archived 300 || log "warning: WAL of earlier phases still queued; measuring anyway"
    # The load: pgbench's TPC-B-like script, plus (weight BULK_WEIGHT against TPC-B's 4) a script
    # that inserts 200 rows of ~160 random hex bytes, so that a small machine still fills
    # segments at a useful rate.
    load_args=(-b tpcb-like@4)
    if [ "$BULK_WEIGHT" != 0 ]; then
        psql_q "$PORT" "CREATE TABLE IF NOT EXISTS bench_load (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), payload text NOT NULL)" >/dev/null
        cat >"$CTL/bulk.sql" <<'EOF'
INSERT INTO bench_load (payload)
SELECT md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text)
FROM generate_series(1, 200);
EOF
        chown "$PG_USER:" "$CTL/bulk.sql"
        load_args+=(-f "$CTL/bulk.sql@$BULK_WEIGHT")
    fi
    # The archive logs of the backup phases move aside, so these hold this phase's pushes only.
    for v in $wal_variants; do
        [ -f "$LOGS/archive-$v.log" ] && mv "$LOGS/archive-$v.log" "$LOGS/archive-$v-before-load.log"
    done
    set_mode "${wal_variants# }"
    load_t0=$(date +%s%N)
    deadline=$(( $(date +%s) + 3 * PGBENCH_SECS ))
    secs=$PGBENCH_SECS
    round=0
    while :; do
        round=$((round + 1))
        as_pg "$PGBIN/pgbench" -h "$SOCK" -p "$PORT" -U postgres -n -c "$PGBENCH_CLIENTS" -j 2 -T "$secs" "${load_args[@]}" postgres \
            >>"$LOGS/pgbench-load.log" 2>&1 || { log "pgbench failed (see $LOGS/pgbench-load.log)"; break; }
        n=$(awk -v t="$load_t0" '$3 >= t' "$CTL/latency.log" | wc -l)
        nv=$(echo $wal_variants | wc -w)
        [ $((n / nv)) -ge "$WAL_SEGMENTS" ] && break
        [ "$(date +%s)" -ge "$deadline" ] && break
        secs=15
    done
    load_t1=$(date +%s%N)
    tps=$(awk '/^tps/ { print $3 }' "$LOGS/pgbench-load.log" | tail -n 1)
    log "load over: $(elapsed "${load_t0:0:10}.${load_t0:10}" "${load_t1:0:10}.${load_t1:10}")s, pgbench $round round(s), last tps $tps; draining the archive queue"
    psql_q "$PORT" "SELECT pg_switch_wal()" >/dev/null
    wait_archived 600 || log "warning: archiver still has $(ready_count) segment(s) queued after 600 s"
    set_mode none
    put pgbench_tps meta "${tps:-?}"
    put pgbench_load meta "-c $PGBENCH_CLIENTS -j 2 ${load_args[*]##*/}, $(elapsed "${load_t0:0:10}.${load_t0:10}" "${load_t1:0:10}.${load_t1:10}") s"
    cp "$CTL/latency.log" "$LOGS/latency.log"
    # Per variant: pushes that started while pgbench ran (all of them if fewer than 3).
    python3 - "$CTL/latency.log" "$load_t0" "$load_t1" "$RESULTS" "$LOGS" $wal_variants <<'PY'
import os, re, statistics, sys
path, t0, t1, out, logs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
variants = sys.argv[6:]
rows = [l.split() for l in open(path) if l.strip()]
rows = [(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows if len(r) == 5]
with open(out, "a") as f:
    for v in variants:
        mine = [r for r in rows if r[0] == v and r[2] >= t0]
        under = [r for r in mine if r[2] <= t1]
        sample = under if len(under) >= 3 else mine
        ok = sorted(r[3] / 1000.0 for r in sample if r[4] == 0)
        fails = sum(1 for r in sample if r[4] != 0)
        f.write("wal_push_n\t%s\t%d\n" % (v, len(ok)))
        f.write("wal_push_failures\t%s\t%d\n" % (v, fails))
        f.write("wal_push_under_load\t%s\t%d\n" % (v, len(under)))
        if fails and not ok:
            f.write("wal_push_p50_ms\t%s\tERR\n" % v)
            continue
        if not ok:
            continue
        p = lambda q: ok[min(len(ok) - 1, int(q * (len(ok) - 1) + 0.5))]
        f.write("wal_push_mean_ms\t%s\t%.1f\n" % (v, statistics.mean(ok)))
        f.write("wal_push_p50_ms\t%s\t%.1f\n" % (v, statistics.median(ok)))
        f.write("wal_push_p95_ms\t%s\t%.1f\n" % (v, p(0.95)))
        f.write("wal_push_max_ms\t%s\t%.1f\n" % (v, ok[-1]))
        # lifeboat wal-push --json reports its own time (after process start-up) per push.
        lp = os.path.join(logs, "archive-%s.log" % v)
        if v.startswith("lifeboat") and os.path.exists(lp):
            inner = [float(x) * 1000 for x in re.findall(r'"total_seconds":\s*([0-9.eE+-]+)', open(lp).read())]
            if inner:
                f.write("wal_push_internal_p50_ms\t%s\t%.1f\n" % (v, statistics.median(inner)))
PY
    for v in $wal_variants; do
        f=$(awk -F'\t' -v v="$v" '$1 == "wal_push_failures" && $2 == v { print $3 }' "$RESULTS")
        if [ "${f:-0}" != 0 ]; then
            log "$v: $f failed archive push(es); see $LOGS/archive-$v.log"
            ERRORS=$((ERRORS + 1))
            case $v in lifeboat*) LB_FAILS+=("wal-push ($v): $f failures: $(grep -i -m 3 'error' "$LOGS/archive-$v.log" | tr '\n' ' ')");; esac
        fi
    done
fi
put archive_push_failures_total meta "$(awk '$5 != 0' "$CTL/latency.log" | wc -l)"

pg_stop "$DATA" fast || true
i=0
for f in "${LB_FAILS[@]}"; do i=$((i + 1)); put "lifeboat_failure_$i" meta "$f"; done

# ---------------------------------------------------------------- 12. report
python3 "$BENCH_DIR/report_pg.py" "$RESULTS" "$RESULTS_MD" && rep=0 || rep=$?
log "results: $RESULTS_MD (raw: $RESULTS, logs: $LOGS)"
if [ "$ERRORS" -gt 0 ]; then
    log "$ERRORS command(s) failed; see $LOGS"
    exit 1
fi
if [ "$STRICT" = 1 ] && [ "$rep" -ne 0 ]; then
    log "BENCH_STRICT=1 and at least one target failed"
    exit 2
fi
exit 0
