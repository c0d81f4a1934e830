#include "tern/context_provider.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tern/base/json_text.h"
#include "text.h"

namespace tern {
namespace {

void add_field(std::string& out, const char* key, const std::string& value) {
  if (value.empty() || !is_valid_utf8(value)) return;
  if (out.size() > 1) out += ',';
  base::append_json_string(out, key);
  out += ':';
  base::append_json_string(out, value);
}

std::string system_timezone() {
  if (const char* tz = std::getenv("TZ"); tz && *tz) return *tz == ':' ? tz + 1 : tz;
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/etc/localtime", buf, sizeof(buf) - 1);
  if (n > 0) {
    std::string target(buf, static_cast<std::size_t>(n));
    auto pos = target.find("zoneinfo/");
    if (pos != std::string::npos) return target.substr(pos + 9);
  }
  std::ifstream f("/etc/timezone");
  std::string line;
  if (f && std::getline(f, line)) return line;
  return {};
}

std::string system_locale() {
  for (const char* var : {"LC_ALL", "LC_MESSAGES", "LANG"}) {
    const char* v = std::getenv(var);
    if (v && *v && std::string(v) != "C" && std::string(v) != "POSIX") {
      std::string s(v);
      auto dot = s.find('.');
      if (dot != std::string::npos) s.resize(dot);
      for (char& c : s) {
        if (c == '_') c = '-';
      }
      return s;
    }
  }
  return {};
}

class SystemContextProvider final : public ContextProvider {
 public:
  std::string context_json() override {
    std::string out = "{";
    struct utsname u {};
    if (::uname(&u) == 0) {
      std::string os = "{";
      add_field(os, "name", u.sysname);
      add_field(os, "version", u.release);
      os += '}';
      out += "\"os\":" + os;
      std::string device = "{";
      add_field(device, "type", "desktop");
      add_field(device, "model", u.machine);
      device += '}';
      out += ",\"device\":" + device;
    }
    add_field(out, "locale", system_locale());
    add_field(out, "timezone", system_timezone());
    out += '}';
    return out;
  }
};

}  // namespace

std::shared_ptr<ContextProvider> make_system_context_provider() {
  return std::make_shared<SystemContextProvider>();
}

}  // namespace tern
