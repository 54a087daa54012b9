#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/merge3.h"
#include "substrate/process.h"
#include "tests/support/temp_dir.h"

using fab::resolve::merge3;
using fab::resolve::MergeOptions;

namespace {

struct Shape {
  const char* name;
  std::string base, ours, theirs;
  std::string expected;
  bool clean;
  std::string rule;  // expected in rules_applied; "" means no rule at all
  bool allow_union = false;
};

std::string conflict(const std::string& ours, const std::string& base, const std::string& theirs,
                     const std::string& eol = "\n") {
  return "<<<<<<< ours" + eol + ours + "||||||| base" + eol + base + "=======" + eol + theirs + ">>>>>>> theirs" + eol;
}

}  // namespace

TEST_CASE("merge3 settles or leaves alone each conflict shape", "[merge3]") {
  const std::vector<Shape> shapes = {
      // --- settled mechanically ---
      {"identical change on both sides", "a\nb\nc\n", "a\nB\nc\n", "a\nB\nc\n", "a\nB\nc\n", true, "same-change"},
      {"both delete the same line", "a\nb\nc\n", "a\nc\n", "a\nc\n", "a\nc\n", true, "same-change"},
      {"only theirs changed, start of file", "a\nb\nc\n", "a\nb\nc\n", "A\nb\nc\n", "A\nb\nc\n", true, "one-side"},
      {"only ours changed, middle of file", "a\nb\nc\n", "a\nB\nc\n", "a\nb\nc\n", "a\nB\nc\n", true, "one-side"},
      {"only theirs changed, end of file", "a\nb\nc\n", "a\nb\nc\n", "a\nb\nC\n", "a\nb\nC\n", true, "one-side"},
      {"only theirs appended", "a\nb\n", "a\nb\n", "a\nb\nc\nd\n", "a\nb\nc\nd\n", true, "one-side"},
      {"adjacent-but-separate edits", "a\nb\nc\nd\n", "A\nb\nc\nd\n", "a\nb\nc\nD\n", "A\nb\nc\nD\n", true, "one-side"},
      {"edits around an insertion", "a\nb\nc\n", "a\nx\nb\nc\n", "a\nb\nC\n", "a\nx\nb\nC\n", true, "one-side"},
      {"whitespace only: blanks at line ends", "a\nb\n", "a\nB \n", "a\nB\t\t\n", "a\nB \n", true, "whitespace-only"},
      {"both edit one line in different places", "f(a, b);\n", "f(x, b);\n", "f(a, y);\n", "f(x, y);\n", true,
       "token-merge"},
      {"both make the same edit and more, common lines", "a\nq\nz\n", "a\nP\nQ\nz\n", "a\nP\nq\nz\n",
       "a\nP\nQ\nz\n", true, "common-lines"},
      {"both add entries to a sorted list", "#include <a.h>\n#include <c.h>\n#include <e.h>\n#include <g.h>\n",
       "#include <a.h>\n#include <c.h>\n#include <d.h>\n#include <e.h>\n#include <g.h>\n",
       "#include <a.h>\n#include <c.h>\n#include <cc.h>\n#include <e.h>\n#include <g.h>\n",
       "#include <a.h>\n#include <c.h>\n#include <cc.h>\n#include <d.h>\n#include <e.h>\n#include <g.h>\n", true,
       "sorted-insert"},
      {"both add at end of file, union", "a\n", "a\nb\n", "a\nc\n", "a\nb\nc\n", true, "union", true},
      {"both add in the middle, union", "a\nz\n", "a\nb1\nz\n", "a\nb2\nb3\nz\n", "a\nb1\nb2\nb3\nz\n", true, "union",
       true},
      {"no trailing newline, other end edited", "a\nb", "a\nb", "A\nb", "A\nb", true, "one-side"},
      {"one side adds the final newline", "a\nb\nc", "a\nb\nc\n", "A\nb\nc", "A\nb\nc\n", true, "one-side"},
      {"empty base, one side adds", "", "", "x\ny\n", "x\ny\n", true, "one-side"},
      {"empty base, both add the same", "", "x\n", "x\n", "x\n", true, "same-change"},
      {"ours deleted everything, theirs untouched", "a\nb\n", "", "a\nb\n", "", true, "one-side"},
      {"nothing changed", "a\nb\n", "a\nb\n", "a\nb\n", "a\nb\n", true, ""},
      {"CRLF one side", "a\r\nb\r\nc\r\n", "a\r\nb\r\nc\r\n", "a\r\nB\r\nc\r\n", "a\r\nB\r\nc\r\n", true, "one-side"},

      // --- left alone ---
      {"both add at end of file, no union", "a\n", "a\nb\n", "a\nc\n", "a\n" + conflict("b\n", "", "c\n"), false, ""},
      {"overlapping different edits", "a\nb\nc\n", "a\nX\nc\n", "a\nY\nc\n", "a\n" + conflict("X\n", "b\n", "Y\n") + "c\n",
       false, ""},
      {"delete vs modify", "a\nb\nc\n", "a\nc\n", "a\nB\nc\n", "a\n" + conflict("", "b\n", "B\n") + "c\n", false, ""},
      {"modify vs delete", "a\nb\nc\n", "a\nB\nc\n", "a\nc\n", "a\n" + conflict("B\n", "b\n", "") + "c\n", false, ""},
      {"directly adjacent lines edited", "a\nb\nc\n", "A\nb\nc\n", "a\nB\nc\n",
       conflict("A\nb\n", "a\nb\n", "a\nB\n") + "c\n", false, ""},
      {"whitespace change vs re-wrap (people keep one)", "call(a, b, c);\n", "call(a,\n     b, c);\n",
       "call(a, b,\n  c);\n", conflict("call(a,\n     b, c);\n", "call(a, b, c);\n", "call(a, b,\n  c);\n"), false, ""},
      {"indentation differs (it means something in Python)", "if x:\n  foo()\n", "if x:\n    foo()\n",
       "if x:\n\tfoo()\n", "if x:\n" + conflict("    foo()\n", "  foo()\n", "\tfoo()\n"), false, ""},
      {"a blank line more or less is not whitespace-only", "a\nb\n", "a\nB\n\n", "a\nB\n",
       "a\nB\n" + conflict("\n", "b\n", ""), false, ""},
      {"both raised a version, to different ones: the higher", "name = \"tokio\"\nversion = \"1.0.2\"\n",
       "name = \"tokio\"\nversion = \"1.1.0\"\n", "name = \"tokio\"\nversion = \"1.0.3\"\n",
       "name = \"tokio\"\nversion = \"1.1.0\"\n", true, "newer-version"},
      {"both raised versions, theirs higher in every one", "MODULE_VERSION = 5.12.4\nQT = 5.12\n",
       "MODULE_VERSION = 5.12.5\nQT = 5.12\n", "MODULE_VERSION = 5.15.0\nQT = 5.15\n",
       "MODULE_VERSION = 5.15.0\nQT = 5.15\n", true, "newer-version"},
      {"edits kept apart only by a brace meet", "f() {\n  a;\n}\nz\n", "f() {\n  A;\n}\nz\n",
       "f() {\n  a;\n}\nY\nz\n", "f() {\n" + conflict("  A;\n}\n", "  a;\n}\n", "  a;\n}\nY\n") + "z\n", false, ""},
      {"a sorted-looking list with one name twice is two versions", "m a 1\nm b 1\nm d 1\nm e 1\n",
       "m a 1\nm b 1\nm c 2\nm d 1\nm e 1\n", "m a 1\nm b 1\nm c 3\nm d 1\nm e 1\n",
       "m a 1\nm b 1\n" + conflict("m c 2\n", "", "m c 3\n") + "m d 1\nm e 1\n", false, ""},
      {"whitespace change vs content change", "  foo();\n", "    foo();\n", "  bar();\n",
       conflict("    foo();\n", "  foo();\n", "  bar();\n"), false, ""},
      {"whitespace that separates words matters", "int a;\n", "int x;\n", "intx;\n",
       conflict("int x;\n", "int a;\n", "intx;\n"), false, ""},
      {"union never replaces base lines", "a\nb\nc\n", "a\nX\nc\n", "a\nY\nc\n",
       "a\n" + conflict("X\n", "b\n", "Y\n") + "c\n", false, "", true},
      {"no trailing newline, both change last line", "a\nb", "a\nB", "a\nC", "a\n" + conflict("B\n", "b\n", "C\n"), false,
       ""},
      {"ours deleted everything, theirs edited", "a\nb\n", "", "a\nB\n", conflict("", "a\nb\n", "a\nB\n"), false, ""},
      {"a pre-release of a higher version is higher", "  \"version\": \"0.1.18\",\n  \"main\": \"index.js\",\n",
       "  \"version\": \"0.2.0-alpha.40\",\n  \"main\": \"index.js\",\n", "  \"version\": \"0.1.19\",\n  \"main\": \"index.js\",\n",
       "  \"version\": \"0.2.0-alpha.40\",\n  \"main\": \"index.js\",\n", true, "newer-version"},
      {"two pre-releases of one release are no order", "v = 1.0.0-rc.1\n", "v = 1.0.0\n", "v = 1.0.0-rc.2\n",
       conflict("v = 1.0.0\n", "v = 1.0.0-rc.1\n", "v = 1.0.0-rc.2\n"), false, ""},
      {"a PEP 440 development release belongs to its version", "__version__ = \"7.0.0\"\n",
       "__version__ = \"7.1.0.dev0\"\n", "__version__ = \"7.0.1\"\n", "__version__ = \"7.1.0.dev0\"\n", true,
       "newer-version"},
      {"PEP 440 pre-releases of one release are no order", "v = \"2.0\"\n", "v = \"2.0rc1\"\n", "v = \"2.0b2\"\n",
       conflict("v = \"2.0rc1\"\n", "v = \"2.0\"\n", "v = \"2.0b2\"\n"), false, ""},
      {"a release branch releasing the base's version keeps it: no order", "__version__ = \"1.4.dev1\"\n",
       "__version__ = \"1.4rc1\"\n", "__version__ = \"1.5.dev1\"\n",
       conflict("__version__ = \"1.4rc1\"\n", "__version__ = \"1.4.dev1\"\n", "__version__ = \"1.5.dev1\"\n"), false,
       ""},
      {"a lower side that raised its release is still outdone", "v = \"1.4.dev1\"\n", "v = \"1.4.1rc1\"\n",
       "v = \"1.5.dev1\"\n", "v = \"1.5.dev1\"\n", true, "newer-version"},
      {"a word after a version is not a PEP 440 tag", "v = 1.2.0\n", "v = 1.3.0a\n", "v = 1.2.1\n",
       conflict("v = 1.3.0a\n", "v = 1.2.0\n", "v = 1.2.1\n"), false, ""},
      {"a line number is not a version", "error at line 12\n", "error at line 14\n", "error at line 13\n",
       conflict("error at line 14\n", "error at line 12\n", "error at line 13\n"), false, ""},
      {"a side that lowered a version is not outdone", "v = 1.4.0\n", "v = 1.3.0\n", "v = 1.4.1\n",
       conflict("v = 1.3.0\n", "v = 1.4.0\n", "v = 1.4.1\n"), false, ""},
      {"each side higher in one version is no order", "a 1.2.0 b 2.0.0\n", "a 1.3.0 b 2.0.0\n", "a 1.2.1 b 2.1.0\n",
       conflict("a 1.3.0 b 2.0.0\n", "a 1.2.0 b 2.0.0\n", "a 1.2.1 b 2.1.0\n"), false, ""},
      {"versions with other text changed too", "dep = 1.2.0 # x\n", "dep = 1.3.0 # y\n", "dep = 1.2.5 # x\n",
       conflict("dep = 1.3.0 # y\n", "dep = 1.2.0 # x\n", "dep = 1.2.5 # x\n"), false, ""},
      {"CRLF conflict keeps CRLF markers", "a\r\nb\r\nc\r\n", "a\r\nX\r\nc\r\n", "a\r\nY\r\nc\r\n",
       "a\r\n" + conflict("X\r\n", "b\r\n", "Y\r\n", "\r\n") + "c\r\n", false, ""},
  };
  for (const auto& s : shapes) {
    SECTION(s.name) {
      MergeOptions opts;
      opts.allow_union = s.allow_union;
      opts.allow_newer_version = true;  // (asked for: the shapes below check where it must not settle)
      opts.allow_token_merge = true;    // (likewise)
      auto out = merge3(s.base, s.ours, s.theirs, opts);
      CHECK(out.content == s.expected);
      CHECK(out.clean() == s.clean);
      if (s.rule.empty() && s.clean) {
        CHECK(out.rules_applied.empty());
      } else if (!s.rule.empty()) {
        CHECK(std::find(out.rules_applied.begin(), out.rules_applied.end(), s.rule) != out.rules_applied.end());
      }
      if (!s.clean) {
        REQUIRE(out.unresolved.size() == 1);
        CHECK(out.content.find("<<<<<<< ours") != std::string::npos);
      }
    }
  }
}

