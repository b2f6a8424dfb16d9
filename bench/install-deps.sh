#!/usr/bin/env bash
# Installs what `make bench` needs on top of what `make build` installs: the peers it compares
# against (syslog-ng with its AMQP module) and the chart tool. Kept out of `make test`'s
# dependencies on purpose: syslog-ng and gnuplot are not needed to build or test Logship.
# The install itself (idempotent, apt-get as root, no service started) is scripts/install-deps.sh's.
# A system-wide syslog-ng would compete for CPU with the benchmark: policy-rc.d (set there) keeps
# its postinst from starting one; the harness runs its own in the foreground.
set -euo pipefail
exec bash "$(dirname "$0")/../scripts/install-deps.sh" --with syslog-ng-core syslog-ng-mod-amqp gnuplot-nox time gcc
