#pragma once
// HttpEndpoint: the optional observability endpoint (config `http`): /metrics, /healthz, /readyz,
// /status.json, /preview.jpg, /stream.mjpg and the status page /. Its implementation (on
// cpp-httplib, with JPEG encoding from imgcodecs) lives in the io module
// (pipeline/modules/io/http_server.cpp), which registers it with CVPIPE_REGISTER_HTTP_ENDPOINT
// when loaded: worker processes never link either.
//
// Threads: its own (a listener and httplib's pool). Handlers only read RunStats' relaxed atomics
// and the preview frame, so the pipeline's threads never wait for them. Destroying it stops
// the listener, ends open streams within a second and joins every thread.
#include <opencv2/core.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/named_registry.hpp"
#include "pipeline/runtime/run_stats.hpp"

namespace cvpipe {

class HttpEndpoint {
 public:
  struct Context {
    HttpConfig config;
    const RunStats* stats = nullptr;  // outlives the endpoint
    std::string config_yaml;          // shown on the status page
    bool inline_mode = false;
    std::int64_t total_frames = -1;   // -1: unknown
  };

  virtual ~HttpEndpoint() = default;

  // Writer thread: whether someone watches the preview and its rate (http.preview_fps) allows a
  // frame now. Never blocks, never allocates.
  virtual bool wants_frame(std::int64_t now_ns) noexcept = 0;
  // Writer thread, after wants_frame(): takes a downscaled copy of the frame (at most
  // http.preview_width wide). Never blocks: if a viewer holds the last copy, this frame is skipped.
  virtual void offer_frame(const cv::Mat& frame) = 0;

  // Loads the module with the endpoint unless it is there; std::runtime_error when it cannot be
  // loaded.
  static void load();
  // Binds `context.config.listen` and starts serving, after load(). Throws UnavailableError
  // (exit 69) when the address cannot be bound.
  static std::unique_ptr<HttpEndpoint> start(Context context);
};

struct HttpEndpointInfo {
  std::string name;
  std::function<std::unique_ptr<HttpEndpoint>(HttpEndpoint::Context)> start;
  bool hidden = false;
  const char* file = "";
};
using HttpEndpointRegistry = NamedRegistry<HttpEndpointInfo>;

// The endpoint's implementation registers itself with this, named "http".
#define CVPIPE_REGISTER_HTTP_ENDPOINT(id, name, start_fn) \
  CVPIPE_REGISTER(::cvpipe::HttpEndpointRegistry, id, ::cvpipe::HttpEndpointInfo{name, start_fn})

}  // namespace cvpipe
