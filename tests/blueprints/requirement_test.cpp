#include <catch2/catch.hpp>

#include <chrono>

#include "blueprints/requirement.h"
#include "tests/support/temp_dir.h"

namespace {

fab::Error requirement_error_of(const std::string& text, fab::Decompose mode = fab::Decompose::headings) {
  auto r = fab::parse_requirement(text, "req.md", mode);
  REQUIRE_FALSE(r);
  return r.error();
}

std::vector<std::string> titles(const fab::Requirement& req) {
  std::vector<std::string> out;
  for (const auto& s : req.sections) {
    out.push_back(s.title);
  }
  return out;
}

}  // namespace

TEST_CASE("headings: each level-2 heading is an item", "[requirement]") {
  const char* text = R"(# Todo app

Intro text that is not an item.

## Storage
Keep todos in a file.

### Format
One JSON object per line.

## Commands ##
Depends on: Storage
Add `add`, `list` and `done`.

```sh
## not a heading
fab add "x"
```

~~~
## also not a heading
~~~

##   Help output   
Depends on:  Commands ,Storage
)";
  auto r = fab::parse_requirement(text, "req.md", fab::Decompose::headings);
  REQUIRE(r);
  CHECK(r->source_path == "req.md");
  REQUIRE(titles(*r) == std::vector<std::string>{"Storage", "Commands", "Help output"});
  const auto& s = r->sections;
  CHECK(s[0].line == 5);
  CHECK(s[0].body == "Keep todos in a file.\n\n### Format\nOne JSON object per line.");
  CHECK(s[0].depends_on.empty());
  CHECK(s[1].line == 11);
  CHECK(s[1].body ==
        "Depends on: Storage\nAdd `add`, `list` and `done`.\n\n```sh\n## not a heading\nfab add \"x\"\n```\n\n~~~\n"
        "## also not a heading\n~~~");
  CHECK(s[1].depends_on == std::vector<std::size_t>{0});
  CHECK(s[1].depends_on_titles == std::vector<std::string>{"Storage"});
  CHECK(s[2].line == 24);
  CHECK(s[2].depends_on == std::vector<std::size_t>{1, 0});
  CHECK(s[2].depends_on_titles == std::vector<std::string>{"Commands", "Storage"});
  CHECK(fab::topological_order(*r) == std::vector<std::size_t>{0, 1, 2});
}

TEST_CASE("headings: details of what counts", "[requirement]") {
  const char* text =
      "## A\r\nbody a\r\n  depends   ON : B, B\r\n# Part two\r\nnot in A\r\n##No space is not a heading\r\n"
      "   ## B\r\n\r\n\r\nbody b\r\n\r\n";
  auto r = fab::parse_requirement(text, "req.md", fab::Decompose::headings);
  REQUIRE(r);
  REQUIRE(titles(*r) == std::vector<std::string>{"A", "B"});
  CHECK(r->sections[0].body == "body a\n  depends   ON : B, B");
  CHECK(r->sections[0].depends_on == std::vector<std::size_t>{1});  // repeats collapse
  CHECK(r->sections[1].line == 7);
  CHECK(r->sections[1].body == "body b");
  CHECK(fab::topological_order(*r) == std::vector<std::size_t>{1, 0});
}

TEST_CASE("Depends on inside fenced code is an example, not a dependency", "[requirement]") {
  const char* text = "\xEF\xBB\xBF## A\n```md\nDepends on: Nowhere\n```\n## B\n~~~~\nDepends on: A\n~~~\n~~~~\n";
  auto r = fab::parse_requirement(text, "req.md", fab::Decompose::headings);
  REQUIRE(r);
  REQUIRE(titles(*r) == std::vector<std::string>{"A", "B"});  // the byte order mark is skipped
  CHECK(r->sections[0].depends_on.empty());
  CHECK(r->sections[1].depends_on.empty());
  CHECK(r->sections[1].body == "~~~~\nDepends on: A\n~~~\n~~~~");  // a shorter fence does not close

  auto checklist = fab::parse_requirement("- [ ] A\n  ```\n  Depends on: Nowhere\n  ```\n", "req.md",
                                          fab::Decompose::checklist);
  REQUIRE(checklist);
  CHECK(checklist->sections[0].depends_on.empty());
}

