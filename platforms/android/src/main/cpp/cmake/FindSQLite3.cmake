# Satisfies sdk/'s find_package(SQLite3) with the amalgamation target built by
# ../CMakeLists.txt; falls back to CMake's own module otherwise.
if(TARGET SQLite::SQLite3)
  set(SQLite3_FOUND TRUE)
  set(SQLite3_VERSION 3.42.0)
else()
  include(${CMAKE_ROOT}/Modules/FindSQLite3.cmake)
endif()
