// cvpipe: the command line. run | validate | ops | sources | sinks, and the hidden worker mode.
//
// Exit codes (sysexits.h): 0 success, 64 bad command line, 66 input cannot be opened or read,
// 69 a service the run needs is unavailable (http.listen taken), 70 internal error, 73 output
// cannot be created or written, 78 config error.
#include <malloc.h>

#include <opencv2/core/utils/logger.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

#include "app/reference.hpp"
#include "pipeline/config/pipeline_config.hpp"
#include "pipeline/core/errors.hpp"
#include "pipeline/core/secrets.hpp"
#include "pipeline/runtime/daemon.hpp"
#include "pipeline/runtime/signals.hpp"
#include "pipeline/runtime/http_endpoint.hpp"
#include "pipeline/runtime/module_loader.hpp"
#include "pipeline/runtime/pipeline_loader.hpp"
#include "pipeline/runtime/run_stats.hpp"
#include "pipeline/core/logging.hpp"
#include "pipeline/runtime/segment.hpp"
#include "pipeline/runtime/worker.hpp"

namespace {

using namespace cvpipe;

constexpr int kExitUsage = 64;

const char* const kUsage = R"(cvpipe: a real-time computer-vision pipeline daemon

usage:
  cvpipe run CONFIG [--set KEY.PATH=VALUE]... [--inline] [--stats-json FILE] [--pid-file FILE]
      Process the config's source through its stages into its sink. The last line on stdout is
      a JSON summary. --inline runs every op in the capture thread (no worker processes).
      --stats-json FILE appends the periodic stats (log.stats_interval) to FILE as JSON lines.
      --pid-file FILE holds the daemon's pid while it runs: kill -HUP $(cat FILE) reloads only it.
  cvpipe validate CONFIG [--set KEY.PATH=VALUE]...
      Check the config exactly as `run` would before starting; print every error at once.
  cvpipe ops | sources | sinks [--markdown]
      List every op (source type, sink type) with its parameters, defaults and an example;
      --markdown writes the reference page (docs/ops.md, docs/sources.md, docs/sinks.md).
  cvpipe --version

  --set stages.edges.workers=3    change one value without editing the file (repeatable);
                                  list items are chosen by their name or by index
                                  (stages.1.workers, or stages[1].workers as errors print it)

exit codes: 0 ok, 64 bad command line, 66 input cannot be opened or read, 69 http.listen taken,
            70 internal error, 73 output cannot be created or written, 78 config error
)";

struct Command {
  std::string verb, config;
  std::vector<std::string> overrides;
  bool inline_mode = false;
  std::string stats_json, pid_file;
  bool markdown = false;  // ops, sources, sinks: the reference page instead of the listing
};

// Whether argv[i] is `name FILE` or `name=FILE`; if so, `value` gets FILE (and `i` moves past it),
// or `error` says what is missing.
bool file_option(const std::string& name, const char* example, int argc, char** argv, int& i, std::string& value,
                 std::string& error) {
  const std::string arg = argv[i];
  if (arg.rfind(name + "=", 0) == 0) {
    value = arg.substr(name.size() + 1);
  } else if (arg != name) {
    return false;
  } else if (i + 1 < argc) {
    value = argv[++i];
  }
  if (value.empty()) error = name + " needs a FILE after it, e.g. " + name + " " + example;
  return true;
}

bool parse_command(int argc, char** argv, Command& cmd, std::string& error) {
  if (argc < 2) {
    error = "missing command";
    return false;
  }
  cmd.verb = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--set" && i + 1 < argc) {
      cmd.overrides.push_back(argv[++i]);
    } else if (arg.rfind("--set=", 0) == 0) {
      cmd.overrides.push_back(arg.substr(6));
    } else if (arg == "--set") {
      error = "--set needs KEY.PATH=VALUE after it, e.g. --set stages.edges.workers=3";
      return false;
    } else if (cmd.verb == "run" && file_option("--stats-json", "out/stats.jsonl", argc, argv, i, cmd.stats_json, error)) {
      if (!error.empty()) return false;
    } else if (cmd.verb == "run" && file_option("--pid-file", "/run/cvpipe/front-door.pid", argc, argv, i, cmd.pid_file, error)) {
      if (!error.empty()) return false;
    } else if (arg == "--inline" && cmd.verb == "run") {
      cmd.inline_mode = true;
    } else if (arg == "--markdown" && (cmd.verb == "ops" || cmd.verb == "sources" || cmd.verb == "sinks")) {
      cmd.markdown = true;
    } else if (!arg.empty() && arg[0] != '-' && cmd.config.empty()) {
      cmd.config = arg;
    } else {
      error = "unexpected argument \"" + arg + "\"";
      return false;
    }
  }
  if ((cmd.verb == "run" || cmd.verb == "validate") && cmd.config.empty()) {
    error = cmd.verb + " needs a config file";
    return false;
  }
  return true;
}

// One line on stderr, with every URL's credentials masked (core/secrets.hpp), as the log's lines
// are: an error may quote a --set or a value that holds a password.
void say(const std::string& line) { std::fprintf(stderr, "%s\n", mask_secrets_in_text(line).c_str()); }

void print_config_errors(const ConfigException& e) {
  for (const auto& err : e.errors()) say(err.to_string());
  std::fprintf(stderr, "cvpipe: %zu config error%s\n", e.errors().size(), e.errors().size() == 1 ? "" : "s");
}

