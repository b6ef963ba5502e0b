#include "pipeline/ops/op_chain.hpp"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cvpipe {
namespace {

// What a test op does with a frame; `in` and `out` as the runner gives them.
using ProcessFn = std::function<Status(const cv::Mat& in, cv::Mat& out)>;

struct Calls {
  int opens = 0, closes = 0, processes = 0;
};

// An op whose frame work, open() result and format rule come from the test. Not registered.
class TestOp final : public Op {
 public:
  // Shares `calls` with the test: the op outlives the definitions it was made from.
  TestOp(ProcessFn process, Status open_result, std::shared_ptr<Calls> calls)
      : process_(std::move(process)), open_result_(std::move(open_result)), calls_(std::move(calls)) {}
  Status open() override {
    ++calls_->opens;
    return open_result_;
  }
  Status process(const cv::Mat& in, cv::Mat& out, FrameMeta&) override {
    ++calls_->processes;
    return process_(in, out);
  }
  void close() override { ++calls_->closes; }

 private:
  ProcessFn process_;
  Status open_result_;
  std::shared_ptr<Calls> calls_;
};

FormatResult same_format(const FrameFormat& in) { return FormatResult::ok(in); }

FormatResult bgr_to_gray(const FrameFormat& in) {
  if (in.type != CV_8UC3) return FormatResult::fail("expects 8UC3, got " + in.describe());
  return FormatResult::ok({in.width, in.height, CV_8UC1});
}

struct TestOpDef {
  std::string name;
  bool in_place = false;
  ProcessFn process;
  std::function<FormatResult(const FrameFormat&)> format = same_format;
  Status open_result = Status::ok();
  std::shared_ptr<Calls> calls = std::make_shared<Calls>();
};

OpEntry entry(const TestOpDef& def, std::string path) {
  OpSpec spec;
  spec.name = def.name;
  spec.in_place = def.in_place;
  spec.output_format = def.format;
  spec.make = [def] { return std::make_unique<TestOp>(def.process, def.open_result, def.calls); };
  return OpEntry{std::move(spec), std::move(path), {}};
}

std::vector<OpEntry> chain_of(const std::vector<TestOpDef>& defs) {
  std::vector<OpEntry> ops;
  for (std::size_t i = 0; i < defs.size(); ++i) ops.push_back(entry(defs[i], "stages[0].ops[" + std::to_string(i) + "]"));
  return ops;
}

// out = in + k, through an OpenCV function that takes an OutputArray (so it writes in place).
ProcessFn add(int k) {
  return [k](const cv::Mat& in, cv::Mat& out) {
    cv::add(in, cv::Scalar::all(k), out);
    return Status::ok();
  };
}

ProcessFn multiply(double k) {
  return [k](const cv::Mat& in, cv::Mat& out) {
    in.convertTo(out, in.type(), k);
    return Status::ok();
  };
}

ProcessFn keep_first_channel() {
  return [](const cv::Mat& in, cv::Mat& out) {
    cv::extractChannel(in, out, 0);
    return Status::ok();
  };
}

// Two frame buffers of a slot, each filled with `fill`, as a worker maps them.
struct Buffers {
  explicit Buffers(std::size_t bytes, std::uint8_t fill = 0) : a(bytes, fill), b(bytes, fill), ptrs{a.data(), b.data()} {}
  cv::Mat frame(int which, const FrameFormat& f) { return cv::Mat(f.height, f.width, f.type, ptrs[which]); }
  std::vector<std::uint8_t> a, b;
  std::uint8_t* const ptrs[2];
};

// Pixel i is i (mod 256): a frame in which every pixel differs from its neighbours.
void fill_ramp(cv::Mat m) {
  std::uint8_t* p = m.ptr<std::uint8_t>();
  for (std::size_t i = 0; i < m.total() * m.elemSize(); ++i) p[i] = static_cast<std::uint8_t>(i);
}

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

bool same(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0; }

const FrameFormat kGray{8, 6, CV_8UC1};
const FrameFormat kBgr{8, 6, CV_8UC3};

TEST(OpChain, ComputesTheFormatAfterEachOp) {
  const OpChain chain(chain_of({{.name = "to_gray", .process = keep_first_channel(), .format = bgr_to_gray},
                                {.name = "add", .process = add(1)}}),
                      kBgr);
  EXPECT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain.input(), kBgr);
  EXPECT_EQ(chain.output(), kGray);
}

