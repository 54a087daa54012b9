#include <catch2/catch.hpp>

#include <chrono>
#include <random>

#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/merge3.h"

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
      {"whitespace only: indent vs tab", "if (x) {\n  foo(a,b);\n}\n", "if (x) {\n    foo(a, b);\n}\n",
       "if (x) {\n\tfoo(a,b);\n}\n", "if (x) {\n    foo(a, b);\n}\n", true, "whitespace-only"},
      {"whitespace only: re-wrapped line", "call(a, b, c);\n", "call(a,\n     b, c);\n", "call(a, b,\n  c);\n",
       "call(a,\n     b, c);\n", true, "whitespace-only"},
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
      {"whitespace change vs content change", "  foo();\n", "    foo();\n", "  bar();\n",
       conflict("    foo();\n", "  foo();\n", "  bar();\n"), false, ""},
      {"whitespace that separates words matters", "int a;\n", "int x;\n", "intx;\n",
       conflict("int x;\n", "int a;\n", "intx;\n"), false, ""},
      {"union never replaces base lines", "a\nb\nc\n", "a\nX\nc\n", "a\nY\nc\n",
       "a\n" + conflict("X\n", "b\n", "Y\n") + "c\n", false, "", true},
      {"no trailing newline, both change last line", "a\nb", "a\nB", "a\nC", "a\n" + conflict("B\n", "b\n", "C\n"), false,
       ""},
      {"ours deleted everything, theirs edited", "a\nb\n", "", "a\nB\n", conflict("", "a\nb\n", "a\nB\n"), false, ""},
      {"CRLF conflict keeps CRLF markers", "a\r\nb\r\nc\r\n", "a\r\nX\r\nc\r\n", "a\r\nY\r\nc\r\n",
       "a\r\n" + conflict("X\r\n", "b\r\n", "Y\r\n", "\r\n") + "c\r\n", false, ""},
  };
  for (const auto& s : shapes) {
    SECTION(s.name) {
      MergeOptions opts;
      opts.allow_union = s.allow_union;
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
