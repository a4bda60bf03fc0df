#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs dependencies, builds, runs every ctest
# test (unit, integration against a real ctld, compatibility with the docker CLI and docker-py).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd build
ctest --output-on-failure --timeout 1200 "$@"
