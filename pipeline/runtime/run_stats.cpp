#include "pipeline/runtime/run_stats.hpp"

#include <algorithm>
#include <cmath>

namespace cvpipe {

const char* drop_reason_name(DropReason r) {
  switch (r) {
    case DropReason::kNone: return "none";
    case DropReason::kQueueFull: return "queue_full";
    case DropReason::kTooOld: return "too_old";
    case DropReason::kError: return "error";
    case DropReason::kWorkerCrash: return "worker_crash";
    case DropReason::kAborted: return "aborted";
    case DropReason::kCount: break;
  }
  return "unknown";
}

DropReason drop_reason_from_code(std::uint32_t code) {
  return code < static_cast<std::uint32_t>(DropReason::kCount) ? static_cast<DropReason>(code) : DropReason::kError;
}

std::uint64_t RunStats::dropped_total() const {
  std::uint64_t total = 0;
  for (const auto& d : dropped) total += d.load(std::memory_order_relaxed);
  return total;
}

void LatencyHistogram::add(std::int64_t ns) {
  const double us = std::max<double>(1.0, static_cast<double>(ns) / 1000.0);
  int bucket = static_cast<int>(std::log2(us) * kSubBuckets);
  bucket = std::min(std::max(bucket, 0), kBuckets - 1);
  buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  s.sum_ns = sum_ns_.load(std::memory_order_relaxed);
  for (std::size_t b = 0; b < s.buckets.size(); ++b) {
    s.buckets[b] = buckets_[b].load(std::memory_order_relaxed);
    s.count += s.buckets[b];
  }
  return s;
}

std::vector<std::uint64_t> LatencyHistogram::Snapshot::cumulative(const std::vector<double>& le_seconds) const {
  std::vector<std::uint64_t> out(le_seconds.size(), 0);
  for (int b = 0; b < kBuckets; ++b) {
    const double upper_s = std::exp2(static_cast<double>(b + 1) / kSubBuckets) / 1e6;
    for (std::size_t i = 0; i < le_seconds.size(); ++i)
      if (upper_s <= le_seconds[i]) out[i] += buckets[static_cast<std::size_t>(b)];
  }
  return out;
}

LatencyHistogram::Snapshot LatencyHistogram::Snapshot::since(const Snapshot& earlier) const {
  Snapshot d;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    d.buckets[b] = buckets[b] - std::min(buckets[b], earlier.buckets[b]);
    d.count += d.buckets[b];
  }
  d.sum_ns = sum_ns - std::min(sum_ns, earlier.sum_ns);
  return d;
}

double LatencyHistogram::percentile_ms(const Counts& counts, double p) {
  std::uint64_t count = 0;
  for (std::uint64_t c : counts) count += c;
  if (count == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count)));
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts[static_cast<std::size_t>(b)];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      // The bucket's upper edge: a latency is never reported lower than it was.
      return std::exp2(static_cast<double>(b + 1) / kSubBuckets) / 1000.0;
    }
  }
  return std::exp2(static_cast<double>(kBuckets) / kSubBuckets) / 1000.0;
}

}  // namespace cvpipe

namespace cvpipe {

void DetectionCounts::add(const Detections& detections) {
  if (detections.size() == 0 && detections.overflow == 0) return;
  const std::lock_guard lock(mutex_);
  for (const Detection& d : detections) {
    const std::string_view label = d.label_view();
    if (auto it = by_class_.find(label); it != by_class_.end()) ++it->second;
    else by_class_.emplace(std::string(label), 1);
  }
  overflow_ += detections.overflow;
}

std::map<std::string, std::uint64_t, std::less<>> DetectionCounts::by_class() const {
  const std::lock_guard lock(mutex_);
  return by_class_;
}

std::uint64_t DetectionCounts::overflow() const {
  const std::lock_guard lock(mutex_);
  return overflow_;
}

}  // namespace cvpipe
