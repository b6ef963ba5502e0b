// The vision ops end to end: detections reach the results file in frame order, the same with
// workers as --inline, the same as OpenCV's detectors run by hand on real footage; an ordered
// (stateful) stage runs on one worker in order, skips frames dropped before it, and cannot be
// given two; the results file survives the run's failure paths.
//
// The footage is OpenCV's sample data from Debian's opencv-doc package (tools/dev installs it):
// vtest.avi (people walking), Megamind.avi (faces), basketball1.png (a face to paste). Tests that
// need it fail without it, saying so (tests never skip).
#include <signal.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

const std::string kSampleData = "/usr/share/doc/opencv-doc/examples/data/";

#define ASSERT_SAMPLE(file)                                                                         \
  ASSERT_TRUE(std::filesystem::exists(kSampleData + file))                                          \
      << kSampleData << file << " is missing: apt-get install opencv-doc (tools/dev installs it)"

// Writes frames losslessly (FFV1 in .mkv), so the pipeline decodes exactly these pixels.
void write_clip(const std::string& path, const std::vector<cv::Mat>& frames) {
  cv::VideoWriter w(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 25, frames.at(0).size(), true);
  ASSERT_TRUE(w.isOpened()) << path;
  for (const auto& f : frames) w.write(f);
}

// `count` frames of a sample video from `first`, cut to `crop` (if not empty), scaled to `size`.
std::vector<cv::Mat> footage(const std::string& name, int first, int count, cv::Size size, cv::Rect crop = {}) {
  cv::VideoCapture cap(kSampleData + name, cv::CAP_FFMPEG);
  std::vector<cv::Mat> out;
  cv::Mat frame;
  for (int i = 0; i < first + count && cap.read(frame); ++i) {
    if (i < first) continue;
    cv::Mat small;
    cv::resize(crop.empty() ? frame : frame(crop), small, size, 0, 0, cv::INTER_AREA);
    out.push_back(small);
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}


// The results file: one parsed object per line (a line that does not parse fails the test).
std::vector<Json> read_results(const std::string& path) {
  std::vector<Json> out;
  const std::string text = read_file(path);
  if (!text.empty()) {
    EXPECT_EQ(text.back(), '\n') << "the last line is cut";
  }
  for (const std::string& line : lines_of(text)) {
    auto j = Json::parse(line);
    if (!j) {
      ADD_FAILURE() << "not JSON: " << line;
      continue;
    }
    out.push_back(*j);
  }
  return out;
}

// The lines without their wall-clock capture time, which differs from run to run.
std::vector<std::string> results_without_time(const std::string& path) {
  std::vector<std::string> out;
  for (std::string line : lines_of(read_file(path))) {
    const auto at = line.find(",\"captured_at\":\"");
    if (at != std::string::npos) line.erase(at, line.find('"', at + 16) + 1 - at);
    out.push_back(line);
  }
  return out;
}

struct Box {
  cv::Rect rect;
  double score;
};

// The boxes of `cls` in one results line, in the file's order.
std::vector<Box> boxes_of(const Json& line, const std::string& cls) {
  std::vector<Box> out;
  for (const Json& d : line["detections"].items())
    if (d["class"].string() == cls)
      out.push_back({{static_cast<int>(d.integer("x")), static_cast<int>(d.integer("y")),
                      static_cast<int>(d.integer("w")), static_cast<int>(d.integer("h"))},
                     d["score"].number()});
  return out;
}

// Sorted as the ops sort them: top to bottom, then left to right.
std::vector<Box> sorted(const std::vector<cv::Rect>& rects, const std::vector<double>& scores) {
  std::vector<Box> out;
  for (std::size_t i = 0; i < rects.size(); ++i) out.push_back({rects[i], scores[i]});
  std::sort(out.begin(), out.end(), [](const Box& a, const Box& b) {
    return std::tie(a.rect.y, a.rect.x, a.rect.height, a.rect.width) <
           std::tie(b.rect.y, b.rect.x, b.rect.height, b.rect.width);
  });
  return out;
}

std::string compare_boxes(const std::vector<Box>& expected, const std::vector<Box>& actual) {
  std::ostringstream why;
  if (expected.size() != actual.size()) why << expected.size() << " boxes expected, got " << actual.size() << "; ";
  for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
    if (expected[i].rect != actual[i].rect)
      why << "box " << i << ": expected " << expected[i].rect << ", got " << actual[i].rect << "; ";
    else if (std::abs(expected[i].score - actual[i].score) > 1e-4 * std::max(1.0, std::abs(expected[i].score)))
      why << "box " << i << ": score " << expected[i].score << " expected, got " << actual[i].score << "; ";
  }
  return why.str();
}

