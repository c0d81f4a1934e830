// ByteReader: splits a fuzzer input into choices and strings (a small
// stand-in for libFuzzer's FuzzedDataProvider that also builds with GCC, so
// the corpus replays as a regression test in every build).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tern::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, std::size_t size) : p_(data), n_(size) {}

  // A value in [0, count); 0 when the input is exhausted.
  std::size_t choose(std::size_t count) {
    if (count <= 1 || n_ == 0) return 0;
    uint8_t b = *p_++;
    --n_;
    return b % count;
  }
  bool flag() { return choose(2) == 1; }
  // A string of up to `max` bytes, its length taken from one input byte.
  std::string string(std::size_t max) {
    std::size_t len = choose(max + 1);
    if (len > n_) len = n_;
    std::string s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(p_), n_);
    p_ += n_;
    n_ = 0;
    return s;
  }

 private:
  const uint8_t* p_;
  std::size_t n_;
};

}  // namespace tern::fuzz
