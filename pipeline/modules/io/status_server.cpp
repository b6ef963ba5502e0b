// The HTTP endpoint (pipeline/runtime/http_endpoint.hpp): its routes, who may ask for them, and the
// preview, on HttpServer (one thread, every connection bounded). Part of the io module:
// the preview's JPEGs come from imgcodecs, which worker processes never load.
//
//   /healthz /readyz                 the probes: always answered, never behind the token
//   /metrics                         Prometheus text (behind the token unless http.metrics_public)
//   / /status.js /status.css         the status page
//   /status.json /config.yaml        the figures and the config, secrets hidden
//   /preview.jpg /stream.mjpg        the newest frame; a stream of them (4 viewers at most)
//
// Each preview frame is encoded once, on a thread of its own at the workers' priority, and shared
// by every viewer and /preview.jpg; a client asking /preview.jpg faster than http.preview_fps gets
// 429.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/modules/io/http_server.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/http_endpoint.hpp"
#include "pipeline/runtime/metrics.hpp"
#include "pipeline/runtime/run_report.hpp"

namespace cvpipe {

extern const char* const kStatusPageHtml;  // status_page.{html,js,css} beside this file, embedded by CMake
extern const char* const kStatusPageJs;
extern const char* const kStatusPageCss;

namespace {

constexpr int kMaxStreamViewers = 4;
constexpr std::int64_t kPreviewInterestNs = 2'000'000'000;  // a /preview.jpg keeps frames coming this long
constexpr std::int64_t kFreshPreviewNs = 2'000'000'000;     // a JPEG older than this is waited on anew
constexpr int kPreviewWaitMs = 1000;

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

std::string base64_decode(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    const std::size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) continue;  // '=' and anything else
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    if ((count += 6) >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

// Equal, in a time that does not depend on where they differ.
bool same_secret(std::string_view a, std::string_view b) {
  if (b.empty()) return false;  // no secret matches nothing
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % b.size()]);
  return diff == 0;
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The host of a Host header ("[::1]:8080" -> "::1", "cam:8080" -> "cam").
std::string host_name(const std::string& header) {
  if (!header.empty() && header.front() == '[') return header.substr(1, header.find(']') - 1);
  return header.substr(0, header.find(':'));
}

// The preview: frames offered by the writer, encoded once each on a thread of its own.
class PreviewEncoder {
 public:
  PreviewEncoder(int width_limit, std::function<void()> encoded) : width_limit_(width_limit), encoded_(std::move(encoded)) {
    thread_ = std::thread([this] { run(); });
  }
  ~PreviewEncoder() {
    {
      const std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    thread_.join();
  }

  // Writer thread: a downscaled copy of the frame, unless the encoder holds the last one.
  void offer(const cv::Mat& frame) {
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    const int width = std::min(frame.cols, width_limit_);
    const int height = std::max(1, frame.rows * width / std::max(1, frame.cols));
    if (width == frame.cols) frame.copyTo(pending_);
    else cv::resize(frame, pending_, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    have_pending_ = true;
    lock.unlock();
    ready_.notify_one();
  }

  struct Jpeg {
    std::shared_ptr<const std::string> bytes;
    std::uint64_t generation = 0;
    std::int64_t at_ns = 0;
  };
  Jpeg latest() const {
    const std::lock_guard lock(latest_mutex_);
    return latest_;
  }

 private:
  void run() {
    pthread_setname_np(pthread_self(), "cvpipe-preview");
    // Niceness is a thread's own on Linux: this thread only.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), std::min(19, ::getpriority(PRIO_PROCESS, 0) + kDefaultWorkerNice));
    cv::Mat frame;
    std::vector<uchar> jpeg;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || have_pending_; });
        if (stopping_) return;
        std::swap(frame, pending_);
        have_pending_ = false;
      }
      if (!cv::imencode(".jpg", frame, jpeg, {cv::IMWRITE_JPEG_QUALITY, 75})) continue;
      {
        const std::lock_guard lock(latest_mutex_);
        latest_.bytes = std::make_shared<const std::string>(jpeg.begin(), jpeg.end());
        ++latest_.generation;
        latest_.at_ns = monotonic_ns();
      }
      encoded_();
    }
  }

  const int width_limit_;
  std::function<void()> encoded_;
  std::mutex mutex_;  // the writer only try_locks it
  std::condition_variable ready_;
  cv::Mat pending_;
  bool have_pending_ = false;
  bool stopping_ = false;
  mutable std::mutex latest_mutex_;
  Jpeg latest_;
  std::thread thread_;
};