using Vision = CvpipeTest;

TEST_F(Vision, PeopleInRealFootageAreWhatOpenCVsHogDetectorFindsInTheSameFrames) {
  ASSERT_SAMPLE("vtest.avi");
  // vtest.avi is 768x576; its people walk in the middle, 130-340 pixels tall (HOG's window is 128).
  const auto frames = footage("vtest.avi", 0, 6, {480, 360}, {200, 110, 560, 420});
  ASSERT_EQ(frames.size(), 6u);
  write_clip(path("people.mkv"), frames);
  const std::string config = write("people.yaml", R"(source: {type: file, path: people.mkv}
stages:
  - name: people
    workers: 2
    ops:
      - op: hog_people
        scale: 1.05
        stride: 8
        padding: 8
        hit_threshold: 0
results: {path: out/results.jsonl}
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const auto decoded = read_video(path("people.mkv"));
  const auto results = read_results(path("out/results.jsonl"));
  ASSERT_EQ(results.size(), decoded.size());
  cv::setNumThreads(1);  // as in a worker
  cv::HOGDescriptor hog;
  hog.setSVMDetector(cv::HOGDescriptor::getDefaultPeopleDetector());
  std::size_t total = 0;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    std::vector<cv::Rect> rects;
    std::vector<double> weights;
    hog.detectMultiScale(decoded[i], rects, weights, 0, {8, 8}, {8, 8}, 1.05, 2, false);
    EXPECT_EQ(results[i].integer("seq"), static_cast<long long>(i));
    EXPECT_EQ(compare_boxes(sorted(rects, weights), boxes_of(results[i], "person")), "") << "frame " << i;
    total += rects.size();
  }
  EXPECT_GE(total, 6u) << "the footage has people in every frame";
  EXPECT_EQ(summary_of(r)["detections"].integer("person"), static_cast<long long>(total));
}

TEST_F(Vision, FacesInRealFootageAreWhatOpenCVsCascadeFindsInTheSameFrames) {
  ASSERT_SAMPLE("Megamind.avi");
  const auto frames = footage("Megamind.avi", 14, 8, {360, 264});
  ASSERT_EQ(frames.size(), 8u);
  write_clip(path("faces.mkv"), frames);
  const std::string config = write("faces.yaml", R"(source: {type: file, path: faces.mkv}
stages:
  - name: faces
    workers: 2
    ops:
      - op: haar_faces
        scale_factor: 1.1
        min_neighbors: 3
        min_size: [24, 24]
results: {path: out/results.jsonl}
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);

  const auto decoded = read_video(path("faces.mkv"));
  const auto results = read_results(path("out/results.jsonl"));
  ASSERT_EQ(results.size(), decoded.size());
  cv::setNumThreads(1);
  cv::CascadeClassifier cascade("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml");
  std::size_t total = 0;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    cv::Mat gray;
    cv::cvtColor(decoded[i], gray, cv::COLOR_BGR2GRAY);
    std::vector<cv::Rect> rects;
    std::vector<int> neighbours;
    cascade.detectMultiScale(gray, rects, neighbours, 1.1, 3, 0, {24, 24});
    EXPECT_EQ(compare_boxes(sorted(rects, std::vector<double>(neighbours.begin(), neighbours.end())),
                            boxes_of(results[i], "face")),
              "")
        << "frame " << i;
    total += rects.size();
  }
  EXPECT_GE(total, 4u) << "the footage has faces";
  EXPECT_EQ(summary_of(r)["detections"].integer("face"), static_cast<long long>(total));
}

