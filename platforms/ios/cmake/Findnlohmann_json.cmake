# Satisfies sdk/'s find_package(nlohmann_json 3.11) with the fetched 3.11.2.
if(TARGET nlohmann_json::nlohmann_json)
  set(nlohmann_json_FOUND TRUE)
  set(nlohmann_json_VERSION 3.11.2)
else()
  find_package(nlohmann_json CONFIG)
endif()
