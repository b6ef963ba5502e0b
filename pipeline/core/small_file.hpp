#pragma once
// Reading a file that a config names (the config itself, a secret, a token) without trusting it:
// only a regular file is read, so a FIFO or a device cannot block the reader (a reload, validate),
// and never more than a bound, so a huge file cannot make us allocate.
#include <cstddef>
#include <string>

namespace cvpipe {

// The whole of the regular file at `path`, at most `max_bytes`, into `out`. Returns "" when it was
// read, else why not as a phrase ("not a regular file", "No such file or directory", "holds
// 2000000 bytes, more than 1048576"); `out` is then empty.
std::string read_small_file(const std::string& path, std::size_t max_bytes, std::string& out);

}  // namespace cvpipe
