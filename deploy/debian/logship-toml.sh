#!/bin/sh
# logship-toml.sh BINDIR HEADER OUT: writes the packaged /etc/logship/logship.toml, HEADER followed
# by every program's settings at their defaults, commented out (each program's --print-config, run
# without any LOGSHIP_* variable or configuration file, so nothing of this machine leaks in).
set -eu
bindir=$1 header=$2 out=$3
tmp="$out.tmp"
cp "$header" "$tmp"
for prog in log_aggregator log_producer logctl; do
    # Skip --print-config's own two-line preamble; the default --host is the build machine's name.
    env -i PATH=/usr/bin:/bin "$bindir/$prog" --print-config | sed -e '1,2d' -e '/^$/{N;/^\n$/D}' \
        -e 's/^# host = .*(default)$/# host =  (default: this machine'"'"'s host name)/' >>"$tmp"
done
mv "$tmp" "$out"
