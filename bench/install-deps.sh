#!/usr/bin/env bash
# Installs what `make bench` needs on top of scripts/install-deps.sh (which `make build` runs):
# the peers it compares against and the chart tool. Kept out of `make test`'s dependencies on
# purpose: syslog-ng and gnuplot are not needed to build or test Logship.
# Idempotent: only missing packages are installed. Must run as root (or via sudo).
set -euo pipefail

BENCH_PKGS=(syslog-ng-core syslog-ng-mod-amqp gnuplot-nox time python3-pika python3-redis
  redis-tools rabbitmq-server redis-server gcc librabbitmq-dev)

missing=()
for p in "${BENCH_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "bench/install-deps: all packages present"
  exit 0
fi
echo "bench/install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bench/install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# syslog-ng-core's (and rabbitmq-server's) postinst try to start their service; without an init
# system that fails harmlessly, but policy-rc.d keeps them from trying at all. A system-wide
# syslog-ng would also compete for CPU with the benchmark: the harness runs its own, in the
# foreground, with a private configuration.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