TEST_CASE("merge3: two insertions at one place never pass for two separate ones (issue 12)", "[merge3]") {
  // git merge-file reports a conflict; a line diff aligns ours' insertion before the closing brace
  // (it can slide) and theirs' after it. Settled, the file would define f twice.
  const std::string base = "int g(void)\n{\n\tif (a &&\n\t    b)\n\t\tx = 1;\n\treturn 1;\n}\n";
  const std::string ours =
      "int g(void)\n{\n\tif (a)\n\t\tx |= 1;\n\tif (b)\n\t\tx |= 2;\n\treturn 1;\n}\n\nint f(void)\n{\n\treturn A;\n}\n";
  const std::string theirs =
      "int g(void)\n{\n\tif (a &&\n\t    b)\n\t\tx = 1;\n\treturn 1;\n}\n\nint f(void)\n{\n\treturn B;\n}\n";
  for (bool allow_union : {false, true}) {
    MergeOptions opts;
    opts.allow_union = allow_union;
    auto out = merge3(base, ours, theirs, opts);
    INFO(out.content);
    REQUIRE_FALSE(out.clean());
    REQUIRE(out.unresolved.size() == 1);
    CHECK(out.unresolved[0].ours.find("return A;") != std::string::npos);
    CHECK(out.unresolved[0].theirs.find("return B;") != std::string::npos);
    // ours' own edit of g, apart from the conflict, is merged.
    CHECK(out.content.find("\tif (b)\n\t\tx |= 2;\n") != std::string::npos);
  }
}

