# relay_bench: the relay rows (R1, R2, R3, R5) of the performance table in
# docs/architecture.md, each with its same-run baseline and ratio, ending with one JSON line
# (see the comment at the top of relay_bench.cc). `loadgen` is the HTTP/1.1
# load generator it uses, also usable on its own. Included from
# bench/CMakeLists.txt. Programs, not tests: deliberately not registered with ctest.
if(TERN_BUILD_RELAY)
  find_package(ZLIB REQUIRED)
  find_package(simdjson REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED)

  # Plain sockets + epoll (no Beast), so it compiles in seconds.
  add_library(tern_loadgen STATIC ${CMAKE_CURRENT_LIST_DIR}/loadgen.cc)
  target_include_directories(tern_loadgen PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(tern_loadgen PUBLIC ZLIB::ZLIB PRIVATE tern_bench_util tern_warnings)

  add_executable(loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen_main.cc)
  target_link_libraries(loadgen PRIVATE tern_loadgen tern_warnings)

  add_executable(relay_bench ${CMAKE_CURRENT_LIST_DIR}/relay_bench.cc)
  target_link_libraries(relay_bench PRIVATE
    tern_loadgen tern_bench_util simdjson::simdjson ZLIB::ZLIB nlohmann_json::nlohmann_json Threads::Threads tern_warnings)
  # The relay under test is the tern-relay of the same build (--relay overrides).
  if(TARGET tern-relay)
    add_dependencies(relay_bench tern-relay)
    target_compile_definitions(relay_bench PRIVATE TERN_BENCH_RELAY="$<TARGET_FILE:tern-relay>")
  endif()
endif()
