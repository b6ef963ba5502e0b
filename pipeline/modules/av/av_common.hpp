// What the module's FFmpeg users share: how loud FFmpeg is, and its errors as text.
#pragma once

#include <string>

namespace cvpipe {

// FFmpeg's own messages would be noise beside our one line per error. OPENCV_FFMPEG_LOGLEVEL,
// which OpenCV's FFmpeg backend reads and the daemon sets to quiet unless the user did, says how
// much of them to print (24: warnings). Once per process.
void set_ffmpeg_log_level();

// An AVERROR code as FFmpeg words it ("No space left on device").
std::string av_error_text(int code);

}  // namespace cvpipe
