# Satisfies sdk/'s find_package(CURL) with the libcurl built by ../CMakeLists.txt.
if(TARGET CURL::libcurl)
  set(CURL_FOUND TRUE)
else()
  include(${CMAKE_ROOT}/Modules/FindCURL.cmake)
endif()
