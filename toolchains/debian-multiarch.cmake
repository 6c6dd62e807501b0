# What a cross build on Debian's own cross compiler and multiarch libraries
# needs, whatever the target: the compiler, where the target's libraries
# and .pc files live, and qemu-user to run the tests (ctest's emulator).
#   l2s_debian_multiarch(TRIPLET PROCESSOR QEMU)
# e.g. (aarch64-linux-gnu aarch64 qemu-aarch64). A macro: the settings are
# the toolchain file's own.
macro(l2s_debian_multiarch triplet processor qemu)
  set(CMAKE_SYSTEM_NAME Linux)
  set(CMAKE_SYSTEM_PROCESSOR ${processor})
  set(CMAKE_C_COMPILER ${triplet}-gcc)
  set(CMAKE_ASM_COMPILER ${triplet}-gcc)

  set(CMAKE_FIND_ROOT_PATH /usr/${triplet} /usr/lib/${triplet})
  set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

  # pkg-config must read the target's .pc files, not the host's.
  set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${triplet}/pkgconfig:/usr/share/pkgconfig)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} /)

  # The dynamic loader and libraries are the multiarch ones.
  set(CMAKE_CROSSCOMPILING_EMULATOR ${qemu};-L;/usr/${triplet})
endmacro()