TEST_CASE("merge3 says which rule settled which region", "[merge3]") {
  const std::string base = "a\nf(a, b);\nk\nl\nm\nq\nz\n";
  const std::string ours = "a\nf(x, b);\nk\nl\nm\nP\nQ\nz\n";
  const std::string theirs = "a\nf(a, y);\nk\nl\nm\nP\nq\nz\n";
  MergeOptions opts;
  opts.allow_token_merge = true;
  auto out = merge3(base, ours, theirs, opts);
  REQUIRE(out.clean());
  CHECK(out.content == "a\nf(x, y);\nk\nl\nm\nP\nQ\nz\n");
  REQUIRE(out.settled.size() == 2);
  CHECK(out.settled[0].line == 2);
  CHECK(out.settled[0].rule == "token-merge");
  CHECK(out.settled[1].line == 6);
  CHECK(out.settled[1].rule == "common-lines");
  CHECK(out.summary() == "2 conflicting regions settled (line 2: token-merge, line 6: common-lines)");
}

TEST_CASE("merge3 writes longer markers when the file has marker-like lines", "[merge3]") {
  const std::string base = "Title\n=======\nx\n";
  auto out = merge3(base, "Title\n=======\nX\n", "Title\n=======\nY\n");
  REQUIRE(out.unresolved.size() == 1);
  CHECK(out.marker_length == 8);
  CHECK(out.content == "Title\n=======\n<<<<<<<< ours\nX\n|||||||| base\nx\n========\nY\n>>>>>>>> theirs\n");
}

