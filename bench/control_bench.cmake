# control_bench: the control plane's figures — commit-to-applied propagation
# to two edge relays against an HTTP round trip + fsync, and ingest events/s
# while the config changes ten times a second against no changes (see the
# comment at the top of control_bench.cc). Runs tern-relay as child processes
# through the tests' ChildProcess (plain POSIX, compiled in here so the bench
# builds without the tests). Included from bench/CMakeLists.txt. A program,
# not a test.
if(TERN_BUILD_RELAY AND TARGET tern-relay)
  find_package(CURL REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED)
  add_executable(control_bench
    ${CMAKE_CURRENT_LIST_DIR}/control_bench.cc
    ${PROJECT_SOURCE_DIR}/tests/support/child_process.cc)
  target_include_directories(control_bench PRIVATE ${PROJECT_SOURCE_DIR}/tests/support)
  target_link_libraries(control_bench PRIVATE
    tern_loadgen tern_bench_util CURL::libcurl nlohmann_json::nlohmann_json Threads::Threads tern_warnings)
  add_dependencies(control_bench tern-relay)
  target_compile_definitions(control_bench PRIVATE TERN_BENCH_RELAY="$<TARGET_FILE:tern-relay>")
endif()
