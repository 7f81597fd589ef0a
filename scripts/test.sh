#!/usr/bin/env bash
# The test command: on a fresh machine it first installs what it needs (scripts/setup-test-machine.sh
# names each thing before installing it; with everything present it installs nothing); then the
# format and lint gate (cargo fmt --check, cargo clippy -D warnings), the deployment files' check
# (scripts/check-deploy.sh), the dependency graph's licences (cargo deny), the whole suite on
# SQLite, the API contract (scripts/api-contract.sh), the suite again on PostgreSQL, and a shorter
# API contract run there (anonymous and coordinator: what PostgreSQL refuses where SQLite takes it).
#   ./scripts/test.sh            both backends
#   ANSHANG_TEST_PG_URL=postgres://user@host:5432/db ./scripts/test.sh   another PostgreSQL server
# Each test creates (and drops) its own database on the PostgreSQL server named here.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup-test-machine.sh

pg_url="${ANSHANG_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"

pg_answers() { pg_isready -q -d "$pg_url" 2>/dev/null || psql "$pg_url" -qAtc 'select 1' >/dev/null 2>&1; }
if ! pg_answers; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "== starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  fi
  pg_answers || { echo "PostgreSQL does not answer at $pg_url" >&2; exit 1; }
fi

run_suite() {
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-targets --no-fail-fast
  else
    cargo test --workspace --no-fail-fast
  fi
}

echo "== format and lint (cargo fmt --check; cargo clippy --all-targets -D warnings)"
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings

echo "== deployment files"
./scripts/check-deploy.sh

echo "== dependency licences, bans and sources (cargo deny)"
# Advisories are not checked here: their database is fetched from GitHub (see docs/security.md).
cargo deny --log-level error check licenses bans sources

echo "== tests on SQLite"
ANSHANG_TEST_DATABASE_URL="" run_suite
echo "== API contract on SQLite"
./scripts/api-contract.sh
echo "== tests on PostgreSQL"
ANSHANG_TEST_DATABASE_URL="$pg_url" run_suite
echo "== API contract on PostgreSQL"
ANSHANG_CONTRACT_PG_URL="$pg_url" ANSHANG_CONTRACT_RUNS=anonymous,coordinator ./scripts/api-contract.sh