TEST_CASE("merge3 describes each unresolved hunk with its place and context", "[merge3]") {
  const std::string base = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n";
  const std::string ours = "1\n2\nO3\n4\n5\n6\n7\nO8\n9\n10\n";
  const std::string theirs = "1\n2\nT3\n4\n5\n6\n7\nT8\n9\nT10\n";
  MergeOptions opts;
  opts.context_lines = 2;
  auto out = merge3(base, ours, theirs, opts);
  CHECK(out.content == "1\n2\n" + conflict("O3\n", "3\n", "T3\n") + "4\n5\n6\n7\n" + conflict("O8\n", "8\n", "T8\n") +
                           "9\nT10\n");
  REQUIRE(out.unresolved.size() == 2);
  const auto& h1 = out.unresolved[0];
  CHECK(h1.line == 3);
  CHECK(h1.base == "3\n");
  CHECK(h1.ours == "O3\n");
  CHECK(h1.theirs == "T3\n");
  CHECK(h1.context_before == "1\n2\n");
  CHECK(h1.context_after == "4\n5\n");
  const auto& h2 = out.unresolved[1];
  CHECK(h2.line == 14);
  CHECK(h2.context_before == "6\n7\n");
  CHECK(h2.context_after == "9\nT10\n");
  CHECK(out.rules_applied == std::vector<std::string>{"one-side"});
}

