#pragma once
// The registry of ops by name. Each op file registers itself at static-initialisation time with
// CVPIPE_REGISTER_OP; the pipeline library is an OBJECT library so every op file is linked.
// Lookups are thread-safe after main() starts (the registry is only written before).
#include <memory>
#include <string>
#include <vector>

#include "pipeline/config/config_reader.hpp"
#include "pipeline/core/named_registry.hpp"
#include "pipeline/ops/op.hpp"

namespace cvpipe {

struct OpInfo {
  std::string name;
  std::string summary;   // one line
  std::string example;   // YAML of one list item, "- op: name\n  key: value"
  bool in_place = false;
  bool ordered = false;  // see OpSpec::ordered
  bool hidden = false;   // for tests only; not listed by `cvpipe ops`
  std::function<OpSpec(ConfigReader&)> parse;  // reads the op's keys (not "op"); errors go to the reader
};

// OpRegistry::instance().find(name), .all(include_hidden), .names().
using OpRegistry = NamedRegistry<OpInfo>;

// T::kOrdered if the op declares it, else false.
template <class T>
constexpr bool op_is_ordered() {
  if constexpr (requires { T::kOrdered; }) return T::kOrdered;
  else return false;
}

template <class T>
OpInfo make_op_info(std::string name, std::string summary, std::string example, bool hidden) {
  OpInfo info;
  info.name = name;
  info.summary = std::move(summary);
  info.example = std::move(example);
  info.in_place = T::kInPlace;
  info.ordered = op_is_ordered<T>();
  info.hidden = hidden;
  info.parse = [name](ConfigReader& r) {
    auto params = std::make_shared<const typename T::Params>(T::parse(r));
    OpSpec spec;
    spec.name = name;
    spec.in_place = T::kInPlace;
    spec.ordered = op_is_ordered<T>();
    spec.output_format = [params](const FrameFormat& in) { return T::output_format(in, *params); };
    spec.make = [params]() -> std::unique_ptr<Op> { return std::make_unique<T>(*params); };
    return spec;
  };
  return info;
}

#define CVPIPE_OP_CONCAT_INNER(a, b) a##b
#define CVPIPE_OP_CONCAT(a, b) CVPIPE_OP_CONCAT_INNER(a, b)
#define CVPIPE_REGISTER_OP_IMPL(Class, name, summary, example, hidden)                       \
  namespace {                                                                                \
  [[maybe_unused]] const bool CVPIPE_OP_CONCAT(kRegistered, Class) = [] {                    \
    ::cvpipe::OpRegistry::instance().add(                                                   \
        ::cvpipe::make_op_info<Class>(name, summary, example, hidden));                     \
    return true;                                                                             \
  }();                                                                                       \
  }
#define CVPIPE_REGISTER_OP(Class, name, summary, example) \
  CVPIPE_REGISTER_OP_IMPL(Class, name, summary, example, false)
#define CVPIPE_REGISTER_TEST_OP(Class, name, summary, example) \
  CVPIPE_REGISTER_OP_IMPL(Class, name, summary, example, true)

}  // namespace cvpipe
