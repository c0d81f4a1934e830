# Shared part of the Linux cross toolchains (toolchain-aarch64.cmake,
# toolchain-armhf.cmake). The including file sets TERN_CROSS_TRIPLE and
# CMAKE_SYSTEM_PROCESSOR.
#
# Compilers: Debian's cross packages (g++-<triple>), whose C/C++ runtime lives
# in /usr/<triple>. Target libraries (SQLite, libcurl, zlib, GoogleTest) come
# from a sysroot of Debian's <arch> packages that scripts/cross-test.sh
# unpacks; pass it as -DTERN_CROSS_SYSROOT=DIR (or $TERN_CROSS_SYSROOT).
# Programs run under qemu-user through platforms/iot/qemu-run.sh, which is
# the CMAKE_CROSSCOMPILING_EMULATOR: ctest and gtest_discover_tests use it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${TERN_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${TERN_CROSS_TRIPLE}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${TERN_CROSS_TRIPLE})

if(NOT TERN_CROSS_SYSROOT AND DEFINED ENV{TERN_CROSS_SYSROOT})
  set(TERN_CROSS_SYSROOT $ENV{TERN_CROSS_SYSROOT})
endif()
if(NOT TERN_CROSS_SYSROOT)
  message(FATAL_ERROR "cross build: set TERN_CROSS_SYSROOT to the unpacked ${TERN_CROSS_TRIPLE} "
                      "packages (scripts/cross-test.sh makes it)")
endif()
# Try-compiles see the same sysroot: source-file checks through the variable,
# whole-project ones (check_ipo_supported) through the environment.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TERN_CROSS_SYSROOT)
set(ENV{TERN_CROSS_SYSROOT} "${TERN_CROSS_SYSROOT}")

set(CMAKE_FIND_ROOT_PATH /usr/${TERN_CROSS_TRIPLE} ${TERN_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# nlohmann/json is header-only and architecture-independent: the host's copy.
if(EXISTS /usr/share/cmake/nlohmann_json/nlohmann_jsonConfig.cmake)
  set(nlohmann_json_DIR /usr/share/cmake/nlohmann_json CACHE PATH "")
endif()

# libcurl's own dependencies (OpenSSL, nghttp2, ...) are resolved at link time
# from the sysroot (Debian keeps libraries in both /lib and /usr/lib).
set(_tern_rpath_link
  "-Wl,-rpath-link,${TERN_CROSS_SYSROOT}/usr/lib/${TERN_CROSS_TRIPLE}:${TERN_CROSS_SYSROOT}/lib/${TERN_CROSS_TRIPLE}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_tern_rpath_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_tern_rpath_link}")

set(CMAKE_CROSSCOMPILING_EMULATOR
  ${CMAKE_CURRENT_LIST_DIR}/qemu-run.sh ${TERN_CROSS_TRIPLE} ${TERN_CROSS_SYSROOT})
