// SHA-256 as lowercase hex, one-shot or incremental: the digest the relay's
// parts write in more than one place (S3 payload hashes and object
// checksums, token hashes, ETags). Part of tern::base_crypto, which links
// OpenSSL's libcrypto and exists only where OpenSSL was found.
//
// Thread-safety: sha256_hex may be called from any thread; a Sha256 object
// belongs to one thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tern::base {

// The SHA-256 of `data`: 64 lowercase hex digits.
std::string sha256_hex(std::string_view data);

// The SHA-256 of data given in pieces. Any step returns false when OpenSSL
// fails (no memory); the object is then of no further use.
class Sha256 {
 public:
  Sha256();  // starts the digest; ok() says whether that worked
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  bool ok() const { return ctx_ != nullptr; }
  bool update(const void* data, std::size_t size);
  // The digest of everything given to update(), as 64 lowercase hex digits
  // in `*hex`. Ends the digest: update() and finish() fail after it.
  bool finish(std::string* hex);

 private:
  void* ctx_ = nullptr;  // an EVP_MD_CTX
};

}  // namespace tern::base
