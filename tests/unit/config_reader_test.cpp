#include "pipeline/config/config_reader.hpp"

#include <gtest/gtest.h>

namespace cvpipe {
namespace {

std::vector<ConfigError> errors_of(const std::string& yaml, const std::function<void(ConfigReader&)>& read) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load(yaml), "obj", diag);
  read(r);
  r.finish();
  return diag.sorted();
}

TEST(ConfigReader, ReadsTypedValuesWithoutErrors) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("a: 3\nb: 2.5\nc: yes\nd: hello\ne: max\n"), "", diag);
  EXPECT_EQ(r.integer("a", 0, 1, 5), 3);
  EXPECT_DOUBLE_EQ(r.number("b", 0), 2.5);
  EXPECT_TRUE(r.boolean("c", false));
  EXPECT_EQ(r.string("d", ""), "hello");
  EXPECT_EQ(r.choice("e", "min", {"min", "max"}), "max");
  EXPECT_EQ(r.integer("absent", 42), 42);
  r.finish();
  EXPECT_TRUE(diag.ok());
}

TEST(ConfigReader, WrongTypeNamesPositionPathAndExpectation) {
  auto errors = errors_of("x: 1\nk: abc\n", [](ConfigReader& r) {
    (void)r.integer("x", 0);
    (void)r.integer("k", 0, 1, 9);
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:2:4: obj.k: expected an integer in [1, 9], got \"abc\"");
}

TEST(ConfigReader, AQuotedNumberOrBooleanIsAString) {
  auto errors = errors_of("a: \"5\"\nb: '2.5'\nc: \"true\"\nd: [\"1\", 2]\n", [](ConfigReader& r) {
    (void)r.integer("a", 1);
    (void)r.number("b", 1);
    (void)r.boolean("c", false);
    (void)r.integer_pair("d", {1, 1}, 0, 10);
  });
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:4: obj.a: expected an integer, got the string \"5\"");
  EXPECT_EQ(errors[1].to_string(), "t.yaml:2:4: obj.b: expected a number, got the string \"2.5\"");
  EXPECT_EQ(errors[2].to_string(), "t.yaml:3:4: obj.c: expected true or false, got the string \"true\"");
  EXPECT_EQ(errors[3].path, "obj.d");
}

TEST(ConfigReader, OutOfRangeAndEvenKernelAreReported) {
  auto errors = errors_of("ksize: 4\nn: 99\n", [](ConfigReader& r) {
    (void)r.odd_integer("ksize", 3, 1);
    (void)r.number("n", 0, 0, 10);
  });
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:8: obj.ksize: expected an odd integer >= 1, got 4");
  EXPECT_EQ(errors[1].to_string(), "t.yaml:2:4: obj.n: expected a number in [0, 10], got 99");
}

TEST(ConfigReader, UnknownKeySuggestsTheClosestKnownOne) {
  auto errors = errors_of("sigma: 1\nksise: 5\n", [](ConfigReader& r) {
    (void)r.integer("ksize", 3);
    (void)r.number("sigma", 0);
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:2:1: obj.ksise: unknown key (did you mean \"ksize\"?)");
}

TEST(ConfigReader, DuplicateKeyIsReportedAtTheSecondOne) {
  auto errors = errors_of("a: 1\nb: 2\na: 3\n", [](ConfigReader& r) {
    (void)r.integer("a", 0);
    (void)r.integer("b", 0);
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_EQ(errors[0].column, 1);
  EXPECT_NE(errors[0].message.find("duplicate key (first given on line 1)"), std::string::npos);
}

TEST(ConfigReader, MissingRequiredKeyPointsAtTheObject) {
  auto errors = errors_of("other: 1\n", [](ConfigReader& r) {
    (void)r.required_string("path");
    (void)r.integer("other", 0);
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:1: obj.path: missing required key");
}

TEST(ConfigReader, ChoiceRejectsUnknownWordWithSuggestion) {
  auto errors = errors_of("pace: realtme\n", [](ConfigReader& r) { (void)r.choice("pace", "max", {"max", "realtime"}); });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("did you mean \"realtime\""), std::string::npos);
}

TEST(ConfigReader, NonMappingIsReportedOnceAndReadsFallBack) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("[1, 2]"), "obj", diag);
  EXPECT_EQ(r.integer("a", 7), 7);
  r.finish();
  auto errors = diag.sorted();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.find("expected a mapping"), std::string::npos);
}

TEST(ConfigReader, ErrorsAreSortedByLine) {
  auto errors = errors_of("a: x\nb: y\nc: z\n", [](ConfigReader& r) {
    (void)r.integer("c", 0);
    (void)r.integer("a", 0);
    (void)r.integer("b", 0);
  });
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].line, 1);
  EXPECT_EQ(errors[1].line, 2);
  EXPECT_EQ(errors[2].line, 3);
}

TEST(ConfigReader, DescribeModeRecordsParametersInsteadOfReading) {
  ConfigDiagnostics diag("t.yaml");
  diag.start_describing();
  ConfigReader r(YAML::Node(YAML::NodeType::Map), "", diag);
  EXPECT_EQ(r.odd_integer("ksize", 5, 1, 99), 5);
  (void)r.required_string("path");
  r.fail("ksize", "ignored while describing");
  ASSERT_EQ(diag.docs().size(), 2u);
  EXPECT_EQ(diag.docs()[0].key, "ksize");
  EXPECT_EQ(diag.docs()[0].default_text, "5");
  EXPECT_NE(diag.docs()[0].constraint.find("odd"), std::string::npos);
  EXPECT_TRUE(diag.docs()[1].required);
  EXPECT_TRUE(diag.ok());
}

TEST(ClosestMatch, FindsNearWordsOnly) {
  EXPECT_EQ(closest_match("sorce", {"source", "sink", "stages"}), "source");
  EXPECT_EQ(closest_match("zzzzzz", {"source", "sink"}), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace cvpipe

namespace cvpipe {
namespace {

TEST(ConfigReader, AnEvenValueOutOfRangeStillSaysOdd) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("ksize: 2\n"), "", diag);
  EXPECT_EQ(r.odd_integer("ksize", 5, 3, 255), 5);
  auto errors = diag.sorted();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "expected an odd integer in [3, 255], got 2");
}

TEST(ConfigReader, PositiveNumberRejectsZeroAndTooLarge) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("a: 0\nb: 101\nc: 0.5\n"), "", diag);
  EXPECT_EQ(r.positive_number("a", 1, 100), 1);
  EXPECT_EQ(r.positive_number("b", 1, 100), 1);
  EXPECT_EQ(r.positive_number("c", 1, 100), 0.5);
  auto errors = diag.sorted();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "expected a number in (0, 100], got 0");
  EXPECT_EQ(errors[1].message, "expected a number in (0, 100], got 101");
}

TEST(ConfigReader, EmptyRequiredStringIsAnError) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("op: \"\"\n"), "", diag);
  EXPECT_EQ(r.required_string("op"), "");
  auto errors = diag.sorted();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:5: op: expected a non-empty string, got \"\"");
}

TEST(ConfigReader, ExplicitNullIsTheWordNullButAnEmptyValueIsMissing) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(YAML::Load("a: null\nb:\n"), "", diag);
  EXPECT_EQ(r.string("a", "x"), "null");
  EXPECT_EQ(r.string("b", "x"), "x");
  r.finish();
  EXPECT_TRUE(diag.ok());
}

}  // namespace
}  // namespace cvpipe
