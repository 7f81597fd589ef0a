#!/usr/bin/env bash
# API contract fuzzing: schemathesis (pinned, in a virtualenv under target/) against a fresh
# instance with demo data, once without a token and once with a token of each role. Every
# response must be documented (status, content type, headers, schema) and none may be a 5xx.
#   ./scripts/api-contract.sh                               SQLite, in a temporary data directory
#   ANSHANG_CONTRACT_PG_URL=postgres://postgres@127.0.0.1:5432/test ./scripts/api-contract.sh
#                                                           PostgreSQL: a fresh database on that
#                                                           server (psql creates and drops it)
#   ANSHANG_CONTRACT_EXAMPLES=25 ./scripts/api-contract.sh  more cases per operation (default 10)
#   ANSHANG_CONTRACT_RUNS=anonymous,coordinator             only these runs (default: anonymous and
#                                                           every role)
#   ANSHANG_CONTRACT_SEED=N, ANSHANG_CONTRACT_KEEP=1        another seed; keep the reports
# What it does step by step: scripts/api_contract.py.
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=scripts/api-contract-requirements.txt
venv=target/schemathesis-venv
if ! cmp -s "$requirements" "$venv/installed-requirements.txt" 2>/dev/null; then
  echo "== installing schemathesis into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || { echo "python3 -m venv failed: install python3-venv (.ci/run does)" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/installed-requirements.txt"
fi

cargo build --quiet --bin anshang
exec "$venv/bin/python" scripts/api_contract.py
