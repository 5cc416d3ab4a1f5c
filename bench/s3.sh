#!/usr/bin/env bash
# S3 benchmark: lifeboat vs restic backing up and restoring the generated dump and tree into a
# local moto_server (S3 imitation) that the harness starts on 127.0.0.1 and stops at the end.
#
#   bash bench/s3.sh
#   BENCH_DUMP_MB=50 BENCH_TREE_FILES=2000 bash bench/s3.sh     # quick run
#
# Same as `BENCH_S3=only bash bench/run.sh` (see bench/README.md, "S3-compatible storage"),
# with lifeboat and restic only and the report in bench/results-s3-latest.md.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export BENCH_S3=only
export BENCH_TOOLS=${BENCH_TOOLS:-lifeboat restic}
export BENCH_RESULTS_MD=${BENCH_RESULTS_MD:-$BENCH_DIR/results-s3-latest.md}
exec bash "$BENCH_DIR/run.sh" "$@"
