#!/usr/bin/env bash
# lifeboat benchmark harness: lifeboat vs restic vs borg (and zstd as a speed reference).
#
#   bash bench/run.sh
#
# See bench/README.md for what is measured and for the environment knobs.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

# ---------------------------------------------------------------- knobs
WORK=${BENCH_WORK:-$BENCH_DIR/work}
DUMP_MB=${BENCH_DUMP_MB:-1000}
TREE_FILES=${BENCH_TREE_FILES:-50000}
TREE_MAX_KB=${BENCH_TREE_MAX_FILE_KB:-4096}
TREE_SRC=${BENCH_TREE_SRC:-/usr/share /usr/lib}
SEED=${BENCH_SEED:-42}
DAY2_UPDATES=${BENCH_DAY2_UPDATES:-300}
DAY2_APPEND_PCT=${BENCH_DAY2_APPEND_PCT:-2}
TOOLS=${BENCH_TOOLS:-lifeboat restic borg}
ALLOW_MISSING=${BENCH_ALLOW_MISSING:-0}
SKIP_INSTALL=${BENCH_SKIP_INSTALL:-0}
VERIFY=${BENCH_VERIFY:-1}
STRICT=${BENCH_STRICT:-0}
RESULTS_MD=${BENCH_RESULTS_MD:-$BENCH_DIR/results-latest.md}
BORG_COMPRESSION=${BENCH_BORG_COMPRESSION:-zstd,3}
S3_MODE=${BENCH_S3:-0}              # 0: local repositories only; 1: also the S3 phase; only: S3 phase only
S3_PREFIX=${BENCH_S3_PREFIX:-repo}  # object prefix inside each bucket
SETTLE_S=${BENCH_SETTLE_S:-15}      # pause (after sync) before timed restores and after deleting old runs

export LIFEBOAT_PASSWORD=${LIFEBOAT_PASSWORD:-bench-password}
export RESTIC_PASSWORD=${RESTIC_PASSWORD:-bench-password}
export BORG_PASSPHRASE=${BORG_PASSPHRASE:-bench-password}
export LIFEBOAT_KDF_TEST=${LIFEBOAT_KDF_TEST:-0}
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
export BORG_DISPLAY_PASSPHRASE=no
export LC_ALL=C

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# elapsed seconds between two `date +%s.%N` stamps
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

case $DUMP_MB in ''|*[!0-9.]*) die "BENCH_DUMP_MB must be a number (MB), got '$DUMP_MB'";; esac
case $DAY2_UPDATES in ''|*[!0-9]*) die "BENCH_DAY2_UPDATES must be an integer, got '$DAY2_UPDATES'";; esac
case $TREE_FILES in ''|*[!0-9]*) die "BENCH_TREE_FILES must be an integer, got '$TREE_FILES'";; esac
case $S3_MODE in 0|1|only) ;; *) die "BENCH_S3 must be 0, 1 or only, got '$S3_MODE'";; esac

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
LOGS=$WORK/logs
RESULTS=$WORK/results.tsv
STATE=$WORK/state        # per-tool caches / config (fresh each run)
REPOS=$WORK/repos        # fresh repositories each run
RESTORE=$WORK/restore
# The disk is ext4 mounted with `discard`: writes right after large deletions run several times
# slower while the device digests the discards, and for some minutes after tens of thousands of
# files were deleted, ext4 skips the "recently deleted" inodes one by one when creating files
# (a restore of the 50k-file tree measured 1.9 s with none pending, then 6 s and 11 s — system
# time in `recently_deleted` — after each further deletion of such a tree). So: restored trees
# are kept until the run ends; large deletions are stamped in $DELETED_AT; and before a timed
# restore the bench settles and waits until RECENT_S seconds have passed since the last one.
RECENT_S=${BENCH_RECENT_DELETE_S:-360}
DELETED_AT=$WORK/.last-large-delete
big_delete() {
    local any=0 p
    for p in "$@"; do [ -e "$p" ] && any=1; done
    rm -rf "$@"
    [ "$any" = 1 ] && date +%s >"$DELETED_AT"
    return 0
}
settle() {
    sync; sleep "$SETTLE_S"
    local last wait
    last=$(cat "$DELETED_AT" 2>/dev/null || echo 0)
    wait=$(( last + RECENT_S - $(date +%s) ))
    if [ "$wait" -gt 0 ]; then
        log "waiting ${wait}s: files were deleted less than ${RECENT_S}s ago (ext4 slows file creation after large deletions)"
        sleep "$wait"
    fi
}
# An earlier run's repositories (~2 GB: discards) and restored trees (left by an interrupted
# run: inodes) both slow the restores that follow; a run right after another waits.
big_delete "$LOGS" "$STATE" "$REPOS" "$RESTORE"
mkdir -p "$LOGS" "$STATE" "$REPOS" "$RESTORE"
sync; sleep "$SETTLE_S"
: >"$RESULTS"

