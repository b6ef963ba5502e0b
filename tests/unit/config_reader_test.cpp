#include "pipeline/config/config_reader.hpp"

#include <gtest/gtest.h>

namespace cvpipe {
namespace {

std::vector<ConfigError> errors_of(const std::string& yaml, const std::function<void(ConfigReader&)>& read) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(load_yaml_document(yaml), "obj", diag);
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
  EXPECT_EQ(errors[0].message, "duplicate key (first given at line 1, column 1)");
}

TEST(ConfigReader, DuplicateKeyOnOneLineNamesTheFirstOnesColumn) {
  auto errors = errors_of("{a: 1, b: 2, a: 3}", [](ConfigReader& r) {
    (void)r.integer("a", 0);
    (void)r.integer("b", 0);
  });
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:14: obj.a: duplicate key (first given at line 1, column 2)");
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

TEST(ConfigReader, ThePlainWordNullIsAStringForStringKeys) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(load_yaml_document("a: null\nb: {c: null}\n"), "", diag);
  EXPECT_EQ(r.string("a", "x"), "null");
  EXPECT_EQ(r.map("b").choice("c", "x", {"x", "null"}), "null");
  r.finish();
  EXPECT_TRUE(diag.ok());
}

// Every read, from a document where each key is given with no value, in block and in flow style.
std::vector<ConfigError> null_errors(const std::string& yaml) {
  ConfigDiagnostics diag("t.yaml");
  ConfigReader r(load_yaml_document(yaml), "", diag);
  EXPECT_EQ(r.integer("i", 3, 1, 9), 3);
  EXPECT_EQ(r.odd_integer("k", 5, 1), 5);
  EXPECT_EQ(r.optional_integer("oi"), std::nullopt);
  EXPECT_EQ(r.number("n", 2.5), 2.5);
  EXPECT_EQ(r.positive_number("p", 1), 1);
  EXPECT_TRUE(r.boolean("b", true));
  EXPECT_EQ(r.string("s", "x"), "x");
  EXPECT_EQ(r.required_string("rs"), "");
  EXPECT_EQ(r.choice("c", "min", {"min", "max"}), "min");
  EXPECT_EQ(r.path_value("pa", "f.mp4"), "f.mp4");
  EXPECT_EQ(r.string_list("sl", {"face"}), std::vector<std::string>{"face"});
  EXPECT_EQ(r.integer_pair("ip", {1, 2}, 0, 9), (std::pair<int, int>{1, 2}));
  ConfigReader m = r.map("m");
  EXPECT_EQ(m.integer("x", 7), 7);
  m.finish();
  EXPECT_TRUE(r.map_list("l", true).empty());
  EXPECT_FALSE(r.raw("r", "a list of 3 integers").IsDefined());
  r.finish();
  return diag.sorted();
}

const std::vector<std::string> kNullMessages = {
    "i: expected an integer in [1, 9], got null",
    "k: expected an odd integer >= 1, got null",
    "oi: expected an integer, got null",
    "n: expected a number, got null",
    "p: expected a number > 0, got null",
    "b: expected true or false, got null",
    "s: expected a string, got null",
    "rs: expected a non-empty string, got null",
    "c: expected one of min, max, got null",
    "pa: expected a path, got null",
    "sl: expected a list of names, e.g. [face, person], got null",
    "ip: expected a list of 2 integers, each in [0, 9], got null",
    "m: expected a mapping (key: value lines), got null",
    "l: expected a list (lines starting with \"- \"), got null",
    "r: expected a list of 3 integers, got null",
};

TEST(ConfigReader, AKeyGivenWithAnEmptyValueIsATypeErrorAtTheKey) {
  std::string yaml;
  for (const char* key : {"i", "k", "oi", "n", "p", "b", "s", "rs", "c", "pa", "sl", "ip", "m", "l", "r"})
    yaml += std::string(key) + ":\n";
  const auto errors = null_errors(yaml);
  ASSERT_EQ(errors.size(), kNullMessages.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].line, static_cast<int>(i) + 1) << "at the key, not at the next line";
    EXPECT_EQ(errors[i].column, 1);
    EXPECT_EQ(errors[i].path + ": " + errors[i].message, kNullMessages[i]);
  }
}

TEST(ConfigReader, AKeyGivenAsTildeIsATypeErrorAtTheValue) {
  std::string yaml;
  for (const char* key : {"i", "k", "oi", "n", "p", "b", "s", "rs", "c", "pa", "sl", "ip", "m", "l", "r"})
    yaml += std::string(key) + ": ~\n";
  const auto errors = null_errors(yaml);
  ASSERT_EQ(errors.size(), kNullMessages.size());
  for (std::size_t i = 0; i < errors.size(); ++i) {
    EXPECT_EQ(errors[i].line, static_cast<int>(i) + 1);
    EXPECT_EQ(errors[i].path + ": " + errors[i].message, kNullMessages[i]);
  }
  EXPECT_EQ(errors[0].column, 4);
}

TEST(ConfigReader, AnEmptyValueInFlowStyleIsATypeErrorToo) {
  std::string yaml = "{";
  for (const char* key : {"i", "k", "oi", "n", "p", "b", "s", "rs", "c", "pa", "sl", "ip", "m", "l", "r"})
    yaml += std::string(key) + ": , ";
  yaml += "z: 1}";
  const auto errors = null_errors(yaml);
  ASSERT_EQ(errors.size(), kNullMessages.size() + 1);  // and z, unknown
  for (std::size_t i = 0; i < kNullMessages.size(); ++i)
    EXPECT_EQ(errors[i].path + ": " + errors[i].message, kNullMessages[i]);
}

TEST(ConfigReader, TheWordNullIsNotANumberOrABoolean) {
  auto errors = errors_of("a: null\nb: NULL\n", [](ConfigReader& r) {
    (void)r.integer("a", 1);
    (void)r.boolean("b", false);
  });
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(), "t.yaml:1:4: obj.a: expected an integer, got null");
  EXPECT_EQ(errors[1].to_string(), "t.yaml:2:4: obj.b: expected true or false, got null");
}

}  // namespace
}  // namespace cvpipe
