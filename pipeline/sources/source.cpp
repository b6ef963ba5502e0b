#include "pipeline/sources/source.hpp"

#include <filesystem>

namespace cvpipe {

std::string LoadContext::resolve(const std::string& path) const {
  if (path.empty() || std::filesystem::path(path).is_absolute() || base_dir.empty()) return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace cvpipe