# result rows: "<metric>\t<tool>\t<value>"  (tool "meta" for run information)
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RESULTS"; }

# ---------------------------------------------------------------- 1. peers
install_peers() {
    local missing=()
    command -v restic >/dev/null 2>&1 || missing+=(restic)
    command -v borg >/dev/null 2>&1 || missing+=(borgbackup)
    command -v zstd >/dev/null 2>&1 || missing+=(zstd)
    [ -x /usr/bin/time ] || missing+=(time)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    command -v tar >/dev/null 2>&1 || missing+=(tar)
    command -v diff >/dev/null 2>&1 || missing+=(diffutils)
    if [ "$S3_MODE" != 0 ] && ! command -v moto_server >/dev/null 2>&1 && [ -z "${LIFEBOAT_MOTO_SERVER:-}" ]; then
        [ "$SKIP_INSTALL" = 1 ] && die "moto_server (PyPI moto[server]) missing and BENCH_SKIP_INSTALL=1"
        log "installing moto_server: bash scripts/install-s3-test-deps.sh"
        bash "$ROOT/scripts/install-s3-test-deps.sh" >&2 || die "could not install moto_server"
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$SKIP_INSTALL" = 1 ] && die "missing ${missing[*]} and BENCH_SKIP_INSTALL=1"
    log "installing from Debian: ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}
install_peers

# ---------------------------------------------------------------- lifeboat binary
LB_SKIP_REASON=""
want_lifeboat=0
for t in $TOOLS; do [ "$t" = lifeboat ] && want_lifeboat=1; done
if [ "$want_lifeboat" = 1 ]; then
    if [ -z "${LIFEBOAT_BIN:-}" ]; then
        log "building lifeboat: cargo build --release -p lifeboat-cli"
        target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
        case $target_dir in /*) ;; *) target_dir=$ROOT/$target_dir;; esac
        LIFEBOAT_BIN=$target_dir/release/lifeboat
        if ! (cd "$ROOT" && cargo build --release -p lifeboat-cli) >"$LOGS/cargo-build.log" 2>&1; then
            tail -n 20 "$LOGS/cargo-build.log" >&2 || true
            LB_SKIP_REASON="cargo build --release -p lifeboat-cli failed (see $LOGS/cargo-build.log)"
        fi
    fi
    if [ -z "$LB_SKIP_REASON" ]; then
        if [ ! -x "$LIFEBOAT_BIN" ]; then
            LB_SKIP_REASON="lifeboat binary not found or not executable: $LIFEBOAT_BIN"
        elif ! "$LIFEBOAT_BIN" --help >"$LOGS/lifeboat-help.txt" 2>&1 || ! grep -qi backup "$LOGS/lifeboat-help.txt"; then
            LB_SKIP_REASON="'$LIFEBOAT_BIN --help' fails or does not list a backup command (CLI not implemented yet?)"
        fi
    fi
    if [ -n "$LB_SKIP_REASON" ]; then
        if [ "$ALLOW_MISSING" = 1 ]; then
            log "SKIPPING lifeboat (BENCH_ALLOW_MISSING=1): $LB_SKIP_REASON"
            TOOLS=$(for t in $TOOLS; do [ "$t" = lifeboat ] || printf '%s ' "$t"; done)
            put lifeboat_skipped meta "$LB_SKIP_REASON"
        else
            die "$LB_SKIP_REASON (set BENCH_ALLOW_MISSING=1 to benchmark the peers only)"
        fi
    else
        LIFEBOAT_BIN=$(cd "$(dirname "$LIFEBOAT_BIN")" && pwd)/$(basename "$LIFEBOAT_BIN")
        log "lifeboat binary: $LIFEBOAT_BIN"
    fi
fi

# ---------------------------------------------------------------- 2. data
# v2: rows carry an event id and a SHA-256 hash chain (gen_dump.py); older cached dumps are not reused.
DAY1=$WORK/dump-${DUMP_MB}MB-s${SEED}-v2-day1.sql
DAY2=$WORK/dump-${DUMP_MB}MB-s${SEED}-v2-u${DAY2_UPDATES}-a${DAY2_APPEND_PCT}-day2.sql
if [ -f "$DAY1" ] && [ -f "$DAY2" ]; then
    log "reusing $DAY1 and $DAY2"
else
    log "generating ${DUMP_MB} MB SQL dump (+ day 2) ..."
    t0=$(date +%s.%N)
    python3 "$BENCH_DIR/gen_dump.py" --mb "$DUMP_MB" --seed "$SEED" --day1 "$DAY1" --day2 "$DAY2" \
        --updates "$DAY2_UPDATES" --append-pct "$DAY2_APPEND_PCT"
    t1=$(date +%s.%N)
    gen_s=$(elapsed "$t0" "$t1")
    log "dump generation took ${gen_s}s"
    put dump_generation_s meta "$gen_s"
fi

TREE=$WORK/tree-${TREE_FILES}f-${TREE_MAX_KB}k
TREE_PARAMS="files=$TREE_FILES max_kb=$TREE_MAX_KB src=$TREE_SRC"
if [ -f "$TREE.done" ] && [ "$(cat "$TREE.done")" = "$TREE_PARAMS" ] && [ -d "$TREE" ]; then
    log "reusing file tree $TREE"
else
    log "building file tree of $TREE_FILES entries from: $TREE_SRC"
    t0=$(date +%s.%N)
    rm -rf "$TREE" "$TREE.done" "$TREE.list"
    # Deterministic: every regular file (< max size) and symlink under the sources, sorted by
    # path, then an evenly spaced sample of exactly TREE_FILES entries (all if fewer exist).
    # shellcheck disable=SC2086
    python3 - "$TREE_FILES" "$TREE_MAX_KB" "$WORK" $TREE_SRC >"$TREE.list" <<'PY'
import os, stat, sys
n, max_kb, work, srcs = int(sys.argv[1]), int(sys.argv[2]), os.path.realpath(sys.argv[3]), sys.argv[4:]
dev = None
paths = []
for src in srcs:
    for d, dirs, files in os.walk(src):
        if os.path.realpath(d).startswith(work):
            dirs[:] = []
            continue
        for name in files + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            p = os.path.join(d, name)
            if "\n" in p:
                continue
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size <= max_kb * 1024
                                            and os.access(p, os.R_OK)):
                paths.append(p.lstrip("/"))
paths = sorted(set(paths))
total = len(paths)
if total > n:
    paths = [paths[(i * total) // n] for i in range(n)]
sys.stdout.write("\0".join(paths) + "\0")
print("tree: %d of %d candidate entries" % (len(paths), total), file=sys.stderr)
PY
    mkdir -p "$TREE"
    tar -C / --null --no-recursion -T "$TREE.list" -cf - 2>"$LOGS/tree-tar.log" | tar -C "$TREE" -xpf -
    rm -f "$TREE.list"
    printf '%s' "$TREE_PARAMS" >"$TREE.done"
    t1=$(date +%s.%N)
    log "tree built in $(elapsed "$t0" "$t1")s"
fi

DAY1_BYTES=$(stat -c %s "$DAY1")
DAY2_BYTES=$(stat -c %s "$DAY2")
TREE_COUNT=$(find "$TREE" \( -type f -o -type l \) | wc -l)
TREE_BYTES=$(du -sb "$TREE" | cut -f1)
log "dump day1 $DAY1_BYTES B, day2 $DAY2_BYTES B; tree $TREE_COUNT entries, $TREE_BYTES B"

# Warm the page cache: every phase below runs once, warm (dropping caches is not reliable here).
log "warming page cache"
cat "$DAY1" "$DAY2" >/dev/null
find "$TREE" -type f -print0 | xargs -0 -r cat >/dev/null

put dump_day1_bytes meta "$DAY1_BYTES"
put dump_day2_bytes meta "$DAY2_BYTES"
put tree_entries meta "$TREE_COUNT"
put tree_bytes meta "$TREE_BYTES"
put date meta "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
put host meta "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2/1048576}' /proc/meminfo), $(uname -sr)"
put git meta "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
put restic_version meta "$(restic version 2>/dev/null | head -n1)"
put borg_version meta "$(borg --version 2>/dev/null)"
put zstd_version meta "$(zstd --version 2>/dev/null | sed 's/[*]//g; s/^ *//; s/ *$//')"
put borg_compression meta "$BORG_COMPRESSION"
put tools meta "$TOOLS"
put day2_updates meta "$DAY2_UPDATES"
put day2_append_pct meta "$DAY2_APPEND_PCT"
[ -n "${LIFEBOAT_BIN:-}" ] && [ -z "$LB_SKIP_REASON" ] && put lifeboat_version meta "$("$LIFEBOAT_BIN" --version 2>/dev/null | head -n1 || true)"

# ---------------------------------------------------------------- timing helper
# run_timed NAME CMD...   (stdin is inherited; runs in $RUN_CWD or $WORK)
# Sets LAST_S (wall seconds) and LAST_RSS_KB (peak RSS from GNU time -v); returns CMD's status.
ERRORS=0
run_timed() {
    local name=$1; shift
    local out=$LOGS/$name.log tf=$LOGS/$name.time rc=0 t0 t1
    sync
    t0=$(date +%s.%N)
    (cd "${RUN_CWD:-$WORK}" && exec /usr/bin/time -v -o "$tf" "$@") >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    LAST_S=$(elapsed "$t0" "$t1")
    LAST_RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf" 2>/dev/null || true)
    LAST_RSS_KB=${LAST_RSS_KB:-0}
    if [ "$rc" -ne 0 ]; then
        log "FAILED ($rc): $name: $* -- last lines of $out:"
        tail -n 15 "$out" >&2 || true
        ERRORS=$((ERRORS + 1))
    else
        log "$name: ${LAST_S}s, peak RSS $((LAST_RSS_KB / 1024)) MiB"
    fi
    return "$rc"
}
repo_bytes() { du -sb "$1" | cut -f1; }

# ---------------------------------------------------------------- per-tool commands
# tool_cmd TOOL ACTION REPO [ARG]  -> prints nothing, sets the CMD array
tool_cmd() {
    local tool=$1 action=$2 repo=$3 arg=${4:-}
    case $tool:$action in
        lifeboat:init)      CMD=("$LIFEBOAT_BIN" -r "$repo" init) ;;
        lifeboat:stdin)     CMD=("$LIFEBOAT_BIN" -r "$repo" backup --stdin --stdin-name dump.sql) ;;
        lifeboat:backup)    CMD=("$LIFEBOAT_BIN" -r "$repo" backup "$arg") ;;
        lifeboat:restore)   CMD=("$LIFEBOAT_BIN" -r "$repo" restore latest --target "$arg") ;;
        restic:init)        CMD=(restic -r "$repo" init) ;;
        restic:stdin)       CMD=(restic -r "$repo" backup --stdin --stdin-filename dump.sql) ;;
        restic:backup)      CMD=(restic -r "$repo" backup "$arg") ;;
        restic:restore)     CMD=(restic -r "$repo" restore latest --target "$arg") ;;
        borg:init)          CMD=(borg init -e repokey-blake2 "$repo") ;;
        borg:stdin)         CMD=(borg create --compression "$BORG_COMPRESSION" --stdin-name dump.sql "$repo::$arg" -) ;;
        borg:backup)        CMD=(borg create --compression "$BORG_COMPRESSION" "$repo::${arg%%=*}" "${arg#*=}") ;;
        borg:restore)       CMD=(borg extract "$repo::$arg") ;;   # run with RUN_CWD=target
        *) die "unknown tool/action $tool:$action" ;;
    esac
}

