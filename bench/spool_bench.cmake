# spool_bench: segment files + CRC32 vs SQLite WAL for the relay spool (see
# the comment at the top of spool_bench.cc). Included from bench/CMakeLists.txt.
if(TERN_BUILD_RELAY)
  find_package(SQLite3 REQUIRED)
  find_package(ZLIB REQUIRED)
  add_executable(spool_bench ${CMAKE_CURRENT_LIST_DIR}/spool_bench.cc)
  target_link_libraries(spool_bench PRIVATE tern::relay_core SQLite::SQLite3 ZLIB::ZLIB tern_warnings)
endif()
