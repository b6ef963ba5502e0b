#include "pipeline/runtime/segment.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

namespace cvpipe {
namespace {

SegmentSizes sizes() {
  SegmentSizes s;
  s.slots = 5;
  s.buffers_per_slot = 2;
  s.frame_bytes = 1000;
  s.worker_capacity = 3;
  s.config_text = "stages: []\n";
  return s;
}

TEST(Segment, LayoutHoldsSlotsBuffersRingsAndConfig) {
  Segment seg = Segment::create(sizes());
  EXPECT_EQ(seg.slot_count(), 5u);
  EXPECT_EQ(seg.header().buffer_bytes, 4096u);  // rounded up to a page
  EXPECT_EQ(Segment::buffer_bytes_for(1000), 4096u);  // what `validate` reports
  EXPECT_EQ(seg.frames_bytes(), 5u * 2u * 4096u);
  EXPECT_EQ(seg.config_text(), "stages: []\n");
  EXPECT_EQ(seg.buffer(1, 0) - seg.buffer(0, 0), 2 * 4096);
  EXPECT_EQ(seg.buffer(0, 1) - seg.buffer(0, 0), 4096);
  // Every ring can hold every slot plus a stop marker.
  EXPECT_GE(seg.in_ring(2).capacity(), 6u);
  EXPECT_TRUE(seg.in_ring(0).try_push(3));
  std::uint32_t v = 0;
  EXPECT_TRUE(seg.in_ring(0).try_pop(v));
  EXPECT_EQ(v, 3u);
}

TEST(Segment, AttachSeesTheSameMemory) {
  Segment a = Segment::create(sizes());
  std::memset(a.buffer(2, 1), 0x5a, 100);
  a.slot(2).meta.seq = 77;
  Segment b = Segment::attach(a.fd());
  EXPECT_EQ(b.slot(2).meta.seq, 77u);
  EXPECT_EQ(b.buffer(2, 1)[99], 0x5a);
  EXPECT_EQ(b.config_text(), a.config_text());
}

TEST(Segment, AttachRejectsBadMagicAndVersion) {
  Segment a = Segment::create(sizes());
  a.header().magic = 0x12345678;
  EXPECT_THROW(Segment::attach(a.fd()), std::runtime_error);
  a.header().magic = kSegmentMagic;
  a.header().version = kSegmentVersion + 1;
  EXPECT_THROW(Segment::attach(a.fd()), std::runtime_error);
  a.header().version = kSegmentVersion;
  a.header().slot_count += 1;  // the frames would run past the end
  EXPECT_THROW(Segment::attach(a.fd()), std::runtime_error);
}

TEST(Segment, ResetWorkerEmptiesItsRings) {
  Segment seg = Segment::create(sizes());
  ASSERT_TRUE(seg.in_ring(1).try_push(4));
  seg.worker(1).frames_processed = 9;
  seg.reset_worker(1);
  std::uint32_t v;
  EXPECT_FALSE(seg.in_ring(1).try_pop(v));
  EXPECT_EQ(seg.worker(1).frames_processed.load(), 0u);
  EXPECT_EQ(seg.worker(1).current_slot.load(), kNoSlot);
}

}  // namespace
}  // namespace cvpipe
