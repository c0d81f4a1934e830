# sdk_bench: the SDK figures S1–S8 of the performance table in docs/architecture.md, each
# with its same-run baseline and ratio, ending with one JSON line (see the
# comment at the top of sdk_bench.cc). Included from bench/CMakeLists.txt.
# A program, not a test: it is deliberately not registered with ctest.
if(TARGET tern_sdk)
  find_package(SQLite3 REQUIRED)
  find_package(ZLIB REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED)
  add_executable(sdk_bench ${CMAKE_CURRENT_LIST_DIR}/sdk_bench.cc)
  target_link_libraries(sdk_bench PRIVATE
    tern::sdk tern_sdk_internal tern_bench_util SQLite::SQLite3 ZLIB::ZLIB nlohmann_json::nlohmann_json Threads::Threads
    tern_warnings)
  # S8 measures the C API's shared library (the SDK as apps ship it).
  if(TARGET tern_c)
    add_dependencies(sdk_bench tern_c)
    target_compile_definitions(sdk_bench PRIVATE TERN_BENCH_LIBTERN="$<TARGET_FILE:tern_c>")
  endif()
  # S8 also measures the TERN_SMALL build of libtern.so (cmake/small.cmake).
  if(TARGET tern_small)
    add_dependencies(sdk_bench tern_small)
    target_compile_definitions(sdk_bench PRIVATE TERN_BENCH_LIBTERN_SMALL="${TERN_SMALL_LIBTERN}")
  endif()
endif()
