#pragma once
// HttpServer: a small HTTP/1.1 server for an endpoint that must go on answering while clients it
// cannot trust are connected: probes that a liveness check depends on, beside slow or idle clients,
// streams and floods.
//
// One thread runs it: every socket is non-blocking and waited on with epoll, so no client can hold
// a thread. Every connection is bounded: its request head must arrive within a deadline and fit in
// a few KiB, a keep-alive connection that asks nothing is closed, a client that reads nothing is
// dropped, and past a cap on connections the idlest one is closed, or the new one gets an
// immediate 503. Only GET and HEAD are served; a request with a body gets 405 or 413 without its
// body being read. Responses carry the headers the server was given for all.
//
// The handler runs on the server's thread and must not block: it returns a response at once, a
// stream (appended to whenever the connection has sent all it had and on wake()), or a long poll
// (asked again on wake() and at its deadline). wake() may be called from any thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cvpipe {

struct HttpRequest {
  std::string method;  // GET or HEAD: no other method reaches a handler
  std::string path;    // "/metrics", as sent
  std::string query;   // what follows '?', or ""
  std::string host;    // the Host header
  std::string authorization;
  std::string peer;    // the client's address, without its port
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A stream (the body has no length; the connection closes when it ends): appends what it has to
  // `out`, returns false once the stream is over.
  std::function<bool(std::string& out)> stream;
  // A long poll: the response once there is one; with `timed_out`, it must give one.
  std::function<std::optional<HttpResponse>(bool timed_out)> later;
  std::int64_t later_ms = 0;  // how long the long poll may wait
  std::function<void()> on_close;  // called once when the connection goes, whatever ended it
};

struct HttpLimits {
  int max_connections = 128;
  std::size_t max_head_bytes = 8192;
  int head_timeout_ms = 5000;   // from the connection's start (or the last response) to a whole head
  int idle_timeout_ms = 5000;   // a keep-alive connection that asks nothing for this long is closed
  int write_timeout_ms = 10000; // a client that takes no byte for this long is dropped
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds host:port and serves on a thread of its own until destroyed. `common_headers` go on
  // every response. Throws std::system_error naming what failed (EADDRINUSE for a taken port).
  static std::unique_ptr<HttpServer> start(const std::string& host, int port, const HttpLimits& limits,
                                           Handler handler,
                                           std::vector<std::pair<std::string, std::string>> common_headers);
  virtual ~HttpServer() = default;
  // Any thread: streams and long polls look again for what they wait for. Never blocks.
  virtual void wake() noexcept = 0;
  // The port it listens on (the one asked for, or the kernel's choice for 0).
  virtual int port() const noexcept = 0;
};

// "HTTP reason phrase" for the status codes the server uses.
const char* http_reason(int status);

}  // namespace cvpipe
