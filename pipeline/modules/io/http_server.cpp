#include "pipeline/modules/io/http_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <system_error>
#include <thread>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/unique_fd.hpp"

namespace cvpipe {
namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::int64_t kDrainNs = 1'000'000'000;  // a closing connection's client gets a second to stop sending
constexpr std::size_t kDrainBytes = 1 << 20;  // and a MiB, thrown away
constexpr int kMaxHeaders = 64;

[[noreturn]] void fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// A parsed request head, or why it is not one.
struct Head {
  HttpRequest request;
  std::string version;  // "HTTP/1.1"
  bool close = false;   // Connection: close (or HTTP/1.0 without keep-alive)
  bool has_body = false;
  std::string error;    // "" when it parsed
  int error_status = 400;
};

Head parse_head(std::string_view text) {
  Head h;
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) {
    h.error = "empty request";
    return h;
  }
  const std::string_view first = lines[0];
  const std::size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    h.error = "bad request line";
    return h;
  }
  h.request.method = std::string(first.substr(0, sp1));
  const std::string_view target = first.substr(sp1 + 1, sp2 - sp1 - 1);
  h.version = std::string(first.substr(sp2 + 1));
  if (h.version != "HTTP/1.1" && h.version != "HTTP/1.0") {
    h.error = "unsupported version";
    h.error_status = 505;
    return h;
  }
  if (target.empty() || target[0] != '/') {
    h.error = "bad target";
    return h;
  }
  const std::size_t q = target.find('?');
  h.request.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) h.request.query = std::string(target.substr(q + 1));
  bool keep_alive = false;
  int headers = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty()) continue;
    if (++headers > kMaxHeaders) {
      h.error = "too many header fields";
      h.error_status = 431;
      return h;
    }
    if (line[0] == ' ' || line[0] == '\t') {  // obsolete line folding: refused (RFC 9112)
      h.error = "folded header";
      return h;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      h.error = "bad header field";
      return h;
    }
    const std::string name = lower(std::string(line.substr(0, colon)));
    const std::string value = trim(line.substr(colon + 1));
    if (name == "host") h.request.host = value;
    else if (name == "authorization") h.request.authorization = value;
    else if (name == "connection") {
      const std::string v = lower(value);
      if (v.find("close") != std::string::npos) h.close = true;
      if (v.find("keep-alive") != std::string::npos) keep_alive = true;
    } else if (name == "transfer-encoding") h.has_body = true;
    else if (name == "content-length") h.has_body = h.has_body || value != "0";
  }
  if (h.version == "HTTP/1.0" && !keep_alive) h.close = true;
  return h;
}

std::string peer_of(const sockaddr_storage& a) {
  char text[INET6_ADDRSTRLEN] = "";
  if (a.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, text, sizeof text);
  else if (a.ss_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, text, sizeof text);
  return text;
}

