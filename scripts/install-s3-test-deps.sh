#!/usr/bin/env bash
# Installs what the S3 conformance tests of lifeboat-storage need: `moto_server` (PyPI
# moto[server]), a local S3 imitation the tests start on 127.0.0.1.
# Idempotent: does nothing when moto_server is already on PATH. Safe for CI (`CI=true`).
set -euo pipefail

if command -v moto_server >/dev/null 2>&1; then
    echo "moto_server present: $(command -v moto_server)"
    exit 0
fi

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
    echo "error: $PY not found; install Python 3 (apt-get install python3 python3-pip)" >&2
    exit 1
fi

echo "installing moto[server] with $PY -m pip ..."
"$PY" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6' \
    || "$PY" -m pip install --quiet --disable-pip-version-check --break-system-packages 'moto[server]>=5,<6'

# pyenv keeps console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi

if ! command -v moto_server >/dev/null 2>&1; then
    echo "error: moto_server still not on PATH after installing moto[server]" >&2
    echo "       (add the pip scripts directory, e.g. ~/.local/bin, to PATH," >&2
    echo "        or set LIFEBOAT_MOTO_SERVER to the binary)" >&2
    exit 1
fi
echo "moto_server installed: $(command -v moto_server)"
