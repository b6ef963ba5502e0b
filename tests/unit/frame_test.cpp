#include "pipeline/core/frame.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/core/check.hpp>

#include <climits>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace cvpipe {
namespace {

// Every type OpenCV names: each depth, CV_8U to CV_16F, with 1 to 4 channels and the most it allows.
std::vector<int> opencv_types() {
  std::vector<int> types;
  for (int depth = CV_8U; depth <= CV_16F; ++depth)
    for (const int cn : {1, 2, 3, 4, CV_CN_MAX}) types.push_back(CV_MAKETYPE(depth, cn));
  return types;
}

TEST(FrameFormat, ReadsEveryOpenCvTypeAsOpenCvDoes) {
  for (const int type : opencv_types()) {
    const std::string name = cv::typeToString(type);
    SCOPED_TRACE(name);
    const FrameFormat f{7, 5, type};
    EXPECT_EQ(f.depth(), CV_MAT_DEPTH(type));
    EXPECT_EQ(f.channels(), CV_MAT_CN(type));
    EXPECT_EQ(f.bytes(), 7u * 5u * static_cast<std::size_t>(CV_ELEM_SIZE(type)));
    ASSERT_EQ(name.rfind("CV_", 0), 0u);
    EXPECT_EQ(f.describe(), "7x5 " + name.substr(3));
    EXPECT_EQ(f.is_8bit_gray_or_bgr(), type == CV_8UC1 || type == CV_8UC3);
  }
}

TEST(FrameFormat, BytesOfAFrameAreThoseOfItsMat) {
  const FrameFormat f{640, 360, CV_16UC3};
  const cv::Mat m(f.height, f.width, f.type);
  EXPECT_EQ(f.bytes(), m.total() * m.elemSize());
}

TEST(FrameFormat, AnyIntReadsAsSomeDepthAndChannelCount) {
  // A worker may write anything into a slot's header in shared memory.
  std::vector<int> types = {INT_MIN, INT_MIN + 1, -1, -7, -8, -4096, INT_MAX, INT_MAX - 7, 1 << 30, 4095, 4096, 0x7fff};
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> any(INT_MIN, INT_MAX);
  for (int i = 0; i < 10000; ++i) types.push_back(any(rng));
  for (const int type : types) {
    const FrameFormat f{3, 2, type};
    ASSERT_GE(f.depth(), 0) << type;
    ASSERT_LE(f.depth(), 7) << type;
    ASSERT_GE(f.channels(), 1) << type;
    ASSERT_LE(f.channels(), 512) << type;
    // The same reading as OpenCV's own macros.
    ASSERT_EQ(f.depth(), CV_MAT_DEPTH(type)) << type;
    ASSERT_EQ(f.channels(), CV_MAT_CN(type)) << type;
    ASSERT_EQ(f.bytes(), 6u * static_cast<std::size_t>(CV_ELEM_SIZE(type))) << type;
    ASSERT_FALSE(f.describe().empty()) << type;
  }
}

TEST(Detections, AddBeyondCapacityCountsOverflow) {
  Detections d;
  for (std::uint32_t i = 0; i < Detections::kCapacity; ++i)
    ASSERT_TRUE(d.add("car", static_cast<int>(i), 0, 1, 1, 0.5f)) << i;
  EXPECT_FALSE(d.add("car", 100, 0, 1, 1, 0.5f));
  EXPECT_FALSE(d.add_vector("flow", 0, 0, 1, 1, 1.0f, 2.0f, 3.0f));
  EXPECT_EQ(d.count, Detections::kCapacity);
  EXPECT_EQ(d.size(), Detections::kCapacity);
  EXPECT_EQ(d.overflow, 2u);
  EXPECT_EQ(d.items[Detections::kCapacity - 1].x, static_cast<int>(Detections::kCapacity - 1));  // not overwritten
  d.clear();
  EXPECT_EQ(d.size(), 0u);
  EXPECT_EQ(d.overflow, 0u);
}

TEST(Detections, LabelsAreCutTo15Bytes) {
  Detections d;
  ASSERT_TRUE(d.add("abcdefghijklmnopqrstuvwxyz", 1, 2, 3, 4, 0.25f));
  ASSERT_TRUE(d.add("fifteen_bytes__", 0, 0, 0, 0, 0));      // 15: kept whole
  ASSERT_TRUE(d.add("sixteen_bytes___", 0, 0, 0, 0, 0));     // 16: one cut
  ASSERT_TRUE(d.add("person", 0, 0, 0, 0, 0));
  EXPECT_EQ(d.items[0].label_view(), "abcdefghijklmno");
  EXPECT_EQ(d.items[0].label[15], '\0');
  EXPECT_EQ(d.items[1].label_view(), "fifteen_bytes__");
  EXPECT_EQ(d.items[2].label_view(), "sixteen_bytes__");
  EXPECT_EQ(d.items[3].label_view(), "person");
}

TEST(Detections, AddKeepsTheBoxAndMarksOnlyVectors) {
  Detections d;
  ASSERT_TRUE(d.add("face", 1, 2, 3, 4, 0.75f));
  ASSERT_TRUE(d.add_vector("flow", 5, 6, 7, 8, 1.0f, -1.5f, 2.5f));
  const Detection& box = d.items[0];
  EXPECT_EQ(box.x, 1);
  EXPECT_EQ(box.y, 2);
  EXPECT_EQ(box.w, 3);
  EXPECT_EQ(box.h, 4);
  EXPECT_FLOAT_EQ(box.score, 0.75f);
  EXPECT_EQ(box.flags, 0u);
  const Detection& vec = d.items[1];
  EXPECT_EQ(vec.flags, Detection::kHasVector);
  EXPECT_FLOAT_EQ(vec.dx, -1.5f);
  EXPECT_FLOAT_EQ(vec.dy, 2.5f);
}

TEST(Detections, SizeAndLabelsStayInBoundsWhateverAWorkerWrote) {
  Detections d;
  d.count = 1'000'000;
  EXPECT_EQ(d.size(), Detections::kCapacity);
  EXPECT_EQ(d.end() - d.begin(), static_cast<std::ptrdiff_t>(Detections::kCapacity));
  std::memset(d.items[0].label, 'x', Detection::kLabelSize);  // no NUL
  EXPECT_EQ(d.items[0].label_view(), std::string(Detection::kLabelSize, 'x'));
}

}  // namespace
}  // namespace cvpipe
