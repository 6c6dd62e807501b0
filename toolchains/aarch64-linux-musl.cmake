# Cross build for 64-bit ARM OpenWrt (aarch64_cortex-a53 and later: any
# ARMv8-A), musl, statically linked: zig's C compiler (make zig) and
# libsodium from Debian's source package (scripts/build-libsodium-musl.sh).
# No QUIC: μTCP and discovery only. BLAKE3 gets its NEON back end (NEON is
# part of ARMv8-A). Tests run under qemu-aarch64.
include(${CMAKE_CURRENT_LIST_DIR}/zig-musl.cmake)
l2s_zig_musl(aarch64-linux-musl aarch64 qemu-aarch64)
