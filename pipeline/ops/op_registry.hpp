#pragma once
// Registering an op: CVPIPE_REGISTER_OP(Class, "name", "summary", example) in the op's own file
// derives its catalogue entry (pipeline/config/catalog.hpp) from the class: its Params, parse(),
// output_format(), kInPlace and, if it declares it, kOrdered (see op.hpp).
#include <memory>
#include <string>

#include "pipeline/config/catalog.hpp"
#include "pipeline/core/named_registry.hpp"
#include "pipeline/ops/op.hpp"

namespace cvpipe {

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
  info.hidden = hidden;
  info.in_place = T::kInPlace;
  info.ordered = op_is_ordered<T>();
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

#define CVPIPE_REGISTER_OP(Class, name, summary, example) \
  CVPIPE_REGISTER(::cvpipe::OpRegistry, Class, ::cvpipe::make_op_info<Class>(name, summary, example, false))
// An op for tests only (crash, sleep): not listed by `cvpipe ops` nor in docs/ops.md.
#define CVPIPE_REGISTER_TEST_OP(Class, name, summary, example) \
  CVPIPE_REGISTER(::cvpipe::OpRegistry, Class, ::cvpipe::make_op_info<Class>(name, summary, example, true))

}  // namespace cvpipe
