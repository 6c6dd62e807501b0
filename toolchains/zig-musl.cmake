# What a static musl build with zig's C compiler (toolchains/zig/) needs,
# whatever the target: the compiler wrappers, libsodium built for the target
# by scripts/build-libsodium-musl.sh (no QUIC library exists for these
# targets here: the loop is μTCP and discovery only), static executables,
# and qemu-user to run the tests (ctest's emulator; a static program needs
# no -L sysroot).
#   l2s_zig_musl(TARGET PROCESSOR QEMU)
# e.g. (aarch64-linux-musl aarch64 qemu-aarch64). L2S_SODIUM_PREFIX is where
# libsodium was installed (default: build/sodium-TARGET), L2S_EMULATOR
# another emulator. A macro: the settings are the toolchain file's own.
macro(l2s_zig_musl target processor qemu)
  set(CMAKE_SYSTEM_NAME Linux)
  set(CMAKE_SYSTEM_PROCESSOR ${processor})
  set(CMAKE_C_COMPILER ${CMAKE_CURRENT_LIST_DIR}/zig/${target}-cc)
  set(CMAKE_ASM_COMPILER ${CMAKE_CURRENT_LIST_DIR}/zig/${target}-cc)
  set(CMAKE_AR ${CMAKE_CURRENT_LIST_DIR}/zig/${target}-ar CACHE FILEPATH "zig ar")
  set(CMAKE_RANLIB ${CMAKE_CURRENT_LIST_DIR}/zig/${target}-ranlib CACHE FILEPATH "zig ranlib")
  set(CMAKE_EXE_LINKER_FLAGS_INIT -static)

  if(NOT L2S_SODIUM_PREFIX)
    get_filename_component(L2S_SODIUM_PREFIX ${CMAKE_CURRENT_LIST_DIR}/../build/sodium-${target} ABSOLUTE)
  endif()
  set(CMAKE_FIND_ROOT_PATH ${L2S_SODIUM_PREFIX})
  set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

  # pkg-config reads the target's libsodium.pc and nothing of the host's.
  set(ENV{PKG_CONFIG_LIBDIR} ${L2S_SODIUM_PREFIX}/lib/pkgconfig)
  unset(ENV{PKG_CONFIG_PATH})
  unset(ENV{PKG_CONFIG_SYSROOT_DIR})

  # L2S_EMULATOR: another qemu (make cross runs mipsel under bookworm-
  # backports' qemu-mipsel: scripts/fetch-qemu-mipsel.sh says why).
  if(L2S_EMULATOR)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${L2S_EMULATOR})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR ${qemu})
  endif()
endmacro()
