#pragma once
// Status: the result of a per-frame operation. The per-frame path never throws across a thread or a
// process; it returns a Status instead (leveldb's include/leveldb/status.h). An ok Status allocates
// nothing; an error carries a message.
#include <string>
#include <utility>

namespace cvpipe {

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message), true); }

  bool is_ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return !failed_; }
  const std::string& message() const noexcept { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}
  std::string message_;
  bool failed_ = false;
};

}  // namespace cvpipe
