#include "pipeline/runtime/segment.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pipeline/core/unique_fd.hpp"
#include "tests/support/test_child.hpp"

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

const std::size_t kPage = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

TEST(Segment, LayoutHoldsSlotsBuffersRingsAndConfig) {
  Segment seg = Segment::create(sizes());
  EXPECT_EQ(seg.slot_count(), 5u);
  EXPECT_EQ(seg.layout().buffer_bytes, kPage);       // rounded up to a page
  EXPECT_EQ(Segment::buffer_bytes_for(1000), kPage);  // what `validate` reports
  EXPECT_EQ(seg.frames_bytes(), 5u * 2u * kPage);
  EXPECT_EQ(seg.config_text(), "stages: []\n");
  // A guard page after each buffer.
  EXPECT_EQ(seg.buffer(0, 1) - seg.buffer(0, 0), static_cast<std::ptrdiff_t>(2 * kPage));
  EXPECT_GT(seg.buffer(1, 0) - seg.buffer(0, 1), static_cast<std::ptrdiff_t>(kPage));
  // Every ring can hold every slot plus a stop marker.
  Segment::Rings rings = seg.reset_worker(2);
  EXPECT_GE(rings.in.capacity(), 6u);
  EXPECT_TRUE(rings.in.try_push(3));
  std::uint32_t v = 0;
  EXPECT_TRUE(seg.in_ring(2).try_pop(v));
  EXPECT_EQ(v, 3u);
}

TEST(Segment, AttachSeesTheSameMemory) {
  Segment a = Segment::create(sizes());
  std::memset(a.buffer(2, 1), 0x5a, 100);
  a.slot(2).meta.seq = 77;
  a.worker(1).frames_processed = 4;
  Segment b = Segment::attach(a.layout_fd(), a.frames_fd(), 1);
  EXPECT_EQ(b.slot(2).meta.seq, 77u);
  EXPECT_EQ(b.buffer(2, 1)[99], 0x5a);
  EXPECT_EQ(b.worker(1).frames_processed.load(), 4u);
  EXPECT_EQ(b.config_text(), a.config_text());
  EXPECT_EQ(std::memcmp(&b.layout(), &a.layout(), sizeof(SegmentLayout)), 0);
}

