// Status and Result<T>: how every fallible Tern call reports its outcome, in
// the SDK and in the relay alike.
//
// Contract: no public Tern C++ API throws. Calls that can fail return a Status
// (or a Result<T> holding either a value or a non-ok Status). Both are cheap to
// move and [[nodiscard]], so an ignored failure is a compiler warning.
//
// The codes say what kind of failure it was, not which part of Tern failed
// (modelled on leveldb's and absl's): the message says the rest. Each half
// documents which codes its calls return; the C API maps them onto its own
// fixed tern_status numbers with an explicit table (bindings/c/src/tern_c.cc),
// so these numbers are not an ABI.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tern {

enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,    // bad input from the caller: empty name, bad JSON, bad UTF-8
  kOutOfRange = 2,         // a size or value above its limit (an event over max_event_bytes)
  kResourceExhausted = 3,  // a bounded queue or quota is full; the item was not taken
  kIOError = 4,            // the file system or database failed: disk full, read-only, EIO
  kFailedPrecondition =
      5,                  // not in a state that allows the call (a file locked by another process)
  kCorruption = 6,        // stored data is damaged
  kTimeout = 7,           // did not finish within the deadline
  kCancelled = 8,         // refused or cut short because the owner is shutting down
  kPermissionDenied = 9,  // not allowed: opted out, consent denied, refused by a policy
  kUnavailable = 10,      // a peer (server, sink, cluster) failed or is down; retry later
  kInternal = 11,         // a bug; the message says where
  kNotFound = 12,         // the named thing does not exist
  kAborted = 13,          // a concurrent change won (a stale revision); re-read and retry
};

// Static lower-case text ("invalid argument", "I/O error", ...).
const char* status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() noexcept { return Status(); }
  // Named factories, one per code: Status::NotFound("no cursor \"x\"").
  static Status InvalidArgument(std::string msg) {
    return {StatusCode::kInvalidArgument, std::move(msg)};
  }
  static Status OutOfRange(std::string msg) { return {StatusCode::kOutOfRange, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) {
    return {StatusCode::kResourceExhausted, std::move(msg)};
  }
  static Status IOError(std::string msg) { return {StatusCode::kIOError, std::move(msg)}; }
  static Status FailedPrecondition(std::string msg) {
    return {StatusCode::kFailedPrecondition, std::move(msg)};
  }
  static Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
  static Status Timeout(std::string msg) { return {StatusCode::kTimeout, std::move(msg)}; }
  static Status Cancelled(std::string msg) { return {StatusCode::kCancelled, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) {
    return {StatusCode::kPermissionDenied, std::move(msg)};
  }
  static Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
  static Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
  static Status Aborted(std::string msg) { return {StatusCode::kAborted, std::move(msg)}; }

  bool is_ok() const noexcept { return code_ == StatusCode::kOk; }
  explicit operator bool() const noexcept { return is_ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "kind: message", for logs.
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline bool operator==(const Status& a, StatusCode c) noexcept { return a.code() == c; }
inline bool operator!=(const Status& a, StatusCode c) noexcept { return a.code() != c; }

// Holds a T or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool is_ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return is_ok(); }

  // Precondition: is_ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  // Ok status when a value is held.
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tern
