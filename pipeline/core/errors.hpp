#pragma once
// Errors that end a run before or while it starts, and the exit codes they map to (sysexits.h).
// main() catches them, logs one line, and exits with the code.
#include <stdexcept>

namespace cvpipe {

enum ExitCode : int {
  kExitOk = 0,
  kExitNoInput = 66,     // EX_NOINPUT: the input cannot be opened or read
  kExitUnavailable = 69,  // EX_UNAVAILABLE: a service the run needs is unavailable (http.listen taken)
  kExitInternal = 70,    // EX_SOFTWARE: an internal error (a bug, a broken invariant, a worker lost)
  kExitCantCreate = 73,  // EX_CANTCREAT: the output cannot be created or written
  kExitConfig = 78,      // EX_CONFIG: the config (or the command line) is invalid
};

// The source cannot be opened or read.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A stop (SIGINT, SIGTERM) came before the run started, while it waited for its source: the
// daemon exits 0, having written nothing.
class StopRequested : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The sink cannot be created or written.
class OutputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A resource the run needs is unavailable: the http.listen address cannot be bound.
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace cvpipe
