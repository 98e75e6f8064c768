#!/usr/bin/env bash
# Installs the Debian 12 packages berth builds with and the real clients its tests drive.
# Idempotent: does nothing when everything is already installed. Also installs Azurite (npm)
# into tests/azurite/ for the Azure Blob driver's tests.
set -euo pipefail

build_packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev libyaml-cpp-dev
  libcurl4-openssl-dev libgtest-dev libbenchmark-dev libsodium-dev libjwt-dev prometheus-cpp-dev
  libpqxx-dev libpq-dev libexpat1-dev libarchive-dev
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

# Node.js and npm run Azurite (below). A machine that has them already (from another source than
# Debian) keeps its own: Debian's npm package would conflict with it.
if [[ "${1:-}" != "--build-only" ]] && ! { command -v node && command -v npm; } >/dev/null; then
  wanted+=(nodejs npm)
fi

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Azurite, the Azure Storage emulator the Azure Blob driver's tests run against, at the version
# pinned in tests/azurite/package-lock.json. `npm ci` runs again only when the lock file changed
# since the last install (the stamp holds its hash). No package needs an install script.
install_azurite() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/azurite"
  local stamp="$dir/node_modules/.berth-lock.sha256"
  local lock_hash
  lock_hash=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -x "$dir/node_modules/.bin/azurite-blob" && -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
    return 0
  fi
  echo "installing Azurite (npm ci in tests/azurite)"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$lock_hash" >"$stamp"
}
if [[ "${1:-}" != "--build-only" ]]; then
  install_azurite
fi