class EpollServer final : public HttpServer {
 public:
  EpollServer(UniqueFd listener, int port, const HttpLimits& limits, Handler handler,
              std::vector<std::pair<std::string, std::string>> common)
      : listener_(std::move(listener)),
        port_(port),
        limits_(limits),
        handler_(std::move(handler)),
        common_(std::move(common)),
        epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!epoll_) fail("epoll_create1");
    if (!wake_fd_) fail("eventfd");
    watch(listener_.get(), EPOLLIN);
    watch(wake_fd_.get(), EPOLLIN);
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "cvpipe-http");
      loop();
    });
  }

  ~EpollServer() override {
    stopping_.store(true);
    wake();
    if (thread_.joinable()) thread_.join();
    for (auto& [fd, c] : connections_)
      if (c.response.on_close) c.response.on_close();
  }

  void wake() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
  }
  int port() const noexcept override { return port_; }

 private:
  // kDraining: answered and shut for writing; what the client still sends is read and thrown away
  // (bounded in bytes and time) so that closing does not reset the connection before the client
  // has read the answer.
  enum class State { kReading, kWriting, kStreaming, kWaiting, kDraining };
  struct Connection {
    UniqueFd fd;
    std::string peer;
    std::string in, out;
    State state = State::kReading;
    bool close_after = false;     // close once `out` is sent
    std::int64_t head_deadline = 0;  // kReading: the head must be whole by then; kDraining: closed then
    std::size_t drained = 0;         // kDraining: bytes thrown away
    std::int64_t last_write = 0;  // when a byte was last taken by the client
    std::int64_t later_deadline = 0;
    HttpResponse response;        // the streaming or long-polling one
    bool head_only = false;       // the request was HEAD
    std::string version = "HTTP/1.1";  // the request's, once its head is read
  };

  void watch(int fd, std::uint32_t events) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &e) != 0) fail("epoll_ctl add");
  }
  void rewatch(Connection& c) {
    epoll_event e{};
    const bool reads = c.state == State::kReading || c.state == State::kDraining;
    e.events = static_cast<std::uint32_t>(EPOLLRDHUP) | (reads ? static_cast<std::uint32_t>(EPOLLIN) : 0u) |
               (c.out.empty() ? 0u : static_cast<std::uint32_t>(EPOLLOUT));
    e.data.fd = c.fd.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &e);
  }

  void loop() {
    std::vector<epoll_event> events(64);
    while (!stopping_.load()) {
      const int n = ::epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms());
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<std::size_t>(i)].data.fd;
        const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
        if (fd == listener_.get()) accept_all();
        else if (fd == wake_fd_.get()) on_wake();
        else on_event(fd, ev);
      }
      expire();
    }
  }

  // Until the nearest deadline, at most a second.
  int wait_ms() const {
    const std::int64_t now = monotonic_ns();
    std::int64_t nearest = now + 1'000'000'000;
    for (const auto& [fd, c] : connections_) {
      if (c.state == State::kReading || c.state == State::kDraining) nearest = std::min(nearest, c.head_deadline);
      if (c.state == State::kWaiting) nearest = std::min(nearest, c.later_deadline);
      if (!c.out.empty()) nearest = std::min<std::int64_t>(nearest, c.last_write + limits_.write_timeout_ms * 1'000'000LL);
    }
    return static_cast<int>(std::clamp<std::int64_t>((nearest - now) / 1'000'000 + 1, 0, 1000));
  }

  void accept_all() {
    for (;;) {
      sockaddr_storage address{};
      socklen_t size = sizeof address;
      UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&address), &size,
                            SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) return;  // EAGAIN: all taken; anything else: the next turn tries again
      if (static_cast<int>(connections_.size()) >= limits_.max_connections && !evict_idlest()) {
        // No room, and nobody idle to make room: said at once, in one write, and closed.
        const std::string busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
                                 "Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections now\n";
        [[maybe_unused]] const ssize_t sent = ::send(fd.get(), busy.data(), busy.size(), MSG_NOSIGNAL);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      const int raw = fd.get();
      Connection c;
      c.fd = std::move(fd);
      c.peer = peer_of(address);
      c.head_deadline = monotonic_ns() + limits_.head_timeout_ms * 1'000'000LL;
      c.last_write = monotonic_ns();
      watch(raw, EPOLLIN | EPOLLRDHUP);
      connections_.emplace(raw, std::move(c));
    }
  }

  // Closes the connection that has waited longest for a request with none begun; false if none.
  bool evict_idlest() {
    auto idlest = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it)
      if (it->second.state == State::kDraining ||
          (it->second.state == State::kReading && it->second.in.empty() &&
           (idlest == connections_.end() || it->second.head_deadline < idlest->second.head_deadline)))
        idlest = it;
    if (idlest == connections_.end()) return false;
    close(idlest);
    return true;
  }

  void close(std::map<int, Connection>::iterator it) {
    if (it->second.response.on_close) it->second.response.on_close();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
    connections_.erase(it);
  }

  using Iterator = std::map<int, Connection>::iterator;

  void on_wake() {
    std::uint64_t count;
    while (::read(wake_fd_.get(), &count, sizeof count) > 0) {
    }
    std::vector<int> fds;
    for (const auto& [fd, c] : connections_)
      if (c.state == State::kStreaming || c.state == State::kWaiting) fds.push_back(fd);
    for (int fd : fds) {
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      if (it->second.state == State::kWaiting) poll_later(it, false);
      else if (it->second.out.empty()) flush(it);  // pulls the stream's next part
    }
  }

  void on_event(int fd, std::uint32_t ev) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) return;
    if (ev & (EPOLLERR | EPOLLHUP)) return close(it);
    if ((ev & EPOLLOUT) && !flush(it)) return;
    Connection& c = it->second;
    if (c.state == State::kDraining) return drop_input(it);
    if ((ev & EPOLLIN) && c.state == State::kReading) {
      bool peer_done = false;
      char buffer[kReadChunk];
      for (;;) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n > 0) {
          c.in.append(buffer, static_cast<std::size_t>(n));
          if (c.in.size() > limits_.max_head_bytes) break;  // enough to judge it
          continue;
        }
        if (n == 0) peer_done = true;  // it sent all it will: answer what it asked, then close
        else if (errno != EAGAIN && errno != EWOULDBLOCK) return close(it);
        break;
      }
      serve(fd);
      if (peer_done) {
        auto still = connections_.find(fd);
        if (still == connections_.end()) return;
        if (still->second.state == State::kReading) return close(still);
        still->second.close_after = true;
      }
    } else if ((ev & EPOLLRDHUP) && c.state != State::kReading && c.state != State::kWriting) {
      return close(it);  // a viewer or a long poll whose client went away
    }
  }

  // Serves every whole request in the connection's input while it is free to.
  void serve(int fd) {
    for (;;) {
      auto it = connections_.find(fd);
      if (it == connections_.end() || it->second.state != State::kReading) return;
      Connection& c = it->second;
      std::size_t end = c.in.find("\r\n\r\n");
      std::size_t skip = 4;
      if (end == std::string::npos) {
        end = c.in.find("\n\n");
        skip = 2;
      }
      if (end == std::string::npos || end + skip > limits_.max_head_bytes) {
        if (c.in.size() > limits_.max_head_bytes) reply_error(it, 431, "request head too large");
        return;
      }
      Head head = parse_head(std::string_view(c.in).substr(0, end));
      c.in.erase(0, end + skip);
      head.request.peer = c.peer;
      // Echoed in the status line: only a version this server speaks, never the client's bytes.
      c.version = head.version == "HTTP/1.0" ? "HTTP/1.0" : "HTTP/1.1";
      if (!head.error.empty()) return reply_error(it, head.error_status, head.error);
      if (head.request.method != "GET" && head.request.method != "HEAD") {
        // The body, if any, is never read: the connection closes after the answer.
        HttpResponse r;
        r.status = 405;
        r.body = "only GET and HEAD\n";
        r.headers.emplace_back("Allow", "GET, HEAD");
        return respond(it, std::move(r), true);
      }
      if (head.has_body) return reply_error(it, 413, "a GET or HEAD takes no body");
      c.head_only = head.request.method == "HEAD";
      HttpResponse r;
      try {
        r = handler_(head.request);
      } catch (const std::exception&) {
        r = HttpResponse{};
        r.status = 500;
        r.body = "internal error\n";
      }
      respond(it, std::move(r), head.close);
    }
  }

  void reply_error(Iterator it, int status, const std::string& why) {
    HttpResponse r;
    r.status = status;
    r.body = why + "\n";
    respond(it, std::move(r), true);
  }

  void respond(Iterator it, HttpResponse r, bool close_after) {
    Connection& c = it->second;
    if (r.later) {
      c.state = State::kWaiting;
      c.close_after = close_after;
      c.later_deadline = monotonic_ns() + r.later_ms * 1'000'000;
      c.response = std::move(r);
      rewatch(c);
      return poll_later(it, false);
    }
    std::string& out = c.out;
    out += c.version + " " + std::to_string(r.status) + " " + http_reason(r.status) + "\r\n";
    out += "Content-Type: " + r.content_type + "\r\n";
    for (const auto& [name, value] : common_) out += name + ": " + value + "\r\n";
    for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
    if (r.stream) {
      out += "Connection: close\r\n\r\n";
      c.state = c.head_only ? State::kWriting : State::kStreaming;
      c.close_after = true;
      c.response = std::move(r);
    } else {
      out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
      out += close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
      if (!c.head_only) out += r.body;
      c.state = State::kWriting;
      c.close_after = close_after;
      if (r.on_close) c.response.on_close = std::move(r.on_close);
    }
    flush(it, false);  // serve() goes on with the next request itself
  }

  void poll_later(Iterator it, bool timed_out) {
    Connection& c = it->second;
    std::optional<HttpResponse> r = c.response.later(timed_out);
    if (!r) {
      if (timed_out) {
        c.response.later = nullptr;
        reply_error(it, 503, "nothing to answer yet");
      }
      return;
    }
    c.response.later = nullptr;
    respond(it, std::move(*r), c.close_after);
  }

  // Sends what it can of the connection's output, and a stream's next parts while the client takes
  // them; then, with `serve_next`, a request that was waiting behind the response. False when the
  // connection was closed.
  bool flush(Iterator it, bool serve_next = true) {
    Connection& c = it->second;
    for (;;) {
      while (!c.out.empty()) {
        const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n > 0) {
          c.out.erase(0, static_cast<std::size_t>(n));
          c.last_write = monotonic_ns();
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        close(it);
        return false;
      }
      if (!c.out.empty() || c.state != State::kStreaming) break;
      // All sent: the stream's next part, if it has one (a slow client skips the parts it missed).
      if (!c.response.stream(c.out)) c.state = State::kWriting;
      if (c.out.empty() && c.state == State::kStreaming) break;
    }
    if (c.out.empty() && c.state == State::kWriting) {
      if (c.close_after) {
        drain(it);
        return false;
      }
      c.state = State::kReading;
      c.head_deadline = monotonic_ns() + limits_.idle_timeout_ms * 1'000'000LL;
      rewatch(c);
      if (serve_next && !c.in.empty()) {  // a pipelined request
        const int fd = it->first;
        serve(fd);
        return connections_.count(fd) > 0;
      }
      return true;
    }
    rewatch(c);
    return true;
  }

  void drain(Iterator it) {
    Connection& c = it->second;
    ::shutdown(c.fd.get(), SHUT_WR);
    c.state = State::kDraining;
    c.in.clear();
    c.drained = 0;
    c.head_deadline = monotonic_ns() + kDrainNs;
    rewatch(c);
  }

  // Reads and drops what a closing connection's client still sends; closes it at its end or limit.
  void drop_input(Iterator it) {
    Connection& c = it->second;
    char buffer[kReadChunk];
    for (;;) {
      const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
      if (n > 0 && (c.drained += static_cast<std::size_t>(n)) < kDrainBytes) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      return close(it);
    }
  }

  void expire() {
    const std::int64_t now = monotonic_ns();
    std::vector<int> fds;
    for (const auto& [fd, c] : connections_) fds.push_back(fd);
    for (int fd : fds) {
      auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      Connection& c = it->second;
      if (!c.out.empty() && now - c.last_write > limits_.write_timeout_ms * 1'000'000LL) {
        close(it);  // takes nothing
      } else if (c.state == State::kDraining && now > c.head_deadline) {
        close(it);
      } else if (c.state == State::kReading && now > c.head_deadline) {
        if (c.in.empty()) close(it);  // an idle keep-alive
        else reply_error(it, 408, "request head too slow");
      } else if (c.state == State::kWaiting && now > c.later_deadline) {
        poll_later(it, true);
      }
    }
  }

  UniqueFd listener_;
  int port_;
  HttpLimits limits_;
  Handler handler_;
  std::vector<std::pair<std::string, std::string>> common_;
  UniqueFd epoll_, wake_fd_;
  std::map<int, Connection> connections_;  // server thread only
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace

const char* http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::unique_ptr<HttpServer> HttpServer::start(const std::string& host, int port, const HttpLimits& limits,
                                              Handler handler,
                                              std::vector<std::pair<std::string, std::string>> common_headers) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    errno = EADDRNOTAVAIL;
    fail("resolve " + host + " (" + ::gai_strerror(rc) + ")");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket");
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), found->ai_addr, found->ai_addrlen) != 0) fail("bind " + host + ":" + service);
  if (::listen(fd.get(), 128) != 0) fail("listen");
  sockaddr_storage bound{};
  socklen_t size = sizeof bound;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &size);
  const int actual = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                                       : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  return std::make_unique<EpollServer>(std::move(fd), actual, limits, std::move(handler), std::move(common_headers));
}

}  // namespace cvpipe
