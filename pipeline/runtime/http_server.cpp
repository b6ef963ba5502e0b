#include "pipeline/runtime/http_server.hpp"

#include <stdexcept>

#include "pipeline/runtime/io_module.hpp"

namespace cvpipe {
namespace {
HttpServer::Factory g_factory = nullptr;  // set during the io module's static initialisation
}

void HttpServer::register_factory(Factory factory) { g_factory = factory; }

void HttpServer::load() {
  if (!g_factory) load_module_for(ModuleEntry::kHttp);
  if (!g_factory) throw std::runtime_error("http: cvpipe-io.so registered no HTTP endpoint");
}

std::unique_ptr<HttpServer> HttpServer::start(Context context) {
  load();
  return g_factory(std::move(context));
}

}  // namespace cvpipe
