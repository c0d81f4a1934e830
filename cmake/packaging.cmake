# Install layout and Debian packages (issue 8), included last by the
# top-level CMakeLists.txt:
#
#   tern-relay    the relay program, its systemd unit, /etc/tern/relay.toml,
#                 the man page; creates the system user tern-relay.
#   libtern-dev   the SDK as apps link it: libtern.so (the C API), tern/tern.h,
#                 the CMake package (find_package(tern) → tern::c) and tern.pc.
#
# Build them from a plain (non-sanitizer) tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr, then run `cpack` in it (scripts/package-test.sh
# does this and checks the result). Install components: "relay", "sdk".
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(_tern_pkg_dir ${PROJECT_SOURCE_DIR}/platforms/linux)
set(_tern_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/tern)

# ---------------------------------------------------------------- SDK
if(TARGET tern_c)
  # Consumers write tern::c, the same name as inside this build.
  set_target_properties(tern_c PROPERTIES EXPORT_NAME c)
  install(EXPORT ternTargets NAMESPACE tern:: DESTINATION ${_tern_cmake_dir} COMPONENT sdk)
  configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/ternConfig.cmake.in
    ${PROJECT_BINARY_DIR}/packaging/ternConfig.cmake
    INSTALL_DESTINATION ${_tern_cmake_dir})
  # 0.x: only the same minor version is compatible.
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/packaging/ternConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/ternConfig.cmake
                ${PROJECT_BINARY_DIR}/packaging/ternConfigVersion.cmake
          DESTINATION ${_tern_cmake_dir} COMPONENT sdk)

  # tern.pc: paths relative to ${prefix} where possible, so that
  # PKG_CONFIG_SYSROOT_DIR and a moved tree keep working.
  set(TERN_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
  foreach(kind LIBDIR INCLUDEDIR)
    if(IS_ABSOLUTE "${CMAKE_INSTALL_${kind}}")
      set(TERN_PC_${kind} "${CMAKE_INSTALL_${kind}}")
    else()
      set(TERN_PC_${kind} "\${prefix}/${CMAKE_INSTALL_${kind}}")
    endif()
  endforeach()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/tern.pc.in ${PROJECT_BINARY_DIR}/packaging/tern.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/packaging/tern.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)
endif()

# ---------------------------------------------------------------- relay service
if(TARGET tern-relay)
  # systemd looks in /usr/lib/systemd/system as well as /lib/systemd/system.
  install(FILES ${_tern_pkg_dir}/tern-relay.service
          DESTINATION lib/systemd/system COMPONENT relay)
  install(FILES ${_tern_pkg_dir}/tern-relay.sysusers
          DESTINATION lib/sysusers.d RENAME tern-relay.conf COMPONENT relay)
  install(FILES ${_tern_pkg_dir}/relay.toml DESTINATION /etc/tern COMPONENT relay)
  install(FILES ${_tern_pkg_dir}/tern-relay.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT relay)
  install(FILES ${PROJECT_SOURCE_DIR}/relay/tern-relay.example.toml
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/tern-relay/examples COMPONENT relay)
endif()

# ---------------------------------------------------------------- CPack (DEB)
set(CPACK_PACKAGE_NAME tern)
set(CPACK_PACKAGE_VENDOR "Tern")
set(CPACK_PACKAGE_CONTACT "Tern maintainers <maintainers@tern.invalid>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Tern event pipeline")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)

set(CPACK_COMPONENTS_ALL)
if(TARGET tern_c)
  list(APPEND CPACK_COMPONENTS_ALL sdk)
  set(CPACK_DEBIAN_SDK_PACKAGE_NAME libtern-dev)
  set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
  # First line: the synopsis; the rest: the long description.
  set(CPACK_DEBIAN_SDK_DESCRIPTION
    "Tern SDK: record events on-device and upload them with retry
libtern.so (the C API, tern/tern.h), the CMake package (find_package(tern),
target tern::c) and the pkg-config file tern.pc. Events are buffered in
SQLite, batched, gzipped and uploaded to a Segment-compatible endpoint
such as tern-relay.")
endif()
if(TARGET tern-relay)
  list(APPEND CPACK_COMPONENTS_ALL relay)
  set(CPACK_DEBIAN_RELAY_PACKAGE_NAME tern-relay)
  set(CPACK_DEBIAN_RELAY_PACKAGE_SECTION net)
  set(CPACK_DEBIAN_RELAY_PACKAGE_DEPENDS "adduser")
  set(CPACK_DEBIAN_RELAY_DESCRIPTION
    "Tern relay: receives Segment-compatible event batches, fans them out
Accepts batches from the Tern SDK and any Segment-compatible client,
spools them durably and delivers them to sinks (Kafka, HTTP, files,
PostgreSQL). Runs as the systemd service tern-relay, configured by
/etc/tern/relay.toml.")
  set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_EXTRA
    ${_tern_pkg_dir}/debian/conffiles
    ${_tern_pkg_dir}/debian/postinst
    ${_tern_pkg_dir}/debian/prerm
    ${_tern_pkg_dir}/debian/postrm)
  set(CPACK_DEBIAN_RELAY_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endif()

if(CPACK_COMPONENTS_ALL)
  include(CPack)
endif()
