#pragma once
// The modules with the source and sink types that need heavy libraries (see CMakeLists.txt):
// cvpipe-av.so (the file source, on FFmpeg's libraries) and cvpipe-io.so (camera, url, video,
// images and the HTTP endpoint, on OpenCV's videoio and imgcodecs). The daemon loads one when a
// config first names one of its types, so a run loads only what its config uses; worker
// processes never load them.
#include <string>
#include <string_view>
#include <vector>

namespace cvpipe {

// What a module can hold: a source type, a sink type, or the HTTP endpoint (type unused).
enum class ModuleEntry { kSource, kSink, kHttp };

// Loads the module that holds `type` (of `entry`'s kind), once; its types register themselves.
// Nothing if no module holds it: the caller then reports an unknown type. Looks in the directory
// CVPIPE_MODULE_DIR if set, else beside the executable, else in ../lib/cvpipe/ from it. Throws
// std::runtime_error with every path tried and dlerror()'s reason.
void load_module_for(ModuleEntry entry, std::string_view type = {});

// Loads every module: for lists of every known type.
void load_all_modules();

// The types of `entry`'s kind that a module holds, by name; those in the daemon itself are not.
std::vector<std::string> module_type_names(ModuleEntry entry);

}  // namespace cvpipe
