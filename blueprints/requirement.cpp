#include "blueprints/requirement.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "blueprints/did_you_mean.h"
#include "blueprints/text_file.h"

namespace fab {
namespace {

bool is_blank_char(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank_char(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank_char(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_blank(std::string_view s) { return trim(s).empty(); }

std::size_t indent_of(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_blank_char(s[i])) {
    ++i;
  }
  return i;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Consumes `word` (case-insensitive) from the front of s.
bool eat_word(std::string_view& s, std::string_view word) {
  if (s.size() < word.size()) {
    return false;
  }
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (lower(s[i]) != word[i]) {
      return false;
    }
  }
  s.remove_prefix(word.size());
  return true;
}

// An opening code fence: a run of at least three ` or ~ (after any indentation).
struct Fence {
  char ch = 0;
  std::size_t length = 0;
};

std::optional<Fence> fence_opening(std::string_view line) {
  line.remove_prefix(indent_of(line));
  if (line.empty() || (line.front() != '`' && line.front() != '~')) {
    return std::nullopt;
  }
  const char ch = line.front();
  std::size_t n = 0;
  while (n < line.size() && line[n] == ch) {
    ++n;
  }
  if (n < 3 || (ch == '`' && line.substr(n).find('`') != std::string_view::npos)) {
    return std::nullopt;
  }
  return Fence{ch, n};
}

bool closes_fence(std::string_view line, const Fence& fence) {
  line = trim(line);
  if (line.size() < fence.length) {
    return false;
  }
  return std::all_of(line.begin(), line.end(), [&](char c) { return c == fence.ch; });
}

// The level of an ATX heading (`#`..`######` then a space or the end), 0 for any other line; on a
// heading, `title` gets its text without the optional closing #s, and `column` where it starts.
int atx_heading(std::string_view line, std::string_view& title, std::size_t& column) {
  std::size_t i = 0;
  while (i < line.size() && i < 3 && line[i] == ' ') {
    ++i;
  }
  std::size_t level = 0;
  while (i + level < line.size() && line[i + level] == '#') {
    ++level;
  }
  if (level == 0 || level > 6) {
    return 0;
  }
  std::string_view rest = line.substr(i + level);
  if (!rest.empty() && !is_blank_char(rest.front())) {
    return 0;
  }
  column = line.size() - rest.size() + indent_of(rest) + 1;
  rest = trim(rest);
  // A closing sequence of #s counts only when it is the whole text or follows a space.
  std::size_t end = rest.size();
  while (end > 0 && rest[end - 1] == '#') {
    --end;
  }
  if (end == 0 || is_blank_char(rest[end - 1])) {
    rest = trim(rest.substr(0, end));
  }
  title = rest;
  return static_cast<int>(level);
}

struct Checkbox {
  bool checked = false;
  std::string_view title;
  std::size_t column = 0;
};

// A top-level checklist entry: `- [ ] text`, `* [x] text`, `+ [X] text` at the start of the line.
std::optional<Checkbox> checklist_entry(std::string_view line) {
  if (line.size() < 5 || (line[0] != '-' && line[0] != '*' && line[0] != '+') || line[1] != ' ' ||
      line[2] != '[' || line[4] != ']') {
    return std::nullopt;
  }
  const char mark = line[3];
  if (mark != ' ' && mark != 'x' && mark != 'X') {
    return std::nullopt;
  }
  std::string_view rest = line.substr(5);
  if (!rest.empty() && !is_blank_char(rest.front())) {
    return std::nullopt;
  }
  Checkbox box;
  box.checked = mark != ' ';
  box.column = 5 + indent_of(rest) + 1;
  box.title = trim(rest);
  return box;
}

struct DependsRef {
  std::string title;
  int line = 0;
  int column = 0;
};

// `Depends on: A, B` (any case, any spacing around the words and colon): the named titles with the
// column each starts at.
std::optional<std::vector<DependsRef>> depends_on_line(std::string_view line, int line_no) {
  std::string_view s = line.substr(indent_of(line));
  if (!eat_word(s, "depends")) {
    return std::nullopt;
  }
  const std::size_t gap = indent_of(s);
  if (gap == 0) {
    return std::nullopt;
  }
  s.remove_prefix(gap);
  if (!eat_word(s, "on")) {
    return std::nullopt;
  }
  s.remove_prefix(indent_of(s));
  if (s.empty() || s.front() != ':') {
    return std::nullopt;
  }
  s.remove_prefix(1);
  std::vector<DependsRef> refs;
  while (true) {
    const std::size_t comma = s.find(',');
    std::string_view piece = s.substr(0, comma);
    const std::string_view name = trim(piece);
    if (!name.empty()) {
      const auto column = static_cast<int>(name.data() - line.data()) + 1;
      refs.push_back({std::string(name), line_no, column});
    }
    if (comma == std::string_view::npos) {
      break;
    }
    s.remove_prefix(comma + 1);
  }
  return refs;
}

struct RawItem {
  std::string title;
  int line = 0;
  std::vector<std::string_view> body;
  std::size_t body_indent = 0;  // removed from every body line (checklist bodies are indented)
  std::vector<DependsRef> refs;
};

std::string join_body(const RawItem& item) {
  std::size_t first = 0;
  std::size_t last = item.body.size();
  while (first < last && is_blank(item.body[first])) {
    ++first;
  }
  while (last > first && is_blank(item.body[last - 1])) {
    --last;
  }
  std::string out;
  for (std::size_t i = first; i < last; ++i) {
    std::string_view l = item.body[i];
    l.remove_prefix(std::min({item.body_indent, indent_of(l), l.size()}));
    if (i > first) {
      out += '\n';
    }
    out += l;
  }
  return out;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    lines.push_back(line);
    if (nl == std::string_view::npos) {
      break;
    }
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// What the scan found: the items, titles of checked checklist entries, and what other structure it
// saw (for the hint when there are no items).
struct Scan {
  std::vector<RawItem> items;
  std::unordered_set<std::string> done;
  bool saw_checklist = false;
  bool saw_heading = false;
};

std::string at(const std::string& source, int line, int column = 0) {
  std::string out = source + ":" + std::to_string(line);
  if (column > 0) {
    out += ":" + std::to_string(column);
  }
  return out;
}

Result<Scan> scan_headings(const std::vector<std::string_view>& lines, const std::string& source) {
  Scan scan;
  RawItem* current = nullptr;
  std::optional<Fence> fence;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const int line_no = static_cast<int>(i) + 1;
    if (fence) {
      if (closes_fence(line, *fence)) {
        fence.reset();
      }
      if (current != nullptr) {
        current->body.push_back(line);
      }
      continue;
    }
    if ((fence = fence_opening(line))) {
      if (current != nullptr) {
        current->body.push_back(line);
      }
      continue;
    }
    std::string_view title;
    std::size_t column = 0;
    const int level = atx_heading(line, title, column);
    if (level == 2) {
      if (title.empty()) {
        return fail(at(source, line_no) + ": empty item title", "write the title after '## ', e.g. '## Add login'");
      }
      scan.items.push_back({.title = std::string(title), .line = line_no});
      current = &scan.items.back();
      continue;
    }
    if (level == 1) {
      current = nullptr;  // a level-1 heading ends the item; text under it is not part of one
      continue;
    }
    if (!scan.saw_checklist && checklist_entry(line)) {
      scan.saw_checklist = true;
    }
    if (current != nullptr) {
      current->body.push_back(line);
      if (auto refs = depends_on_line(line, line_no)) {
        current->refs.insert(current->refs.end(), refs->begin(), refs->end());
      }
    }
  }
  return scan;
}

Result<Scan> scan_checklist(const std::vector<std::string_view>& lines, const std::string& source) {
  Scan scan;
  RawItem* current = nullptr;
  std::optional<Fence> fence;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const int line_no = static_cast<int>(i) + 1;
    if (fence) {
      if (closes_fence(line, *fence)) {
        fence.reset();
      }
      if (current != nullptr) {
        current->body.push_back(line);
      }
      continue;
    }
    const bool top_level = !line.empty() && !is_blank_char(line.front());
    if (top_level) {
      fence = fence_opening(line);
      current = nullptr;  // anything at the left margin ends the item above it
      if (fence) {
        continue;
      }
      auto box = checklist_entry(line);
      if (!box) {
        std::string_view title;
        std::size_t column = 0;
        scan.saw_heading = scan.saw_heading || atx_heading(line, title, column) == 2;
        continue;
      }
      if (box->title.empty()) {
        return fail(at(source, line_no) + ": empty item title",
                    "write the title after the checkbox, e.g. '- [ ] Add login'");
      }
      if (box->checked) {
        scan.done.insert(std::string(box->title));
        continue;
      }
      scan.items.push_back({.title = std::string(box->title), .line = line_no, .body_indent = SIZE_MAX});
      current = &scan.items.back();
      continue;
    }
    fence = fence_opening(line);
    if (current == nullptr) {
      continue;
    }
    current->body.push_back(line);
    if (!is_blank(line)) {
      current->body_indent = std::min(current->body_indent, indent_of(line));
    }
    if (fence) {
      continue;
    }
    if (auto refs = depends_on_line(line, line_no)) {
      current->refs.insert(current->refs.end(), refs->begin(), refs->end());
    }
  }
  return scan;
}

std::string no_items_hint(Decompose mode, const Scan& scan) {
  if (mode == Decompose::headings) {
    std::string hint =
        "with 'decompose: headings' each item is a level-2 heading followed by its description, e.g.\n"
        "  ## Add login\n  Users can log in with a password.";
    if (scan.saw_checklist) {
      hint += "\nthis file has checklist entries ('- [ ] ...'); did you mean 'decompose: checklist'?";
    }
    return hint;
  }
  std::string hint =
      "with 'decompose: checklist' each item is an unchecked top-level '- [ ] Title' with its description "
      "indented below it, e.g.\n  - [ ] Add login\n    Users can log in with a password.";
  if (!scan.done.empty()) {
    hint += "\nall " + std::to_string(scan.done.size()) + " checklist entries are already checked ('- [x]')";
  }
  if (scan.saw_heading) {
    hint += "\nthis file has level-2 headings ('## ...'); did you mean 'decompose: headings'?";
  }
  return hint;
}

// The first dependency cycle in document order, as section indices with the first repeated at the
// end, rotated to start at its earliest section; empty if there is none.
std::vector<std::size_t> find_cycle(const std::vector<Section>& sections) {
  enum class Color { white, grey, black };
  std::vector<Color> color(sections.size(), Color::white);
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (section, next dependency to visit)
  for (std::size_t start = 0; start < sections.size(); ++start) {
    if (color[start] != Color::white) {
      continue;
    }
    stack.push_back({start, 0});
    color[start] = Color::grey;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == sections[node].depends_on.size()) {
        color[node] = Color::black;
        stack.pop_back();
        continue;
      }
      const std::size_t dep = sections[node].depends_on[next++];
      if (color[dep] == Color::white) {
        color[dep] = Color::grey;
        stack.push_back({dep, 0});
      } else if (color[dep] == Color::grey) {
        std::vector<std::size_t> cycle;
        auto from = std::find_if(stack.begin(), stack.end(), [&](const auto& f) { return f.first == dep; });
        for (auto it = from; it != stack.end(); ++it) {
          cycle.push_back(it->first);
        }
        std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
        cycle.push_back(cycle.front());
        return cycle;
      }
    }
  }
  return {};
}

}  // namespace

