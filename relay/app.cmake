# tern-relay: the relay program (relay/main.cc wires config to objects).
add_executable(tern-relay ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_link_libraries(tern-relay PRIVATE
  tern::relay_admin tern::relay_fleet tern::relay_applier tern::relay_server tern::relay_sinks
  tern::relay_core tern_warnings)
# Component "relay": the tern-relay package (cmake/packaging.cmake).
install(TARGETS tern-relay RUNTIME DESTINATION bin COMPONENT relay)
