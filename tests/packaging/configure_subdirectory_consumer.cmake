# cmake -P script run by ctest: configures tests/packaging/subdirectory in a
# fresh binary directory and fails (with the configure output) if it does not.
file(REMOVE_RECURSE ${CONSUMER_BINARY_DIR})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${CONSUMER_BINARY_DIR}
          -G ${CONSUMER_GENERATOR}
          -DCMAKE_C_COMPILER=${CONSUMER_C_COMPILER} -DCMAKE_CXX_COMPILER=${CONSUMER_CXX_COMPILER}
          -DTERN_SOURCE_DIR=${TERN_SOURCE_DIR} -DTERN_TRANSPORT=${TERN_TRANSPORT}
  RESULT_VARIABLE result
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "configuring a project that does add_subdirectory(tern) failed:\n${out}")
endif()
message(STATUS "${out}")