# Fresh, per-tool cache/config locations so no state leaks between runs or tools.
tool_env() {
    local tool=$1
    mkdir -p "$STATE/$tool"
    export XDG_CACHE_HOME=$STATE/$tool/cache XDG_CONFIG_HOME=$STATE/$tool/config
    export RESTIC_CACHE_DIR=$STATE/$tool/cache/restic
    export BORG_BASE_DIR=$STATE/$tool
}

PEAK_RSS_KB=0
note_rss() { [ "$LAST_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$LAST_RSS_KB; return 0; }
rss_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Where did the tool put the restored tree? (restic: TARGET/abs/path; borg: CWD/abs/path minus "/")
find_restored() {
    local target=$1 c
    for c in "$target$TREE" "$target/$(basename "$TREE")" "$target"; do
        if [ -d "$c/usr" ]; then printf '%s' "$c"; return 0; fi
    done
    printf '%s' "$target$TREE"
}

bench_tool() {
    local tool=$1 repo before after r
    tool_env "$tool"
    PEAK_RSS_KB=0
    log "==================== $tool"

    # --- SQL dump: first backup, repo size, day-2 backup
    repo=$REPOS/$tool-dump
    tool_cmd "$tool" init "$repo"
    if ! run_timed "$tool-dump-init" "${CMD[@]}" </dev/null; then put dump_backup_s "$tool" ERR; return 0; fi
    note_rss
    if [ "$tool" = lifeboat ] && [ -z "$(ls -A "$repo" 2>/dev/null)" ]; then
        log "lifeboat init exited 0 but created no repository at $repo"
        ERRORS=$((ERRORS + 1)); put dump_backup_s "$tool" ERR; return 0
    fi
    before=$(repo_bytes "$repo")
    tool_cmd "$tool" stdin "$repo" dump1
    if run_timed "$tool-dump-day1" "${CMD[@]}" <"$DAY1"; then
        note_rss
        after=$(repo_bytes "$repo")
        put dump_backup_s "$tool" "$LAST_S"
        put dump_backup_rss_kb "$tool" "$LAST_RSS_KB"
        put repo_day1_bytes "$tool" "$after"
        tool_cmd "$tool" stdin "$repo" dump2
        if run_timed "$tool-dump-day2" "${CMD[@]}" <"$DAY2"; then
            note_rss
            r=$(repo_bytes "$repo")
            put day2_backup_s "$tool" "$LAST_S"
            put day2_added_bytes "$tool" "$((r - after))"
        else
            put day2_added_bytes "$tool" ERR
        fi
    else
        put dump_backup_s "$tool" ERR
    fi

    # --- file tree: first backup, unchanged re-backup, restore
    repo=$REPOS/$tool-tree
    tool_cmd "$tool" init "$repo"
    if ! run_timed "$tool-tree-init" "${CMD[@]}" </dev/null; then put tree_backup_s "$tool" ERR; return 0; fi
    note_rss
    local arg1=$TREE arg2=$TREE
    [ "$tool" = borg ] && arg1="tree1=$TREE" && arg2="tree2=$TREE"
    tool_cmd "$tool" backup "$repo" "$arg1"
    if ! run_timed "$tool-tree-backup1" "${CMD[@]}" </dev/null; then
        put tree_backup_s "$tool" ERR
    else
        note_rss
        put tree_backup_s "$tool" "$LAST_S"
        put tree_backup_rss_kb "$tool" "$LAST_RSS_KB"
        put tree_repo_bytes "$tool" "$(repo_bytes "$repo")"
        tool_cmd "$tool" backup "$repo" "$arg2"
        if run_timed "$tool-tree-backup2" "${CMD[@]}" </dev/null; then
            note_rss
            put tree_rebackup_s "$tool" "$LAST_S"
        else
            put tree_rebackup_s "$tool" ERR
        fi
        local target=$RESTORE/$tool
        rm -rf "$target"; mkdir -p "$target"
        settle
        if [ "$tool" = borg ]; then
            tool_cmd borg restore "$repo" tree2
            RUN_CWD=$target run_timed "$tool-tree-restore" "${CMD[@]}" </dev/null && r=0 || r=$?
        else
            tool_cmd "$tool" restore "$repo" "$target"
            run_timed "$tool-tree-restore" "${CMD[@]}" </dev/null && r=0 || r=$?
        fi
        if [ "$r" -eq 0 ]; then
            note_rss
            put tree_restore_s "$tool" "$LAST_S"
            put tree_restore_rss_kb "$tool" "$LAST_RSS_KB"
            if [ "$VERIFY" = 1 ]; then
                local restored
                restored=$(find_restored "$target")
                if diff -rq --no-dereference "$TREE" "$restored" >"$LOGS/$tool-tree-verify.log" 2>&1; then
                    put tree_restore_verified "$tool" ok
                else
                    log "restore of $tool differs from the source tree: $(wc -l <"$LOGS/$tool-tree-verify.log") differences (see $LOGS/$tool-tree-verify.log)"
                    put tree_restore_verified "$tool" MISMATCH
                    ERRORS=$((ERRORS + 1))
                fi
            fi
        else
            put tree_restore_s "$tool" ERR
        fi
    fi
    put peak_rss_kb "$tool" "$PEAK_RSS_KB"
}

# ---------------------------------------------------------------- S3 phase (BENCH_S3=1|only)
# A local moto_server (S3 imitation, PyPI moto[server]) on 127.0.0.1 and a free port, one bucket
# per tool and data set. lifeboat and restic back up and restore the same dump and tree as above.
MOTO_BIN=${LIFEBOAT_MOTO_SERVER:-moto_server}
S3_PID=""
S3_PORT=""
stop_s3() {
    if [ -n "$S3_PID" ]; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
        S3_PID=""
    fi
}
trap stop_s3 EXIT
trap 'exit 130' INT TERM   # so the EXIT trap stops the server on Ctrl-C / kill too
start_s3() {
    S3_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$MOTO_BIN" -H 127.0.0.1 -p "$S3_PORT" >"$LOGS/moto-server.log" 2>&1 &
    S3_PID=$!
    local i
    for i in $(seq 1 300); do
        if curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"; then
            log "moto_server (pid $S3_PID) listening on 127.0.0.1:$S3_PORT"
            return 0
        fi
        kill -0 "$S3_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$LOGS/moto-server.log" >&2 || true
    die "moto_server did not start (see $LOGS/moto-server.log)"
}
s3_url() { printf 'http://127.0.0.1:%s' "$S3_PORT"; }
# Creating a bucket: moto accepts an unsigned PUT /BUCKET.
s3_create_bucket() {
    curl -sf -X PUT -o /dev/null "$(s3_url)/$1" || die "could not create bucket $1 on $(s3_url)"
}
# Total size of the objects in a bucket (the S3 analogue of `du -sb`).
s3_bytes() {
    python3 - "$(s3_url)" "$1" <<'PY'
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="testing", aws_secret_access_key="testing")
total = 0
for page in c.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[2]):
    total += sum(o["Size"] for o in page.get("Contents", []))
print(total)
PY
}

