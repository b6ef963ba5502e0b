#pragma once
// ReorderBuffer<T>: puts items that arrive out of order back in sequence order. Bounded: it holds
// at most `capacity` items, indexed by seq modulo capacity, so an item may only be inserted while
// its seq is within `capacity` of the next one to release (the pipeline guarantees this: every
// frame in flight holds one of `capacity` slots until the writer releases it).
//
// One thread (the writer). Allocates only in the constructor.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cvpipe {

template <class T>
class ReorderBuffer {
 public:
  explicit ReorderBuffer(std::size_t capacity, std::uint64_t first_seq = 0)
      : items_(capacity), next_(first_seq) {
    if (capacity == 0) throw std::invalid_argument("reorder buffer: capacity 0");
  }

  // Stores `item` for `seq`. Throws std::logic_error for a seq already released, already held,
  // or too far ahead: each is a broken invariant of the pipeline.
  void insert(std::uint64_t seq, T item) {
    if (seq < next_ || seq - next_ >= items_.size())
      throw std::logic_error("reorder buffer: seq " + std::to_string(seq) + " outside [" + std::to_string(next_) +
                             ", " + std::to_string(next_ + items_.size()) + ")");
    auto& cell = items_[seq % items_.size()];
    if (cell) throw std::logic_error("reorder buffer: seq " + std::to_string(seq) + " given twice");
    cell = std::move(item);
    ++held_;
  }

  // The item for the next seq, if it has arrived; advances past it.
  std::optional<T> pop_next() {
    auto& cell = items_[next_ % items_.size()];
    if (!cell) return std::nullopt;
    std::optional<T> out = std::move(cell);
    cell.reset();
    ++next_;
    --held_;
    return out;
  }

  std::uint64_t next_seq() const noexcept { return next_; }
  std::size_t size() const noexcept { return held_; }
  std::size_t capacity() const noexcept { return items_.size(); }

 private:
  std::vector<std::optional<T>> items_;
  std::uint64_t next_;
  std::size_t held_ = 0;
};

}  // namespace cvpipe
