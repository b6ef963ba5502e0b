#include "pipeline/ops/op_chain.hpp"

#include <atomic>
#include <stdexcept>

namespace cvpipe {
namespace {

cv::Mat header(const FrameFormat& f, std::uint8_t* data) { return cv::Mat(f.height, f.width, f.type, data); }

}  // namespace

OpChain::OpChain(const std::vector<OpEntry>& ops, const FrameFormat& input) : input_(input) {
  formats_.push_back(input);
  for (const auto& entry : ops) {
    const FormatResult r = entry.spec.output_format(formats_.back());
    if (!r.error.empty())
      throw std::runtime_error(entry.path + ": " + entry.spec.name + " cannot take " + formats_.back().describe() +
                               ": " + r.error);
    // In place, it writes over its input: its output is the same frame.
    if (entry.spec.in_place && r.format != formats_.back())
      throw std::runtime_error(entry.path + ": " + entry.spec.name + " works in place but turns " +
                               formats_.back().describe() + " into " + r.format.describe());
    formats_.push_back(r.format);
    names_.push_back(entry.spec.name);
    in_place_.push_back(entry.spec.in_place);
    ops_.push_back(entry.spec.make());
  }
}

OpChain::~OpChain() { close(); }

Status OpChain::open() {
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    Status s;
    try {
      s = ops_[i]->open();
    } catch (const std::exception& e) {
      s = Status::error(e.what());
    }
    if (!s) {
      // Close what was opened, as if the chain had never started.
      for (std::size_t j = 0; j < i; ++j) {
        try {
          ops_[j]->close();
        } catch (...) {
        }
      }
      return Status::error("op " + names_[i] + " failed to open: " + s.message());
    }
  }
  opened_ = true;
  return Status::ok();
}

void OpChain::close() {
  if (!opened_) return;
  opened_ = false;
  for (auto& op : ops_) {
    try {
      op->close();
    } catch (...) {
    }
  }
}

Status OpChain::run(std::uint8_t* const buffers[2], int& current, FrameMeta& meta, std::uint32_t* input_intact) {
  std::uint8_t* const input = buffers[current];
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    const FrameFormat& in_format = formats_[i];
    const FrameFormat& out_format = formats_[i + 1];
    const int target = in_place_[i] ? current : 1 - current;
    if (input_intact && buffers[target] == input) {
      std::atomic_ref<std::uint32_t>(*input_intact).store(0, std::memory_order_release);
      input_intact = nullptr;
    }
    cv::Mat in = header(in_format, buffers[current]);
    cv::Mat out = in_place_[i] ? in : header(out_format, buffers[target]);
    Status s;
    try {
      s = ops_[i]->process(in, out, meta);
    } catch (const cv::Exception& e) {
      s = Status::error(std::string("OpenCV error: ") + e.what());
    } catch (const std::exception& e) {
      s = Status::error(e.what());
    }
    if (s && (out.data != buffers[target] || out.cols != out_format.width || out.rows != out_format.height ||
              out.type() != out_format.type))
      s = Status::error("wrote a " + FrameFormat{out.cols, out.rows, out.type()}.describe() +
                        " frame into a new buffer instead of the " + out_format.describe() + " one it was given");
    if (!s) return Status::error("op " + names_[i] + ": " + s.message());
    current = target;
  }
  return Status::ok();
}

}  // namespace cvpipe
