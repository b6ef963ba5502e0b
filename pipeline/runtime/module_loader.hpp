#pragma once
// Modules: the source and sink types (and the HTTP endpoint) that need heavy libraries live in
// shared objects the daemon dlopen()s when a config first names one of their types, so that a run
// loads only what it uses and worker processes, which exec the same binary, never load them.
//
// A type's module is where its file is: pipeline/modules/<name>/ builds cvpipe-<name>.so, but
// pipeline/modules/builtin/, which is linked into the binary. The build reads the registrations
// (CVPIPE_REGISTER_SOURCE, _SINK, _HTTP_ENDPOINT) in each module's files into the table below.
//
// Thread-safe (a mutex); called while the config loads and when the HTTP endpoint starts.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cvpipe {

// One row of the table the build generates: the type `name` of `kind` ("source", "sink",
// "http_endpoint") is registered by a file of the module `module` ("cvpipe-av.so").
struct ModuleType {
  const char* kind;
  const char* name;
  const char* module;
};
extern const ModuleType kModuleTypes[];
extern const std::size_t kModuleTypeCount;

// Loads the module that holds `name` of `kind`, once; its types register themselves. Nothing if
// no module holds it. Looks in the directory CVPIPE_MODULE_DIR if set, else beside the executable,
// else in ../lib/cvpipe/ from it. Throws std::runtime_error with every path tried and dlerror()'s
// reason.
void load_module_for(std::string_view kind, std::string_view name);
// Loads every module (listing every type, `cvpipe sources`).
void load_all_modules();
// The names of `kind`'s types that a module holds.
std::vector<std::string> module_type_names(std::string_view kind);
// The module that holds `name` of `kind`, or "" when none does (the type is in the binary).
std::string module_of(std::string_view kind, std::string_view name);

// Makes the config layer load modules as documents name their types (set_type_loader in
// pipeline/config/catalog.hpp). Idempotent; call before reading a config.
void install_module_loader();

}  // namespace cvpipe
