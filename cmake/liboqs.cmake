# The ML-KEM-768 provider (L2S_MLKEM_PROVIDER), included by CMakeLists.txt.
#
#   fips203  the project's own code (csrc/crypto/mlkem), nothing else linked
#   liboqs   liboqs, always; configuring fails when no usable liboqs is found
#   auto     liboqs linked when a usable one is found, but used at run time
#            only where its SIMD code runs (kem_liboqs.c says when): without
#            it liboqs is slower than the own code. Else the own code.
#
# "Usable": liboqs 0.13 or later built with ML-KEM-768 and its deterministic
# encapsulation (OQS_KEM_ml_kem_768_encaps_derand), and a program that calls
# it links with the flags we would use. Sets L2S_USE_LIBOQS, L2S_LIBOQS_FORCED
# L2S_LIBOQS_LDFLAGS (for l2s-link.txt) and the interface target l2s_liboqs.
set(_l2s_providers auto liboqs fips203)
set_property(CACHE L2S_MLKEM_PROVIDER PROPERTY STRINGS ${_l2s_providers})
if(NOT L2S_MLKEM_PROVIDER IN_LIST _l2s_providers)
  message(FATAL_ERROR "L2S_MLKEM_PROVIDER=${L2S_MLKEM_PROVIDER}: not a provider; "
          "use one of: auto, liboqs, fips203")
endif()

# pkg_check_modules keeps a success in the cache and never looks again, so
# a build directory would keep a liboqs that has since gone (or a provider
# setting that has since changed): forget it and look each time.
unset(__pkg_config_checked_LIBOQS CACHE)
unset(LIBOQS_FOUND CACHE)

set(L2S_USE_LIBOQS OFF)
set(L2S_LIBOQS_FORCED OFF)
set(L2S_LIBOQS_LDFLAGS "")
set(_l2s_oqs_why "")
if(NOT L2S_MLKEM_PROVIDER STREQUAL "fips203")
  pkg_check_modules(LIBOQS QUIET liboqs)
  if(NOT LIBOQS_FOUND)
    set(_l2s_oqs_why "pkg-config finds no liboqs")
  elseif(LIBOQS_VERSION VERSION_LESS 0.13)
    set(_l2s_oqs_why "liboqs ${LIBOQS_VERSION} is older than 0.13")
  else()
    # A static liboqs lists its own dependencies (OpenSSL's libcrypto, when
    # built with it) in Requires.private, which only `pkg-config --static`
    # reports: link a static one with those flags.
    set(_l2s_oqs_ldflags ${LIBOQS_LDFLAGS})
    set(_l2s_oqs_static OFF)
    if(NOT LIBOQS_LINK_LIBRARIES MATCHES "\\.so" AND LIBOQS_LINK_LIBRARIES MATCHES "\\.a(;|$)")
      set(_l2s_oqs_ldflags ${LIBOQS_STATIC_LDFLAGS})
      set(_l2s_oqs_static ON)
    endif()
    include(CheckCSourceCompiles)
    set(CMAKE_REQUIRED_INCLUDES ${LIBOQS_INCLUDE_DIRS})
    set(CMAKE_REQUIRED_LIBRARIES ${_l2s_oqs_ldflags})
    set(CMAKE_REQUIRED_QUIET ON)
    # The result is keyed to what was found, so a different liboqs is checked anew.
    string(MAKE_C_IDENTIFIER "L2S_LIBOQS_OK_${LIBOQS_VERSION}_${LIBOQS_LIBDIR}_${_l2s_oqs_static}" _l2s_oqs_var)
    check_c_source_compiles([[
      #include <oqs/oqs.h>
      #if !defined(OQS_ENABLE_KEM_ml_kem_768) || !defined(OQS_KEM_ml_kem_768_length_encaps_seed)
      #error "no ML-KEM-768 with deterministic encapsulation"
      #endif
      int main(void)
      {
        static unsigned char ct[1088], ss[32], ek[1184], m[32];
        OQS_init();
        return OQS_KEM_ml_kem_768_encaps_derand(ct, ss, ek, m) == OQS_SUCCESS;
      }]] ${_l2s_oqs_var})
    unset(CMAKE_REQUIRED_INCLUDES)
    unset(CMAKE_REQUIRED_LIBRARIES)
    unset(CMAKE_REQUIRED_QUIET)
    if(${_l2s_oqs_var})
      set(L2S_USE_LIBOQS ON)
    else()
      string(CONCAT _l2s_oqs_why "liboqs ${LIBOQS_VERSION} (${LIBOQS_LIBDIR}) has no ML-KEM-768 with "
             "OQS_KEM_ml_kem_768_encaps_derand, or a program using it does not link")
    endif()
  endif()
  if(L2S_MLKEM_PROVIDER STREQUAL "liboqs")
    if(NOT L2S_USE_LIBOQS)
      message(FATAL_ERROR "L2S_MLKEM_PROVIDER=liboqs: ${_l2s_oqs_why}")
    endif()
    set(L2S_LIBOQS_FORCED ON)
  endif()
endif()

add_library(l2s_liboqs INTERFACE)
if(L2S_USE_LIBOQS)
  target_include_directories(l2s_liboqs INTERFACE ${LIBOQS_INCLUDE_DIRS})
  target_link_libraries(l2s_liboqs INTERFACE ${_l2s_oqs_ldflags})
  set(L2S_LIBOQS_LDFLAGS "${_l2s_oqs_ldflags}")
  target_compile_definitions(l2s_liboqs INTERFACE L2S_HAVE_LIBOQS=1
                             $<$<BOOL:${L2S_LIBOQS_FORCED}>:L2S_LIBOQS_FORCED=1>)
  if(_l2s_oqs_static)
    set(_l2s_oqs_kind "static")
  else()
    set(_l2s_oqs_kind "shared")
  endif()
  if(L2S_LIBOQS_FORCED)
    set(_l2s_oqs_use "always")
  else()
    set(_l2s_oqs_use "where its SIMD code runs, else fips203")
  endif()
  message(STATUS "l2sess ML-KEM-768 provider: liboqs ${LIBOQS_VERSION} (${_l2s_oqs_kind}, ${LIBOQS_LIBDIR}), ${_l2s_oqs_use}")
elseif(L2S_MLKEM_PROVIDER STREQUAL "auto")
  message(STATUS "l2sess ML-KEM-768 provider: fips203 (auto: ${_l2s_oqs_why})")
else()
  message(STATUS "l2sess ML-KEM-768 provider: fips203")
endif()
