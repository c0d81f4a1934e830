// libcurl's process-wide setup (curl_global_init), done once per process
// whichever half of Tern gets there first. In tern::base_curl, so that
// linking tern::base alone never needs libcurl.
#pragma once

namespace tern::base {

// Calls curl_global_init(CURL_GLOBAL_DEFAULT) the first time; later calls
// return at once. Thread-safe. Call it before the first curl handle is made.
void curl_global_init_once();

}  // namespace tern::base
