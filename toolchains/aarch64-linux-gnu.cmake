# Cross build for 64-bit ARM (Raspberry Pi 3/4/5 with a 64-bit OS, aarch64
# OpenWrt targets): Debian's gcc-aarch64-linux-gnu and multiarch
# libsodium-dev:arm64. BLAKE3 gets its NEON back end. Tests run under
# qemu-aarch64 through ctest's cross-compiling emulator.
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
l2s_debian_multiarch(aarch64-linux-gnu aarch64 qemu-aarch64)