bench_s3_tool() {
    local tool=$1 bucket repo target restored r
    tool_env "$tool-s3"
    log "==================== $tool on S3 ($(s3_url))"
    # --- SQL dump: backup from stdin, repository size, restore of the file
    bucket=$tool-dump
    s3_create_bucket "$bucket"
    repo=s3:$(s3_url)/$bucket/$S3_PREFIX
    tool_cmd "$tool" init "$repo"
    if ! run_timed "$tool-s3-dump-init" "${CMD[@]}" </dev/null; then put s3_dump_backup_s "$tool" ERR; return 0; fi
    tool_cmd "$tool" stdin "$repo" dump1
    if run_timed "$tool-s3-dump-backup" "${CMD[@]}" <"$DAY1"; then
        put s3_dump_backup_s "$tool" "$LAST_S"
        put s3_dump_backup_rss_kb "$tool" "$LAST_RSS_KB"
        put s3_dump_repo_bytes "$tool" "$(s3_bytes "$bucket")"
        target=$RESTORE/$tool-s3-dump
        rm -rf "$target"; mkdir -p "$target"
        settle
        tool_cmd "$tool" restore "$repo" "$target"
        if run_timed "$tool-s3-dump-restore" "${CMD[@]}" </dev/null; then
            put s3_dump_restore_s "$tool" "$LAST_S"
            put s3_dump_restore_rss_kb "$tool" "$LAST_RSS_KB"
            restored=$(find "$target" -name dump.sql -type f | head -n 1)
            if [ -n "$restored" ] && cmp -s "$DAY1" "$restored"; then
                put s3_dump_restore_verified "$tool" ok
            else
                log "S3 dump restore of $tool differs from the dump (or no dump.sql under $target)"
                put s3_dump_restore_verified "$tool" MISMATCH
                ERRORS=$((ERRORS + 1))
            fi
        else
            put s3_dump_restore_s "$tool" ERR
        fi
        rm -rf "$target"
    else
        put s3_dump_backup_s "$tool" ERR
    fi

    # --- file tree: backup, unchanged re-backup, restore
    bucket=$tool-tree
    s3_create_bucket "$bucket"
    repo=s3:$(s3_url)/$bucket/$S3_PREFIX
    tool_cmd "$tool" init "$repo"
    if ! run_timed "$tool-s3-tree-init" "${CMD[@]}" </dev/null; then put s3_tree_backup_s "$tool" ERR; return 0; fi
    tool_cmd "$tool" backup "$repo" "$TREE"
    if ! run_timed "$tool-s3-tree-backup1" "${CMD[@]}" </dev/null; then
        put s3_tree_backup_s "$tool" ERR
        return 0
    fi
    put s3_tree_backup_s "$tool" "$LAST_S"
    put s3_tree_backup_rss_kb "$tool" "$LAST_RSS_KB"
    put s3_tree_repo_bytes "$tool" "$(s3_bytes "$bucket")"
    tool_cmd "$tool" backup "$repo" "$TREE"
    if run_timed "$tool-s3-tree-backup2" "${CMD[@]}" </dev/null; then
        put s3_tree_rebackup_s "$tool" "$LAST_S"
    else
        put s3_tree_rebackup_s "$tool" ERR
    fi
    target=$RESTORE/$tool-s3-tree
    rm -rf "$target"; mkdir -p "$target"
    settle
    tool_cmd "$tool" restore "$repo" "$target"
    run_timed "$tool-s3-tree-restore" "${CMD[@]}" </dev/null && r=0 || r=$?
    if [ "$r" -eq 0 ]; then
        put s3_tree_restore_s "$tool" "$LAST_S"
        put s3_tree_restore_rss_kb "$tool" "$LAST_RSS_KB"
        if [ "$VERIFY" = 1 ]; then
            restored=$(find_restored "$target")
            if diff -rq --no-dereference "$TREE" "$restored" >"$LOGS/$tool-s3-tree-verify.log" 2>&1; then
                put s3_tree_restore_verified "$tool" ok
            else
                log "S3 restore of $tool differs from the source tree: $(wc -l <"$LOGS/$tool-s3-tree-verify.log") differences (see $LOGS/$tool-s3-tree-verify.log)"
                put s3_tree_restore_verified "$tool" MISMATCH
                ERRORS=$((ERRORS + 1))
            fi
        fi
    else
        put s3_tree_restore_s "$tool" ERR
    fi
}