TEST_CASE("merge3 context stops at a neighbouring marker block", "[merge3]") {
  // Two conflicts separated by one stable line: each one's context is that line only.
  auto out = merge3("a\nb\nc\n", "A\nb\nC\n", "X\nb\nZ\n");
  REQUIRE(out.unresolved.size() == 2);
  CHECK(out.unresolved[0].context_before.empty());
  CHECK(out.unresolved[0].context_after == "b\n");
  CHECK(out.unresolved[1].context_before == "b\n");
  CHECK(out.unresolved[1].context_after.empty());
  CHECK(out.unresolved[1].line == 9);
}

TEST_CASE("merge3 with context_lines 0 gives no context", "[merge3]") {
  MergeOptions opts;
  opts.context_lines = 0;
  auto out = merge3("a\nb\nc\n", "a\nX\nc\n", "a\nY\nc\n", opts);
  REQUIRE(out.unresolved.size() == 1);
  CHECK(out.unresolved[0].context_before.empty());
  CHECK(out.unresolved[0].context_after.empty());
}

namespace {

std::string random_file(std::mt19937& rng, int lines) {
  std::string s;
  for (int i = 0; i < lines; ++i) {
    s += "line" + std::to_string(rng() % 6) + "\n";
  }
  return s;
}

// A random edit of `text`: lines dropped, replaced and inserted.
std::string random_edit(std::mt19937& rng, const std::string& text) {
  std::string out;
  for (auto line : fab::resolve::split_lines(text)) {
    switch (rng() % 8) {
      case 0: break;
      case 1: out += "changed" + std::to_string(rng() % 4) + "\n"; break;
      case 2: out += std::string(line) + "added" + std::to_string(rng() % 4) + "\n"; break;
      default: out += line;
    }
  }
  return out;
}

std::size_t lcs_length(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<std::vector<std::size_t>> t(a.size() + 1, std::vector<std::size_t>(b.size() + 1, 0));
  for (std::size_t i = a.size(); i-- > 0;) {
    for (std::size_t j = b.size(); j-- > 0;) {
      t[i][j] = a[i] == b[j] ? t[i + 1][j + 1] + 1 : std::max(t[i + 1][j], t[i][j + 1]);
    }
  }
  return t[0][0];
}

}  // namespace

TEST_CASE("common_lines finds a longest common subsequence", "[merge3][diff]") {
  std::mt19937 rng(7);
  for (int round = 0; round < 400; ++round) {
    std::vector<int> a(rng() % 30), b(rng() % 30);
    for (auto& x : a) x = static_cast<int>(rng() % 4);
    for (auto& x : b) x = static_cast<int>(rng() % 4);
    auto m = fab::resolve::common_lines(a, b);
    INFO("round " << round);
    REQUIRE(m.size() == lcs_length(a, b));
    for (std::size_t k = 0; k < m.size(); ++k) {
      REQUIRE(a[m[k].first] == b[m[k].second]);
      if (k > 0) {
        REQUIRE(m[k].first > m[k - 1].first);
        REQUIRE(m[k].second > m[k - 1].second);
      }
    }
  }
}

