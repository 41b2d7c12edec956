// Runs the decoder over the fixture corpus in tests/fixtures/events, whose file
// names say what each must give: valid/ an accepted event; invalid/
// <reason>--<field>--<what>.json one rejection with that reason and field;
// arrays/ the per-event verdicts listed in the .expect file beside each.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ingest/decode.h"
#include "tests/ingest/verdicts.h"

namespace tally {
namespace {

namespace fs = std::filesystem;

const fs::path kCorpus = fs::path(TALLY_SOURCE_DIR) / "tests/fixtures/events";

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> Files(const std::string& dir, const std::string& ext) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kCorpus / dir)) {
    if (e.path().extension() == ext) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DecodeCorpusTest, AcceptsEveryValidFixture) {
  Decoder decoder;
  const auto files = Files("valid", ".json");
  ASSERT_GE(files.size(), 30u);
  for (const auto& path : files) {
    DecodedEvents events;
    decoder.Decode(Read(path), Origin{}, &events);
    EXPECT_EQ(events.actions().size(), 1u) << path.filename();
    for (const auto& r : events.rejections()) ADD_FAILURE() << path.filename() << ": " << r.message;
  }
}

TEST(DecodeCorpusTest, RejectsEveryInvalidFixtureForTheNamedReasonAndField) {
  Decoder decoder;
  const auto files = Files("invalid", ".json");
  ASSERT_GE(files.size(), 60u);
  for (const auto& path : files) {
    const std::string name = path.stem().string();
    const size_t a = name.find("--"), b = name.find("--", a + 2);
    ASSERT_NE(b, std::string::npos) << "fixture name needs <reason>--<field>--<what>: " << name;
    const std::string reason = name.substr(0, a), field = name.substr(a + 2, b - a - 2);
    DecodedEvents events;
    decoder.Decode(Read(path), Origin{Partition{3}, Offset{77}}, &events);
    ASSERT_EQ(events.actions().size(), 0u) << name;
    ASSERT_EQ(events.rejections().size(), 1u) << name;
    const Rejection& r = events.rejections()[0];
    EXPECT_EQ(Slug(r.reason), reason) << name << ": " << r.message;
    EXPECT_EQ(r.field, field) << name << ": " << r.message;
    // The message names the field first, then says what is wrong.
    EXPECT_EQ(r.message.rfind(field, 0), 0u) << name << ": " << r.message;
    EXPECT_GT(r.message.size(), field.size() + 10) << name << ": " << r.message;
    EXPECT_EQ(r.origin, (Origin{Partition{3}, Offset{77}}));
    EXPECT_LE(r.excerpt.size(), kRejectionExcerptBytes);
  }
}

TEST(DecodeCorpusTest, JudgesArrayElementsAsListed) {
  Decoder decoder;
  const auto files = Files("arrays", ".json");
  ASSERT_GE(files.size(), 5u);
  for (const auto& path : files) {
    std::vector<std::string> expected;
    std::istringstream lines(Read(fs::path(path).replace_extension(".expect")));
    for (std::string line; std::getline(lines, line);) expected.push_back(line);
    EXPECT_EQ(testing::Verdicts(decoder, Read(path)), expected) << path.filename();
  }
}

}  // namespace
}  // namespace tally
