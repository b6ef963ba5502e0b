#pragma once
// `cvpipe ops`, `cvpipe sources` and `cvpipe sinks`: every registered type of a kind with its
// parameters (read from its own parse function in describe mode) and its example, as text for a
// terminal or, with --markdown, as the reference pages docs/ops.md, docs/sources.md and
// docs/sinks.md (tools/dev docs writes them; a test fails when a committed page differs).
#include <string>

namespace cvpipe {

// `kind` is "ops", "sources" or "sinks". Sources and sinks in modules are listed too (their
// modules are loaded). Returns the text; throws std::invalid_argument for another kind.
std::string type_reference(const std::string& kind, bool markdown);

}  // namespace cvpipe
