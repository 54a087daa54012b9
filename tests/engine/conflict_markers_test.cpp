#include <catch2/catch.hpp>

#include "engine/conflict_markers.h"

using namespace fab::engine;

TEST_CASE("conflict marker lines as jj and git write them", "[engine][markers]") {
  for (const char* l : {"<<<<<<< Conflict 1 of 1", "%%%%%%% Changes from base to side #1", "+++++++ Contents of side #2",
                        ">>>>>>> Conflict 1 of 1 ends", "||||||| base", "=======", "<<<<<<< HEAD", ">>>>>>> topic",
                        "\\\\\\\\\\\\\\        to: side #1", "=======\r"}) {
    INFO(l);
    CHECK(is_conflict_marker(l));
  }
  for (const char* l : {"", "<<<<<<<", "<<<<<< Conflict", "======= x", "========", " <<<<<<< x", "a = b", "+++ b/x",
                        "%%%%%%%%"}) {
    INFO(l);
    CHECK_FALSE(is_conflict_marker(l));
  }
}

TEST_CASE("only ADDED marker lines count, per file, headers ignored", "[engine][markers]") {
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
      "@@ -0,0 +1,2 @@\n"
      "+Title\n"
      "+=======\n";
  auto files = added_conflict_markers(diff);
  REQUIRE(files.size() == 2);
  CHECK(files[0].path == "dir/shared.txt");
  CHECK(files[0].lines == std::vector<std::string>{"%%%%%%% Changes from base to side #1", "+++++++ Contents of side #2",
                                                   ">>>>>>> Conflict 1 of 1 ends"});
  CHECK(files[1].path == "new.md");
  CHECK(files[1].lines == std::vector<std::string>{"======="});
  auto feedback = conflict_marker_feedback(files);
  CHECK(feedback.find("dir/shared.txt") != std::string::npos);
  CHECK(feedback.find("new.md") != std::string::npos);
  CHECK(feedback.find("resolve the markers") != std::string::npos);
  CHECK(added_conflict_markers("").empty());
}