TEST_CASE("checklist: each unchecked top-level box is an item", "[requirement]") {
  const char* text = R"(# Plan

- [ ] Storage
  Keep todos in a file.

      indented code stays indented
- [x] Project skeleton
  Already there.
* [ ] Commands
  Depends on: Storage, Project skeleton
  - [ ] a sub-task stays in the body
+ [ ] Help
A paragraph at the margin ends the item.

```
- [ ] not an item
```
- [X] Done too
- [ ] Docs
    Depends on: Help
)";
  auto r = fab::parse_requirement(text, "req.md", fab::Decompose::checklist);
  REQUIRE(r);
  REQUIRE(titles(*r) == std::vector<std::string>{"Storage", "Commands", "Help", "Docs"});
  const auto& s = r->sections;
  CHECK(s[0].line == 3);
  CHECK(s[0].body == "Keep todos in a file.\n\n    indented code stays indented");
  CHECK(s[1].line == 9);
  CHECK(s[1].body == "Depends on: Storage, Project skeleton\n- [ ] a sub-task stays in the body");
  // The checked "Project skeleton" is done: depending on it is satisfied, not an edge.
  CHECK(s[1].depends_on == std::vector<std::size_t>{0});
  CHECK(s[1].depends_on_titles == std::vector<std::string>{"Storage"});
  CHECK(s[2].body.empty());
  CHECK(s[3].line == 19);
  CHECK(s[3].body == "Depends on: Help");
  CHECK(s[3].depends_on == std::vector<std::size_t>{2});
}

TEST_CASE("topological order puts dependencies first, then document order", "[requirement]") {
  const char* text = "## D\nDepends on: B\n## C\n## B\nDepends on: A\n## A\n";
  auto r = fab::parse_requirement(text, "req.md", fab::Decompose::headings);
  REQUIRE(r);
  CHECK(fab::topological_order(*r) == std::vector<std::size_t>{1, 3, 2, 0});
}

TEST_CASE("requirement errors name the file and line", "[requirement][errors]") {
  SECTION("unknown title with a did-you-mean") {
    auto e = requirement_error_of("## Parser\n\n## Login\ntext\nDepends on: Parsr\n");
    CHECK(e.message == "req.md:5:13: item 'Login' depends on unknown item 'Parsr'");
    CHECK(e.hint == "did you mean 'Parser'?");
  }
  SECTION("unknown title with nothing close") {
    auto e = requirement_error_of("## Parser\n## Login\nDepends on: Parser, Database\n");
    CHECK(e.message == "req.md:3:21: item 'Login' depends on unknown item 'Database'");
    CHECK(e.hint == "Depends on names other items by their exact titles, separated by commas");
  }
  SECTION("titles are case-sensitive") {
    auto e = requirement_error_of("## Parser\n## Login\nDepends on: parser\n");
    CHECK(e.message == "req.md:3:13: item 'Login' depends on unknown item 'parser'");
    CHECK(e.hint == "did you mean 'Parser'?");
  }
  SECTION("duplicate titles") {
    auto e = requirement_error_of("## A\n## B\n\n## A\n");
    CHECK(e.message == "req.md:4: duplicate item title 'A' (first at line 1)");
    CHECK_FALSE(e.hint.empty());
  }
  SECTION("a self-dependency") {
    auto e = requirement_error_of("## A\n## B\nDepends on: A, B\n");
    CHECK(e.message == "req.md:3:16: item 'B' depends on itself");
  }
  SECTION("a two-item cycle") {
    auto e = requirement_error_of("## A\nDepends on: B\n## B\nDepends on: A\n");
    CHECK(e.message == "req.md:2:13: dependency cycle: A -> B -> A");
    CHECK_FALSE(e.hint.empty());
  }
  SECTION("a longer cycle, named from its earliest item") {
    auto e = requirement_error_of("## Free\n## X\nDepends on: Free, Z\n## Y\nDepends on: X\n## Z\nDepends on: Y\n");
    CHECK(e.message == "req.md:3:19: dependency cycle: X -> Z -> Y -> X");
  }
  SECTION("an empty heading") {
    auto e = requirement_error_of("## A\n\n##\n");
    CHECK(e.message == "req.md:3: empty item title");
    CHECK(e.hint == "write the title after '## ', e.g. '## Add login'");
  }
  SECTION("an empty checklist title") {
    auto e = requirement_error_of("- [ ] A\n- [ ]   \n", fab::Decompose::checklist);
    CHECK(e.message == "req.md:2: empty item title");
  }
  SECTION("no items in headings mode") {
    auto e = requirement_error_of("# Title\n\nJust prose.\n- [ ] a box\n");
    CHECK(e.message == "req.md:1: requirement has no items");
    CHECK(e.hint.find("## Add login") != std::string::npos);
    CHECK(e.hint.find("did you mean 'decompose: checklist'?") != std::string::npos);
  }
  SECTION("no items in checklist mode") {
    auto e = requirement_error_of("## A heading\n- [x] done\n", fab::Decompose::checklist);
    CHECK(e.message == "req.md:1: requirement has no items");
    CHECK(e.hint.find("- [ ] Add login") != std::string::npos);
    CHECK(e.hint.find("all 1 checklist entries are already checked") != std::string::npos);
    CHECK(e.hint.find("did you mean 'decompose: headings'?") != std::string::npos);
  }
  SECTION("headings only inside a fence are not items") {
    auto e = requirement_error_of("```\n## A\n```\n");
    CHECK(e.message == "req.md:1: requirement has no items");
  }
  SECTION("an unknown checklist dependency") {
    auto e = requirement_error_of("- [ ] A\n- [ ] B\n  Depends on: C\n", fab::Decompose::checklist);
    CHECK(e.message == "req.md:3:15: item 'B' depends on unknown item 'C'");
  }
}

