# kafka_bench: R4, the Kafka sink's events/s against librdkafka's mock
# cluster vs the file sink's in the same run, through the same pipeline path
# (see the comment at the top of kafka_bench.cc). Included from
# bench/CMakeLists.txt. A program, not a test.
if(TERN_BUILD_RELAY AND TARGET tern_sink_kafka)
  if(NOT TARGET tern_kafka_mock)
    add_subdirectory(${PROJECT_SOURCE_DIR}/tests/support/kafka ${CMAKE_BINARY_DIR}/tests/support/kafka)
  endif()
  add_executable(kafka_bench ${CMAKE_CURRENT_LIST_DIR}/kafka_bench.cc)
  target_link_libraries(kafka_bench PRIVATE tern::relay_sinks tern_kafka_mock tern_bench_util tern_warnings)
endif()