TEST(OpChain, OutputOfAChainWithoutOpsIsItsInput) {
  const OpChain chain({}, kBgr);
  EXPECT_EQ(chain.output(), kBgr);
}

TEST(OpChain, RejectsAnOpThatCannotTakeItsInputNamingItsPath) {
  const auto ops = chain_of({{.name = "to_gray", .process = keep_first_channel(), .format = bgr_to_gray},
                             {.name = "to_gray_again", .process = keep_first_channel(), .format = bgr_to_gray}});
  try {
    OpChain chain(ops, kBgr);
    FAIL() << "a chain that feeds a gray frame to an op taking BGR was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(contains(e.what(), "stages[0].ops[1]"));
    EXPECT_TRUE(contains(e.what(), "to_gray_again"));
    EXPECT_TRUE(contains(e.what(), "expects 8UC3, got 8x6 8UC1"));
  }
}

TEST(OpChain, AnInPlaceOpWritesTheBufferItReads) {
  OpChain chain(chain_of({{.name = "add", .in_place = true, .process = add(5)}}), kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes(), 10);
  int current = 0;
  FrameMeta meta;
  ASSERT_TRUE(chain.run(buffers.ptrs, current, meta));
  EXPECT_EQ(current, 0);
  EXPECT_TRUE(same(buffers.frame(0, kGray), cv::Mat(6, 8, CV_8UC1, cv::Scalar(15))));
  EXPECT_TRUE(same(buffers.frame(1, kGray), cv::Mat(6, 8, CV_8UC1, cv::Scalar(10))));  // untouched
}

TEST(OpChain, AnOpThatIsNotInPlaceWritesTheOtherBuffer) {
  OpChain chain(chain_of({{.name = "add", .process = add(5)}}), kGray);
  ASSERT_TRUE(chain.open());
  for (const int start : {0, 1}) {
    Buffers buffers(kGray.bytes(), 10);
    int current = start;
    FrameMeta meta;
    ASSERT_TRUE(chain.run(buffers.ptrs, current, meta));
    EXPECT_EQ(current, 1 - start);
    EXPECT_TRUE(same(buffers.frame(1 - start, kGray), cv::Mat(6, 8, CV_8UC1, cv::Scalar(15))));
    EXPECT_TRUE(same(buffers.frame(start, kGray), cv::Mat(6, 8, CV_8UC1, cv::Scalar(10))));  // the input, intact
  }
}

TEST(OpChain, AChainMixingBothKindsEndsInTheRightBufferWithTheRightPixels) {
  // to_gray writes buffer 1, times 2 stays there, plus 3 writes buffer 0, plus 10 stays there.
  OpChain chain(chain_of({{.name = "to_gray", .process = keep_first_channel(), .format = bgr_to_gray},
                          {.name = "times_2", .in_place = true, .process = multiply(2)},
                          {.name = "plus_3", .process = add(3)},
                          {.name = "plus_10", .in_place = true, .process = add(10)}}),
                kBgr);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kBgr.bytes());
  cv::Mat input = buffers.frame(0, kBgr);
  fill_ramp(input);
  cv::Mat expected;
  cv::extractChannel(input, expected, 0);
  expected = expected * 2 + 13;  // saturating, as the ops are
  int current = 0;
  FrameMeta meta;
  ASSERT_TRUE(chain.run(buffers.ptrs, current, meta));
  EXPECT_EQ(current, 0);
  EXPECT_TRUE(same(buffers.frame(current, chain.output()), expected));
}

