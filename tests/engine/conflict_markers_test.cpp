#include <catch2/catch.hpp>

#include "engine/conflict_markers.h"

using namespace fab::engine;

namespace {

// A reader for files the diff shows only as binary: `before` in the parent, `after` in the change.
ReadFile reader(std::optional<std::string> before, std::optional<std::string> after) {
  return [=](const std::string&, bool in_change) -> fab::Result<std::optional<std::string>> {
    return in_change ? after : before;
  };
}

}  // namespace

TEST_CASE("only ADDED marker lines count, per file, headers and headings ignored", "[engine][markers]") {
  const std::string diff =
      "diff --git a/clean.txt b/clean.txt\n"
      "index 1..2 100644\n"
      "--- a/clean.txt\n"
      "+++ b/clean.txt\n"
      "@@ -1,2 +1,2 @@\n"
      " =======\n"            // context: was already there
      "-<<<<<<< old marker\n"  // removed: fine
      "+fixed\n"
      "diff --git a/dir/shared.txt b/dir/shared.txt\n"
      "--- a/dir/shared.txt\n"
      "+++ b/dir/shared.txt\n"
      "@@ -1,1 +1,6 @@\n"
      " base\n"
      "+%%%%%%% Changes from base to side #1\n"
      "+-base\n"
      "++++++++ Contents of side #2\n"
      "+side two\n"
      "+>>>>>>> Conflict 1 of 1 ends\n"
      "diff --git a/new.md b/new.md\n"
      "new file mode 100644\n"
      "--- /dev/null\n"
      "+++ b/new.md\n"
      "@@ -0,0 +1,6 @@\n"
      "+Title\n"
      "+=======\n"  // a heading's underline: not a marker
      "+\n"
      "+Section\n"
      "+-------\n"
      "+text\n"
      "diff --git a/lone.txt b/lone.txt\n"
      "--- a/lone.txt\n"
      "+++ b/lone.txt\n"
      "@@ -1,2 +1,3 @@\n"
      " a\n"
      " \n"
      "+=======\n";  // a separator left behind after a blank line
  auto files = added_conflict_markers(diff, {});
  REQUIRE(files);
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].path == "dir/shared.txt");
  CHECK((*files)[0].lines == std::vector<std::string>{"%%%%%%% Changes from base to side #1",
                                                      ">>>>>>> Conflict 1 of 1 ends"});
  CHECK((*files)[1].path == "lone.txt");
  CHECK((*files)[1].lines == std::vector<std::string>{"======="});
  auto feedback = conflict_marker_feedback(*files);
  CHECK(feedback.find("dir/shared.txt") != std::string::npos);
  CHECK(feedback.find("resolve the markers") != std::string::npos);
  auto none = added_conflict_markers("", {});
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("markers inside a lengthened jj block count, its text does not", "[engine][markers]") {
  const std::string diff =
      "diff --git a/g b/g\n--- a/g\n+++ b/g\n@@ -1,1 +1,8 @@\n"
      " x\n"
      "+<<<<<<<<<<< conflict 1 of 1\n"
      "++++++++++++ side #1\n"
      "+=======\n"
      "+<<<<<<<\n"
      "+----------- base\n"
      "++++++++++++ side #2\n"
      "+>>>>>>>>>>> conflict 1 of 1 ends\n";
  auto files = added_conflict_markers(diff, {});
  REQUIRE(files);
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].lines == std::vector<std::string>{"<<<<<<<<<<< conflict 1 of 1", "+++++++++++ side #1",
                                                      "----------- base", "+++++++++++ side #2",
                                                      ">>>>>>>>>>> conflict 1 of 1 ends"});
}

TEST_CASE("files git calls binary are read whole: markers after a NUL byte count", "[engine][markers]") {
  const std::string diff =
      "diff --git a/bin.dat b/bin.dat\nindex 1a23e4be73..41ed7a0cbf 100644\nBinary files a/bin.dat and b/bin.dat differ\n";
  const std::string old_content = std::string("a\0b\n", 4) + ">>>>>>> was there\n";
  auto files = added_conflict_markers(diff, reader(old_content, old_content + "<<<<<<< new\n"));
  REQUIRE(files);
  REQUIRE(files->size() == 1);
  CHECK((*files)[0].path == "bin.dat");
  CHECK((*files)[0].lines == std::vector<std::string>{"<<<<<<< new"});  // not the one the parent had

  auto added = added_conflict_markers("diff --git a/n.bin b/n.bin\nnew file mode 100644\n"
                                      "Binary files /dev/null and b/n.bin differ\n",
                                      reader(std::nullopt, std::string("\0\n>>>>>>> side\n", 15)));
  REQUIRE(added);
  REQUIRE(added->size() == 1);
  CHECK(added->front().path == "n.bin");

  auto unchanged = added_conflict_markers(diff, reader(old_content, old_content));
  REQUIRE(unchanged);
  CHECK(unchanged->empty());

  auto failing = added_conflict_markers(diff, [](const std::string&, bool) -> fab::Result<std::optional<std::string>> {
    return fab::fail("cannot read");
  });
  CHECK_FALSE(failing);  // not "no markers"
}

TEST_CASE("feedback blames the resolver for markers it wrote", "[engine][markers]") {
  std::vector<MarkedFile> files = {{"a.txt", {"<<<<<<< ours"}}, {"b.txt", {"======="}}};
  auto text = conflict_marker_feedback(files, {{"a.txt", "llm"}});
  CHECK(text.find("the refinery wrote conflict markers") != std::string::npos);
  CHECK(text.find("a.txt (written by the refinery `llm`)") != std::string::npos);
  CHECK(text.find("resolver's fault, not your change's") != std::string::npos);
  CHECK(text.find("your change adds conflict markers") != std::string::npos);  // b.txt is the agent's
  CHECK(conflict_marker_feedback({files[0]}, {{"a.txt", "llm"}}).find("your change adds") == std::string::npos);
}
