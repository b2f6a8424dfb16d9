#!/usr/bin/env bash
# Installs what Logship needs to build, test and run its demo on Debian 12.
# Idempotent: only missing packages are installed. Must run as root (or via sudo).
set -euo pipefail

BUILD_PKGS=(build-essential cmake ninja-build pkg-config
  librabbitmq-dev libhiredis-dev zlib1g-dev libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev libzstd-dev libcpp-httplib-dev
  libtomlplusplus-dev clang-format nodejs npm)
RUNTIME_PKGS=(rabbitmq-server redis-server redis-tools amqp-tools python3-pika python3-redis curl procps iproute2 zstd logrotate
  bsdutils chromium)
# make deb: CPack's dependency list needs file (dpkg-shlibdeps is in build-essential's dpkg-dev);
# lintian checks the packages.
PACKAGING_PKGS=(file lintian)

want=("${BUILD_PKGS[@]}" "${RUNTIME_PKGS[@]}" "${PACKAGING_PKGS[@]}")
if [[ "${1:-}" == "--with" ]]; then shift; want+=("$@"); fi
# nodejs + npm build the web console (web/, the console_assets target); chromium runs its browser
# tests. A nodejs package from elsewhere (e.g. NodeSource's) brings npm itself and conflicts with
# Debian's npm package: then npm is not asked for.
if command -v npm >/dev/null; then
  for i in "${!want[@]}"; do [[ "${want[$i]}" == npm ]] && unset 'want[i]'; done
  want=("${want[@]}")
fi

# One dpkg-query for all of them (`make build` runs this script every time: it must stay cheap).
declare -A installed=()
while read -r name status; do
  [[ "$status" == ii ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${want[@]}" 2>/dev/null || true)
missing=()
for p in "${want[@]}"; do
  [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# rabbitmq-server's postinst tries to start the service; without an init system that fails
# harmlessly, but policy-rc.d keeps it from trying at all.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
