#!/usr/bin/env bash
# Checks the deployment files without a Docker engine (run by scripts/test.sh):
#  1. `docker compose -f deploy/compose.yaml config -q` (Docker Compose v2) accepts the compose
#     file, with dummy values for its required variables, and prints no warning;
#  2. without those variables it refuses (the `${VAR:?…}` guards are still there);
#  3. deploy/Dockerfile builds as the docs say: its `cargo build` command appears verbatim in
#     README.md and docs/operations.md, the build packages it installs are the ones README.md
#     names, and it copies the binary from target/release/anshang as docs/operations.md says;
#  4. the monitoring files: `promtool check config` and `check rules` accept
#     deploy/prometheus/prometheus.yml and alerts.yml, `promtool test rules` passes
#     alerts_test.yml, deploy/grafana/anshang.json parses as JSON, and every anshang_* series the
#     alerts and the dashboard use is one src/metrics/ exports.
# Needs the `docker compose` plugin: scripts/install-compose-plugin.sh (.ci/run runs it), and
# promtool (Debian's `prometheus` package); scripts/setup-test-machine.sh installs both.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-deploy: $*" >&2; exit 1; }

docker compose version >/dev/null 2>&1 \
  || fail "no \`docker compose\` plugin; install it with ./scripts/install-compose-plugin.sh"

compose=(docker compose -f deploy/compose.yaml config -q)
required=(POSTGRES_PASSWORD ANSHANG_JWT_SECRET ANSHANG_AUDIT_KEY)
all_set=()
for v in "${required[@]}"; do all_set+=("$v=check-deploy-0123456789abcdef0123456789"); done
err="$(env "${all_set[@]}" "${compose[@]}" 2>&1)" || fail "deploy/compose.yaml does not validate: $err"
[ -z "$err" ] || fail "deploy/compose.yaml validates with warnings: $err"
for missing in "${required[@]}"; do
  others=()
  for v in "${required[@]}"; do [ "$v" = "$missing" ] || others+=("$v=check-deploy-0123456789abcdef0123456789"); done
  if env -u "$missing" "${others[@]}" "${compose[@]}" >/dev/null 2>&1; then
    fail "deploy/compose.yaml accepts a missing $missing"
  fi
done

# The build stage's cargo command, verbatim, in both documents.
build_cmd="$(sed -n 's/^RUN \(cargo build .*\)$/\1/p' deploy/Dockerfile)"
[ "$(printf '%s\n' "$build_cmd" | grep -c .)" = 1 ] || fail "deploy/Dockerfile: expected one 'RUN cargo build' line"
for doc in README.md docs/operations.md; do
  grep -qF "\`$build_cmd\`" "$doc" || fail "$doc does not give the Dockerfile's build command \`$build_cmd\`"
done

# The packages the build stage installs (first apt-get install line) are the ones README.md names;
# with none, README.md says that a Rust toolchain and a C compiler are all a build needs.
build_pkgs="$(awk '/^FROM .* AS build/{b=1} /^FROM /&&!/ AS build/{b=0} b&&/apt-get install/{sub(/.*--no-install-recommends/,""); sub(/&&.*/,""); gsub(/\\/,""); print; exit}' deploy/Dockerfile)"
if [ -z "${build_pkgs// /}" ]; then
  grep -qF "a Rust toolchain and a C compiler" README.md || fail "deploy/Dockerfile's build stage installs nothing, but README.md does not say a Rust toolchain and a C compiler suffice"
fi
for pkg in $build_pkgs; do
  grep -qF "\`$pkg\`" README.md || fail "README.md does not name the build package \`$pkg\` that deploy/Dockerfile installs"
done

grep -qE '^COPY --from=build /src/target/release/anshang ' deploy/Dockerfile \
  || fail "deploy/Dockerfile does not copy target/release/anshang"
grep -qF '`target/release/anshang`' docs/operations.md \
  || fail "docs/operations.md does not name target/release/anshang"

# The monitoring files.
command -v promtool >/dev/null 2>&1 \
  || fail "no promtool; install Debian's prometheus package (./scripts/setup-test-machine.sh does)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The scrape token file must exist for `check config`: a stand-in in a temporary copy.
echo check-deploy-token > "$work/anshang-metrics.token"
sed "s|/etc/prometheus/anshang-metrics.token|$work/anshang-metrics.token|" deploy/prometheus/prometheus.yml > "$work/prometheus.yml"
cp deploy/prometheus/alerts.yml "$work/alerts.yml"
out="$(promtool check config "$work/prometheus.yml" 2>&1)" || fail "deploy/prometheus/prometheus.yml: $out"
out="$(promtool check rules deploy/prometheus/alerts.yml 2>&1)" || fail "deploy/prometheus/alerts.yml: $out"
out="$(promtool test rules deploy/prometheus/alerts_test.yml 2>&1)" || fail "deploy/prometheus/alerts_test.yml: $out"
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' deploy/grafana/anshang.json \
  || fail "deploy/grafana/anshang.json is not JSON"
for series in $(grep -ohE 'anshang_[a-z_]+' deploy/prometheus/alerts.yml deploy/grafana/anshang.json | sed 's/_bucket$//' | sort -u); do
  grep -rqF "\"$series\"" src/metrics/ || fail "$series is used by deploy/ but src/metrics/ does not export it"
done

echo "check-deploy: deploy/prometheus passes promtool ($(promtool --version 2>&1 | head -1 | awk '{print $3}')); deploy/grafana/anshang.json parses"
echo "check-deploy: deploy/compose.yaml validates ($(docker compose version --short)); deploy/Dockerfile matches the docs"
