#include "pipeline/runtime/sink.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "pipeline/core/errors.hpp"

namespace cvpipe {

void create_parent_dirs(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) {
    parent = ".";
  } else {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) throw OutputError("cannot create output folder " + parent.string() + ": " + ec.message());
  }
  // Said now, before a frame is read, rather than by the first write.
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    throw OutputError("cannot write into output folder " + parent.string() + ": " + std::strerror(errno));
}

std::string output_folder_problem(const std::string& path) {
  std::error_code ec;
  std::filesystem::path folder = std::filesystem::absolute(std::filesystem::path(path), ec).parent_path();
  if (ec) return "cannot resolve " + path + ": " + ec.message();
  const std::filesystem::path wanted = folder.lexically_normal();
  // The deepest folder that exists: where the others would be made.
  while (!std::filesystem::exists(folder, ec) && folder.has_relative_path()) folder = folder.parent_path();
  if (!std::filesystem::is_directory(folder, ec))
    return "cannot create output folder " + wanted.string() + ": " + folder.string() + " is not a folder";
  if (::access(folder.c_str(), W_OK | X_OK) == 0) return "";
  const std::string why = std::strerror(errno);
  if (folder.lexically_normal() == wanted) return "cannot write into output folder " + wanted.string() + ": " + why;
  return "cannot create output folder " + wanted.string() + ": " + why + " (in " + folder.string() + ")";
}

std::string require_8bit_1_or_3_channels(const FrameFormat& f) {
  if (f.is_8bit_gray_or_bgr()) return {};
  return "expects 8-bit frames with 1 or 3 channels, the pipeline produces " + f.describe();
}

}  // namespace cvpipe