class StatusServer final : public HttpEndpoint {
 public:
  explicit StatusServer(Context context) : ctx_(std::move(context)), stats_(*ctx_.stats) {
    const HttpConfig& http = ctx_.config;
    if (!http.allowed_hosts.empty()) {
      allowed_hosts_ = http.allowed_hosts;
    } else if (is_loopback(http.host)) {
      // Bound to loopback: only pages of this machine may ask (a page elsewhere that rebinds a
      // name of its own to 127.0.0.1 sends that name).
      allowed_hosts_ = {"localhost", "127.0.0.1", "::1", http.host};
    }
    HttpLimits limits;
    limits.max_connections = http.max_connections;
    const std::vector<std::pair<std::string, std::string>> common = {
        {"X-Content-Type-Options", "nosniff"}, {"X-Frame-Options", "DENY"}, {"Referrer-Policy", "no-referrer"},
        {"Cache-Control", "no-store"}, {"Cross-Origin-Resource-Policy", "same-origin"}};
    // The encoder wakes the server (its streams and long polls) after each frame; the routes read
    // the encoder's frames: it is made first, and goes last.
    encoder_ = std::make_unique<PreviewEncoder>(http.preview_width, [this] {
      const std::lock_guard lock(wake_mutex_);
      if (server_) server_->wake();
    });
    try {
      auto server = HttpServer::start(http.host, http.port, limits, [this](const HttpRequest& r) { return route(r); },
                                      common);
      const std::lock_guard lock(wake_mutex_);
      server_ = std::move(server);
    } catch (const std::system_error& e) {
      throw UnavailableError("http.listen " + http.listen + ": cannot listen there: " + e.code().message() +
                             " (is another process using the port?)");
    }
  }

  ~StatusServer() override {
    std::unique_ptr<HttpServer> server;
    {
      const std::lock_guard lock(wake_mutex_);
      server = std::move(server_);
    }
    server.reset();  // no route runs after this
    encoder_.reset();
  }

  bool wants_frame(std::int64_t now_ns) noexcept override {
    const bool watched = viewers_.load(std::memory_order_relaxed) > 0 ||
                         now_ns - last_preview_request_ns_.load(std::memory_order_relaxed) < kPreviewInterestNs;
    if (!watched || now_ns - last_offer_ns_ < static_cast<std::int64_t>(1e9 / ctx_.config.preview_fps)) return false;
    last_offer_ns_ = now_ns;
    return true;
  }

  void offer_frame(const cv::Mat& frame) override { encoder_->offer(frame); }