// A face moving over a still background, with a parallel stage before an ordered one.
std::vector<cv::Mat> moving_face_frames(int count) {
  const cv::Mat face = cv::imread(kSampleData + "basketball1.png")(cv::Rect(42, 61, 100, 100)).clone();
  cv::Mat background(180, 320, CV_8UC3);
  cv::RNG rng(5);
  rng.fill(background, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(background, background, {9, 9}, 0);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < count; ++i) {
    cv::Mat f = background.clone();
    if (i >= 6) face.copyTo(f(cv::Rect(8 * (i - 6), 40, 100, 100)));  // the scene is empty at first
    frames.push_back(f);
  }
  return frames;
}

const char* const kDetectTrackShow = R"(source: {type: file, path: clip.mkv}
stages:
  - name: detect
    workers: 2
    ops:
      - op: haar_faces
  - name: track
    ops:
      - op: motion
      - op: optical_flow
        grid: [4, 3]
  - name: show
    workers: 2
    ops:
      - op: blur_regions
        classes: [face]
      - op: draw
        classes: [motion]
results: {path: out/results.jsonl}
sink: {type: images, path: out/%04d.png}
)";

TEST_F(Vision, ResultsAndFramesWithWorkersAreThoseOfAnInlineRun) {
  ASSERT_SAMPLE("basketball1.png");
  constexpr int kFrames = 24;
  write_clip(path("clip.mkv"), moving_face_frames(kFrames));
  const std::string config = write("pipeline.yaml", kDetectTrackShow);

  const RunResult inline_run = run_cvpipe({"run", config, "--inline"});
  ASSERT_EQ(inline_run.exit_code, 0) << describe(inline_run);
  const auto inline_results = results_without_time(path("out/results.jsonl"));
  const auto inline_frames = read_images(path("out"));
  std::filesystem::remove_all(path("out"));
  const RunResult workers_run = run_cvpipe({"run", config});
  ASSERT_EQ(workers_run.exit_code, 0) << describe(workers_run);

  ASSERT_EQ(inline_results.size(), static_cast<std::size_t>(kFrames));
  EXPECT_EQ(results_without_time(path("out/results.jsonl")), inline_results);
  EXPECT_EQ(compare_frames(inline_frames, read_images(path("out"))), "");
  EXPECT_EQ(stage_in(summary_of(workers_run), "track").integer("workers"), 1);
  EXPECT_EQ(stage_in(summary_of(workers_run), "detect").integer("workers"), 2);

  // What the run found: the face in every frame once it is in, and the motion it makes.
  const auto results = read_results(path("out/results.jsonl"));
  int faces = 0, motion = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].integer("seq"), static_cast<long long>(i));
    const auto f = boxes_of(results[i], "face");
    if (i < 6) {
      EXPECT_TRUE(f.empty()) << "frame " << i;
    } else {
      EXPECT_EQ(f.size(), 1u) << "frame " << i;
      if (!f.empty()) {
        EXPECT_NEAR(f[0].rect.x, 8 * (static_cast<int>(i) - 6) + 30, 6) << "frame " << i;
      }
    }
    faces += static_cast<int>(f.size());
    motion += static_cast<int>(boxes_of(results[i], "motion").size());
  }
  const Json summary = summary_of(workers_run);
  EXPECT_EQ(summary["detections"].integer("face"), faces);
  EXPECT_EQ(summary["detections"].integer("motion"), motion);
  EXPECT_GE(motion, kFrames - 8);
}

