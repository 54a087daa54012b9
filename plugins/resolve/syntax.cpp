#include "plugins/resolve/syntax.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <chrono>
#include <map>

#include <fmt/format.h>

#include "plugins/resolve/grammars/grammars.h"

namespace fab::resolve {

namespace {

using Clock = std::chrono::steady_clock;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct Deadline {
  Clock::time_point until;
};

bool past_deadline(TSParseState* state) {
  return Clock::now() > static_cast<Deadline*>(state->payload)->until;  // true: stop parsing
}

}  // namespace

std::string_view language_for_path(std::string_view path) {
  const std::string_view file = path.substr(path.find_last_of('/') == std::string_view::npos ? 0 : path.find_last_of('/') + 1);
  struct Entry {
    std::string_view suffix, language;
  };
  // .h is C++'s grammar: it parses C headers too, and most headers in mixed projects are C++.
  static constexpr Entry k_suffixes[] = {
      {".c", "c"},           {".h", "cpp"},         {".cc", "cpp"},         {".cpp", "cpp"},
      {".cxx", "cpp"},       {".c++", "cpp"},       {".hh", "cpp"},         {".hpp", "cpp"},
      {".hxx", "cpp"},       {".h++", "cpp"},       {".ipp", "cpp"},        {".inl", "cpp"},
      {".py", "python"},     {".pyi", "python"},    {".js", "javascript"},  {".mjs", "javascript"},
      {".cjs", "javascript"}, {".jsx", "javascript"}, {".ts", "typescript"}, {".mts", "typescript"},
      {".cts", "typescript"}, {".tsx", "tsx"},       {".go", "go"},          {".rs", "rust"},
      {".json", "json"},     {".yml", "yaml"},      {".yaml", "yaml"},      {".md", "markdown"},
      {".markdown", "markdown"}, {".sh", "bash"},   {".bash", "bash"},
  };
  for (const auto& e : k_suffixes) {
    if (file.size() > e.suffix.size() && ends_with(file, e.suffix)) return e.language;
  }
  return {};
}

struct Syntax::Impl {
  std::string_view text;
  TSTree* tree = nullptr;
  ~Impl() {
    if (tree) ts_tree_delete(tree);
  }

  TSNode root() const { return ts_tree_root_node(tree); }
  std::string_view text_of(TSNode n) const {
    return text.substr(ts_node_start_byte(n), ts_node_end_byte(n) - ts_node_start_byte(n));
  }

