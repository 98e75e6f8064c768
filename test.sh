#!/usr/bin/env bash
# Installs what berth and its tests need (Debian 12), builds everything, and runs every test:
# unit, API, integration (real clients: skopeo, podman, buildah, ctr, docker), the crash test,
# and the fuzzers (briefly). Set BERTH_SANITIZE=ON to build with ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh

sanitize=${BERTH_SANITIZE:-OFF}
build=build/test
[[ "$sanitize" == ON ]] && build=build/asan
jobs=$(nproc)

# The fuzzers need clang's libFuzzer: a separate, small build of the parsers only.
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBERTH_FUZZ=ON -DBERTH_TESTS=OFF >/dev/null
ninja -C build/fuzz -j "$jobs"

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_SANITIZE="$sanitize" \
  -DBERTH_FUZZ_BUILD_DIR="$PWD/build/fuzz" >/dev/null
ninja -C "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"