TEST_F(Vision, AnOrderedStageSkipsAFrameDroppedBeforeItAndKeepsTheRestInOrder) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {160, 120}, 30));
  // Frame 7 kills every worker that runs it, in the parallel stage before the ordered one: it is
  // dropped (worker_crash) and the ordered stage must not wait for it.
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages:
  - name: before
    workers: 2
    ops:
      - op: crash
        seq: 7
        how: abort
  - name: track
    ops:
      - op: optical_flow
  - name: after
    workers: 2
    ops:
      - op: draw
results: {path: out/results.jsonl}
sink: {type: null}
limits: {crash_limit: 10}
)");
  const RunResult r = run_cvpipe({"run", config}, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_written"), 29);
  EXPECT_EQ(summary["dropped"].integer("worker_crash"), 1);
  const auto results = read_results(path("out/results.jsonl"));
  ASSERT_EQ(results.size(), 29u);
  long long previous = -1;
  for (const Json& line : results) {
    EXPECT_GT(line.integer("seq"), previous);
    EXPECT_NE(line.integer("seq"), 7);
    previous = line.integer("seq");
  }
}

TEST_F(Vision, ARestartedOrderedStageGoesOnInOrder) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {96, 64}, 30));
  // The ordered stage's worker dies on its 10th frame, and its replacement on its 10th: each
  // restart starts optical_flow's state over; the frames still come out in order.
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages:
  - name: before
    workers: 2
    ops:
      - op: gaussian_blur
  - name: track
    ops:
      - op: optical_flow
      - op: crash
        every: 10
        how: segv
  - name: after
    workers: 2
    ops:
      - op: draw
results: {path: out/results.jsonl}
sink: {type: null}
limits: {crash_limit: 10}
)");
  const RunResult r = run_cvpipe({"run", config}, 60s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_GE(stage_in(summary, "track").integer("restarts"), 2);
  EXPECT_EQ(summary.integer("frames_written") + summary["dropped"].integer("worker_crash"), 30);
  const auto results = read_results(path("out/results.jsonl"));
  EXPECT_EQ(static_cast<long long>(results.size()), summary.integer("frames_written"));
  long long previous = -1;
  for (const Json& line : results) {
    EXPECT_GT(line.integer("seq"), previous);
    previous = line.integer("seq");
  }
}

TEST_F(Vision, ARelativeCascadePathIsRelativeToTheConfigInTheWorkersToo) {
  std::filesystem::create_directories(path("cfg"));
  std::filesystem::copy_file("/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml", path("cfg/mine.xml"));
  const std::string config = write("cfg/pipeline.yaml", R"(source: {type: synthetic, width: 96, height: 64, frames: 5}
stages:
  - name: faces
    workers: 2
    ops:
      - op: haar_faces
        cascade: mine.xml
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"run", config});  // in the test binary's working directory, not cfg/
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  write_file(path("cfg/pipeline2.yaml"), read_file(config));
  std::filesystem::remove(path("cfg/mine.xml"));
  const RunResult missing = run_cvpipe({"validate", path("cfg/pipeline2.yaml")});
  EXPECT_EQ(missing.exit_code, 78) << describe(missing);
  EXPECT_NE(missing.err.find(path("cfg/mine.xml") + ": no such file"), std::string::npos) << missing.err;
}

TEST_F(Vision, ASecondSignalDropsWhatWaitsAtAnOrderedStageAndTheRunEnds) {
  // A slow parallel stage before an ordered one, and two SIGINTs: the frames in flight, those held
  // at the ordered stage's gate included, are dropped as aborted, and nothing waits for ever.
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 96, height: 64, frames: 100000}
stages:
  - name: before
    workers: 3
    ops:
      - op: sleep
        ms: 30
  - name: track
    ops:
      - op: motion
      - op: sleep
        ms: 5
  - name: after
    workers: 2
    ops:
      - op: draw
