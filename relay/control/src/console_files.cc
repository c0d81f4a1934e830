// The console's files (admin_console.h): relay/console/ compiled in by CMake
// (console_data.cc, generated), served with the headers that keep the page to
// its own origin.
#include <cstddef>
#include <string>
#include <string_view>

#include "admin_console.h"

namespace tern::relay::control {

struct ConsoleFileData {
  const char* name;
  const unsigned char* data;
  std::size_t size;
  const char* etag;
};
extern const ConsoleFileData kConsoleFiles[];
extern const std::size_t kConsoleFileCount;

namespace {

// Only the page's own origin: no inline script or style, no other host, no
// framing, and forms and <base> disabled (the page uses fetch()).
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'";

std::string content_type_of(std::string_view name) {
  auto ends_with = [&](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  if (ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

const ConsoleFileData* find_file(std::string_view name) {
  for (std::size_t i = 0; i < kConsoleFileCount; ++i) {
    if (name == kConsoleFiles[i].name) return &kConsoleFiles[i];
  }
  return nullptr;
}

}  // namespace

std::optional<HttpResponse> console_file(std::string_view path) {
  std::string_view name;
  if (path == "/" || path == "/index.html") {
    name = "index.html";
  } else if (path.substr(0, 9) == "/console/") {
    name = path.substr(9);
    if (name.empty() || name.find('/') != std::string_view::npos) return std::nullopt;
  } else {
    return std::nullopt;
  }
  const ConsoleFileData* file = find_file(name);
  if (file == nullptr) return std::nullopt;
  HttpResponse r;
  r.status = 200;
  r.content_type = content_type_of(name);
  r.body.assign(reinterpret_cast<const char*>(file->data), file->size);
  r.headers = {
      {"Content-Security-Policy", kContentSecurityPolicy},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cache-Control", "no-cache"},
      {"ETag", file->etag},
  };
  return r;
}

}  // namespace tern::relay::control
