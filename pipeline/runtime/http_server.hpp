#pragma once
// HttpServer: the optional observability endpoint (config `http`): /metrics, /healthz, /readyz,
// /status.json, /preview.jpg, /stream.mjpg and the status page /. The implementation (on
// cpp-httplib, with JPEG encoding from imgcodecs) lives in the io module, which registers its
// factory when loaded: worker processes never link either.
//
// Threads: its own (a listener and httplib's pool). Handlers only read RunStats' relaxed atomics
// and the preview frame, so the pipeline's threads never wait for them. Destroying it stops
// the listener, ends open streams within a second and joins every thread.
#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

class HttpServer {
 public:
  struct Context {
    HttpConfig config;
    const RunStats* stats = nullptr;  // outlives the server
    std::string config_yaml;          // shown on the status page
    bool inline_mode = false;
    std::int64_t total_frames = -1;   // -1: unknown
  };

  virtual ~HttpServer() = default;

  // Writer thread: whether someone watches the preview and its rate (http.preview_fps) allows a
  // frame now. Never blocks, never allocates.
  virtual bool wants_frame(std::int64_t now_ns) noexcept = 0;
  // Writer thread, after wants_frame(): takes a downscaled copy of the frame (at most
  // http.preview_width wide). Never blocks: if a viewer holds the last copy, this frame is skipped.
  virtual void offer_frame(const cv::Mat& frame) = 0;

  // Loads the module with the endpoint (cvpipe-io.so) unless it is there; std::runtime_error
  // when it cannot be loaded.
  static void load();
  // Binds `context.config.listen` and starts serving, after load(). Throws UnavailableError
  // (exit 69) when the address cannot be bound.
  static std::unique_ptr<HttpServer> start(Context context);

  using Factory = std::unique_ptr<HttpServer> (*)(Context);
  static void register_factory(Factory factory);  // by the io module, at load time
};

}  // namespace cvpipe
