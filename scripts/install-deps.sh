#!/usr/bin/env bash
# Installs the Debian 12 packages berth builds with and the real clients its tests drive.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libcurl4-openssl-dev libgtest-dev libbenchmark-dev libsodium-dev libjwt-dev prometheus-cpp-dev
  libpqxx-dev libpq-dev
  clang libclang-rt-14-dev
)
test_packages=(
  curl jq openssl skopeo podman buildah docker.io containerd runc docker-registry
  apache2-utils busybox-static uidmap fuse-overlayfs iproute2 util-linux mount tar gzip
  python3 python3-prometheus-client
  postgresql haproxy
)

wanted=("${build_packages[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  wanted+=("${test_packages[@]}")
fi

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