Result<Requirement> parse_requirement(std::string_view text, std::string source_name, Decompose mode) {
  FAB_TRY(check_utf8(text, source_name));  // titles become jj descriptions, which must be UTF-8
  if (text.starts_with("\xEF\xBB\xBF")) {
    text.remove_prefix(3);  // a UTF-8 byte order mark would hide a heading on the first line
  }
  const std::vector<std::string_view> lines = split_lines(text);
  FAB_TRY_ASSIGN(Scan scan, mode == Decompose::headings ? scan_headings(lines, source_name)
                                                        : scan_checklist(lines, source_name));
  if (scan.items.empty()) {
    return fail(at(source_name, 1) + ": requirement has no items", no_items_hint(mode, scan));
  }

  Requirement req;
  req.source_path = source_name;
  std::unordered_map<std::string_view, std::size_t> by_title;
  by_title.reserve(scan.items.size());
  for (std::size_t i = 0; i < scan.items.size(); ++i) {
    const RawItem& item = scan.items[i];
    auto [it, inserted] = by_title.emplace(item.title, i);
    if (!inserted) {
      return fail(at(source_name, item.line) + ": duplicate item title '" + item.title + "' (first at line " +
                      std::to_string(scan.items[it->second].line) + ")",
                  "item titles must be unique so Depends on can name them; rename one of them");
    }
  }

  // Where each dependency edge was written, for pointing at a cycle.
  std::vector<std::vector<std::pair<int, int>>> edge_at(scan.items.size());
  std::vector<std::string_view> titles;
  for (std::size_t i = 0; i < scan.items.size(); ++i) {
    const RawItem& item = scan.items[i];
    Section section;
    section.title = item.title;
    section.body = join_body(item);
    section.line = item.line;
    for (const DependsRef& ref : item.refs) {
      if (ref.title == item.title) {
        return fail(at(source_name, ref.line, ref.column) + ": item '" + item.title + "' depends on itself",
                    "remove '" + item.title + "' from its Depends on line");
      }
      auto found = by_title.find(ref.title);
      if (found == by_title.end()) {
        if (scan.done.contains(ref.title)) {
          continue;  // a checked checklist entry: already done
        }
        if (titles.empty()) {
          for (const auto& it : scan.items) {
            titles.push_back(it.title);
          }
        }
        std::string hint = did_you_mean(ref.title, titles);
        if (hint.empty()) {
          hint = "Depends on names other items by their exact titles, separated by commas";
        }
        return fail(at(source_name, ref.line, ref.column) + ": item '" + item.title + "' depends on unknown item '" +
                        ref.title + "'",
                    hint);
      }
      if (std::find(section.depends_on.begin(), section.depends_on.end(), found->second) != section.depends_on.end()) {
        continue;
      }
      section.depends_on.push_back(found->second);
      section.depends_on_titles.push_back(ref.title);
      edge_at[i].push_back({ref.line, ref.column});
    }
    req.sections.push_back(std::move(section));
  }

  if (auto cycle = find_cycle(req.sections); !cycle.empty()) {
    std::string path;
    for (std::size_t idx : cycle) {
      path += (path.empty() ? "" : " -> ") + req.sections[idx].title;
    }
    const Section& first = req.sections[cycle[0]];
    const auto edge = std::find(first.depends_on.begin(), first.depends_on.end(), cycle[1]) - first.depends_on.begin();
    const auto [line, column] = edge_at[cycle[0]][static_cast<std::size_t>(edge)];
    return fail(at(source_name, line, column) + ": dependency cycle: " + path,
                "items in a cycle can never start; remove one of these dependencies");
  }
  return req;
}

