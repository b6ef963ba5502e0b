// The HTTP endpoint (pipeline/runtime/http_endpoint.hpp) on Debian's cpp-httplib. Part of the io
// module: it links httplib and imgcodecs (JPEG), which worker processes never load.
#include "pipeline/runtime/http_endpoint.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/metrics.hpp"
#include "pipeline/runtime/run_report.hpp"

namespace cvpipe {

extern const char* const kStatusPageHtml;  // status_page.html beside this file, embedded by CMake

namespace {

constexpr int kMaxStreamViewers = 4;  // each holds one of httplib's pool threads while it watches
constexpr std::int64_t kPreviewRequestKeepsAliveNs = 2'000'000'000;  // /preview.jpg keeps frames coming this long

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

class HttplibServer final : public HttpEndpoint {
 public:
  explicit HttplibServer(Context context) : ctx_(std::move(context)), stats_(*ctx_.stats) {
    // Replaces httplib's default (SO_REUSEADDR only): the listening socket must not reach the
    // worker processes spawned later.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      ::fcntl(sock, F_SETFD, ::fcntl(sock, F_GETFD) | FD_CLOEXEC);
    });
    server_.set_read_timeout(2, 0);
    server_.set_write_timeout(2, 0);  // a viewer that reads nothing for 2 s is dropped
    server_.set_keep_alive_max_count(20);
    routes();
    if (!server_.bind_to_port(ctx_.config.host, ctx_.config.port))
      throw UnavailableError("http.listen " + ctx_.config.listen + ": cannot listen there: " + std::strerror(errno) +
                             " (is another process using the port?)");
    listener_ = std::thread([this] { server_.listen_after_bind(); });
  }

  ~HttplibServer() override {
    {
      std::lock_guard lock(frame_mutex_);
      stopping_ = true;
    }
    frame_ready_.notify_all();
    server_.stop();
    if (listener_.joinable()) listener_.join();
  }

  bool wants_frame(std::int64_t now_ns) noexcept override {
    const bool watched = viewers_.load(std::memory_order_relaxed) > 0 ||
                         now_ns - last_preview_request_ns_.load(std::memory_order_relaxed) < kPreviewRequestKeepsAliveNs;
    if (!watched || now_ns - last_offer_ns_ < static_cast<std::int64_t>(1e9 / ctx_.config.preview_fps)) return false;
    last_offer_ns_ = now_ns;
    return true;
  }