TEST_CASE("merge3: when only one side changed, the result is that side", "[merge3][property]") {
  std::mt19937 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::string base = random_file(rng, static_cast<int>(rng() % 25));
    std::string edited = random_edit(rng, base);
    INFO("round " << round << "\nbase:\n" << base << "edited:\n" << edited);
    auto theirs_only = merge3(base, base, edited);
    REQUIRE(theirs_only.clean());
    REQUIRE(theirs_only.content == edited);
    auto ours_only = merge3(base, edited, base);
    REQUIRE(ours_only.clean());
    REQUIRE(ours_only.content == edited);
    auto same = merge3(base, edited, edited);
    REQUIRE(same.clean());
    REQUIRE(same.content == edited);
  }
}

TEST_CASE("merge3: marker blocks have exactly the layout their Hunks describe", "[merge3][property]") {
  // llm_resolve relies on this: a block starts at Hunk::line and spans 4 marker lines plus the lines
  // of ours, base and theirs; swapping each block for its ours text leaves no marker behind.
  std::mt19937 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::string base = random_file(rng, static_cast<int>(rng() % 25));
    std::string ours = random_edit(rng, base), theirs = random_edit(rng, base);
    auto out = merge3(base, ours, theirs);
    auto lines = fab::resolve::split_lines(out.content);
    std::string rebuilt;
    std::size_t next = 0;
    INFO("round " << round);
    for (const auto& h : out.unresolved) {
      REQUIRE(h.line - 1 >= next);
      for (; next < h.line - 1; ++next) rebuilt += lines[next];
      REQUIRE(std::string(lines[next]) == "<<<<<<< ours\n");
      rebuilt += h.ours;
      next = h.line - 1 + 4 + fab::resolve::split_lines(h.ours).size() + fab::resolve::split_lines(h.base).size() +
             fab::resolve::split_lines(h.theirs).size();
      REQUIRE(next <= lines.size());
      REQUIRE(std::string(lines[next - 1]) == ">>>>>>> theirs\n");
    }
    for (; next < lines.size(); ++next) rebuilt += lines[next];
    REQUIRE(rebuilt.find("<<<<<<<") == std::string::npos);
    REQUIRE(out.clean() == (out.content.find("<<<<<<<") == std::string::npos));
  }
}

namespace {

// What `git merge-file` says of a merge: true when it reports a conflict.
bool git_conflicts(const fab::test::TempDir& dir, const std::string& base, const std::string& ours,
                   const std::string& theirs) {
  fab::test::write_file(dir.path() / "base", base);
  fab::test::write_file(dir.path() / "ours", ours);
  fab::test::write_file(dir.path() / "theirs", theirs);
  fab::ProcessSpec spec;
  spec.argv = {"git", "merge-file", "-p", (dir.path() / "ours").string(), (dir.path() / "base").string(),
               (dir.path() / "theirs").string()};
  auto run = fab::run_process(spec);
  REQUIRE(run);
  REQUIRE(run->exit_code >= 0);
  REQUIRE(run->exit_code < 128);
  return run->exit_code != 0;
}

}  // namespace

TEST_CASE("merge3: what git merge-file finds conflicting, the line merge never settles alone", "[merge3][property]") {
  // Whatever git's 3-way merge reports as a conflict is settled, if at all, by a region rule that
  // says so (MergeOutcome::settled), never by the line merge aligning the diffs its own way.
  fab::test::TempDir dir;
  std::mt19937 rng(12);
  int git_conflicted = 0;
  for (int round = 0; round < 250; ++round) {
    std::string base = random_file(rng, static_cast<int>(rng() % 12));
    std::string ours = random_edit(rng, base), theirs = random_edit(rng, base);
    if (!git_conflicts(dir, base, ours, theirs)) continue;
    ++git_conflicted;
    auto out = merge3(base, ours, theirs);
    INFO("round " << round << "\nbase:\n" << base << "ours:\n" << ours << "theirs:\n" << theirs << "merged:\n" << out.content);
    if (out.clean()) REQUIRE_FALSE(out.settled.empty());
  }
  CHECK(git_conflicted > 50);  // the property was exercised
}

