#pragma once
// What the deterministic phase and the LLM stage know of a file's syntax: the tree-sitter grammar
// its name selects (grammars/grammars.h), whether a text parses in it, and its declarations as
// sibling nodes with names. Everything here is a yes/no question a rule asks before it settles; a
// file with no grammar (or a text too large, or too slow, to parse) gets "no answer", and the rules
// that need one settle nothing there.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fab::resolve {

// The grammar for a file, by its name: "c", "cpp", "python", "javascript", "typescript", "tsx", "go",
// "rust", "json", "yaml", "markdown", "bash"; empty when fab has none for it.
std::string_view language_for_path(std::string_view path);

// One node of a parse, as byte offsets into the parsed text.
struct SyntaxNode {
  std::size_t begin = 0, end = 0;
  std::string type;
  std::string name;  // what it defines (see Syntax::name_of), or its text when it has no name field
};

// A parsed text. Views and nodes refer to the text it was given, which must outlive it.
class Syntax {
 public:
  // Nothing when `language` has no grammar, the text is over `max_bytes`, or parsing took longer
  // than `timeout_ms` (a hostile or huge file must not stall the refinery).
  static std::optional<Syntax> parse(std::string_view language, std::string_view text,
                                     std::size_t max_bytes = 8u << 20, int timeout_ms = 2000);
  Syntax(Syntax&&) noexcept;
  Syntax& operator=(Syntax&&) noexcept;
  ~Syntax();

  // No ERROR or MISSING node anywhere.
  bool clean() const;
  // 1-based line of the first ERROR or MISSING node (0 when clean).
  std::size_t first_error_line() const;

  // The named children of the smallest node whose named children cover every non-blank byte of
  // [begin, end) exactly (each either wholly inside or wholly outside), with their parent: the
  // declarations, statements, entries or items an edit of those bytes added. Nothing when the
  // range starts or ends inside a node, or holds only blanks.
  struct Siblings {
    SyntaxNode parent;
    std::vector<SyntaxNode> inside;  // the children inside [begin, end), in order
    std::vector<SyntaxNode> all;     // every named child of the parent, in order
  };
  std::optional<Siblings> siblings_covering(std::size_t begin, std::size_t end) const;

  // Names every top-level declaration defines (the root's named children), for the "no name
  // defined twice" check.
  std::vector<SyntaxNode> top_level() const;

 private:
  struct Impl;
  explicit Syntax(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

// Whether `text` parses in `language`: true or false, or nothing when there is no answer (no
// grammar, too large, too slow).
std::optional<bool> parses(std::string_view language, std::string_view text);

// The two sides of a merge, parsed once, and the check every settlement passes: a merged text may
// not stand when both sides parse cleanly and it does not (a reason with the line), or when it
// defines a top-level name more times than either side does. With no grammar, or a side that does
// not parse (then its syntax proves nothing), there is never an objection.
// The sides are parsed on first use: a merge no rule and no check needs costs no parse.
class SyntaxCheck {
 public:
  SyntaxCheck(std::string_view language, std::string_view ours, std::string_view theirs)
      : m_language(language), m_ours_text(ours), m_theirs_text(theirs) {}
  // Both sides parse cleanly in a grammar: objections are possible, and rules may use the trees.
  bool active() const;
  std::string_view language() const { return m_language; }
  std::string_view ours_text() const { return m_ours_text; }
  std::string_view theirs_text() const { return m_theirs_text; }
  const Syntax* ours() const { return active() ? &*m_ours : nullptr; }
  const Syntax* theirs() const { return active() ? &*m_theirs : nullptr; }
  // Why `merged` may not stand; empty when it may.
  std::string objection(std::string_view merged) const;

 private:
  std::string_view m_language, m_ours_text, m_theirs_text;
  mutable bool m_parsed = false;
  mutable std::optional<Syntax> m_ours, m_theirs;
};

}  // namespace fab::resolve
