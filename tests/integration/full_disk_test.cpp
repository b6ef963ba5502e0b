// A full disk, on a real small tmpfs (the suite runs as root, as on the development machine and
// in CI): the run stops with exit 73 and one clear line, and what was written stays readable.
#include <sys/mount.h>
#include <sys/stat.h>

#include <opencv2/imgcodecs.hpp>

#include <cerrno>
#include <cstring>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

class FullDisk : public CvpipeTest {
 protected:
  void SetUp() override {
    CvpipeTest::SetUp();
    if (HasFatalFailure()) return;
    disk_ = path("disk");
    ASSERT_EQ(::mkdir(disk_.c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(::mount("tmpfs", disk_.c_str(), "tmpfs", 0, "size=3m"), 0)
        << "mounting a 3 MiB tmpfs needs root (CAP_SYS_ADMIN): " << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) {
      EXPECT_EQ(::umount(disk_.c_str()), 0) << std::strerror(errno);
    }
    CvpipeTest::TearDown();
  }

  // 320x240 noisy frames, far more than fit in 3 MiB however they are encoded.
  std::string config(const std::string& sink) {
    return write("full.yaml", "source: {type: synthetic, width: 320, height: 240, frames: 5000}\n"
                              "stages:\n  - name: copy\n    workers: 2\n    ops: [{op: identity}]\n" + sink);
  }

  std::string disk_;
  bool mounted_ = false;
};

TEST_F(FullDisk, AVideoStopsWhileItCanStillBeFinalizedAndPlays) {
  const RunResult r = run_cvpipe({"run", config("sink: {type: video, path: disk/out.mp4}\n")});

  EXPECT_EQ(r.exit_code, 73) << describe(r);
  EXPECT_NE(r.err.find("disk/out.mp4 is nearly full"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  ASSERT_GT(s.integer("frames_written"), 20) << "most of the disk should have been used";
  // The MP4 index was written: it opens and holds every frame counted as written.
  const std::vector<cv::Mat> frames = read_video(path("disk/out.mp4"));
  EXPECT_EQ(static_cast<long long>(frames.size()), s.integer("frames_written"));
  if (const auto probed = ffprobe_frame_count(path("disk/out.mp4"))) {
    EXPECT_EQ(*probed, s.integer("frames_written"));
  }
}

TEST_F(FullDisk, ImagesStopAtTheFirstImageThatDoesNotFitAndEveryOtherIsWhole) {
  const RunResult r = run_cvpipe({"run", config("sink: {type: images, path: disk/%04d.png}\n")});

  EXPECT_EQ(r.exit_code, 73) << describe(r);
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << describe(r);
  const Json s = summary_of(r);
  EXPECT_EQ(s.integer("frames_read"), s.integer("frames_written") + s.integer("frames_dropped"));
  const std::vector<std::string> files = list_dir(disk_);
  ASSERT_GT(files.size(), 3u);
  EXPECT_EQ(static_cast<long long>(files.size()), s.integer("frames_written")) << "no partial file is left";
  for (const std::string& name : files) {
    EXPECT_FALSE(cv::imread(disk_ + "/" + name, cv::IMREAD_UNCHANGED).empty()) << name << " is not a whole image";
  }
}

}  // namespace
}  // namespace cvpipe
