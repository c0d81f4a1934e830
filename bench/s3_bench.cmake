# s3_bench: the s3 sink's events/s and relay CPU per event against moto's S3
# server (started by the bench from the project's .venv, on the other CPU) vs
# the file sink with gzip at the same level, in the same run, through the same
# pipeline path (see the comment at the top of s3_bench.cc). Included from
# bench/CMakeLists.txt. A program, not a test.
if(TERN_BUILD_RELAY AND TARGET tern_sink_s3)
  find_package(CURL REQUIRED)
  add_executable(s3_bench ${CMAKE_CURRENT_LIST_DIR}/s3_bench.cc)
  target_link_libraries(s3_bench PRIVATE tern::relay_sinks tern_bench_util CURL::libcurl tern_warnings)
  target_compile_definitions(s3_bench PRIVATE TERN_BENCH_PYTHON="${PROJECT_SOURCE_DIR}/.venv/bin/python")
endif()
