#!/usr/bin/env bash
# What the test command needs besides a Rust toolchain and a C compiler, installed where it is
# missing — and only then, each named before it is installed. On a machine that has everything
# this prints one line and installs nothing. Called by scripts/test.sh; safe to run on its own.
#   system packages (apt, as root or through sudo): make and perl (OpenSSL's and libpq's
#     builds from source use them), the PostgreSQL client tools (psql, pg_dump, pg_isready),
#     Python's venv (the API contract's schemathesis), Chromium and its WebDriver with a CJK font
#     (the page tests), Node.js and npm (to install axe-core)
#   axe-core, the version pinned in tests/axe/package-lock.json (npm ci: the page tests run its
#     WCAG 2.1 A/AA checks on every page they visit)
#   rustfmt and clippy (rustup components: the format and lint gate)
#   the `docker compose` plugin (scripts/check-deploy.sh; no Docker engine needed)
#   promtool, from Debian's prometheus package without its recommends (scripts/check-deploy.sh
#     checks the scrape config and alert rules with it; about 19 MB to download)
#   cargo-deny (the dependency licence check; built from crates.io, takes minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

installed=0

need_apt=()
command -v make >/dev/null 2>&1 || need_apt+=(make)
command -v perl >/dev/null 2>&1 || need_apt+=(perl)
command -v pg_isready >/dev/null 2>&1 || need_apt+=(postgresql-client)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need_apt+=(fonts-noto-cjk)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
# Installed without recommends: only promtool is wanted, not the node exporter. (The package's
# server does not start without systemd; where it does, `systemctl disable --now prometheus`.)
need_apt_bare=()
command -v promtool >/dev/null 2>&1 || need_apt_bare+=(prometheus)
if [ $((${#need_apt[@]} + ${#need_apt_bare[@]})) -gt 0 ]; then
  echo "== setup: installing system packages: ${need_apt[*]} ${need_apt_bare[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: run as root, or install them: apt-get install ${need_apt[*]} ${need_apt_bare[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "setup: no apt-get here; install the equivalents of: ${need_apt[*]} ${need_apt_bare[*]}" >&2; exit 1; }
  "${sudo[@]}" apt-get update -qq
  [ ${#need_apt[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need_apt[@]}"
  [ ${#need_apt_bare[@]} -eq 0 ] \
    || DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need_apt_bare[@]}"
  installed=1
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "== setup: installing the Rust component $component (rustup)"
    rustup component add "$component"
    installed=1
  fi
done

if ! docker compose version >/dev/null 2>&1; then
  echo "== setup: installing the docker compose plugin (scripts/install-compose-plugin.sh)"
  if [ "$(id -u)" -ne 0 ]; then
    COMPOSE_PLUGIN_DIR="${COMPOSE_PLUGIN_DIR:-$HOME/.docker/cli-plugins}" ./scripts/install-compose-plugin.sh
  else
    ./scripts/install-compose-plugin.sh
  fi
  installed=1
fi

if [ ! -f tests/axe/node_modules/axe-core/axe.min.js ]; then
  echo "== setup: installing axe-core for the page tests (npm ci --prefix tests/axe; pinned in its package-lock.json)"
  npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error
  installed=1
fi

if ! cargo deny --version >/dev/null 2>&1; then
  echo "== setup: installing cargo-deny (cargo install --locked cargo-deny; builds for a few minutes)"
  cargo install --locked cargo-deny
  installed=1
fi

[ "$installed" -eq 1 ] || echo "== setup: everything the tests need is here; nothing installed"
