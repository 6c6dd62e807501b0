# l2sess: every target installs what it needs (Debian packages, a .venv with
# the Python tools, the build) and is safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
JOBS := $(shell nproc 2>/dev/null || echo 2)
CMAKE_NATIVE := cmake -G Ninja -DCMAKE_BUILD_TYPE=Release

.PHONY: all deps cross-deps venv build test ctest sanitize cross pytest bench demo clean

all: build

deps:
	@scripts/install-deps.sh base

cross-deps:
	@scripts/install-deps.sh cross

$(VENV)/.installed: requirements-dev.txt | deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

venv: deps $(VENV)/.installed

# The Python extension (setup.py builds the C core with CMake first).
build: venv
	$(PY) -m pip install -q --no-build-isolation -e .

# C unit tests, native, including the valgrind constant-time check.
ctest: deps
	$(CMAKE_NATIVE) -S . -B $(BUILD)/native >/dev/null
	cmake --build $(BUILD)/native -j $(JOBS)
	cd $(BUILD)/native && L2S_FULL_VECTORS=1 ctest --output-on-failure

# C unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize: deps
	CC=clang $(CMAKE_NATIVE) -DCMAKE_BUILD_TYPE=Debug -DL2S_SANITIZE=ON -S . -B $(BUILD)/sanitize >/dev/null
	cmake --build $(BUILD)/sanitize -j $(JOBS)
	cd $(BUILD)/sanitize && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure

# The C core and its unit tests for aarch64, run under qemu-aarch64.
cross: deps cross-deps
	cmake -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake -S . -B $(BUILD)/aarch64 >/dev/null
	cmake --build $(BUILD)/aarch64 -j $(JOBS)
	readelf -h $(BUILD)/aarch64/test_classic | grep -q AArch64
	cd $(BUILD)/aarch64 && ctest --output-on-failure

pytest: build
	$(PY) -m pytest -q tests

test: ctest sanitize cross pytest

bench: build
	$(PY) bench/bench_crypto.py

demo: build
	$(PY) -m l2sess.demo

clean:
	rm -rf $(BUILD) l2sess/_core.c l2sess/_core*.so *.egg-info
