#pragma once
// How the daemon's threads hand frames to each other inside the daemon process. Only slot indices
// move; pixels stay in the shared segment.
//   capture -> router   captured slots (a moodycamel queue, and the router's doorbell)
//   router  -> writer   finished slots, to write or drop (Writer::deliver)
//   writer  -> capture  free slots (SlotQueue)
// moodycamel's queues are for threads of one process (they allocate); between processes the
// segment's rings carry the indices (segment.hpp).
#include <blockingconcurrentqueue.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace cvpipe {

using SlotQueue = moodycamel::BlockingConcurrentQueue<std::uint32_t>;

// By slot: the position of its frame among those that entered the pipeline, which the writer
// restores. Kept in the daemon, not in shared memory, so that no worker can disturb the order.
// Written by capture, read by the writer after the slot has passed through the queues between them.
using SlotOrder = std::vector<std::uint64_t>;

// Set once the writer has had the first frame (written or dropped). Until then capture reads a
// source with no clock no further, so that the first frame is alone in the pipeline.
class FirstFrameOut {
 public:
  void set() {
    {
      const std::lock_guard lock(mutex_);
      set_ = true;
    }
    cv_.notify_all();
  }
  bool wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return set_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool set_ = false;
};

}  // namespace cvpipe
