// The syntax check and the syntax-aware rule, on real tree-sitter grammars.
#include <catch2/catch.hpp>

#include <string>

#include "plugins/resolve/agreed_lines.h"
#include "plugins/resolve/merge3.h"
#include "plugins/resolve/region_rules.h"
#include "plugins/resolve/syntax.h"

using fab::resolve::language_for_path;
using fab::resolve::merge3;
using fab::resolve::MergeOptions;
using fab::resolve::parses;
using fab::resolve::Syntax;
using fab::resolve::SyntaxCheck;

namespace {

MergeOptions for_path(std::string path) {
  MergeOptions o;
  o.path = std::move(path);
  return o;
}

bool settled_by(const fab::resolve::MergeOutcome& m, const std::string& rule) {
  for (const auto& s : m.settled) {
    if (s.rule == rule) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the file name selects a grammar, other files get none", "[syntax]") {
  CHECK(language_for_path("src/a.c") == "c");
  CHECK(language_for_path("include/x.h") == "cpp");
  CHECK(language_for_path("lib/x.cpp") == "cpp");
  CHECK(language_for_path("pkg/__init__.py") == "python");
  CHECK(language_for_path("lib/Compiler.js") == "javascript");
  CHECK(language_for_path("src/a.ts") == "typescript");
  CHECK(language_for_path("src/App.tsx") == "tsx");
  CHECK(language_for_path("db.go") == "go");
  CHECK(language_for_path("src/lib.rs") == "rust");
  CHECK(language_for_path("package.json") == "json");
  CHECK(language_for_path(".github/workflows/ci.yml") == "yaml");
  CHECK(language_for_path("docs/README.md") == "markdown");
  CHECK(language_for_path("scripts/build.sh") == "bash");
  CHECK(language_for_path("Makefile").empty());
  CHECK(language_for_path("CHANGES.rst").empty());
  CHECK(language_for_path(".c").empty());  // a dot file, not a C file
  CHECK(language_for_path("").empty());
}

TEST_CASE("every grammar parses a good text and finds the error in a broken one", "[syntax]") {
  struct Sample {
    const char* language;
    std::string good, broken;
    std::size_t error_line;
  };
  const std::vector<Sample> samples = {
      {"c", "int f(void)\n{\n\treturn 1;\n}\n", "int f(void)\n{\n\treturn 1;\n", 3},
      {"cpp", "namespace n {\nclass A { int x; };\n}\n", "namespace n {\nclass A { int x; \n}\n", 2},
      {"python", "def f():\n    return 1\n", "def f(:\n    return 1\n", 1},
      {"javascript", "const a = () => require(\"x\");\n", "const a = () => require(\"x\";\n", 1},
      {"typescript", "let a: number = 1;\n", "let a: = 1;\n", 1},
      {"tsx", "const e = <div>{a}</div>;\n", "const e = <div>{a</div>;\n", 1},
      {"go", "package p\n\nfunc f() int {\n\treturn 1\n}\n", "package p\n\nfunc f() int {\n\treturn 1\n", 5},
      {"rust", "fn f() -> u32 {\n    1\n}\n", "fn f() -> u32 {\n    1\n", 1},
      {"json", "{\n  \"a\": 1,\n  \"b\": [1, 2]\n}\n", "{\n  \"a\": 1,\n  \"b\": [1, 2\n}\n", 3},
      {"yaml", "a: 1\nb:\n  - x\n", "a: 1\nb: [x\n", 2},
      {"bash", "if true; then\n  echo hi\nfi\n", "if true; then\n  echo hi\n", 3},
  };
  for (const auto& s : samples) {
    INFO(s.language);
    CHECK(parses(s.language, s.good) == true);
    CHECK(parses(s.language, s.broken) == false);
    auto syntax = Syntax::parse(s.language, s.broken);
    REQUIRE(syntax);
    CHECK(syntax->first_error_line() >= 1);
    CHECK(syntax->first_error_line() <= s.error_line + 1);
  }
  // Markdown parses anything; a grammar fab does not have gives no answer.
  CHECK(parses("markdown", "# Title\n\n- a\n- b\n") == true);
  CHECK_FALSE(parses("cobol", "anything").has_value());
  CHECK_FALSE(Syntax::parse("c", std::string(100, 'x'), 10).has_value());  // over the size limit
}

TEST_CASE("siblings_covering finds whole declarations, and nothing for a range that cuts one", "[syntax]") {
  const std::string text = "import a\nimport c\n\n\ndef f():\n    return 1\n\n\ndef g():\n    pass\n";
  auto s = Syntax::parse("python", text);
  REQUIRE(s);
  REQUIRE(s->clean());
  const std::size_t f = text.find("def f"), g = text.find("def g");
  auto both = s->siblings_covering(f, text.size());
  REQUIRE(both);
  CHECK(both->parent.type == "module");
  REQUIRE(both->inside.size() == 2);
  CHECK(both->inside[0].name == "f");
  CHECK(both->inside[1].name == "g");
  CHECK(both->all.size() == 4);
  auto imports = s->siblings_covering(0, text.find("\n\n"));
  REQUIRE(imports);
  CHECK(imports->inside.size() == 2);
  CHECK(imports->inside[0].name == "a");  // an import's name field
  CHECK_FALSE(s->siblings_covering(f, g + 5));                         // ends inside g
  CHECK_FALSE(s->siblings_covering(f + 1, text.find("\n\n", f)));  // starts inside f's "def"
  // The parameters and body of f are whole children of f.
  auto inner = s->siblings_covering(f + 5, text.find("\n\n", f));
  REQUIRE(inner);
  CHECK(inner->parent.type == "function_definition");
  CHECK_FALSE(s->siblings_covering(text.find("\n\n"), text.find("\n\n") + 2));  // blanks only
}

TEST_CASE("the syntax check refuses a merge that does not parse or defines a name twice", "[syntax]") {
  const std::string ours = "int f(void)\n{\n\treturn A;\n}\n", theirs = "int g(void)\n{\n\treturn B;\n}\n";
  const SyntaxCheck check("c", ours, theirs);
  REQUIRE(check.active());
  CHECK(check.objection(ours + "\n" + theirs).empty());
  CHECK(check.objection("int f(void)\n{\n\treturn A;\n") == "it does not parse as c (line 3)");
  const std::string twice = check.objection(ours + "\n" + ours);
  CHECK(twice.find("defines f (function_definition) 2 times (ours 1, theirs 0)") != std::string::npos);

  SECTION("a name a side already defines twice may stay twice") {
    const std::string two = "#ifdef X\nint a;\n#endif\n#ifdef X\nint b;\n#endif\n";
    const SyntaxCheck again("c", two, two);
    CHECK(again.objection(two).empty());
  }
  SECTION("no grammar, or a side that does not parse: no objection") {
    CHECK_FALSE(SyntaxCheck("", ours, theirs).active());
    CHECK(SyntaxCheck("", ours, theirs).objection("{{{").empty());
    const SyntaxCheck broken("c", ours, "int g(void) {\n");
    CHECK_FALSE(broken.active());
    CHECK(broken.objection("{{{").empty());
  }
}

TEST_CASE("the issue's reproduction: two definitions of f never land, even by syntax", "[syntax][merge3]") {
  const std::string base = "int g(void)\n{\n\tif (a &&\n\t    b)\n\t\tx = 1;\n\treturn 1;\n}\n";
  const std::string ours =
      "int g(void)\n{\n\tif (a)\n\t\tx |= 1;\n\tif (b)\n\t\tx |= 2;\n\treturn 1;\n}\n\nint f(void)\n{\n\treturn A;\n}\n";
  const std::string theirs =
      "int g(void)\n{\n\tif (a &&\n\t    b)\n\t\tx = 1;\n\treturn 1;\n}\n\nint f(void)\n{\n\treturn B;\n}\n";
  for (const char* path : {"g.c", "g.txt"}) {
    INFO(path);
    auto m = merge3(base, ours, theirs, for_path(path));
    CHECK_FALSE(m.clean());
    CHECK(m.content.find("return A;") != std::string::npos);
    CHECK(m.content.find("return B;") != std::string::npos);
  }
}

TEST_CASE("sorted-declarations: both sides added entries to a run their parser shows sorted", "[syntax][merge3]") {
  struct Case {
    const char* name;
    const char* path;
    std::string base, ours, theirs, expected;
  };
  const std::vector<Case> cases = {
      {"JSON keys with object values", "package.json",
       "{\n  \"a\": 1,\n  \"c\": {\n    \"x\": 1\n  },\n  \"e\": 5,\n  \"g\": 7\n}\n",
       "{\n  \"a\": 1,\n  \"b\": {\n    \"y\": 2\n  },\n  \"c\": {\n    \"x\": 1\n  },\n  \"e\": 5,\n  \"g\": 7\n}\n",
       "{\n  \"a\": 1,\n  \"bb\": [\n    2\n  ],\n  \"c\": {\n    \"x\": 1\n  },\n  \"e\": 5,\n  \"g\": 7\n}\n",
       "{\n  \"a\": 1,\n  \"b\": {\n    \"y\": 2\n  },\n  \"bb\": [\n    2\n  ],\n  \"c\": {\n    \"x\": 1\n  },\n"
       "  \"e\": 5,\n  \"g\": 7\n}\n"},
      {"a JavaScript object of lazy requires (quoted and bare keys, any case)", "lib/serializables.js",
       "module.exports = {\n\tAsyncDependenciesBlock: () =>\n\t\trequire(\"../AsyncDependenciesBlock\"),\n"
       "\t\"dependencies/AMDDefineDependency\": () =>\n\t\trequire(\"../dependencies/AMDDefineDependency\"),\n"
       "\t\"dependencies/ImportDependency\": () =>\n\t\trequire(\"../dependencies/ImportDependency\"),\n"
       "\tNormalModule: () => require(\"../NormalModule\")\n};\n",
       "module.exports = {\n\tAsyncDependenciesBlock: () =>\n\t\trequire(\"../AsyncDependenciesBlock\"),\n"
       "\t\"dependencies/AMDDefineDependency\": () =>\n\t\trequire(\"../dependencies/AMDDefineDependency\"),\n"
       "\t\"dependencies/CssDependency\": () =>\n\t\trequire(\"../dependencies/CssDependency\"),\n"
       "\t\"dependencies/ImportDependency\": () =>\n\t\trequire(\"../dependencies/ImportDependency\"),\n"
       "\tNormalModule: () => require(\"../NormalModule\")\n};\n",
       "module.exports = {\n\tAsyncDependenciesBlock: () =>\n\t\trequire(\"../AsyncDependenciesBlock\"),\n"
       "\t\"dependencies/AMDDefineDependency\": () =>\n\t\trequire(\"../dependencies/AMDDefineDependency\"),\n"
       "\t\"dependencies/CommonJsDependency\": () =>\n\t\trequire(\"../dependencies/CommonJsDependency\"),\n"
       "\t\"dependencies/ImportDependency\": () =>\n\t\trequire(\"../dependencies/ImportDependency\"),\n"
       "\tNormalModule: () => require(\"../NormalModule\")\n};\n",
       "module.exports = {\n\tAsyncDependenciesBlock: () =>\n\t\trequire(\"../AsyncDependenciesBlock\"),\n"
       "\t\"dependencies/AMDDefineDependency\": () =>\n\t\trequire(\"../dependencies/AMDDefineDependency\"),\n"
       "\t\"dependencies/CommonJsDependency\": () =>\n\t\trequire(\"../dependencies/CommonJsDependency\"),\n"
       "\t\"dependencies/CssDependency\": () =>\n\t\trequire(\"../dependencies/CssDependency\"),\n"
       "\t\"dependencies/ImportDependency\": () =>\n\t\trequire(\"../dependencies/ImportDependency\"),\n"
       "\tNormalModule: () => require(\"../NormalModule\")\n};\n"},
      {"YAML mapping keys", "config.yml", "a: 1\nc:\n  x: 1\ne: 5\ng: 7\n", "a: 1\nb:\n  y: 2\nc:\n  x: 1\ne: 5\ng: 7\n",
       "a: 1\nbb:\n  - 2\nc:\n  x: 1\ne: 5\ng: 7\n", "a: 1\nb:\n  y: 2\nbb:\n  - 2\nc:\n  x: 1\ne: 5\ng: 7\n"},
      {"a Markdown list (an item of two lines)", "docs/list.md", "# List\n\n- alpha\n- delta\n- gamma\n- omega\n",
       "# List\n\n- alpha\n- beta\n  more about beta\n- delta\n- gamma\n- omega\n",
       "# List\n\n- alpha\n- charlie\n- delta\n- gamma\n- omega\n",
       "# List\n\n- alpha\n- beta\n  more about beta\n- charlie\n- delta\n- gamma\n- omega\n"},
      {"Python functions kept in name order", "util.py",
       "def alpha():\n    return 1\n\n\ndef delta():\n    return 4\n\n\ndef gamma():\n    return 3\n\n\n"
       "def omega():\n    return 9\n",
       "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n\n\ndef delta():\n    return 4\n\n\n"
       "def gamma():\n    return 3\n\n\ndef omega():\n    return 9\n",
       "def alpha():\n    return 1\n\n\ndef charlie():\n    x = 3\n    return x\n\n\ndef delta():\n    return 4\n\n\n"
       "def gamma():\n    return 3\n\n\ndef omega():\n    return 9\n",
       "def alpha():\n    return 1\n\n\ndef beta():\n    return 2\n\n\ndef charlie():\n    x = 3\n    return x\n\n\n"
       "def delta():\n    return 4\n\n\ndef gamma():\n    return 3\n\n\ndef omega():\n    return 9\n"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto m = merge3(c.base, c.ours, c.theirs, for_path(c.path));
    CHECK(m.clean());
    CHECK(settled_by(m, "sorted-declarations"));
    CHECK(m.content == c.expected);
    INFO(m.summary());
    // Without a grammar the same region is left.
    CHECK_FALSE(merge3(c.base, c.ours, c.theirs, for_path("no-grammar.txt")).clean());
  }
}

TEST_CASE("sorted-declarations leaves what it cannot prove", "[syntax][merge3]") {
  const std::string base = "{\n  \"a\": 1,\n  \"c\": 3,\n  \"e\": 5,\n  \"g\": 7\n}\n";
  auto with = [&](const std::string& added) {
    std::string s = base;
    return s.insert(s.find("  \"c\""), added);
  };
  struct Case {
    const char* name;
    std::string base, ours, theirs;
  };
  const std::vector<Case> cases = {
      {"one name on both sides (two versions of one key)", base, with("  \"b\": {\n    \"x\": 1\n  },\n"),
       with("  \"b\": [\n    2\n  ],\n")},
      {"the run is not sorted", "{\n  \"g\": 1,\n  \"c\": 3,\n  \"e\": 5,\n  \"a\": 7\n}\n",
       "{\n  \"g\": 1,\n  \"b\": {\n    \"x\": 1\n  },\n  \"c\": 3,\n  \"e\": 5,\n  \"a\": 7\n}\n",
       "{\n  \"g\": 1,\n  \"bb\": [\n    2\n  ],\n  \"c\": 3,\n  \"e\": 5,\n  \"a\": 7\n}\n"},
      {"a side's addition breaks the order", base, with("  \"d\": {\n    \"x\": 1\n  },\n"),
       with("  \"bb\": [\n    2\n  ],\n")},
      {"too few entries to show an order", "{\n  \"a\": 1,\n  \"c\": 3\n}\n",
       "{\n  \"a\": 1,\n  \"b\": {\n    \"x\": 1\n  },\n  \"c\": 3\n}\n",
       "{\n  \"a\": 1,\n  \"bb\": [\n    2\n  ],\n  \"c\": 3\n}\n"},
      {"an addition that is not whole entries (a comment)", "x = {\n  a: 1,\n  c: 3,\n  e: 5,\n  g: 7\n};\n",
       "x = {\n  a: 1,\n  b: [\n    2\n  ],\n  c: 3,\n  e: 5,\n  g: 7\n};\n",
       "x = {\n  a: 1,\n  // bb: [\n  //   2\n  // ],\n  c: 3,\n  e: 5,\n  g: 7\n};\n"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto m = merge3(c.base, c.ours, c.theirs, for_path(c.name[0] == 'a' && c.base[0] == 'x' ? "x.js" : "x.json"));
    INFO(m.content);
    CHECK_FALSE(m.clean());
    CHECK_FALSE(settled_by(m, "sorted-declarations"));
  }
}

TEST_CASE("a rule's settlement that defines a name twice is refused and said so", "[syntax][merge3]") {
  // Both sides added a function h at the same place; union (asked for) would keep both.
  const std::string base = "int f(void) { return 1; }\n";
  const std::string ours = base + "int h(void) { return 2; }\n";
  const std::string theirs = base + "int h(void) { return 3; }\n";
  MergeOptions opts = for_path("h.c");
  opts.allow_union = true;
  auto m = merge3(base, ours, theirs, opts);
  CHECK_FALSE(m.clean());
  REQUIRE(m.refused.size() == 1);
  CHECK(m.refused[0].find("union at line") == 0);
  CHECK(m.refused[0].find("defines h (function_definition) 2 times") != std::string::npos);
  CHECK(m.summary().find("refused") != std::string::npos);
  // Without a grammar union settles it (and lands two h's: why it is off by default).
  opts.path = "h.txt";
  CHECK(merge3(base, ours, theirs, opts).clean());
}

TEST_CASE("a line merge that defines a name twice is left whole for the next resolver", "[syntax][merge3]") {
  // Each side added the same function far apart: the line merge keeps both, git would too.
  const std::string mid = "int f(void)\n{\n\treturn 1;\n}\n\nint g(void)\n{\n\treturn 2;\n}\n";
  const std::string h = "int h(void)\n{\n\treturn 3;\n}\n\n";
  const std::string base = mid, ours = h + mid, theirs = mid + "\n" + h;
  auto plain = merge3(base, ours, theirs, for_path("h.txt"));
  CHECK(plain.clean());
  auto m = merge3(base, ours, theirs, for_path("h.c"));
  CHECK_FALSE(m.clean());
  REQUIRE(m.unresolved.size() == 1);
  CHECK(m.unresolved[0].ours == ours);
  CHECK(m.unresolved[0].base == base);
  CHECK(m.unresolved[0].theirs == theirs);
  REQUIRE(m.refused.size() == 1);
  CHECK(m.refused[0] ==
        "the merged file was refused: it defines h (function_definition) 2 times (ours 1, theirs 1); the file is left whole");
}

TEST_CASE("dropped_agreed_line: a line both sides hold must stay, as often as both hold it", "[merge3]") {
  using fab::resolve::dropped_agreed_line;
  CHECK_FALSE(dropped_agreed_line("a\nx\n", "b\nx\n", "a\nb\nx\n"));
  CHECK(dropped_agreed_line("a\nx\n", "b\nx\n", "a\nb\n") == "x");
  CHECK_FALSE(dropped_agreed_line("x  \n\n", "x\n\n\n", "x\n"));  // blanks at line ends and blank lines do not count
  CHECK(dropped_agreed_line("x\nx\n", "x\nx\ny\n", "x\ny\n") == "x");  // both hold it twice
  CHECK_FALSE(dropped_agreed_line("x\nx\n", "x\ny\n", "x\ny\n"));    // theirs holds it once
}
