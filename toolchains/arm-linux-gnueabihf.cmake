# Cross build for 32-bit ARM with hardware floating point (Raspberry Pi OS
# 32-bit on a Pi 2, 3, 4 or Zero 2): Debian's gcc-arm-linux-gnueabihf and
# multiarch libsodium-dev:armhf (and ngtcp2/GnuTLS :armhf for the loop).
# BLAKE3 uses its portable code: Debian's armhf baseline (ARMv7, VFPv3-D16)
# does not promise NEON. Tests run under qemu-arm through ctest's
# cross-compiling emulator.
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
l2s_debian_multiarch(arm-linux-gnueabihf armv7l qemu-arm)
