#include "pipeline/runtime/http_endpoint.hpp"

#include <stdexcept>

#include "pipeline/runtime/module_loader.hpp"

namespace cvpipe {
namespace {

constexpr const char* kKind = "http_endpoint";
constexpr const char* kName = "http";

}  // namespace

void HttpEndpoint::load() {
  if (!HttpEndpointRegistry::instance().find(kName)) load_module_for(kKind, kName);
  if (!HttpEndpointRegistry::instance().find(kName))
    throw std::runtime_error("http: no module holds the HTTP endpoint");
}

std::unique_ptr<HttpEndpoint> HttpEndpoint::start(Context context) {
  load();
  return HttpEndpointRegistry::instance().find(kName)->start(std::move(context));
}

}  // namespace cvpipe