// Errors reach the user as one cvpipe line each; FFmpeg's and OpenCV's own messages about the
// same event would be noise. The usual variables bring them back (OPENCV_FFMPEG_LOGLEVEL=24,
// OPENCV_LOG_LEVEL=INFO).
void quiet_library_logs() {
  setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);  // AV_LOG_QUIET; read when FFmpeg is first used
  if (!std::getenv("OPENCV_LOG_LEVEL")) cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_ERROR);
}

int run_or_validate(const Command& cmd) {
  PipelineConfig config;
  // While a run waits for a live source that is down at start (reconnect.at_start), its HTTP
  // endpoint answers already: /healthz ok, /readyz "waiting for the source". The run's own endpoint
  // takes the port over when it starts.
  RunStats waiting;
  waiting.waiting_for_source.store(true);
  std::unique_ptr<HttpEndpoint> waiting_endpoint;
  std::unique_ptr<Source> source = load_and_resolve(cmd.config, cmd.overrides, config, [&](PipelineConfig& c) {
    init_logging(c.log_level);
    if (cmd.verb != "run") return;  // validate says at once that the source is down
    c.source_limits.wait_to_retry = [&waiting_endpoint, &waiting, &c](double seconds) {
      if (!waiting_endpoint && !c.http.listen.empty()) {
        HttpEndpoint::load();
        waiting_endpoint = HttpEndpoint::start({c.http, &waiting, c.shown_yaml, false, -1});
      }
      return sleep_unless_stopped(seconds);
    };
  });
  waiting_endpoint.reset();
  // Its module loads now, as the source's and the sink's did with the config: a missing one is an
  // error before anything runs, for validate too.
  if (!config.http.listen.empty()) HttpEndpoint::load();
  if (cmd.verb == "validate") {
    // As a run does before it writes anything, while its workers start: the first frame decodes.
    // (A live source has read one to open.)
    if (!config.source.live) {
      const FrameFormat& f = config.source_format;
      cv::Mat first(f.height, f.width, f.type);
      FrameMeta meta;
      std::string error;
      expect_first_frame(source->read(first, meta, error), error, config.source.description);
    }
    // The frame buffers as the run's start-up log gives them (a page multiple).
    std::printf("%s: ok: %s %s -> %zu stage%s -> %s %s; %d slots x %d buffer%s x %zu B frames\n", cmd.config.c_str(),
                config.source.description.c_str(), config.source_format.describe().c_str(), config.stages.size(),
                config.stages.size() == 1 ? "" : "s", config.sink.description.c_str(),
                config.output_format.describe().c_str(), config.slots, config.buffers_per_slot,
                config.buffers_per_slot == 1 ? "" : "s", Segment::buffer_bytes_for(config.frame_bytes));
    return kExitOk;
  }
  RunOptions options;
  options.inline_mode = cmd.inline_mode;
  options.stats_json = cmd.stats_json;
  options.pid_file = cmd.pid_file;
  options.reload = [cmd] { return load_config(cmd.config, cmd.overrides); };
  return run_pipeline(config, std::move(source), options);
}

}  // namespace

int main(int argc, char** argv) {
  // OpenCV allocates frame-sized scratch buffers on every call (Canny's edge map, filter rows).
  // glibc serves blocks that large with mmap, or trims them off the heap top when freed, so each
  // frame would fault its scratch memory in again, page by page, in the kernel. Keep freed memory
  // for the next frame instead.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);

  if (argc >= 2 && std::strcmp(argv[1], "--worker") == 0) {
    WorkerArgs args;
    if (!parse_worker_args(argc - 2, argv + 2, args)) {
      std::fprintf(stderr, "cvpipe: --worker is internal; bad arguments\n");
      return kExitUsage;
    }
    return worker_main(args);
  }
  init_logging("info");
  install_module_loader();
  quiet_library_logs();

  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("cvpipe %s\n", CVPIPE_VERSION);
    return kExitOk;
  }
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
                    std::strcmp(argv[1], "help") == 0)) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return kExitUsage;
  }
  Command cmd;
  std::string error;
  if (!parse_command(argc, argv, cmd, error)) {
    say("cvpipe: " + error + " (cvpipe --help shows the usage)");
    return kExitUsage;
  }
  // A run takes its signals in its main loop: they are blocked before any thread exists (the
  // config's loading may start the decoder's), so that every thread inherits the mask and only
  // the main thread takes them (with sigtimedwait). Anything else keeps the default actions:
  // SIGINT and SIGTERM end a validate at once.
  if (cmd.verb == "run") block_daemon_signals();
  try {
    if (cmd.verb == "ops" || cmd.verb == "sources" || cmd.verb == "sinks") {
      std::fputs(type_reference(cmd.verb, cmd.markdown).c_str(), stdout);
      return kExitOk;
    }
    if (cmd.verb == "run" || cmd.verb == "validate") return run_or_validate(cmd);
    std::fprintf(stderr, "cvpipe: unknown command \"%s\" (cvpipe --help shows the usage)\n", cmd.verb.c_str());
    return kExitUsage;
  } catch (const ConfigException& e) {
    print_config_errors(e);
    return kExitConfig;
  } catch (const StopRequested& e) {
    say(std::string("cvpipe: ") + e.what());  // asked to stop before anything ran: not an error
    return kExitOk;
  } catch (const InputError& e) {
    say(std::string("cvpipe: input error: ") + e.what());
    return kExitNoInput;
  } catch (const OutputError& e) {
    say(std::string("cvpipe: output error: ") + e.what());
    return kExitCantCreate;
  } catch (const UnavailableError& e) {
    say(std::string("cvpipe: ") + e.what());
    return kExitUnavailable;
  } catch (const std::exception& e) {
    say(std::string("cvpipe: internal error: ") + e.what());
    return kExitInternal;
  }
}
