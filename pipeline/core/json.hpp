#pragma once
// Writing JSON text by hand (the summary, stats lines, the results file, metrics' status): the
// one string escaper every writer uses. Never throws but for allocation.
#include <string>
#include <string_view>

namespace cvpipe {

// Appends `s` as a JSON string, quotes included: `"` and `\` escaped, control characters as \u00XX.
// Other bytes go through as they are (UTF-8 stays UTF-8).
void append_json_string(std::string& out, std::string_view s);
// The same, as a new string.
std::string json_string(std::string_view s);

}  // namespace cvpipe