 private:
  static HttpResponse text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }

  bool authorized(const HttpRequest& r) const {
    const std::string& token = ctx_.config.token;
    if (token.empty()) return true;
    const std::string& a = r.authorization;
    if (a.rfind("Bearer ", 0) == 0) return same_secret(a.substr(7), token);
    if (a.rfind("Basic ", 0) == 0) {  // a browser's prompt: any user name, the token as password
      const std::string pair = base64_decode(a.substr(6));
      const std::size_t colon = pair.find(':');
      return colon != std::string::npos && same_secret(pair.substr(colon + 1), token);
    }
    return false;
  }

  HttpResponse route(const HttpRequest& r) {
    if (!allowed_hosts_.empty() &&
        std::find(allowed_hosts_.begin(), allowed_hosts_.end(), host_name(r.host)) == allowed_hosts_.end())
      return text(421, "this endpoint does not answer for that host name (http.allowed_hosts)\n");
    const std::string& path = r.path;
    if (path == "/healthz") return verdict(liveness(stats_, monotonic_ns()));
    if (path == "/readyz") return verdict(readiness(stats_, ctx_.config.ready_window_s, monotonic_ns()));
    const bool needs_token = !(path == "/metrics" && ctx_.config.metrics_public);
    if (needs_token && !authorized(r)) {
      HttpResponse denied = text(401, "a token is needed (http.token_file): Authorization: Bearer TOKEN\n");
      denied.headers = {{"WWW-Authenticate", "Bearer realm=\"cvpipe\""}, {"WWW-Authenticate", "Basic realm=\"cvpipe\""}};
      return denied;
    }
    if (path == "/metrics") {
      HttpResponse m = text(200, prometheus_metrics(take_snapshot(stats_, monotonic_ns()), ctx_.inline_mode));
      m.content_type = "text/plain; version=0.0.4; charset=utf-8";
      return m;
    }
    if (path == "/status.json") return status_json();
    if (path == "/config.yaml") return text(200, ctx_.config_yaml);
    if (path == "/") return page();
    if (path == "/status.js") return asset(kStatusPageJs, "text/javascript; charset=utf-8");
    if (path == "/status.css") return asset(kStatusPageCss, "text/css; charset=utf-8");
    if (path == "/preview.jpg") return preview(r);
    if (path == "/stream.mjpg") return stream();
    return text(404, "not found\n");
  }

  static HttpResponse verdict(const Verdict& v) { return text(v.http_status, v.body); }

  static HttpResponse asset(const char* content, const char* type) {
    HttpResponse r = text(200, content);
    r.content_type = type;
    return r;
  }

  HttpResponse page() const {
    std::string html = kStatusPageHtml;
    const std::string marker = "<!--CONFIG-->";
    if (const auto at = html.find(marker); at != std::string::npos) html.replace(at, marker.size(), html_escape(ctx_.config_yaml));
    HttpResponse r = asset(html.c_str(), "text/html; charset=utf-8");
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    return r;
  }

  HttpResponse status_json() {
    const RunSnapshot now = take_snapshot(stats_, monotonic_ns());
    // Rates over the half second (or more) before: snapshots kept here, on the server's thread.
    if (last_snapshot_.ns == 0 || now.ns - last_snapshot_.ns > 500'000'000) {
      previous_snapshot_ = last_snapshot_.ns ? last_snapshot_ : RunSnapshot::zero_at(now.started_ns);
      last_snapshot_ = now;
    }
    HttpResponse r = text(200, stats_json(now, previous_snapshot_, ctx_.inline_mode, ctx_.total_frames));
    r.content_type = "application/json";
    return r;
  }

  // One token bucket per client address: preview_fps a second, twice that at once.
  bool admit_preview(const std::string& peer, std::int64_t now) {
    const double rate = ctx_.config.preview_fps, burst = std::max(2.0, 2 * rate);
    if (buckets_.size() > 1024) buckets_.clear();  // bounded, whatever the number of clients
    Bucket& b = buckets_[peer];
    if (b.at == 0) b = {burst, now};
    b.tokens = std::min(burst, b.tokens + static_cast<double>(now - b.at) / 1e9 * rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  static HttpResponse jpeg(const PreviewEncoder::Jpeg& j) {
    HttpResponse r;
    r.content_type = "image/jpeg";
    r.body = *j.bytes;
    r.headers.emplace_back("X-Frame-Generation", std::to_string(j.generation));
    return r;
  }

  HttpResponse preview(const HttpRequest& request) {
    const std::int64_t now = monotonic_ns();
    if (!admit_preview(request.peer, now)) {
      HttpResponse r = text(429, "asking for previews faster than http.preview_fps\n");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    last_preview_request_ns_.store(now, std::memory_order_relaxed);
    const PreviewEncoder::Jpeg j = encoder_->latest();
    if (j.bytes && now - j.at_ns < kFreshPreviewNs) return jpeg(j);
    // Nothing recent: the writer offers frames again now that someone asked; the first is awaited.
    HttpResponse wait;
    wait.later_ms = kPreviewWaitMs;
    wait.later = [this, after = j.generation](bool timed_out) -> std::optional<HttpResponse> {
      const PreviewEncoder::Jpeg next = encoder_->latest();
      if (next.bytes && next.generation > after) return jpeg(next);
      if (timed_out) return text(503, "no frame yet\n");
      return std::nullopt;
    };
    return wait;
  }

  HttpResponse stream() {
    if (viewers_.fetch_add(1) >= kMaxStreamViewers) {
      viewers_.fetch_sub(1);
      return text(503, "too many preview viewers (" + std::to_string(kMaxStreamViewers) + ")\n");
    }
    HttpResponse r;
    r.content_type = "multipart/x-mixed-replace; boundary=cvpipeframe";
    r.stream = [this, sent = std::uint64_t{0}](std::string& out) mutable {
      const PreviewEncoder::Jpeg j = encoder_->latest();
      if (!j.bytes || j.generation == sent) return true;  // nothing new yet: on the next wake()
      sent = j.generation;
      out += "--cvpipeframe\r\nContent-Type: image/jpeg\r\nContent-Length: " + std::to_string(j.bytes->size()) +
             "\r\n\r\n";
      out += *j.bytes;
      out += "\r\n";
      return true;
    };
    r.on_close = [this] { viewers_.fetch_sub(1); };
    return r;
  }

  struct Bucket {
    double tokens = 0;
    std::int64_t at = 0;
  };

  Context ctx_;
  const RunStats& stats_;
  std::vector<std::string> allowed_hosts_;  // empty: any
  std::atomic<int> viewers_{0};
  std::atomic<std::int64_t> last_preview_request_ns_{-kPreviewInterestNs};
  std::int64_t last_offer_ns_ = 0;  // writer thread only
  // Server thread only:
  RunSnapshot last_snapshot_, previous_snapshot_;
  std::map<std::string, Bucket> buckets_;
  std::unique_ptr<PreviewEncoder> encoder_;
  std::mutex wake_mutex_;  // server_ as the encoder's thread sees it
  std::unique_ptr<HttpServer> server_;
};

}  // namespace

CVPIPE_REGISTER_HTTP_ENDPOINT(Status, "http", [](HttpEndpoint::Context c) -> std::unique_ptr<HttpEndpoint> {
  return std::make_unique<StatusServer>(std::move(c));
})

}  // namespace cvpipe
