#pragma once
// Loading a pipeline: what `run` and `validate` both do before anything starts, in two steps.
//   1. The document (pipeline/config/pipeline_config.hpp): the file and its --set overrides, every
//      key checked, the modules of the types it names loaded; every error at once
//      (ConfigException, exit 78).
//   2. resolve(): opens the source to learn its frame format, computes every op's output format,
//      checks the sink takes the last one, and sizes the shared-memory slots. A chain that does not
//      fit is a ConfigException; a source that cannot be opened is an InputError (exit 66).
// When step 1 finds errors, the chain is still followed op by op across stages, up to the first op
// whose parameters did not parse (from the source, if its section parsed and it opens), so that a
// chain that does not fit is reported with the rest rather than on the next try.
//
// Main thread, before the run starts; a SIGHUP reload reads the document again (step 1 only).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/runtime/source.hpp"

namespace cvpipe {

// Step 2, see above. Returns the opened source so that `run` does not open it twice. It does not
// know the --set overrides: load_and_resolve() does, and names them in its errors.
std::unique_ptr<Source> resolve(PipelineConfig& config);

// Steps 1 and 2 with every error at once, as above: what `run` and `validate` do. `parsed`, if
// given, is called between the two (to set up logging, and how a source may wait, before the
// source opens). Throws
// ConfigException, or the source's InputError when the document itself has no error.
std::unique_ptr<Source> load_and_resolve(const std::string& path, const std::vector<std::string>& overrides,
                                         PipelineConfig& config,
                                         const std::function<void(PipelineConfig&)>& parsed = {});
// The same from text (tests).
std::unique_ptr<Source> parse_and_resolve(const std::string& text, const std::string& file_name,
                                          const std::string& base_dir, const std::vector<std::string>& overrides,
                                          PipelineConfig& config,
                                          const std::function<void(PipelineConfig&)>& parsed = {});

}  // namespace cvpipe