  void offer_frame(const cv::Mat& frame) override {
    std::unique_lock lock(frame_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;  // a viewer is copying the last one: skip this frame
    const int width = std::min(frame.cols, ctx_.config.preview_width);
    const int height = std::max(1, frame.rows * width / std::max(1, frame.cols));
    if (width == frame.cols) frame.copyTo(preview_);
    else cv::resize(frame, preview_, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    ++generation_;
    lock.unlock();
    frame_ready_.notify_all();
  }

 private:
  void routes() {
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(prometheus_metrics(take_snapshot(stats_, monotonic_ns()), ctx_.inline_mode),
                      "text/plain; version=0.0.4; charset=utf-8");
    });
    server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      reply(res, liveness(stats_, monotonic_ns()));
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      reply(res, readiness(stats_, ctx_.config.ready_window_s, monotonic_ns()));
    });
    server_.Get("/status.json", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(snapshot_mutex_);  // only HTTP threads take it
      const RunSnapshot now = take_snapshot(stats_, monotonic_ns());
      if (last_snapshot_.ns == 0 || now.ns - last_snapshot_.ns > 500'000'000) {
        previous_snapshot_ = last_snapshot_.ns ? last_snapshot_ : RunSnapshot::zero_at(now.started_ns);
        last_snapshot_ = now;
      }
      res.set_header("Cache-Control", "no-store");
      res.set_content(stats_json(now, previous_snapshot_, ctx_.inline_mode, ctx_.total_frames), "application/json");
    });
    server_.Get("/config.yaml", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(ctx_.config_yaml, "text/plain; charset=utf-8");
    });
    server_.Get("/", [this](const httplib::Request&, httplib::Response& res) {
      std::string page = kStatusPageHtml;
      const std::string marker = "<!--CONFIG-->";
      if (const auto at = page.find(marker); at != std::string::npos) page.replace(at, marker.size(), html_escape(ctx_.config_yaml));
      res.set_header("Cache-Control", "no-store");
      res.set_content(page, "text/html; charset=utf-8");
    });
    server_.Get("/preview.jpg", [this](const httplib::Request&, httplib::Response& res) {
      last_preview_request_ns_.store(monotonic_ns(), std::memory_order_relaxed);
      std::vector<uchar> jpeg;
      std::uint64_t generation = 0;
      // Waits a little for a first frame, so a page that just opened gets one.
      if (!next_jpeg(0, std::chrono::milliseconds(1000), jpeg, generation)) {
        res.status = 503;
        res.set_content("no frame yet\n", "text/plain");
        return;
      }
      res.set_header("Cache-Control", "no-store");
      res.set_header("X-Frame-Generation", std::to_string(generation));
      res.set_content(reinterpret_cast<const char*>(jpeg.data()), jpeg.size(), "image/jpeg");
    });
    server_.Get("/stream.mjpg", [this](const httplib::Request&, httplib::Response& res) {
      if (viewers_.fetch_add(1) >= kMaxStreamViewers) {
        viewers_.fetch_sub(1);
        res.status = 503;
        res.set_content("too many preview viewers (" + std::to_string(kMaxStreamViewers) + ")\n", "text/plain");
        return;
      }
      res.set_header("Cache-Control", "no-store");
      auto sent = std::make_shared<std::uint64_t>(0);
      res.set_content_provider(
          "multipart/x-mixed-replace; boundary=cvpipeframe",
          [this, sent](std::size_t, httplib::DataSink& sink) {
            std::vector<uchar> jpeg;
            std::uint64_t generation = *sent;
            if (!next_jpeg(*sent, std::chrono::milliseconds(500), jpeg, generation)) {
              if (is_stopping()) return false;
              return sink.is_writable();  // nothing new yet: ask again
            }
            *sent = generation;
            const std::string head = "--cvpipeframe\r\nContent-Type: image/jpeg\r\nContent-Length: " +
                                     std::to_string(jpeg.size()) + "\r\n\r\n";
            // A slow viewer blocks here, in its own thread, until the write timeout: the frames
            // offered meanwhile replace each other, and it gets the newest next.
            return sink.write(head.data(), head.size()) &&
                   sink.write(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()) && sink.write("\r\n", 2);
          },
          [this](bool) { viewers_.fetch_sub(1); });
    });
  }

  static void reply(httplib::Response& res, const Verdict& v) {
    res.status = v.http_status;
    res.set_content(v.body, "text/plain; charset=utf-8");
  }

  bool is_stopping() {
    std::lock_guard lock(frame_mutex_);
    return stopping_;
  }

  // Waits up to `timeout` for a preview frame newer than `after`, and encodes it (outside the lock).
  bool next_jpeg(std::uint64_t after, std::chrono::milliseconds timeout, std::vector<uchar>& jpeg,
                 std::uint64_t& generation) {
    cv::Mat copy;
    {
      std::unique_lock lock(frame_mutex_);
      if (!frame_ready_.wait_for(lock, timeout, [&] { return stopping_ || generation_ > after; }) || stopping_)
        return false;
      preview_.copyTo(copy);
      generation = generation_;
    }
    return cv::imencode(".jpg", copy, jpeg, {cv::IMWRITE_JPEG_QUALITY, 75});
  }

  Context ctx_;
  const RunStats& stats_;
  httplib::Server server_;
  std::thread listener_;

  std::mutex frame_mutex_;  // the writer only try_locks it
  std::condition_variable frame_ready_;
  cv::Mat preview_;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;

  std::atomic<int> viewers_{0};
  std::atomic<std::int64_t> last_preview_request_ns_{-kPreviewRequestKeepsAliveNs};
  std::int64_t last_offer_ns_ = 0;  // writer thread only

  std::mutex snapshot_mutex_;
  RunSnapshot last_snapshot_, previous_snapshot_;
};

}  // namespace

CVPIPE_REGISTER_HTTP_ENDPOINT(Httplib, "http", [](HttpEndpoint::Context c) -> std::unique_ptr<HttpEndpoint> {
  return std::make_unique<HttplibServer>(std::move(c));
})

}  // namespace cvpipe
