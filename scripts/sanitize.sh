#!/usr/bin/env bash
# The sanitizer lanes (`make test-asan`, `make test-tsan`, run by .ci/run after `make test`): builds
# the tree in its own directory with the sanitizers on and runs the tests that add coverage for
# memory and thread errors, with the suite's own brokers (ctest fixtures).
#   scripts/sanitize.sh asan|tsan [BUILD_DIR (default build-asan / build-tsan)] [all|build]
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer included): the unit and
#         integration tests, and the e2e scripts labelled `asan` in tests/CMakeLists.txt (the
#         pipeline over both brokers, the producer's disk spool, the aggregator's rotation).
#   tsan  ThreadSanitizer: the tests that run the classes starting threads (Shipper, OutputRotator,
#         Client, the metrics HTTP server, DrainProgress, SendWatchdog) and the integration tests.
# Every finding aborts the program at once (-fno-sanitize-recover=all, halt_on_error); reports are
# written to BUILD_DIR/sanitizer/ (a program started by an e2e script may not show its standard error)
# and printed at the end: any report fails the lane, even if the test around it passed.
# Ports: LOGSHIP_TEST_AMQP_PORT, LOGSHIP_TEST_MGMT_PORT, LOGSHIP_TEST_REDIS_PORT,
# LOGSHIP_TEST_CLUSTER_PORT, LOGSHIP_TEST_SENTINEL_PORT in the environment (the CMake cache variables
# of the same names), else the suite's defaults (so a lane must not run at the same time as
# `make test` on one machine, unless one of them is given other ports).
# JOBS: compile jobs (default: the cores); TEST_JOBS: tests run side by side (default: twice the
# cores, as `make test`: most of them wait on brokers and I/O).
set -euo pipefail
cd "$(dirname "$0")/.."
lane=${1:-}
case "$lane" in
  asan) sanitize=address ;;
  tsan) sanitize=thread ;;
  *) echo "usage: scripts/sanitize.sh asan|tsan [BUILD_DIR]" >&2; exit 2 ;;
esac
dir=$(realpath -m "${2:-build-$lane}")
src=$(pwd)

# Debug without optimisation, and line tables only (-g1: all a report's stack needs): an optimised
# build with full debug info and the sanitizers' instrumentation takes twice as long to compile,
# and the tests chosen are not bound by CPU.
flags=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1
  -DLOGSHIP_SANITIZE="$sanitize" -DLOGSHIP_WERROR=ON -DLOGSHIP_BENCH=OFF -DLOGSHIP_FUZZ=OFF)
command -v ccache >/dev/null && flags+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
for port in AMQP MGMT REDIS CLUSTER SENTINEL; do
  var=LOGSHIP_TEST_${port}_PORT
  [ -n "${!var:-}" ] && flags+=("-D$var=${!var}")
done
cmake -S . -B "$dir" -G Ninja "${flags[@]}" >/dev/null

reports="$dir/sanitizer"
rm -rf "$reports" && mkdir -p "$reports"
common="halt_on_error=1:log_path=$reports/report:log_exe_name=1"
if [ "$lane" = asan ]; then
  targets=(unit_tests client_tests integration_tests log_producer log_aggregator logctl)
  # Labels unit and integration, and the e2e scripts labelled asan; not the Python-only unit checks
  # (public_headers, bench_report) nor the generated docs' checks (cli_reference, man_pages: the
  # generator and the pages are not among this lane's targets), which run no program under test.
  select=(-L '^(unit|integration|asan)$' -E '^(public_headers|bench_report|cli_reference|man_pages)$')
  export ASAN_OPTIONS="$common:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="$common:print_stacktrace=1"
  export LSAN_OPTIONS="suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0"
else
  targets=(unit_tests client_tests integration_tests log_producer log_aggregator logctl)
  # Suites whose tests start the threaded classes: Shipper (Shipper, and the inputs feeding one:
  # FileInput, Syslog*Input), OutputRotator (RotationFiles), logship::Client (Client, SpdlogSink),
  # the metrics HTTP server (HttpServerTest); what those threads share, filled and drained from two
  # threads in its tests (SpoolTest, MemorySpoolTest, RecordQueue, LineReader, Metrics, Registry);
  # every integration test (SendWatchdog guards each AMQP connection; the consumers and the
  # collector); the programs end to end over both brokers: e2e_pipeline (log_producer's Shipper and
  # log_aggregator's collector, several of each at once) and e2e_spool_progress (DrainProgress only runs
  # on a terminal). Not RotationFiles.ACrashInTheMiddleOfACompressionLosesNothing (one thread, a
  # forked child killed mid-compression: 23 s under TSan, no thread to check), nor
  # SyslogTcpInput.AFloodOfSilentConnectionsDoesNotLockSendersOut (1,000 connections within 60 s: a
  # load test, which TSan's slowdown beside the other tests made miss its minute; the receiver's
  # threads are in the other SyslogTcpInput tests), nor e2e_rotation (about 4 minutes under TSan;
  # OutputRotator's thread is in RotationFiles).
  select=(-R '^((Shipper|FileInput|SyslogInput|SyslogUdpInput|SyslogTcpInput|RotationFiles|Client|SpdlogSink|HttpServerTest|SpoolTest|MemorySpoolTest|RecordQueue|LineReader|Metrics|Registry|Amqp|AmqpTopology|AmqpTail|Redis|RedisTail|Brokers/EveryBroker|Brokers/EveryBrokerTail)\.|e2e_(redis_)?(pipeline|spool_progress)$)'
    -E '(ACrashInTheMiddleOfACompressionLosesNothing|AFloodOfSilentConnectionsDoesNotLockSendersOut)$')
  export TSAN_OPTIONS="$common:second_deadlock_stack=1:suppressions=$src/tests/sanitizers/tsan.supp"
fi

# CPU seconds of the finished children of this script (the compilers): what the build costs on an
# idle machine, whatever the wall time was on a busy one.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{printf "%d", ($16 + $17) / hz}' "/proc/$$/stat"; }
start=$(date +%s)
nice cmake --build "$dir" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
built=$(date +%s)
build_cost="build $((built - start)) s ($(cpu_seconds) CPU-s)"
[ "${3:-all}" = build ] && { echo "sanitize $lane: built in $dir: $build_cost"; exit 0; }
status=0
# Side by side as `make test` runs them, with the time per label at the end (scripts/run-tests.py).
/usr/bin/python3 scripts/run-tests.py "$dir" --output-on-failure --timeout 900 \
  -j "${TEST_JOBS:-$(($(nproc) * 2))}" "${select[@]}" || status=$?
end=$(date +%s)
if compgen -G "$reports/report*" >/dev/null; then
  echo "sanitize $lane: reports in $reports:" >&2
  for f in "$reports"/report*; do echo "== $f" >&2; head -80 "$f" >&2; done
  status=1
fi
echo "sanitize $lane: $build_cost, tests $((end - built)) s, exit $status"
exit $status
