// The command line itself: `ops`, help, --version, --pid-file, and the usage errors (exit 64).
#include <fstream>
#include <thread>

#include "tests/integration/cli_test_util.hpp"

namespace cvpipe {
namespace {

constexpr int kExitUsage = 64;
constexpr int kExitConfig = 78;

using CommandLine = CvpipeTest;

TEST_F(CommandLine, OpsListsEveryOpWithAnExample) {
  const RunResult r = run_cvpipe({"ops"});

  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const std::string listing = "\n" + r.out;
  for (const std::string op : {"identity", "grayscale", "resize", "gaussian_blur", "median_blur", "bilateral", "canny",
                               "sobel", "threshold", "annotate"}) {
    const std::size_t entry = listing.find("\n" + op + ": ");
    ASSERT_NE(entry, std::string::npos) << op << " is not listed\n" << r.out;
    const std::size_t next = listing.find("\n\n", entry);
    const std::string block = listing.substr(entry, next == std::string::npos ? std::string::npos : next - entry);
    EXPECT_NE(block.find("example:"), std::string::npos) << op << " has no example:" << block;
    EXPECT_NE(block.find("- op: " + op), std::string::npos) << op << "'s example does not use it:" << block;
  }
}

TEST_F(CommandLine, NoArgumentsExitWithUsage) {
  const RunResult r = run_cvpipe({});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
  EXPECT_NE(r.err.find("usage:"), std::string::npos) << describe(r);
}

TEST_F(CommandLine, AnUnknownCommandExitsWithUsage) {
  const RunResult r = run_cvpipe({"frobnicate"});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
  EXPECT_NE(r.err.find("unknown command \"frobnicate\""), std::string::npos) << describe(r);
}

TEST_F(CommandLine, RunWithoutAConfigExitsWithUsage) {
  const RunResult r = run_cvpipe({"run"});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
}

TEST_F(CommandLine, SetWithoutItsValueExitsWithUsage) {
  const RunResult r = run_cvpipe({"run", path("pipeline.yaml"), "--set"});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
  const std::string first_line = r.err.substr(0, r.err.find('\n'));
  EXPECT_NE(first_line.find("--set"), std::string::npos) << "the first line names the culprit\n" << describe(r);
  EXPECT_NE(first_line.find("--set needs KEY.PATH=VALUE"), std::string::npos) << "says what it needs\n" << describe(r);
}

TEST_F(CommandLine, StatsJsonWithoutItsFileExitsWithUsage) {
  const RunResult r = run_cvpipe({"run", path("pipeline.yaml"), "--stats-json"});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')),
            "cvpipe: --stats-json needs a FILE after it, e.g. --stats-json out/stats.jsonl (cvpipe --help shows the usage)")
      << describe(r);
}

TEST_F(CommandLine, InlineIsOnlyForRun) {
  const RunResult r = run_cvpipe({"validate", path("pipeline.yaml"), "--inline"});

  EXPECT_EQ(r.exit_code, kExitUsage) << describe(r);
}

TEST_F(CommandLine, HelpPrintsUsageAndExitsZero) {
  const RunResult r = run_cvpipe({"--help"});

  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("usage:"), std::string::npos) << describe(r);
}

TEST_F(CommandLine, AMissingConfigFileIsAConfigError) {
  const RunResult r = run_cvpipe({"validate", path("missing.yaml")});

  EXPECT_EQ(r.exit_code, kExitConfig) << describe(r);
  EXPECT_NE(r.err.find(path("missing.yaml")), std::string::npos) << describe(r);
}

TEST_F(CommandLine, VersionPrintsTheVersion) {
  const RunResult r = run_cvpipe({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, std::string("cvpipe ") + CVPIPE_VERSION + "\n");
}

// --pid-file: one daemon addressed alone. It holds the pid while the daemon runs and is gone
// after; a second daemon is refused it; one left by a killed daemon is taken over.
TEST_F(CommandLine, APidFileNamesTheDaemonWhileItRunsAndIsNotShared) {
  const std::string config = write("p.yaml", "source: {type: synthetic, width: 64, height: 48, fps: 25, frames: 75, pace: realtime}\n"
                                             "stages: [{name: s, ops: [{op: identity}]}]\nsink: {type: \"null\"}\n");
  const std::string pid_file = path("cvpipe.pid");
  RunningProgram daemon = start_cvpipe({"run", config, "--pid-file", pid_file});
  std::string held;
  for (int i = 0; i < 100 && held.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(pid_file);
    std::getline(in, held);
  }
  EXPECT_EQ(held, std::to_string(daemon.pid()));
  const RunResult second = run_cvpipe({"run", config, "--pid-file", pid_file});
  EXPECT_EQ(second.exit_code, 73) << describe(second);
  EXPECT_NE(second.err.find("--pid-file " + pid_file + ": held by process " + held + ", which is running"),
            std::string::npos)
      << describe(second);
  const RunResult first = finish_cvpipe(daemon, std::chrono::seconds(30));
  EXPECT_EQ(first.exit_code, 0) << describe(first);
  EXPECT_NE(first.err.find("pid=" + held), std::string::npos) << "the start-up line names the pid";
  EXPECT_FALSE(exists(pid_file)) << "removed at the end";

  // A pid file whose process is gone (a daemon that was SIGKILLed): taken over.
  RunResult gone = run_program({"/bin/true"});
  write("cvpipe.pid", std::to_string(gone.pid) + "\n");
  const RunResult third = run_cvpipe({"run", config, "--set", "source.frames=5", "--pid-file", pid_file});
  EXPECT_EQ(third.exit_code, 0) << describe(third);
  EXPECT_FALSE(exists(pid_file));
}

}  // namespace
}  // namespace cvpipe
