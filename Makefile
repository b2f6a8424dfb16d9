# Logship quick start: `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD_DIR ?= build
BROKER ?= rabbitmq
CMAKE_FLAGS ?= -DLOGSHIP_WERROR=ON
JOBS ?= $(shell nproc)

.PHONY: all deps build test test-unit test-slow test-all test-asan test-tsan tidy demo bench bench-search bench-dedup bench-broker-cost clean

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Test tiers (tests/README.md). The suite starts (and stops) its own RabbitMQ node on 127.0.0.1:5690
# and Redis server on 6390. Tests run side by side, TEST_JOBS at a time (most wait on brokers and
# I/O, so twice the cores); each run ends with the time per label (scripts/run-tests.py).
#   make test-unit    the unit label: pure logic, no broker (seconds)
#   make test         everything a change must pass: all but the chaos and fuzz labels
#   make test-slow    the chaos label (brokers stopped and killed, one test at a time) and fuzz
#   make test-all     all of it in one run (.ci/run runs make test, then make test-slow)
TEST_JOBS ?= $(shell echo $$(( $$(nproc) * 2 )))
CTEST_ARGS ?=
RUN_TESTS = /usr/bin/python3 scripts/run-tests.py $(BUILD_DIR) --output-on-failure --timeout 600 -j $(TEST_JOBS) $(CTEST_ARGS)
SLOW_LABELS = '^(chaos|fuzz)$$'

test-unit: build
	$(RUN_TESTS) -L '^unit$$'

test: build
	$(RUN_TESTS) -LE $(SLOW_LABELS)

test-slow: build
	$(RUN_TESTS) -L $(SLOW_LABELS)

test-all: build
	$(RUN_TESTS)

# The sanitizer lanes (scripts/sanitize.sh), each in its own build directory (build-asan,
# build-tsan) with the suite's brokers on the same ports as `make test`: not at the same time as it.
#   make test-asan   AddressSanitizer + UBSan: unit, integration and a few e2e tests
#   make test-tsan   ThreadSanitizer: the tests of the classes that start threads
test-asan: deps
	JOBS=$(JOBS) TEST_JOBS=$(TEST_JOBS) bash scripts/sanitize.sh asan

test-tsan: deps
	JOBS=$(JOBS) TEST_JOBS=$(TEST_JOBS) bash scripts/sanitize.sh tsan

# clang-tidy with .clang-tidy's checks over every C++ source of the build (about 20 CPU-minutes;
# not part of make test). Prints the findings; exits non-zero when there is one.
tidy: build
	@command -v run-clang-tidy-14 >/dev/null || apt-get install -y clang-tidy-14
	run-clang-tidy-14 -p $(BUILD_DIR) -quiet '/(src|apps)/.*\.cpp$$' 2>&1 | tee $(BUILD_DIR)/tidy.log | \
	  grep -E '(warning|error): ' | sort -u; ! grep -qE '(warning|error): ' $(BUILD_DIR)/tidy.log

demo: build
	@bash scripts/demo.sh $(BROKER)

# Ours side by side with the peers on the same brokers (bench/README.md); not part of `make test`.
# Installs syslog-ng and gnuplot (bench/install-deps.sh), uses or starts RabbitMQ on 127.0.0.1:5672
# and Redis on 127.0.0.1:6379, starts a private 3-node RabbitMQ cluster (127.0.0.1:5660-5662) and a
# Redis Sentinel set-up (127.0.0.1:6350-6355) for its cluster_* and sentinel_* rows, writes
# bench/RESULTS.md and bench/results.png.
#   make bench BENCH_N=500000     records of the fast rows (default 200000)
#   make bench BENCH_QUICK=1      a one-minute smoke run (20000 records, 5 s latency runs)
#   make bench BENCH_ARGS='--repeat 3 --only ours_amqp'   any other bench/run.py flag
bench: build
	@bash bench/install-deps.sh
	@BENCH_COMMAND='make bench$(if $(BENCH_N), BENCH_N=$(BENCH_N))$(if $(BENCH_QUICK), BENCH_QUICK=$(BENCH_QUICK))$(if $(BENCH_ARGS), BENCH_ARGS="$(BENCH_ARGS)")' \
	  /usr/bin/python3 bench/run.py --bin $(BUILD_DIR)/bin $(if $(BENCH_N),--n $(BENCH_N)) \
	  $(if $(filter 1 yes true,$(BENCH_QUICK)),--quick) $(BENCH_ARGS)

# Micro-benchmark of logctl search's scanner (bytes/s per format and condition, mapped plain and zstd
# files; bench/micro/search_bench.cpp). `make bench` runs it first; `make bench-search` alone.
bench: bench-search
bench-search: build
	$(BUILD_DIR)/bin/search_bench --benchmark_counters_tabular=true

# The aggregator's duplicate suppression per run of ids against per id (bench/micro/dedup_bench.cpp).
# Not part of `make bench`.
bench-dedup: build
	$(BUILD_DIR)/bin/dedup_bench

# What one message costs RabbitMQ by what it carries (headers, topic exchange, mandatory):
# bench/broker_cost/run.py, quoted in docs/PERFORMANCE.md. Not part of `make bench`.
bench-broker-cost: build
	/usr/bin/python3 bench/broker_cost/run.py $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan

# Debian 12 packages (deploy/README.md, "Installing from the Debian package"): CPack over the
# build tree writes logship_VERSION_amd64.deb, liblogship-client0.1_... and liblogship-client-dev_...
# into $(BUILD_DIR), then lintian checks them when it is installed (scripts/install-deps.sh).
.PHONY: deb
deb: build
	cd $(BUILD_DIR) && cpack -G DEB
	@if command -v lintian >/dev/null; then lintian --fail-on error $(BUILD_DIR)/*_$$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' $(BUILD_DIR)/CMakeCache.txt)_*.deb; fi
