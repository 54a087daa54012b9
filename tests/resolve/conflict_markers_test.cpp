#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "plugins/resolve/conflict_markers.h"

using namespace fab::resolve;

namespace {

// The 1-based numbers of the marker lines of `text`.
std::vector<std::size_t> markers(const std::string& text) {
  std::vector<std::size_t> out;
  for (const auto& m : find_marker_lines(std::string_view(text))) out.push_back(m.index + 1);
  return out;
}

using Lines = std::vector<std::size_t>;

}  // namespace

TEST_CASE("marker grammar: git's and jj's markers, every style, every length", "[markers]") {
  // git merge / diff3
  CHECK(markers("a\n<<<<<<< HEAD\nx\n||||||| base\ny\n=======\nz\n>>>>>>> topic\nb\n") == Lines{2, 4, 6, 8});
  // jj "diff" style, lengthened because the file has a run of seven `=` of its own
  CHECK(markers("<<<<<<<<<<< conflict 1 of 1\n%%%%%%%%%%% diff from: base\n\\\\\\\\\\\\\\\\\\\\\\        to: side #1\n"
                "+=======\n+++++++++++ side #2\n=======\n>>>>>>>>>>> conflict 1 of 1 ends\n") == Lines{1, 2, 3, 5, 7});
  // jj "snapshot" style
  CHECK(markers("<<<<<<< conflict 1 of 1\n+++++++ side #1\nB1\n------- base\nb\n+++++++ side #2\nB2\n"
                ">>>>>>> conflict 1 of 1 ends\n") == Lines{1, 2, 4, 6, 8});
  // unlabelled markers and CRLF
  CHECK(markers("<<<<<<<\r\nx\r\n=======\r\ny\r\n>>>>>>>\r\n") == Lines{1, 3, 5});
}

TEST_CASE("marker grammar: fragments count alone", "[markers]") {
  CHECK(markers("text\n>>>>>>> theirs\n") == Lines{2});
  CHECK(markers("text\n||||||| base\n") == Lines{2});
  CHECK(markers("%%%%%%% diff from: base\n") == Lines{1});
  CHECK(markers("a\n\n=======\n\nb\n") == Lines{3});  // a separator after a blank line
  CHECK(markers("=======\n") == Lines{1});
}

TEST_CASE("marker grammar: headings, rules and look-alikes are not markers", "[markers]") {
  CHECK(markers("Title\n=======\n\ntext\n").empty());              // Markdown setext heading
  CHECK(markers("\n=======\nTitle\n=======\n").empty());           // reStructuredText over- and underline
  CHECK(markers("Section\n-------\n").empty());                     // setext level 2
  CHECK(markers("a\n\n-------\n\nb\n").empty());                    // a rule
  CHECK(markers("%%%%%%%%%%%%%%%%%%%%\n% LaTeX\n").empty());         // a comment line
  CHECK(markers("+++++++\n").empty());
  CHECK(markers("======== eight\n======= x\n<<<<<< six\nx <<<<<<< y\n<<<<<<<x\n").empty());
  CHECK(markers("a\n\n==========\n\nb\n").empty());                 // a longer bare run: a separator line
}

TEST_CASE("marker grammar: inside a block only markers of its length count", "[markers]") {
  const std::string text = "<<<<<<<< ours\n<<<<<<< text\n=======\n|||||||| base\nx\n========\ny\n>>>>>>>> theirs\n";
  CHECK(markers(text) == Lines{1, 4, 6, 8});
}

TEST_CASE("marker_length_for is longer than any marker-like run", "[markers]") {
  CHECK(marker_length_for({"a\nb\n"}) == 7);
  CHECK(marker_length_for({"Title\n=======\n"}) == 8);
  CHECK(marker_length_for({"x\n", "<<<<<<<<<< ten\n"}) == 11);
}

TEST_CASE("parse_conflict_blocks reads blocks of any length back", "[markers]") {
  const std::string content = "a\n<<<<<<<< ours\nX\n|||||||| base\nx\n========\nY\n>>>>>>>> theirs\nb\n"
                              "<<<<<<< ours\nP\n=======\nQ\n>>>>>>> theirs\n";
  auto parsed = parse_conflict_blocks(content);
  REQUIRE(parsed.error.empty());
  REQUIRE(parsed.blocks.size() == 2);
  CHECK(parsed.blocks[0].first_line == 1);
  CHECK(parsed.blocks[0].line_count == 7);
  CHECK(parsed.blocks[0].ours == "X\n");
  CHECK(parsed.blocks[0].base == "x\n");
  CHECK(parsed.blocks[0].theirs == "Y\n");
  CHECK(parsed.blocks[1].has_base == false);
  CHECK(parsed.blocks[1].ours == "P\n");
  CHECK(parsed.blocks[1].theirs == "Q\n");

  auto open = parse_conflict_blocks("a\n<<<<<<< ours\nx\n=======\ny\n");
  CHECK(open.error == "a conflict block is not closed");
  CHECK(open.error_line == 2);
  auto misplaced = parse_conflict_blocks("<<<<<<< ours\nx\n=======\ny\n||||||| base\n>>>>>>> theirs\n");
  CHECK(misplaced.error == "a conflict block has a marker out of place");
  CHECK(misplaced.error_line == 5);
}

TEST_CASE("added_marker_lines ignores marker-like lines the sources already had", "[markers]") {
  const std::string side = "x\n>>>>>>> quoted in a test\n";
  CHECK(added_marker_lines(side, {side}).empty());
  auto added = added_marker_lines(side + "<<<<<<< new\n", {side});
  REQUIRE(added.size() == 1);
  CHECK(added[0].index == 2);
}