  // What a declaration defines: the text its name-like field leads to ("name", "key",
  // "declarator", followed down), else its own text (an import, an include).
  std::string name_of(TSNode n) const {
    static constexpr const char* k_fields[] = {"name", "key", "declarator"};
    for (int depth = 0; depth < 8; ++depth) {
      bool followed = false;
      for (const char* field : k_fields) {
        TSNode child = ts_node_child_by_field_name(n, field, static_cast<uint32_t>(std::char_traits<char>::length(field)));
        if (!ts_node_is_null(child)) {
          n = child;
          followed = true;
          break;
        }
      }
      if (!followed) break;
    }
    // One line of text: blanks inside it do not make two names different.
    std::string out;
    for (char c : text_of(n)) {
      if (is_blank(c)) {
        if (!out.empty() && out.back() != ' ') out += ' ';
      } else {
        out += c;
      }
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  }

  SyntaxNode node(TSNode n) const {
    return {ts_node_start_byte(n), ts_node_end_byte(n), ts_node_type(n), name_of(n)};
  }
};

Syntax::Syntax(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Syntax::Syntax(Syntax&&) noexcept = default;
Syntax& Syntax::operator=(Syntax&&) noexcept = default;
Syntax::~Syntax() = default;

std::optional<Syntax> Syntax::parse(std::string_view language, std::string_view text, std::size_t max_bytes,
                                    int timeout_ms) {
  const TSLanguage* grammar_ptr = grammar(language);
  if (!grammar_ptr || text.size() > max_bytes) return std::nullopt;
  TSParser* parser = ts_parser_new();
  if (!ts_parser_set_language(parser, grammar_ptr)) {
    ts_parser_delete(parser);
    return std::nullopt;
  }
  Deadline deadline{Clock::now() + std::chrono::milliseconds(timeout_ms)};
  TSParseOptions options{&deadline, &past_deadline};
  TSInput input{};
  struct Source {
    std::string_view text;
  } source{text};
  input.payload = &source;
  input.read = [](void* payload, uint32_t byte, TSPoint, uint32_t* bytes_read) -> const char* {
    const auto* s = static_cast<const Source*>(payload);
    if (byte >= s->text.size()) {
      *bytes_read = 0;
      return "";
    }
    *bytes_read = static_cast<uint32_t>(s->text.size() - byte);
    return s->text.data() + byte;
  };
  input.encoding = TSInputEncodingUTF8;
  TSTree* tree = ts_parser_parse_with_options(parser, nullptr, input, options);
  ts_parser_delete(parser);
  if (!tree) return std::nullopt;
  auto impl = std::make_unique<Impl>();
  impl->text = text;
  impl->tree = tree;
  return Syntax(std::move(impl));
}

bool Syntax::clean() const { return !ts_node_has_error(m_impl->root()); }

std::size_t Syntax::first_error_line() const {
  TSNode n = m_impl->root();
  if (!ts_node_has_error(n)) return 0;
  // Down the first child that holds the error, to the error itself.
  for (;;) {
    if (ts_node_is_error(n) || ts_node_is_missing(n)) break;
    bool descended = false;
    for (uint32_t i = 0; i < ts_node_child_count(n); ++i) {
      TSNode c = ts_node_child(n, i);
      if (ts_node_has_error(c) || ts_node_is_missing(c)) {
        n = c;
        descended = true;
        break;
      }
    }
    if (!descended) break;
  }
  return ts_node_start_point(n).row + 1;
}

std::optional<Syntax::Siblings> Syntax::siblings_covering(std::size_t begin, std::size_t end) const {
  const std::string_view text = m_impl->text;
  const std::size_t limit = std::min(end, text.size());  // a node may end in the blanks the range ends with
  end = limit;
  while (begin < end && is_blank(text[begin])) ++begin;
  while (end > begin && is_blank(text[end - 1])) --end;
  if (begin >= end) return std::nullopt;
  auto inside = [&](TSNode c) { return ts_node_start_byte(c) >= begin && ts_node_end_byte(c) <= limit; };
  auto overlaps = [&](TSNode c) { return ts_node_start_byte(c) < end && ts_node_end_byte(c) > begin; };
  // The smallest node with a child that holds the range without being inside it.
  TSNode parent = m_impl->root();
  for (bool descended = true; descended;) {
    descended = false;
    for (uint32_t i = 0; i < ts_node_child_count(parent); ++i) {
      TSNode c = ts_node_child(parent, i);
      if (ts_node_start_byte(c) <= begin && ts_node_end_byte(c) >= end && !inside(c)) {
        parent = c;
        descended = true;
        break;
      }
    }
  }
  Siblings out;
  out.parent = m_impl->node(parent);
  std::size_t covered = begin;
  for (uint32_t i = 0; i < ts_node_child_count(parent); ++i) {
    TSNode c = ts_node_child(parent, i);
    if (overlaps(c) && !inside(c)) return std::nullopt;  // the range cuts a node
    if (!ts_node_is_named(c)) {
      if (inside(c)) covered = std::max<std::size_t>(covered, ts_node_end_byte(c));
      continue;
    }
    if (inside(c)) {
      // Nothing but blanks between the children the range holds.
      for (std::size_t k = covered; k < ts_node_start_byte(c); ++k) {
        if (!is_blank(text[k])) return std::nullopt;
      }
      covered = ts_node_end_byte(c);
      out.inside.push_back(m_impl->node(c));
    }
    out.all.push_back(m_impl->node(c));
  }
  if (out.inside.empty()) return std::nullopt;
  for (std::size_t k = covered; k < end; ++k) {
    if (!is_blank(text[k])) return std::nullopt;
  }
  return out;
}

std::vector<SyntaxNode> Syntax::top_level() const {
  std::vector<SyntaxNode> out;
  TSNode root = m_impl->root();
  for (uint32_t i = 0; i < ts_node_named_child_count(root); ++i) out.push_back(m_impl->node(ts_node_named_child(root, i)));
  return out;
}

std::optional<bool> parses(std::string_view language, std::string_view text) {
  auto syntax = Syntax::parse(language, text);
  if (!syntax) return std::nullopt;
  return syntax->clean();
}

namespace {

// How many times each top-level declaration's name occurs (comments and other unnamed nodes
// count by their text, which two sides rarely repeat).
std::map<std::string, int> name_counts(const Syntax& s) {
  std::map<std::string, int> counts;
  for (const auto& n : s.top_level()) {
    if (n.type.find("comment") == std::string::npos) ++counts[n.name + " (" + n.type + ")"];
  }
  return counts;
}

}  // namespace

bool SyntaxCheck::active() const {
  if (!m_parsed && !m_language.empty()) {
    m_ours = Syntax::parse(m_language, m_ours_text);
    if (m_ours && m_ours->clean()) m_theirs = Syntax::parse(m_language, m_theirs_text);
    if (!m_ours || !m_ours->clean() || !m_theirs || !m_theirs->clean()) m_ours.reset(), m_theirs.reset();
  }
  m_parsed = true;
  return m_ours && m_theirs;
}

std::string SyntaxCheck::objection(std::string_view merged) const {
  if (!active()) return {};
  auto m = Syntax::parse(m_language, merged);
  if (!m) return {};
  if (!m->clean()) return fmt::format("it does not parse as {} (line {})", m_language, m->first_error_line());
  const auto mo = name_counts(*m_ours), mt = name_counts(*m_theirs);
  for (const auto& [name, count] : name_counts(*m)) {
    auto in = [&](const std::map<std::string, int>& side) {
      auto it = side.find(name);
      return it == side.end() ? 0 : it->second;
    };
    if (count > 1 && count > std::max(in(mo), in(mt))) {
      return fmt::format("it defines {} {} times (ours {}, theirs {})", name, count, in(mo), in(mt));
    }
  }
  return {};
}

}  // namespace fab::resolve