// What the attacker did: a process that holds the segment's fd wrote a huge buffer size
// into its header. The layout is sealed: no process can write it, by any way.
TEST(Segment, NoProcessCanWriteTheLayout) {
  Segment seg = Segment::create(sizes());
  const std::uint64_t huge = 1ULL << 40;
  EXPECT_EQ(::pwrite(seg.layout_fd(), &huge, sizeof huge, 0), -1);
  EXPECT_EQ(errno, EPERM);
  UniqueFd again(::open(("/proc/self/fd/" + std::to_string(seg.layout_fd())).c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(again);
  EXPECT_EQ(::pwrite(again.get(), &huge, sizeof huge, 16), -1);
  EXPECT_EQ(errno, EPERM);
  void* writable = ::mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, seg.layout_fd(), 0);
  EXPECT_EQ(writable, MAP_FAILED);
  EXPECT_EQ(::ftruncate(seg.layout_fd(), 0), -1);
  EXPECT_EQ(seg.layout().buffer_bytes, kPage);
}

// A layout memfd made by hand, as an attacker (or a broken daemon) might: attach refuses it.
UniqueFd forged_layout(const LayoutHeader& h, const std::string& config) {
  UniqueFd fd(::memfd_create("forged", MFD_CLOEXEC));
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  bytes += config;
  EXPECT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  return fd;
}

TEST(Segment, AttachRefusesAForgedLayout) {
  Segment seg = Segment::create(sizes());
  LayoutHeader good{};
  good.magic = kSegmentMagic;
  good.version = kSegmentVersion;
  good.layout = seg.layout();
  good.config_bytes = seg.config_text().size();
  {
    UniqueFd fd = forged_layout(good, seg.config_text());
    EXPECT_NO_THROW(Segment::attach(fd.get(), seg.frames_fd(), 0));
  }
  const auto refused = [&](LayoutHeader h, const std::string& why) {
    UniqueFd fd = forged_layout(h, seg.config_text());
    EXPECT_THROW(Segment::attach(fd.get(), seg.frames_fd(), 0), std::runtime_error) << why;
  };
  LayoutHeader h = good;
  h.magic = 0x12345678;
  refused(h, "magic");
  h = good;
  h.version = kSegmentVersion + 1;
  refused(h, "version");
  h = good;
  h.layout.buffer_bytes = 1ULL << 40;
  refused(h, "a huge buffer");
  h = good;
  h.layout.slot_count += 1;  // past the end of the frames
  refused(h, "one slot more");
  h = good;
  h.layout.slots_offset -= kPage;  // slots over the worker areas
  refused(h, "slots moved");
  h = good;
  h.layout.worker_capacity = 0xFFFFFFFFu;
  refused(h, "workers overflow");
  h = good;
  h.config_bytes += 1;
  refused(h, "config size");
  EXPECT_THROW(Segment::attach(seg.layout_fd(), seg.frames_fd(), 3), std::runtime_error) << "worker out of range";
}

TEST(Segment, ResetWorkerEmptiesItsRings) {
  Segment seg = Segment::create(sizes());
  Segment::Rings rings = seg.reset_worker(1);
  ASSERT_TRUE(rings.in.try_push(4));
  seg.worker(1).frames_processed = 9;
  rings = seg.reset_worker(1);
  std::uint32_t v;
  EXPECT_FALSE(rings.in.try_pop(v));
  EXPECT_EQ(seg.worker(1).frames_processed.load(), 0u);
  EXPECT_EQ(seg.worker(1).current_slot.load(), kNoSlot);
}

// A worker (this child, attached as worker `argv[2]`) writes where it must not: argv[0] says where.
CVPIPE_TEST_CHILD(segment_scribbler) {
  const rlimit no_core{0, 0};  // it faults on purpose
  ::setrlimit(RLIMIT_CORE, &no_core);
  const int layout_fd = std::stoi(argv[0]), frames_fd = std::stoi(argv[1]);
  Segment seg = Segment::attach(layout_fd, frames_fd, static_cast<std::uint32_t>(std::stoi(argv[2])));
  const std::string where = argv[3];
  if (where == "own_area") seg.worker(0).frames_processed = 1;
  if (where == "other_worker") seg.worker(1).frames_processed = 1;
  if (where == "past_a_buffer") seg.buffer(1, 0)[seg.layout().buffer_bytes] = 1;
  if (where == "past_a_header") reinterpret_cast<std::uint8_t*>(&seg.slot(1))[seg.layout().header_bytes] = 1;
  if (where == "layout") const_cast<char*>(seg.config_text().data())[0] = 'x';  // a copy: allowed
  return 0;
}

ChildProcess::ExitStatus scribble(const Segment& seg, const std::string& where) {
  ChildProcess child = ChildProcess::spawn(
      test_child_argv("segment_scribbler", {std::to_string(seg.layout_fd()), std::to_string(seg.frames_fd()), "0", where}),
      {seg.layout_fd(), seg.frames_fd()});
  return wait_at_most(child, std::chrono::seconds(10));
}

TEST(Segment, AWorkerFaultsWhereItMayNotWrite) {
  Segment seg = Segment::create(sizes());
  const ChildProcess::ExitStatus ok{false, 0}, segv{true, SIGSEGV};
  EXPECT_EQ(scribble(seg, "own_area"), ok);
  EXPECT_EQ(seg.worker(0).frames_processed.load(), 1u);
  EXPECT_EQ(scribble(seg, "other_worker"), segv);
  EXPECT_EQ(seg.worker(1).frames_processed.load(), 0u);
  EXPECT_EQ(scribble(seg, "past_a_buffer"), segv);
  EXPECT_EQ(scribble(seg, "past_a_header"), segv);
  EXPECT_EQ(scribble(seg, "layout"), ok);
}

}  // namespace
}  // namespace cvpipe
