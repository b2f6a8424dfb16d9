#!/bin/sh
# The generated man pages render without a single warning: groff with every warning on (-ww), and
# mandoc -T lint where it is installed. Usage: check_man_pages.sh PAGE...
status=0
for page in "$@"; do
  out=$(groff -ww -z -man "$page" 2>&1)
  if [ -n "$out" ] || [ ! -s "$page" ]; then
    echo "FAIL $page: groff -ww -z -man: ${out:-empty page}"
    status=1
  fi
  if command -v mandoc >/dev/null 2>&1; then
    out=$(mandoc -T lint -W warning "$page" 2>&1) || { echo "FAIL $page: mandoc -T lint: $out"; status=1; }
  fi
done
[ $status -eq 0 ] && echo "$# man pages render without warnings"
exit $status
