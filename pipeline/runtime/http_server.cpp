#include "pipeline/runtime/http_server.hpp"

#include <stdexcept>

namespace cvpipe {
namespace {
HttpServer::Factory g_factory = nullptr;  // set during the io module's static initialisation
}

void HttpServer::register_factory(Factory factory) { g_factory = factory; }

std::unique_ptr<HttpServer> HttpServer::start(Context context) {
  if (!g_factory) throw std::runtime_error("http: the io module (cvpipe-io.so) is not loaded");
  return g_factory(std::move(context));
}

}  // namespace cvpipe
