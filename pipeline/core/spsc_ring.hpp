#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <type_traits>

namespace cvpipe {

// The part of an SpscRing that lives at the start of its shared-memory block; the slots follow it.
// No pointers: every process that maps the block sees the same ring at whatever address.
// Each index and each side's cached copy of the other side's index sits on its own cache line, so
// the producer and the consumer never write to a line the other one writes to.
struct SpscRingHeader {
  static constexpr std::size_t kCacheLine = 64;
  static constexpr std::uint64_t kMagic = 0x3130676e69725043;  // "CPring01" in little-endian bytes

  // Written once by SpscRing::create(); magic last, with release, so attach() sees a whole header.
  alignas(kCacheLine) std::atomic<std::uint64_t> magic;
  std::uint32_t capacity;
  std::uint32_t mask;
  // Next slot the consumer reads. Counts pops since creation; written by the consumer only.
  alignas(kCacheLine) std::atomic<std::uint64_t> head;
  // The consumer's last view of `tail`; read and written by the consumer only.
  alignas(kCacheLine) std::uint64_t tail_cache;
  // Next slot the producer writes. Counts pushes since creation; written by the producer only.
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;
  // The producer's last view of `head`; read and written by the producer only.
  alignas(kCacheLine) std::uint64_t head_cache;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::is_trivially_copyable_v<SpscRingHeader>);
static_assert(std::is_standard_layout_v<SpscRingHeader>);
static_assert(sizeof(SpscRingHeader) % SpscRingHeader::kCacheLine == 0);
static_assert(offsetof(SpscRingHeader, tail_cache) - offsetof(SpscRingHeader, head) >= 64);
static_assert(offsetof(SpscRingHeader, tail) - offsetof(SpscRingHeader, tail_cache) >= 64);
static_assert(offsetof(SpscRingHeader, head_cache) - offsetof(SpscRingHeader, tail) >= 64);

// SpscRing is a lock-free ring of uint32_t values (slot indices, never pixels) between exactly one
// producer and one consumer, which may be threads or processes sharing the memory (a MAP_SHARED
// mapping). In the style of folly's ProducerConsumerQueue and rigtorp's SPSCQueue: each side loads
// the other side's index with acquire and publishes its own with release, and only reloads the
// other side's index when its cached copy says the ring is full (producer) or empty (consumer).
//
// A view: it does not own the memory, which must outlive it and be 64-byte aligned. Copyable, as a
// view is. try_push() may be called by the producer only, try_pop() by the consumer only, each from
// one thread at a time; size_approx(), empty_approx() and capacity() by anyone. The ring never
// blocks, never allocates and never makes a system call; to wait, pair it with a Doorbell.
class SpscRing {
 public:
  // Bytes a ring of `capacity` slots needs. Throws std::invalid_argument unless capacity is a power
  // of two >= 2.
  static std::size_t bytes_for(std::uint32_t capacity) {
    check_capacity(capacity);
    return sizeof(SpscRingHeader) + std::size_t{capacity} * sizeof(std::uint32_t);
  }

  // Builds an empty ring in `mem` (bytes_for(capacity) bytes). Call before any other process
  // attaches; the creator may itself be the producer or the consumer.
  static SpscRing create(void* mem, std::uint32_t capacity) {
    check_capacity(capacity);
    check_alignment(mem);
    auto* h = ::new (mem) SpscRingHeader{};
    h->capacity = capacity;
    h->mask = capacity - 1;
    h->head.store(0, std::memory_order_relaxed);
    h->tail.store(0, std::memory_order_relaxed);
    h->tail_cache = 0;
    h->head_cache = 0;
    auto* slots = slots_of(h);
    for (std::uint32_t i = 0; i < capacity; ++i) slots[i] = 0;
    h->magic.store(SpscRingHeader::kMagic, std::memory_order_release);
    return SpscRing(h);
  }

  // A view of a ring another process (or this one) created in `mem`. Throws std::runtime_error if
  // the memory does not hold one ("spsc ring: bad magic", "spsc ring: bad capacity").
  static SpscRing attach(void* mem) {
    check_alignment(mem);
    auto* h = static_cast<SpscRingHeader*>(mem);
    if (h->magic.load(std::memory_order_acquire) != SpscRingHeader::kMagic) {
      throw std::runtime_error("spsc ring: bad magic");
    }
    const std::uint32_t c = h->capacity;
    if (c < 2 || (c & (c - 1)) != 0 || h->mask != c - 1) {
      throw std::runtime_error("spsc ring: bad capacity");
    }
    return SpscRing(h);
  }

  // Producer only. False when the ring is full.
  bool try_push(std::uint32_t v) noexcept {
    const std::uint64_t tail = h_->tail.load(std::memory_order_relaxed);
    if (tail - h_->head_cache == capacity_) {
      h_->head_cache = h_->head.load(std::memory_order_acquire);
      if (tail - h_->head_cache == capacity_) return false;
    }
    slots_[tail & mask_] = v;
    h_->tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. False when the ring is empty; `v` is then left as it was.
  bool try_pop(std::uint32_t& v) noexcept {
    const std::uint64_t head = h_->head.load(std::memory_order_relaxed);
    if (head == h_->tail_cache) {
      h_->tail_cache = h_->tail.load(std::memory_order_acquire);
      if (head == h_->tail_cache) return false;
    }
    v = slots_[head & mask_];
    h_->head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Values in the ring at some moment during the call; exact only when both sides are idle.
  std::uint32_t size_approx() const noexcept {
    const std::uint64_t head = h_->head.load(std::memory_order_acquire);
    const std::uint64_t tail = h_->tail.load(std::memory_order_acquire);
    // head was read first, so tail >= head; the difference can exceed capacity if both moved.
    const std::uint64_t n = tail - head;
    return n > capacity_ ? capacity_ : static_cast<std::uint32_t>(n);
  }
  bool empty_approx() const noexcept { return size_approx() == 0; }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  explicit SpscRing(SpscRingHeader* h) noexcept
      : h_(h), slots_(slots_of(h)), capacity_(h->capacity), mask_(h->mask) {}

  static std::uint32_t* slots_of(SpscRingHeader* h) noexcept {
    return reinterpret_cast<std::uint32_t*>(reinterpret_cast<unsigned char*>(h) +
                                            sizeof(SpscRingHeader));
  }
  static void check_capacity(std::uint32_t c) {
    if (c < 2 || (c & (c - 1)) != 0) {
      throw std::invalid_argument("spsc ring: capacity must be a power of two >= 2");
    }
  }
  static void check_alignment(void* mem) {
    if (mem == nullptr || reinterpret_cast<std::uintptr_t>(mem) % SpscRingHeader::kCacheLine != 0) {
      throw std::invalid_argument("spsc ring: memory must be 64-byte aligned");
    }
  }

  SpscRingHeader* h_;
  std::uint32_t* slots_;
  // Copies of the header's constants, so the hot path reads no shared line for them.
  std::uint32_t capacity_;
  std::uint32_t mask_;
};

}  // namespace cvpipe
