// Secrets, tokens and hashes of the state model (control_state.h): which sink
// keys are write-only, their fingerprints, and random values from a CSPRNG.
#include <openssl/rand.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "control_state.h"  // declares everything defined here
#include "tern/base/sha256.h"

namespace tern::relay::control {
namespace {

void redact_into(Json* object, const std::string& prefix) {
  for (auto& [key, value] : object->items()) {
    std::string path = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      redact_into(&value, path);
    } else if (is_secret_key(path) && !value.is_null()) {
      value = fingerprint(value.is_string() ? value.get<std::string>() : value.dump());
    }
  }
}

void keep_into(Json* incoming, const Json* stored, const std::string& prefix) {
  if (!stored || !stored->is_object()) return;
  for (auto& [key, value] : incoming->items()) {
    std::string path = prefix.empty() ? key : prefix + "." + key;
    auto old = stored->find(key);
    if (old == stored->end()) continue;
    if (value.is_object()) {
      keep_into(&value, &*old, path);
    } else if (is_secret_key(path) && value.is_string() && !old->is_object() && !old->is_null()) {
      std::string clear = old->is_string() ? old->get<std::string>() : old->dump();
      if (value.get<std::string>() == fingerprint(clear)) value = *old;
    }
  }
}

bool read_urandom(unsigned char* buf, std::size_t n) {
  std::FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f) return false;
  bool ok = std::fread(buf, 1, n, f) == n;
  std::fclose(f);
  return ok;
}

}  // namespace

bool is_secret_key(std::string_view key) {
  if (key.substr(0, 8) == "headers.") return true;
  auto dot = key.rfind('.');
  std::string last(dot == std::string_view::npos ? key : key.substr(dot + 1));
  for (char& c : last) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return last == "password" || last == "secret" || last == "secret_key" ||
         last == "secret_access_key" || last == "session_token" || last == "token" ||
         last == "api_key";
}

std::string fingerprint(std::string_view secret) {
  return "sha256:" + sha256_hex(secret).substr(0, 12);
}

Json redact_sink(const Json& sink) {
  Json out = sink;
  if (out.is_object()) redact_into(&out, "");
  return out;
}

void keep_fingerprinted_secrets(Json* incoming, const Json* stored) {
  if (incoming && incoming->is_object()) keep_into(incoming, stored, "");
}

std::string random_secret(std::string_view prefix) {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string out(prefix);
  unsigned char buf[64];
  while (out.size() < prefix.size() + 32) {
    if (RAND_bytes(buf, sizeof buf) != 1 && !read_urandom(buf, sizeof buf)) {
      std::abort();  // no CSPRNG at all: never hand out a guessable key
    }
    for (unsigned char b : buf) {
      // 248 = 4 × 62: dropping the rest keeps every character equally likely.
      if (b < 248 && out.size() < prefix.size() + 32) out += kAlphabet[b % 62];
    }
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return base::sha256_hex(data); }

}  // namespace tern::relay::control
