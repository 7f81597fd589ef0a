#!/usr/bin/env bash
# The load benchmark a user's load tester would run: anshang's release binary (`anshang serve`,
# all its middleware) under wrk, against baselines measured in the same run — actix-web's
# hello-world from the same actix-web version (benches/hello) answering static bodies of the same
# sizes, pgbench (PostgreSQL) and Python's sqlite3 (SQLite) writing a filing's rows. Seeds
# realistic data first (benches/http_seed.rs). Prints markdown tables; docs/performance.md holds
# the latest output.
#
#   scripts/bench-http.sh                       # both backends, 10,000 complaints, 10 s each
#   scripts/bench-http.sh --backend postgres --complaints 10000 --seconds 10 --json out.json
#   scripts/bench-http.sh --backend postgres --grow 100000,1000000   # and at 100k and 1M complaints
#
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust; ANSHANG_BENCH_PG_ADMIN to change),
# wrk, pgbench and psql (installed here with apt-get when missing). A benchmark, not a test:
# nothing here runs in scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "installing $2 (for $1)"
    if [ "$(id -u)" = 0 ]; then apt-get install -y "$2" >/dev/null; else sudo apt-get install -y "$2" >/dev/null; fi
  fi
}
need wrk wrk
need psql postgresql-client
need pgbench postgresql-client
need python3 python3

# The baseline must be the same actix-web as anshang's.
ours=$(grep -A1 '^name = "actix-web"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
theirs=$(grep -A1 '^name = "actix-web"$' benches/hello/Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')
if [ "$ours" != "$theirs" ]; then
  echo "benches/hello uses actix-web $theirs, anshang $ours: pin benches/hello/Cargo.toml to =$ours" >&2
  exit 1
fi

echo "building (release): anshang, the seeder, the hello-world baseline (actix-web $ours)"
cargo build --release --locked --bin anshang
ANSHANG_BENCH_SEEDER=$(cargo bench --locked --no-run --bench http_seed --message-format=json \
  | python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "http_seed" and m.get("executable"):
        print(m["executable"])')
export ANSHANG_BENCH_SEEDER
cargo build --release --locked --manifest-path benches/hello/Cargo.toml

exec python3 scripts/bench_http.py "$@"
