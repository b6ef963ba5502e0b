#include "pipeline/modules/av/av_common.hpp"

#include <cstdlib>
#include <mutex>

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
}

namespace cvpipe {

void set_ffmpeg_log_level() {
  static std::once_flag once;
  std::call_once(once, [] {
    const char* level = std::getenv("OPENCV_FFMPEG_LOGLEVEL");
    av_log_set_level(level ? std::atoi(level) : AV_LOG_QUIET);
  });
}

std::string av_error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

}  // namespace cvpipe