results: {path: out/results.jsonl}
sink: {type: null}
)");
  RunningProgram p = start_cvpipe({"run", config});
  for (int i = 0; i < 300 && read_file(path("out/results.jsonl")).size() < 2000; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(::kill(p.pid(), SIGINT), 0);
  std::this_thread::sleep_for(20ms);
  ASSERT_EQ(::kill(p.pid(), SIGINT), 0);
  const RunResult r = finish_cvpipe(p, 20s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const Json summary = summary_of(r);
  EXPECT_EQ(summary.integer("frames_read"), summary.integer("frames_written") + summary.integer("frames_dropped"));
  const auto results = read_results(path("out/results.jsonl"));
  EXPECT_EQ(static_cast<long long>(results.size()), summary.integer("frames_written"));
  for (std::size_t i = 0; i < results.size(); ++i) EXPECT_EQ(results[i].integer("seq"), static_cast<long long>(i));
}

TEST_F(Vision, AnOrderedStageOnTwoWorkersIsAConfigErrorAtItsLine) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: track
    workers: 2
    ops:
      - op: motion
results: {path: out/results.jsonl}
sink: {type: null}
)");
  for (const char* verb : {"validate", "run"}) {
    const RunResult r = run_cvpipe({verb, config});
    EXPECT_EQ(r.exit_code, 78) << describe(r);
    EXPECT_NE(r.err.find(config + ":4:14: stages[0].workers: op motion keeps state from frame to frame, so stage "
                                  "\"track\" is ordered: it runs on one worker"),
              std::string::npos)
        << r.err;
  }
  EXPECT_FALSE(exists(path("out/results.jsonl"))) << "a config error creates nothing";
  const RunResult r = run_cvpipe({"validate", config, "--set", "stages.track.workers=1"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
}

TEST_F(Vision, ResultsGoToStdoutBeforeTheSummary) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 96, height: 64, frames: 12}
stages:
  - name: track
    ops:
      - op: motion
        warmup: 1
results: {path: "-"}
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 13u) << r.out;
  for (int i = 0; i < 12; ++i) {
    const auto j = Json::parse(lines[static_cast<std::size_t>(i)]);
    ASSERT_TRUE(j) << lines[static_cast<std::size_t>(i)];
    EXPECT_EQ(j->integer("seq"), i);
  }
  EXPECT_EQ(summary_of(r).integer("frames_written"), 12);
}

TEST_F(Vision, TheResultsFileHoldsEveryFrameWrittenWhenWorkersCrashTheRunToAnEnd) {
  ASSERT_TRUE(make_clip(path("clip.mkv"), {96, 64}, 40));
  const std::string config = write("pipeline.yaml", R"(source: {type: file, path: clip.mkv}
stages:
  - name: track
    ops:
      - op: optical_flow
      - op: crash
        every: 15
        how: abort
results: {path: out/results.jsonl}
sink: {type: null}
limits: {crash_limit: 2, crash_window: 60}
)");
  const RunResult r = run_cvpipe({"run", config}, 60s);
  ASSERT_EQ(r.exit_code, 70) << describe(r);
  const Json summary = summary_of(r);
  const auto results = read_results(path("out/results.jsonl"));
  EXPECT_GE(summary.integer("frames_written"), 14);
  EXPECT_EQ(static_cast<long long>(results.size()), summary.integer("frames_written"));
}

TEST_F(Vision, AResultsFileThatCannotBeCreatedIsExit73BeforeAnythingRuns) {
  write_file(path("blocker"), "a file where the results folder should be");
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 64, height: 48, frames: 5}
stages:
  - name: s
    ops:
      - op: identity
results: {path: blocker/results.jsonl}
sink: {type: null}
)");
  const RunResult r = run_cvpipe({"run", config});
  EXPECT_EQ(r.exit_code, 73) << describe(r);
  EXPECT_NE(r.err.find("cvpipe: output error: results.path: cannot create output folder " + path("blocker") + ": " +
                       path("blocker") + " is not a folder"),
            std::string::npos)
      << r.err;
}

