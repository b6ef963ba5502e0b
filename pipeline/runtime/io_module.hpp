#pragma once
// The io module (cvpipe-io.so): the source and sink types, which need OpenCV's videoio and
// imgcodecs. The daemon loads it at start; worker processes never do (see CMakeLists.txt).
#include <string>

namespace cvpipe {

// Loads the module once; its sources and sinks register themselves. Looks in CVPIPE_IO_MODULE if
// set, else beside the executable, else in ../lib/cvpipe/ from it. Throws std::runtime_error
// with every path tried and dlerror()'s reason.
void load_io_module();

}  // namespace cvpipe
