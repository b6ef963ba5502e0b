#include "pipeline/runtime/reorder_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace cvpipe {
namespace {

TEST(ReorderBuffer, ReleasesInSequenceOrder) {
  ReorderBuffer<int> rb(4);
  rb.insert(2, 20);
  rb.insert(1, 10);
  EXPECT_FALSE(rb.pop_next().has_value());  // 0 missing
  rb.insert(0, 0);
  EXPECT_EQ(rb.pop_next(), 0);
  EXPECT_EQ(rb.pop_next(), 10);
  EXPECT_EQ(rb.pop_next(), 20);
  EXPECT_FALSE(rb.pop_next().has_value());
  EXPECT_EQ(rb.next_seq(), 3u);
  EXPECT_EQ(rb.size(), 0u);
}

TEST(ReorderBuffer, RejectsSeqOutsideTheWindowOrGivenTwice) {
  ReorderBuffer<int> rb(4);
  EXPECT_THROW(rb.insert(4, 1), std::logic_error);  // too far ahead
  rb.insert(0, 1);
  EXPECT_THROW(rb.insert(0, 1), std::logic_error);  // twice
  ASSERT_TRUE(rb.pop_next());
  EXPECT_THROW(rb.insert(0, 1), std::logic_error);  // already released
}

TEST(ReorderBuffer, RestoresOrderOfAShuffledStreamWithinItsWindow) {
  constexpr std::size_t kWindow = 16;
  ReorderBuffer<std::uint64_t> rb(kWindow);
  std::mt19937 rng(7);
  std::vector<std::uint64_t> out;
  std::uint64_t next_in = 0;
  while (out.size() < 10000) {
    // Insert a shuffled batch of the seqs that fit in the window.
    std::vector<std::uint64_t> batch;
    while (next_in < rb.next_seq() + kWindow && next_in < 10000) batch.push_back(next_in++);
    std::shuffle(batch.begin(), batch.end(), rng);
    for (auto s : batch) {
      rb.insert(s, s);
      while (auto v = rb.pop_next()) out.push_back(*v);
    }
  }
  std::vector<std::uint64_t> expected(10000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace cvpipe