TEST_CASE("a requirement that is not UTF-8 is refused at its first bad byte", "[requirement][errors]") {
  SECTION("a Latin-1 byte in a title: line and character column") {
    // A UTF-8 "é" then a Latin-1 one: the column counts characters, not bytes.
    auto e = requirement_error_of("# R\u00e9sum\u00e9\n\n## Caf\u00e9 \xe9 menu\n");
    CHECK(e.message == "req.md:3:9: not valid UTF-8 (byte 0xe9)");
    CHECK(e.hint.find("save the file as UTF-8") == 0);
  }
  SECTION("in a body, in checklist mode too") {
    auto e = requirement_error_of("- [ ] A\n  body \xff\xfe\n", fab::Decompose::checklist);
    CHECK(e.message == "req.md:2:8: not valid UTF-8 (byte 0xff)");
  }
  SECTION("overlong forms, surrogates and truncated sequences") {
    CHECK(requirement_error_of("## A\n\xc0\xaf\n").message == "req.md:2:1: not valid UTF-8 (byte 0xc0)");
    CHECK(requirement_error_of("## A\nx\xed\xa0\x80\n").message == "req.md:2:2: not valid UTF-8 (byte 0xed)");
    CHECK(requirement_error_of("## A\n\xf4\x90\x80\x80\n").message == "req.md:2:1: not valid UTF-8 (byte 0xf4)");
    CHECK(requirement_error_of("## A\nab\xe2\x82").message == "req.md:2:3: not valid UTF-8 (byte 0xe2)");
  }
  SECTION("valid multi-byte text and a byte order mark are fine") {
    auto r = fab::parse_requirement("\xef\xbb\xbf## Caf\u00e9 \u2615 \U0001F600\n", "req.md", fab::Decompose::headings);
    REQUIRE(r);
    CHECK(titles(*r) == std::vector<std::string>{"Caf\u00e9 \u2615 \U0001F600"});
  }
}

TEST_CASE("requirements are read from files", "[requirement][file]") {
  fab::test::TempDir dir;
  const auto path = dir / "req.md";
  fab::test::write_file(path, "## One\n## Two\nDepends on: One\n");
  auto r = fab::parse_requirement_file(path, fab::Decompose::headings);
  REQUIRE(r);
  CHECK(r->source_path == path.string());
  CHECK(titles(*r) == std::vector<std::string>{"One", "Two"});

  fab::test::write_file(path, "## One\n## Two\nDepends on: Tow\n");
  auto e = fab::parse_requirement_file(path, fab::Decompose::headings);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == path.string() + ":3:13: item 'Two' depends on unknown item 'Tow'");

  auto missing = fab::parse_requirement_file(dir / "none.md", fab::Decompose::headings);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("cannot read") == 0);
}

TEST_CASE("a 1000-item requirement parses quickly", "[requirement][scale]") {
  std::string text = "# Big\n\n";
  for (int i = 0; i < 1000; ++i) {
    text += "## Item " + std::to_string(i) + "\n";
    text += "Some description of item " + std::to_string(i) + ".\n\n### Detail\nMore text.\n";
    if (i > 0) {
      text += "Depends on: Item " + std::to_string(i - 1);
      if (i > 1) {
        text += ", Item " + std::to_string(i / 2);
      }
      text += "\n";
    }
  }
  const auto start = std::chrono::steady_clock::now();
  auto r = fab::parse_requirement(text, "big.md", fab::Decompose::headings);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(r);
  REQUIRE(r->sections.size() == 1000);
  CHECK(r->sections[999].depends_on == std::vector<std::size_t>{998, 499});
  auto order = fab::topological_order(*r);
  REQUIRE(order.size() == 1000);
  CHECK(order.front() == 0);
  CHECK(order.back() == 999);
  // A generous "did not go quadratic" bound, not a benchmark.
  CHECK(elapsed < std::chrono::seconds(2));
}
