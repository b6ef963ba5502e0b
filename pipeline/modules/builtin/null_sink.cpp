// null: discards frames (for benchmarks: measures everything but the encoder).
//   sink:
//     type: null
#include "pipeline/runtime/sink.hpp"

namespace cvpipe {
namespace {

class NullSink final : public Sink {
 public:
  Status write(const cv::Mat&, const FrameMeta&) override {
    ++written_;
    return Status::ok();
  }
  Status close() override { return Status::ok(); }
  std::int64_t frames_written() const override { return written_; }

 private:
  std::int64_t written_ = 0;
};

SinkSpec parse_null_sink(ConfigReader&) {
  SinkSpec spec;
  spec.type = "null";
  spec.description = "null (frames discarded)";
  spec.check_format = [](const FrameFormat&) { return std::string(); };
  spec.open = [](const FrameFormat&, double) -> std::unique_ptr<Sink> { return std::make_unique<NullSink>(); };
  return spec;
}

}  // namespace

CVPIPE_REGISTER_SINK(Null, "null", "discards frames (benchmarks)", "type: null", parse_null_sink)

}  // namespace cvpipe
