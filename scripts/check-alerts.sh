#!/usr/bin/env bash
# Checks the Prometheus alerting rules of contrib/prometheus and runs their unit tests
# (scripts/test.sh calls this before the cargo tests; it needs promtool, which the Debian
# package `prometheus` ships, and installs it when missing).
#   1. promtool check rules: syntax, PromQL, templates, duplicate rules (lint errors fail);
#   2. every alert of the rules has a test case that fires and one that does not;
#   3. promtool test rules: the unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."

rules=contrib/prometheus/lifeboat-alerts.yml
tests=contrib/prometheus/lifeboat-alerts.test.yml

if ! command -v promtool >/dev/null 2>&1; then
    echo "check-alerts: FAILED: promtool not found in PATH." >&2
    echo "check-alerts: install it with: apt-get install --no-install-recommends prometheus" >&2
    echo "check-alerts: (scripts/test.sh does that when it is missing)" >&2
    exit 1
fi

promtool check rules --lint-fatal "$rules"

# Each alert must be tested both ways: an `alertname: X` followed by `exp_alerts: []` (does
# not fire) and one followed by a non-empty `exp_alerts:` (fires).
missing=0
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*$/\1/p' "$rules" | sort -u)
for alert in $alerts; do
    kinds=$(awk -v a="$alert" '
        $1 == "alertname:" { cur = $2; next }
        $1 == "exp_alerts:" && cur == a { print (($2 == "[]") ? "quiet" : "fires"); cur = "" }
    ' "$tests" | sort -u | tr '\n' ' ')
    case "$kinds" in *fires*) ;; *) echo "check-alerts: $alert has no test case that fires" >&2; missing=1 ;; esac
    case "$kinds" in *quiet*) ;; *) echo "check-alerts: $alert has no test case that does not fire" >&2; missing=1 ;; esac
done
if [ "$missing" != 0 ]; then
    echo "check-alerts: FAILED: add the missing cases to $tests" >&2
    exit 1
fi

# promtool resolves rule_files relative to the test file.
if ! promtool test rules "$tests"; then
    echo "check-alerts: FAILED: the unit tests of $rules failed (above)" >&2
    exit 1
fi

n_alerts=$(echo "$alerts" | wc -w)
n_groups=$(grep -c '^  - name:' "$tests")
n_cases=$(grep -c '^ *- eval_time:' "$tests")
echo "check-alerts: ok: $n_alerts alerts, $n_groups test groups, $n_cases evaluations"
