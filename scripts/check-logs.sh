#!/usr/bin/env bash
# Fails when a test run's output contains a secret: the test fixtures' Stripe key, webhook
# secret and receipt-link key, any admin token (dnt_ + 64 hex), any payment intent client secret
# (pi_…_secret_…), or the SMTP password the mail tests use. scripts/test.sh runs it over CTest's
# full log (every test's stdout and stderr, service logs at info level) after the plain run.
#   scripts/check-logs.sh FILE...
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 FILE..." >&2; exit 2; }
patterns=(
  'sk_test_fixture_key'
  'whsec_test_fixture_secret'
  'receipt-secret-for-tests'
  'dnt_[0-9a-f]{64}'
  'pi_[A-Za-z0-9]+_secret_[A-Za-z0-9]+'
  's3cret-Pa55word'
)
found=0
for pattern in "${patterns[@]}"; do
  if grep -E -n -m 3 -- "$pattern" "$@"; then
    echo "check-logs: a secret matching '$pattern' is in the test output (lines above)" >&2
    found=1
  fi
done
[ "$found" -eq 0 ] && echo "check-logs: no secret in $(cat "$@" | wc -l) lines of test output"
exit "$found"