TEST(OpChain, AcceptsAnOpThatCreatesItsOutputInTheFormatItWasGiven) {
  OpChain chain(chain_of({{.name = "create_same",
                           .process =
                               [](const cv::Mat& in, cv::Mat& out) {
                                 out.create(in.rows, in.cols, in.type());  // keeps the buffer
                                 out.setTo(7);
                                 return Status::ok();
                               }}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 0;
  FrameMeta meta;
  const Status s = chain.run(buffers.ptrs, current, meta);
  EXPECT_TRUE(s) << s.message();
  EXPECT_EQ(buffers.b[0], 7);
}

TEST(OpChain, RejectsAnOpThatReallocatesItsOutput) {
  for (const bool in_place : {false, true}) {
    SCOPED_TRACE(in_place ? "in place" : "two buffers");
    OpChain chain(chain_of({{.name = "fresh_mat",
                             .in_place = in_place,
                             .process =
                                 [](const cv::Mat& in, cv::Mat& out) {
                                   out = cv::Mat(in.rows, in.cols, in.type(), cv::Scalar(1));
                                   return Status::ok();
                                 }}}),
                  kGray);
    ASSERT_TRUE(chain.open());
    Buffers buffers(kGray.bytes());
    int current = 0;
    FrameMeta meta;
    const Status s = chain.run(buffers.ptrs, current, meta);
    EXPECT_FALSE(s);
    EXPECT_TRUE(contains(s.message(), "fresh_mat"));
    EXPECT_TRUE(contains(s.message(), "new buffer"));
  }
}

TEST(OpChain, RejectsAnOpThatCreatesItsOutputInAnotherFormat) {
  const std::vector<std::pair<std::string, ProcessFn>> cases = {
      {"other_type",
       [](const cv::Mat& in, cv::Mat& out) {
         out.create(in.rows, in.cols, CV_16UC1);
         return Status::ok();
       }},
      {"other_size", [](const cv::Mat& in, cv::Mat& out) {
         out.create(in.rows / 2, in.cols / 2, in.type());  // would fit in the buffer, but is not it
         return Status::ok();
       }}};
  for (const auto& [name, process] : cases) {
    OpChain chain(chain_of({{.name = name, .process = process}}), kGray);
    ASSERT_TRUE(chain.open());
    Buffers buffers(kGray.bytes());
    int current = 0;
    FrameMeta meta;
    const Status s = chain.run(buffers.ptrs, current, meta);
    EXPECT_FALSE(s) << name;
    EXPECT_TRUE(contains(s.message(), "op " + name));
    EXPECT_TRUE(contains(s.message(), "new buffer"));
  }
}

TEST(OpChain, TurnsAnOpenCvExceptionIntoAFailedStatusAndRunsNoFurtherOp) {
  const TestOpDef next{.name = "next", .process = add(1)};
  OpChain chain(chain_of({{.name = "cv_thrower",
                           .process =
                               [](const cv::Mat&, cv::Mat&) -> Status {
                                 CV_Error(cv::Error::StsBadArg, "kernel size 4 is even");
                               }},
                          next}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 0;
  FrameMeta meta;
  Status s;
  EXPECT_NO_THROW(s = chain.run(buffers.ptrs, current, meta));
  EXPECT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "cv_thrower"));
  EXPECT_TRUE(contains(s.message(), "kernel size 4 is even"));
  EXPECT_EQ(next.calls->processes, 0);
}

TEST(OpChain, TurnsAStdExceptionIntoAFailedStatus) {
  OpChain chain(chain_of({{.name = "std_thrower",
                           .process = [](const cv::Mat&, cv::Mat&) -> Status { throw std::out_of_range("index 9 of 4"); }}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 0;
  FrameMeta meta;
  Status s;
  EXPECT_NO_THROW(s = chain.run(buffers.ptrs, current, meta));
  EXPECT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "std_thrower"));
  EXPECT_TRUE(contains(s.message(), "index 9 of 4"));
}

TEST(OpChain, PassesOnAFailedStatusNamingTheOp) {
  OpChain chain(chain_of({{.name = "refuser",
                           .process = [](const cv::Mat&, cv::Mat&) { return Status::error("no faces today"); }}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 0;
  FrameMeta meta;
  const Status s = chain.run(buffers.ptrs, current, meta);
  EXPECT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "refuser"));
  EXPECT_TRUE(contains(s.message(), "no faces today"));
}

TEST(OpChain, OpenFailureClosesTheOpsOpenedBeforeItAndNamesTheOp) {
  const TestOpDef first{.name = "first", .process = add(1)};
  const TestOpDef failing{.name = "detector", .process = add(1), .open_result = Status::error("model.onnx not found")};
  const TestOpDef last{.name = "last", .process = add(1)};
  {
    OpChain chain(chain_of({first, failing, last}), kGray);
    const Status s = chain.open();
    EXPECT_FALSE(s);
    EXPECT_TRUE(contains(s.message(), "detector"));
    EXPECT_TRUE(contains(s.message(), "model.onnx not found"));
    EXPECT_EQ(first.calls->opens, 1);
    EXPECT_EQ(first.calls->closes, 1);
    EXPECT_EQ(failing.calls->opens, 1);
    EXPECT_EQ(failing.calls->closes, 0);
    EXPECT_EQ(last.calls->opens, 0);
  }
  // Destroying the chain closes nothing a second time.
  EXPECT_EQ(first.calls->closes, 1);
  EXPECT_EQ(failing.calls->closes, 0);
  EXPECT_EQ(last.calls->closes, 0);
}

TEST(OpChain, OpenTurnsAThrowIntoAFailedStatus) {
  struct ThrowingOpen final : Op {
    Status open() override { throw std::runtime_error("cannot map weights"); }
    Status process(const cv::Mat&, cv::Mat&, FrameMeta&) override { return Status::ok(); }
  };
  OpSpec spec;
  spec.name = "loader";
  spec.output_format = same_format;
  spec.make = [] { return std::make_unique<ThrowingOpen>(); };
  OpChain chain({OpEntry{spec, "stages[0].ops[0]", {}}}, kGray);
  Status s;
  EXPECT_NO_THROW(s = chain.open());
  EXPECT_FALSE(s);
  EXPECT_TRUE(contains(s.message(), "loader"));
  EXPECT_TRUE(contains(s.message(), "cannot map weights"));
}

TEST(OpChain, ClosesEveryOpOnceAfterASuccessfulOpen) {
  const TestOpDef a{.name = "a", .process = add(1)};
  const TestOpDef b{.name = "b", .in_place = true, .process = add(1)};
  {
    OpChain chain(chain_of({a, b}), kGray);
    ASSERT_TRUE(chain.open());
    chain.close();
    EXPECT_EQ(a.calls->closes, 1);
    EXPECT_EQ(b.calls->closes, 1);
  }
  EXPECT_EQ(a.calls->closes, 1);
  EXPECT_EQ(b.calls->closes, 1);
}

// An op that records what input_intact held when it ran, then does `inner`.
ProcessFn seeing(const std::uint32_t& intact, std::vector<std::uint32_t>& seen, ProcessFn inner) {
  return [&intact, &seen, inner = std::move(inner)](const cv::Mat& in, cv::Mat& out) {
    seen.push_back(intact);
    return inner(in, out);
  };
}

TEST(OpChain, ClearsInputIntactJustBeforeTheSecondOpOfATwoBufferChainWritesOverTheInput) {
  std::uint32_t intact = 1;
  std::vector<std::uint32_t> seen;
  OpChain chain(chain_of({{.name = "a", .process = seeing(intact, seen, add(1))},
                          {.name = "b", .process = seeing(intact, seen, add(1))}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 0;
  FrameMeta meta;
  ASSERT_TRUE(chain.run(buffers.ptrs, current, meta, &intact));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 0}));
  EXPECT_EQ(intact, 0u);
}

TEST(OpChain, ClearsInputIntactBeforeAnInPlaceFirstOp) {
  std::uint32_t intact = 1;
  std::vector<std::uint32_t> seen;
  OpChain chain(chain_of({{.name = "a", .in_place = true, .process = seeing(intact, seen, add(1))},
                          {.name = "b", .process = seeing(intact, seen, add(1))}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes());
  int current = 1;
  FrameMeta meta;
  ASSERT_TRUE(chain.run(buffers.ptrs, current, meta, &intact));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 0}));
  EXPECT_EQ(intact, 0u);
}

TEST(OpChain, KeepsInputIntactWhenNoOpWritesTheInputBuffer) {
  std::uint32_t intact = 1;
  std::vector<std::uint32_t> seen;
  OpChain chain(chain_of({{.name = "a", .process = seeing(intact, seen, add(1))},
                          {.name = "b", .in_place = true, .process = seeing(intact, seen, add(1))},
                          {.name = "c", .in_place = true, .process = seeing(intact, seen, add(1))}}),
                kGray);
  ASSERT_TRUE(chain.open());
  Buffers buffers(kGray.bytes(), 40);
  int current = 0;
  FrameMeta meta;
  ASSERT_TRUE(chain.run(buffers.ptrs, current, meta, &intact));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 1, 1}));
  EXPECT_EQ(intact, 1u);
  EXPECT_EQ(current, 1);
  EXPECT_TRUE(same(buffers.frame(0, kGray), cv::Mat(6, 8, CV_8UC1, cv::Scalar(40))));  // the input, to run again
}

}  // namespace
}  // namespace cvpipe
