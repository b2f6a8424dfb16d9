# Logship quick start: `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD_DIR ?= build
BROKER ?= rabbitmq
CMAKE_FLAGS ?= -DLOGSHIP_WERROR=ON
JOBS ?= $(shell nproc)

.PHONY: all deps build test demo clean bench bench-search

all: build

deps:
	@bash scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Runs every test; the suite starts (and stops) its own RabbitMQ node on 127.0.0.1:5690.
test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

demo: build
	@bash scripts/demo.sh $(BROKER)

# Micro-benchmark of logctl search's scanner (bytes/s per format and condition, plain and zstd files).
# `bench` runs it, with whatever else `bench` runs.
bench: bench-search
bench-search: build
	$(BUILD_DIR)/bin/search_bench --benchmark_counters_tabular=true

clean:
	rm -rf $(BUILD_DIR)
