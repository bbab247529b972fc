#!/usr/bin/env bash
# The tools the test suite checks the deployment files with, installed when missing:
# - promtool (Prometheus rules and their unit tests): Debian's `prometheus` package;
# - Docker Compose v2 (`docker compose config`): the docker CLI's plugin if it answers, else the
#   compose binary built once from its Go module into .cache/compose (it also runs standalone,
#   so the check needs no Docker engine and no docker CLI).
# Prints the compose command to use on its last line.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)"
COMPOSE_VERSION=v2.29.7

if ! command -v promtool >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing promtool (Debian package prometheus) ..." >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            prometheus >/dev/null
    else
        echo "promtool is missing: install Debian's prometheus package" >&2
        exit 1
    fi
fi

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    echo "docker compose"
    exit 0
fi
compose="$repo/.cache/compose/bin/cmd"
if [ ! -x "$compose" ]; then
    go="$(command -v go || true)"
    [ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
    [ -n "$go" ] || { echo "Go (1.21 or later) is needed to build Docker Compose" >&2; exit 1; }
    echo "building Docker Compose $COMPOSE_VERSION into .cache/compose (once) ..." >&2
    GOBIN="$repo/.cache/compose/bin" GOFLAGS=-mod=mod \
        "$go" install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION" >&2
fi
echo "$compose"