run_s3_phase() {
    local tool s3_tools=""
    for tool in $TOOLS; do
        case $tool in lifeboat|restic) s3_tools="$s3_tools $tool" ;; esac   # borg has no S3 backend
    done
    if [ -z "$s3_tools" ]; then
        log "S3 phase: none of BENCH_TOOLS ($TOOLS) has an S3 backend; skipping"
        return 0
    fi
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    unset AWS_SESSION_TOKEN AWS_PROFILE LIFEBOAT_S3_ENDPOINT
    start_s3
    put s3_server meta "moto_server $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?') on 127.0.0.1:$S3_PORT"
    put s3_tools meta "${s3_tools# }"
    for tool in $s3_tools; do bench_s3_tool "$tool"; done
    stop_s3
}

# ---------------------------------------------------------------- 3. runs
put loadavg meta "$(cut -d' ' -f1-3 /proc/loadavg)"
for tool in $TOOLS; do
    case $tool in lifeboat|restic|borg) ;; *) die "unknown tool '$tool' in BENCH_TOOLS" ;; esac
done
put s3_mode meta "$S3_MODE"
if [ "$S3_MODE" != only ]; then
    log "==================== zstd -3 -T0 reference"
    # shellcheck disable=SC2016
    if run_timed zstd-day1 sh -c 'exec zstd -3 -T0 -q -c "$1" >/dev/null' sh "$DAY1" </dev/null; then
        put dump_backup_s zstd "$LAST_S"
        put dump_backup_rss_kb zstd "$LAST_RSS_KB"
        put zstd_bytes zstd "$(zstd -3 -T0 -q -c "$DAY1" | wc -c)"
    fi

    for tool in $TOOLS; do bench_tool "$tool"; done
fi
if [ "$S3_MODE" != 0 ]; then
    run_s3_phase
fi

# ---------------------------------------------------------------- 4. report
# Restored trees go only now, after the last measurement (see big_delete).
big_delete "$RESTORE"
python3 "$BENCH_DIR/report.py" "$RESULTS" "$RESULTS_MD" && rep=0 || rep=$?
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
