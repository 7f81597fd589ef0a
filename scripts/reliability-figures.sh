#!/usr/bin/env bash
# Regenerates the figures of docs/reliability.md in one run and prints them:
#   ./scripts/reliability-figures.sh            (ANSHANG_FUZZ_CASES=20000 by default)
# crash test (SQLite and PostgreSQL), shutdown and slow clients, input fuzzing, API contract.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_url="${ANSHANG_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
cases="${ANSHANG_FUZZ_CASES:-20000}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

run() { # name, then the command; keeps the output for the summary
  local name="$1"; shift
  echo "== $name"
  "$@" >"$out/$name.log" 2>&1 || { cat "$out/$name.log"; echo "FAILED: $name" >&2; exit 1; }
}

run crash-sqlite env ANSHANG_TEST_DATABASE_URL="" cargo nextest run --test crash_safety --no-capture
run crash-postgres env ANSHANG_TEST_DATABASE_URL="$pg_url" cargo nextest run --test crash_safety --no-capture
run shutdown cargo nextest run --test shutdown_and_slow_clients
run fuzz env ANSHANG_FUZZ_CASES="$cases" cargo nextest run --test input_fuzz --no-capture
run contract ./scripts/api-contract.sh

echo
echo "== figures"
echo "crash, SQLite:     $(grep -h ' kills in ' "$out/crash-sqlite.log" | tail -n1)"
echo "crash, PostgreSQL: $(grep -h ' kills in ' "$out/crash-postgres.log" | tail -n1)"
echo "shutdown and slow clients: $(grep -h 'Summary' "$out/shutdown.log" | tail -n1 | sed 's/^ *//')"
grep -h '^fuzz ' "$out/fuzz.log" | sed 's/^/input /'
grep -h '^== API contract' "$out/contract.log" | sed 's/^== //'