TEST_F(Vision, ARemovedResultsFileStopsTheRunWithExit73) {
  const std::string config = write("pipeline.yaml", R"(source: {type: synthetic, width: 64, height: 48, frames: 100000, fps: 200, pace: realtime}
stages:
  - name: s
    ops:
      - op: identity
results: {path: out/results.jsonl}
sink: {type: null}
)");
  RunningProgram p = start_cvpipe({"run", config});
  for (int i = 0; i < 200 && !exists(path("out/results.jsonl")); ++i) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  std::filesystem::remove_all(path("out"));
  const RunResult r = finish_cvpipe(p, 20s);
  EXPECT_EQ(r.exit_code, 73) << describe(r);
  EXPECT_NE(r.err.find("was removed"), std::string::npos) << r.err;
}

// dnn_detect in the worker processes, on a tiny model whose outputs are constants (the
// dnn_test_models fixture makes it in the working directory): every frame gets the boxes the
// model's outputs decode to, scaled to the frame, with two workers as inline; validate names a
// model that does not fit at its key.
TEST_F(Vision, DnnDetectRunsInTheWorkersAsInline) {
  const std::string models = (std::filesystem::current_path() / "models").string();
  ASSERT_TRUE(exists(models + "/yolo_v5.onnx")) << "made by the dnn_test_models test (tests/dnn/make_models.py)";
  const std::string config = write("dnn.yaml",
      "source: {type: synthetic, width: 256, height: 128, frames: 30}\n"
      "stages:\n  - name: detect\n    workers: 2\n    ops:\n"
      "      - {op: dnn_detect, model: " + models + "/yolo_v5.onnx, decoder: yolo, input: [64, 64], labels: [face, person]}\n"
      "      - {op: draw}\n"
      "sink: {type: \"null\"}\nresults: {path: out/results.jsonl}\n");
  const RunResult inline_run = run_cvpipe({"run", config, "--inline"});
  ASSERT_EQ(inline_run.exit_code, 0) << describe(inline_run);
  const auto inline_results = results_without_time(path("out/results.jsonl"));
  const RunResult workers_run = run_cvpipe({"run", config});
  ASSERT_EQ(workers_run.exit_code, 0) << describe(workers_run);
  EXPECT_EQ(results_without_time(path("out/results.jsonl")), inline_results);
  const auto results = read_results(path("out/results.jsonl"));
  ASSERT_EQ(results.size(), 30u);
  for (const Json& line : results) {
    // The 64x64 input's boxes on a 256x128 frame: x by 4, y by 2.
    const auto faces = boxes_of(line, "face"), people = boxes_of(line, "person");
    ASSERT_EQ(faces.size(), 1u);
    ASSERT_EQ(people.size(), 1u);
    EXPECT_EQ(faces[0].rect, cv::Rect(48, 24, 64, 32));
    EXPECT_EQ(people[0].rect, cv::Rect(152, 60, 48, 40));
  }

  const RunResult bad = run_cvpipe({"validate", config, "--set", "stages.detect.ops[0].decoder=ssd"});
  EXPECT_EQ(bad.exit_code, 78) << describe(bad);
  EXPECT_NE(bad.err.find("stages[0].ops[0].decoder: ssd reads one output of [1, 1, N, 7]; the model gives [1, 4, 7]"),
            std::string::npos) << describe(bad);
}

