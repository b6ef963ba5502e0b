// read_small_file: a file a config names, read whole within a bound, without trusting it.
#include "pipeline/core/small_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "tests/unit/op_test_util.hpp"

namespace cvpipe {
namespace {

TEST(SmallFile, ReadsAWholeFileOfAnySizeUpToTheBound) {
  const test::TempDir dir;
  for (std::size_t size : {0u, 1u, 4095u, 4097u, 100000u}) {
    const std::string path = dir.path() + "/f" + std::to_string(size);
    std::ofstream(path) << std::string(size, 'x');
    std::string text;
    EXPECT_EQ(read_small_file(path, 100000, text), "") << size;
    EXPECT_EQ(text.size(), size);
  }
}

TEST(SmallFile, AFileOverTheBoundADirectoryAndAFifoAreRefusedWithoutReading) {
  const test::TempDir dir;
  const std::string big = dir.path() + "/big";
  std::ofstream(big) << std::string(2000, 'x');
  std::string text = "left over";
  EXPECT_EQ(read_small_file(big, 1999, text), "holds 2000 bytes, more than 1999");
  EXPECT_TRUE(text.empty());
  EXPECT_EQ(read_small_file(dir.path(), 10, text), "is a directory");
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(read_small_file(fifo, 10, text), "not a regular file");  // and did not wait for a writer
  EXPECT_EQ(read_small_file(dir.path() + "/none", 10, text), "No such file or directory");
}

TEST(SmallFile, ABoundLargerThanTheFileAllocatesForTheFileNotTheBound) {
  // A 1 GiB bound on a 10-byte file: reading it must not touch a gigabyte.
  const test::TempDir dir;
  const std::string path = dir.path() + "/small";
  std::ofstream(path) << "0123456789";
  std::string text;
  ASSERT_EQ(read_small_file(path, std::size_t{1} << 30, text), "");
  EXPECT_EQ(text, "0123456789");
  EXPECT_LT(text.capacity(), std::size_t{1} << 20);
}

}  // namespace
}  // namespace cvpipe
