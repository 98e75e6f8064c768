#!/usr/bin/env bash
# Installs what berth needs (Debian 12), builds it and runs berthd on localhost:5000 with its
# data under ./berth-data. Extra arguments go to berthd (see `berthd --help`).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh --build-only
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
ninja -C build/release berthd
exec build/release/src/server/berthd "$@"
