# Cross build for little-endian 32-bit MIPS OpenWrt (mipsel_24kc: MIPS32r2,
# soft float), musl, statically linked: zig's C compiler (make zig;
# toolchains/zig/zig-tool picks -target mipsel-linux-musleabi
# -mcpu=mips32r2) and libsodium from Debian's source package
# (scripts/build-libsodium-musl.sh). No QUIC: μTCP and discovery only.
# BLAKE3 uses its portable code (no SIMD back end for MIPS). Tests run
# under qemu-mipsel.
include(${CMAKE_CURRENT_LIST_DIR}/zig-musl.cmake)
l2s_zig_musl(mipsel-linux-musl mipsel qemu-mipsel)