// MediaPipe's BlazeFace (fetched from npm by the dnn_blazeface_model test) on faces pasted into
// a moving scene: with two workers, cvpipe finds what the same model run through OpenCV's Python
// dnn with a decode of the test's own finds (tests/dnn/blazeface_reference.py), and the face is
// found where it was pasted.
TEST_F(Vision, BlazeFaceFindsWhatOpenCVsDnnFindsAndWhereTheFaceWasPasted) {
  ASSERT_SAMPLE("basketball1.png");
  const std::string model =
      (std::filesystem::current_path() / "models/blazeface/face_detection_front_128x128_barracuda.onnx").string();
  ASSERT_TRUE(exists(model)) << "fetched by the dnn_blazeface_model test (tests/dnn/fetch_blazeface.sh)";
  cv::Mat face;
  cv::resize(cv::imread(kSampleData + "basketball1.png")(cv::Rect(42, 61, 100, 100)), face, {120, 120}, 0, 0, cv::INTER_AREA);
  // Where the face is in the pasted image, as OpenCV's Haar cascade finds it.
  cv::Mat gray;
  cv::cvtColor(face, gray, cv::COLOR_BGR2GRAY);
  std::vector<cv::Rect> haar;
  cv::CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
      .detectMultiScale(gray, haar, 1.1, 3, 0, {24, 24});
  ASSERT_EQ(haar.size(), 1u);
  const cv::Rect haar_face = haar[0];
  cv::Mat background(256, 256, CV_8UC3);
  cv::RNG rng(9);
  rng.fill(background, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(background, background, {15, 15}, 0);
  std::vector<cv::Mat> frames;
  std::vector<cv::Rect> pasted;
  for (int i = 0; i < 12; ++i) {
    cv::Mat f = background.clone();
    pasted.emplace_back(10 + 10 * i, 60 + 3 * i, 120, 120);
    face.copyTo(f(pasted.back()));
    frames.push_back(f);
  }
  write_clip(path("faces.mkv"), frames);
  const std::string config = write("faces.yaml", "source: {type: file, path: faces.mkv}\n"
      "stages:\n  - name: faces\n    workers: 2\n    ops:\n"
      "      - {op: dnn_detect, model: " + model + ", decoder: blazeface, input: [128, 128]}\n"
      "results: {path: out/results.jsonl}\nsink: {type: \"null\"}\n");
  const RunResult r = run_cvpipe({"run", config});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const RunResult reference = run_program({"/usr/bin/python3", source_path("tests/dnn/blazeface_reference.py"), model,
                                           path("faces.mkv")}, 120s);
  ASSERT_EQ(reference.exit_code, 0) << describe(reference);

  const auto results = read_results(path("out/results.jsonl"));
  const std::vector<std::string> expected = lines_of(reference.out);
  ASSERT_EQ(results.size(), frames.size());
  ASSERT_EQ(expected.size(), frames.size()) << reference.out;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto found = boxes_of(results[i], "face");
    const auto want = Json::parse(expected[i]);
    ASSERT_TRUE(want) << expected[i];
    const auto items = want->items();
    ASSERT_EQ(found.size(), items.size()) << "frame " << i << ": the reference found " << expected[i];
    for (std::size_t k = 0; k < found.size(); ++k) {
      const cv::Rect ref(static_cast<int>(items[k][0].number()), static_cast<int>(items[k][1].number()),
                         static_cast<int>(items[k][2].number()), static_cast<int>(items[k][3].number()));
      EXPECT_LE(std::abs(found[k].rect.x - ref.x), 1) << "frame " << i;
      EXPECT_LE(std::abs(found[k].rect.y - ref.y), 1) << "frame " << i;
      EXPECT_LE(std::abs(found[k].rect.width - ref.width), 2) << "frame " << i;
      EXPECT_LE(std::abs(found[k].rect.height - ref.height), 2) << "frame " << i;
      EXPECT_NEAR(found[k].score, items[k][4].number(), 1e-3) << "frame " << i;
    }
    // The pasted face, where OpenCV's Haar cascade finds it in the pasted image (IoU > 0.4).
    ASSERT_EQ(found.size(), 1u) << "frame " << i;
    const cv::Rect where = haar_face + pasted[i].tl();
    const double iou = static_cast<double>((found[0].rect & where).area()) / (found[0].rect | where).area();
    EXPECT_GT(iou, 0.4) << "frame " << i << ": " << found[0].rect << " where the cascade finds " << where;
  }
}

}  // namespace
}  // namespace cvpipe