Result<Requirement> parse_requirement_file(const std::filesystem::path& path, Decompose mode) {
  FAB_TRY_ASSIGN(auto text, read_text_file(path));
  return parse_requirement(text, path.string(), mode);
}

std::vector<std::size_t> topological_order(const Requirement& requirement) {
  const auto& sections = requirement.sections;
  std::vector<std::size_t> waiting(sections.size());
  std::vector<std::vector<std::size_t>> dependents(sections.size());
  for (std::size_t i = 0; i < sections.size(); ++i) {
    waiting[i] = sections[i].depends_on.size();
    for (std::size_t dep : sections[i].depends_on) {
      dependents[dep].push_back(i);
    }
  }
  std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    if (waiting[i] == 0) {
      ready.push(i);
    }
  }
  std::vector<std::size_t> order;
  order.reserve(sections.size());
  while (!ready.empty()) {
    const std::size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (std::size_t d : dependents[i]) {
      if (--waiting[d] == 0) {
        ready.push(d);
      }
    }
  }
  return order;
}

nlohmann::json to_json(const Requirement& requirement) {
  nlohmann::json sections = nlohmann::json::array();
  for (const auto& s : requirement.sections) {
    sections.push_back({{"title", s.title}, {"line", s.line}, {"body", s.body}, {"depends_on", s.depends_on_titles}});
  }
  return {{"source_path", requirement.source_path}, {"sections", std::move(sections)}};
}

}  // namespace fab