TEST_CASE("merge3 is fast on a 5000-line file with a few hunks", "[merge3][perf]") {
  std::string base, ours, theirs;
  for (int i = 0; i < 5000; ++i) {
    std::string line = "    statement_" + std::to_string(i) + "(x, y);\n";
    base += line;
    ours += (i % 1000 == 10) ? "    ours_" + std::to_string(i) + "();\n" : line;
    theirs += (i % 1000 == 10 || i % 1300 == 500) ? "    theirs_" + std::to_string(i) + "();\n" : line;
  }
  auto start = std::chrono::steady_clock::now();
  auto out = merge3(base, ours, theirs);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(out.unresolved.size() == 5);
  CHECK(elapsed < std::chrono::seconds(2));  // "did not hang" bound; it takes milliseconds

  // Worst case for the diff: two completely different 5000-line sides.
  std::string other;
  for (int i = 0; i < 5000; ++i) other += "other_" + std::to_string(i) + "\n";
  start = std::chrono::steady_clock::now();
  auto rewritten = merge3(base, other, base);
  CHECK(rewritten.content == other);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("merge3: newer-version settles only when asked for", "[resolve][merge3]") {
  const std::string base = "name = \"tokio\"\nversion = \"1.0.2\"\n";
  const std::string ours = "name = \"tokio\"\nversion = \"1.1.0\"\n";
  const std::string theirs = "name = \"tokio\"\nversion = \"1.0.3\"\n";
  auto by_default = merge3(base, ours, theirs, {});
  CHECK_FALSE(by_default.clean());
  MergeOptions asked;
  asked.allow_newer_version = true;
  auto settled = merge3(base, ours, theirs, asked);
  CHECK(settled.clean());
  CHECK(settled.content == ours);
}

TEST_CASE("merge3: token-merge settles only when asked for", "[resolve][merge3]") {
  const std::string base = "a\nf(a, b);\nz\n", ours = "a\nf(x, b);\nz\n", theirs = "a\nf(a, y);\nz\n";
  auto by_default = merge3(base, ours, theirs, {});
  REQUIRE(by_default.unresolved.size() == 1);
  CHECK(by_default.unresolved[0].ours == "f(x, b);\n");
  CHECK(by_default.unresolved[0].theirs == "f(a, y);\n");
  MergeOptions asked;
  asked.allow_token_merge = true;
  auto settled = merge3(base, ours, theirs, asked);
  CHECK(settled.clean());
  CHECK(settled.content == "a\nf(x, y);\nz\n");
}

TEST_CASE("merge3: a region whose sides differ only in blank lines is left, whatever is asked for", "[resolve][merge3]") {
  // Both sides added the same call, one with a blank line before it (tmux's tmux.c, 2020): which
  // side's blank lines to keep is a guess, and common-lines, union or any rule would make it.
  const std::string base = "int x;\nsetlocale(LC_TIME, \"\");\n";
  const std::string ours = "int x;\nsetlocale(LC_CTYPE, \"\");\nsetlocale(LC_TIME, \"\");\n";
  const std::string theirs = "int x;\n\nsetlocale(LC_CTYPE, \"\");\nsetlocale(LC_TIME, \"\");\n";
  for (bool everything : {false, true}) {
    MergeOptions opts;
    opts.allow_union = opts.allow_token_merge = opts.allow_newer_version = everything;
    auto out = merge3(base, ours, theirs, opts);
    INFO(out.content);
    REQUIRE(out.unresolved.size() == 1);
    CHECK(out.unresolved[0].ours.empty());  // (what both sides begin or end it with is not shown)
    CHECK(out.unresolved[0].theirs == "\n");
    CHECK(out.settled.empty());
    CHECK(out.summary() == "1 left for the next resolver (line 2); line 2 left: the sides differ only in blank lines");
  }
  // A blank line at a place only one side changed is merged as before: the guard is for regions.
  auto apart = merge3("a\nb\nc\nd\n", "a\n\nb\nc\nd\n", "a\nb\nc\nD\n");
  CHECK(apart.clean());
  CHECK(apart.content == "a\n\nb\nc\nD\n");
}
