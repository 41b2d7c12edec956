#pragma once

// The error vocabulary of every module: a Status says whether an operation worked
// and, if not, what kind of failure it was and a message for a human; Result<T> is a
// value or the Status that explains why there is none. Errors from libraries
// (RocksDB, librdkafka, simdjson, Beast) are converted to these in one place each.
// Both are plain values: copy them, return them, share them between threads.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tally {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,         // the thing asked for does not exist
    kInvalidArgument,  // the caller's input is wrong; retrying will not help
    kCorruption,       // stored data is not what this code wrote
    kIOError,          // the environment failed (disk, network)
    kUnavailable,      // not ready yet, or shutting down; retry later
    kBusy,             // a resource is held by someone else (a locked data dir)
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string message) { return {Code::kNotFound, std::move(message)}; }
  static Status InvalidArgument(std::string message) {
    return {Code::kInvalidArgument, std::move(message)};
  }
  static Status Corruption(std::string message) { return {Code::kCorruption, std::move(message)}; }
  static Status IOError(std::string message) { return {Code::kIOError, std::move(message)}; }
  static Status Unavailable(std::string message) {
    return {Code::kUnavailable, std::move(message)};
  }
  static Status Busy(std::string message) { return {Code::kBusy, std::move(message)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  const std::string& message() const { return message_; }

  // "OK", or the code's name, a colon and the message: "IO error: disk full".
  std::string ToString() const;

  // Says, greppably, that dropping this status is deliberate.
  void PermitUncheckedError() const {}

  friend bool operator==(const Status&, const Status&) = default;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// A T, or the non-OK Status that explains its absence. Member names follow
// std::expected (has_value, value, error), which C++20 does not have yet.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit, like expected
  Result(Status error) : state_(std::move(error)) {  // NOLINT
    assert(!std::get<Status>(state_).ok() && "a Result needs a value or an error");
  }

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; only when !has_value().
  const Status& error() const { return std::get<Status>(state_); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace tally
