// The moto servers the ctest fixtures s3_moto and s3_moto_auth start (see
// CMakeLists.txt): where a test finds each one's endpoint and credentials.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "aws_credentials.h"

namespace tern::relay::s3::moto_env {

// A small file's text without its trailing newline; "" when unreadable.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

// One of the fixture's servers: its endpoint and the credentials it left.
struct Moto {
  std::string dir;
  std::string endpoint;
  Credentials key;  // long-term (a dummy one without --auth)

  static Moto from_env(const char* var) {
    Moto m;
    const char* dir = std::getenv(var);
    if (dir == nullptr) return m;
    m.dir = dir;
    m.endpoint = read_file(m.dir + "/endpoint");
    m.key.access_key_id = read_file(m.dir + "/access_key_id");
    m.key.secret_access_key = read_file(m.dir + "/secret_access_key");
    return m;
  }
};

}  // namespace tern::relay::s3::moto_env
