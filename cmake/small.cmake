# TERN_SMALL: the small-footprint SDK for constrained devices (issue 8).
#
#   cmake -S . -B build/small -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DTERN_SMALL=ON
#   cmake --build build/small --target tern_c      # → bindings/c/libtern.so, stripped
#
# What it changes:
#   - only the SDK and its C API: no relay (and so none of its sinks), no JNI,
#     no benchmarks;
#   - -Os, link-time optimisation (when the compiler supports it), one section
#     per function/object and --gc-sections, so whatever the C API does not
#     reach is dropped, and a stripped libtern.so (-s at link).
# The SDK has no built-in plugins; a host adds its own through the C API.
# TERN_TRANSPORT=none (top-level CMakeLists.txt) also leaves libcurl out, for
# a device whose host brings its own HTTP stack. Tests still build (and run under qemu in
# scripts/cross-test.sh) unless TERN_BUILD_TESTS=OFF.
#
# Outside TERN_SMALL, a plain (non-sanitizer) build with benchmarks also
# defines the target tern_small: the same tree configured with TERN_SMALL in
# <build>/small, building only libtern.so. bench/sdk_bench prints its stripped
# size beside the default build's (JSON key lib_bytes_small).
option(TERN_SMALL "Small-footprint SDK + C API for constrained devices (-Os, LTO, gc-sections, stripped)" OFF)

if(TERN_SMALL)
  set(TERN_BUILD_RELAY OFF CACHE BOOL "Build the relay (Boost.Beast, simdjson, toml++)" FORCE)
  set(TERN_BUILD_JNI OFF CACHE BOOL "Build the JNI binding (needs a JDK)" FORCE)
  set(TERN_BUILD_BENCH OFF CACHE BOOL "Build the benchmarks" FORCE)

  # After the build type's -O2/-O3, so it wins.
  add_compile_options(-Os -ffunction-sections -fdata-sections)
  add_link_options(-Wl,--gc-sections -Wl,-O1 -s)

  include(CheckIPOSupported)
  check_ipo_supported(RESULT _tern_ipo OUTPUT _tern_ipo_why LANGUAGES C CXX)
  if(_tern_ipo)
    set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
    # Archives of LTO objects need the plugin-aware ar/ranlib.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_AR)
      set(CMAKE_AR ${CMAKE_CXX_COMPILER_AR})
      set(CMAKE_RANLIB ${CMAKE_CXX_COMPILER_RANLIB})
    endif()
  else()
    message(STATUS "TERN_SMALL: no link-time optimisation (${_tern_ipo_why})")
  endif()
  return()
endif()

# tern_small for bench/sdk_bench (S8): sanitizer builds are left out, their
# sizes mean nothing and CI (an Asan tree) should not pay for a second build.
string(TOLOWER "${CMAKE_BUILD_TYPE}" _tern_bt)
if(TERN_BUILD_BENCH AND NOT _tern_bt MATCHES "^(asan|tsan)$" AND NOT CMAKE_CROSSCOMPILING)
  include(ExternalProject)
  set(TERN_SMALL_BINARY_DIR ${PROJECT_BINARY_DIR}/small)
  set(TERN_SMALL_LIBTERN ${TERN_SMALL_BINARY_DIR}/bindings/c/libtern.so)
  ExternalProject_Add(tern_small
    SOURCE_DIR ${PROJECT_SOURCE_DIR}
    BINARY_DIR ${TERN_SMALL_BINARY_DIR}
    CMAKE_GENERATOR ${CMAKE_GENERATOR}
    CMAKE_ARGS -DCMAKE_BUILD_TYPE=MinSizeRel -DTERN_SMALL=ON -DTERN_BUILD_TESTS=OFF
               -DTERN_WERROR=${TERN_WERROR} -DTERN_TRANSPORT=${TERN_TRANSPORT}
               -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    BUILD_COMMAND ${CMAKE_COMMAND} --build <BINARY_DIR> --target tern_c
    BUILD_ALWAYS ON
    BUILD_BYPRODUCTS ${TERN_SMALL_LIBTERN}
    INSTALL_COMMAND ""
    EXCLUDE_FROM_ALL ON)
endif()
