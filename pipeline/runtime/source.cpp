#include "pipeline/runtime/source.hpp"

namespace cvpipe {

void expect_first_frame(Source::Read r, const std::string& error, const std::string& description) {
  if (r == Source::Read::kError) throw InputError(error);
  if (r == Source::Read::kEnd) throw InputError(description + ": no frame to read");
}

}  // namespace cvpipe
