#include "tern/base/curl_global.h"

#include <curl/curl.h>

#include <mutex>

namespace tern::base {

void curl_global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { (void)curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace tern::base
