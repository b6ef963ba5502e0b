// AvEncoder: what the video sink writes, read back with FFmpeg (AvDecoder): each frame at its
// time in containers that keep times, late frames repeated in those that hold one rate, every
// frame a fixed step apart when asked, and errors in one line.
#include "pipeline/modules/av/av_encoder.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "pipeline/modules/av/av_decoder.hpp"

namespace cvpipe {
namespace {

class AvEncoderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/cvpipe-encoder-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Writes one frame at each time (microseconds), each a different shade; the path's extension
  // picks the container.
  std::string write(const std::string& name, const std::vector<std::int64_t>& times_us, EncoderSettings settings) {
    settings.path = dir_ + "/" + name;
    std::string error;
    auto encoder = AvEncoder::open(settings, 64, 48, 3, error);
    EXPECT_NE(encoder, nullptr) << error;
    if (!encoder) return settings.path;
    for (std::size_t i = 0; i < times_us.size(); ++i) {
      cv::Mat frame(48, 64, CV_8UC3, cv::Scalar::all(static_cast<double>(20 + 40 * i)));
      EXPECT_TRUE(encoder->write(frame, times_us[i], error)) << error;
    }
    EXPECT_TRUE(encoder->finish(error)) << error;
    return settings.path;
  }

  // Each decoded frame's media time, in ms.
  static std::vector<double> times_ms(const std::string& path) {
    std::string error;
    auto decoder = AvDecoder::open(path, error);
    EXPECT_NE(decoder, nullptr) << error;
    std::vector<double> times;
    while (decoder && decoder->grab()) times.push_back(static_cast<double>(decoder->pts_us()) / 1000.0);
    return times;
  }

  std::string dir_;
};

TEST_F(AvEncoderTest, H264InMp4KeepsEachFramesTime) {
  EncoderSettings s;
  s.fps = 25;  // announced; the frames come at 10 fps with a late one
  const std::string path = write("a.mp4", {5'000'000, 5'100'000, 5'200'000, 5'450'000, 5'550'000}, s);
  const std::vector<double> t = times_ms(path);
  ASSERT_EQ(t.size(), 5u);
  const double expected[] = {0, 100, 200, 450, 550};
  for (std::size_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[0], expected[i], 0.5) << i;
}

TEST_F(AvEncoderTest, AOneRateContainerPutsALateFrameOnItsStep) {
  EncoderSettings s;
  s.fourcc = "MJPG";
  s.fps = 10;
  // The fourth frame comes 250 ms after the third: on step 5 of 100 ms, not 4 (step 4 is empty).
  const std::string path = write("a.avi", {0, 100'000, 200'000, 450'000, 550'000}, s);
  const std::vector<double> t = times_ms(path);
  ASSERT_GE(t.size(), 5u);
  EXPECT_NEAR(t.back() - t.front(), 600, 0.5) << "the last frame at step 6 of 100 ms";
}

TEST_F(AvEncoderTest, ConstantRatePutsEveryFrameOneStepAfterTheLast) {
  EncoderSettings s;
  s.fps = 25;
  s.constant_rate = true;
  const std::string path = write("a.mkv", {0, 100'000, 200'000, 450'000, 550'000}, s);
  const std::vector<double> t = times_ms(path);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_NEAR(t.back() - t.front(), 160, 1.0);
}

TEST_F(AvEncoderTest, TimesThatRepeatOrGoBackAreWrittenJustAfterThePrevious) {
  EncoderSettings s;
  const std::string path = write("a.mp4", {0, 40'000, 40'000, 20'000, 120'000}, s);
  const std::vector<double> t = times_ms(path);
  ASSERT_EQ(t.size(), 5u);
  for (std::size_t i = 1; i < t.size(); ++i) EXPECT_GT(t[i], t[i - 1]) << i;
}

TEST_F(AvEncoderTest, GrayFramesOfOddSizeAreCroppedToEvenOnes) {
  EncoderSettings s;
  s.path = dir_ + "/gray.mp4";
  std::string error;
  auto encoder = AvEncoder::open(s, 33, 21, 1, error);
  ASSERT_NE(encoder, nullptr) << error;
  EXPECT_TRUE(encoder->cropped());
  EXPECT_STREQ(encoder->encoder_name(), "libx264");
  cv::Mat gray(21, 33, CV_8UC1, cv::Scalar(128));
  ASSERT_TRUE(encoder->write(gray, 0, error)) << error;
  ASSERT_TRUE(encoder->finish(error)) << error;
  auto decoder = AvDecoder::open(s.path, error);
  ASSERT_NE(decoder, nullptr) << error;
  EXPECT_EQ(decoder->width(), 32);
  EXPECT_EQ(decoder->height(), 20);
}

TEST_F(AvEncoderTest, APathThatLooksLikeAURLIsAFileName) {
  // FFmpeg would connect to tcp://...; the encoder opens it as a file, here in a folder that is
  // not there.
  EncoderSettings s;
  s.path = "tcp://127.0.0.1:9/x.mp4";
  std::string error;
  EXPECT_EQ(AvEncoder::open(s, 64, 48, 3, error), nullptr);
  EXPECT_NE(error.find("cannot create tcp://127.0.0.1:9/x.mp4: No such file or directory"), std::string::npos) << error;
}

TEST_F(AvEncoderTest, AFourccWithoutAnEncoderIsOneLine) {
  EncoderSettings s;
  s.path = dir_ + "/a.mp4";
  s.fourcc = "zzzz";
  std::string error;
  EXPECT_EQ(AvEncoder::open(s, 64, 48, 3, error), nullptr);
  EXPECT_EQ(error, "this FFmpeg has no encoder for fourcc zzzz");
  EXPECT_FALSE(std::filesystem::exists(s.path));
}

TEST_F(AvEncoderTest, AFullDiskIsAnErrorFromWriteOrFinish) {
  // /dev/full takes nothing: FFmpeg's writes fail with ENOSPC, which must come back as an error.
  EncoderSettings s;
  s.path = dir_ + "/full.mkv";
  s.fourcc = "FFV1";
  ASSERT_EQ(::symlink("/dev/full", s.path.c_str()), 0);
  std::string error;
  auto encoder = AvEncoder::open(s, 64, 48, 3, error);
  bool failed = !encoder;
  cv::Mat noise(48, 64, CV_8UC3);
  for (int i = 0; i < 200 && !failed; ++i) {
    cv::randu(noise, 0, 255);
    failed = !encoder->write(noise, i * 40'000, error);
  }
  if (!failed) failed = !encoder->finish(error);
  EXPECT_TRUE(failed);
  EXPECT_NE(error.find("No space left on device"), std::string::npos) << error;
}

}  // namespace
}  // namespace cvpipe
