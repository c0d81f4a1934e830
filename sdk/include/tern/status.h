// Status and Result<T>: how every fallible Tern call reports its outcome.
//
// Contract: no public Tern C++ API throws. Calls that can fail return a Status
// (or a Result<T> holding either a value or a non-ok Status). Both are cheap to
// move and [[nodiscard]], so an ignored failure is a compiler warning.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace tern {

// Stable codes. The C API maps them one-to-one onto tern_status values, so
// never renumber or reuse one; add new codes at the end.
enum class StatusCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // bad input from the caller: empty name, bad JSON, bad UTF-8
  kTooLarge = 2,         // an event above Config::max_event_bytes
  kQueueFull = 3,        // the in-memory hand-off queue is full; the event was dropped
  kStorage = 4,          // SQLite failed: disk full, read-only, I/O error
  kLocked = 5,           // another process owns the database file
  kCorrupt = 6,          // the database was corrupt (it was moved aside)
  kTimeout = 7,          // flush/shutdown did not finish within the deadline
  kShutdown = 8,         // the client is shut down
  kDisabled = 9,         // opt-out or consent denied: the event was not recorded
  kTransport = 10,       // the upload failed (network error or HTTP status)
  kInternal = 11,        // a bug; the message says where
  kNotFound = 12,
  kUnavailable = 13,     // a dependency (server, sink) is down; retry later
};

const char* status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() noexcept { return Status(); }

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
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
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
