#pragma once
// What the security tests need to play hostile clients on 127.0.0.1: raw TCP connections that
// send exactly what the test says, when it says, and HTTP exchanges with a bound on every wait.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "pipeline/core/clock.hpp"
#include "pipeline/core/unique_fd.hpp"

namespace cvpipe::test {

// A TCP port on 127.0.0.1 that nothing listens on now.
inline int free_port() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return -1;
  return ntohs(addr.sin_port);
}

// A connection to 127.0.0.1:port; invalid if it could not connect.
inline UniqueFd connect_to(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return UniqueFd();
  return fd;
}

inline bool send_all(int fd, const std::string& data) {
  for (std::size_t done = 0; done < data.size();) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until the peer closes, `max_bytes` arrived, or `timeout` passed.
inline std::string read_for(int fd, std::chrono::milliseconds timeout, std::size_t max_bytes = 1 << 20) {
  std::string out;
  const std::int64_t deadline = monotonic_ns() + timeout.count() * 1'000'000;
  char buffer[4096];
  while (out.size() < max_bytes) {
    const std::int64_t left_ms = (deadline - monotonic_ns()) / 1'000'000;
    if (left_ms <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left_ms)) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

struct Exchange {
  int status = -1;     // -1: no answer
  std::string head, body;
  double ms = 0;       // from connecting to the whole answer
};

// One request on a connection of its own ("Connection: close"), bounded by `timeout`.
inline Exchange http_get(int port, const std::string& path, const std::string& extra_headers = "",
                         std::chrono::milliseconds timeout = std::chrono::seconds(5), const std::string& method = "GET") {
  const std::int64_t start = monotonic_ns();
  Exchange e;
  UniqueFd fd = connect_to(port);
  if (!fd || !send_all(fd.get(), method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                     "\r\nConnection: close\r\n" + extra_headers + "\r\n"))
    return e;
  const std::string reply = read_for(fd.get(), timeout);
  e.ms = static_cast<double>(monotonic_ns() - start) / 1e6;
  const std::size_t end = reply.find("\r\n\r\n");
  if (reply.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return e;
  e.status = std::stoi(reply.substr(9, 3));
  e.head = reply.substr(0, end);
  e.body = reply.substr(end + 4);
  return e;
}

}  // namespace cvpipe::test
