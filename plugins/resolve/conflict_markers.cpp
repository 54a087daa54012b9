#include "plugins/resolve/conflict_markers.h"

#include <algorithm>

#include "plugins/resolve/line_diff.h"

namespace fab::resolve {

namespace {

constexpr std::size_t k_min_length = 7;

std::optional<MarkerKind> kind_of(char c) {
  switch (c) {
    case '<': return MarkerKind::open;
    case '>': return MarkerKind::close;
    case '|': return MarkerKind::base;
    case '=': return MarkerKind::separator;
    case '%': return MarkerKind::diff;
    case '\\': return MarkerKind::diff_to;
    case '+': return MarkerKind::side;
    case '-': return MarkerKind::snapshot_base;
    default: return std::nullopt;
  }
}

// The length of the run of line[0] at the start of `line`, when a marker character begins it and
// the end of the line, a space or a tab follows the run; else 0.
std::size_t run_length(std::string_view line) {
  line = without_eol(line);
  if (line.empty() || !kind_of(line[0])) return 0;
  std::size_t n = line.find_first_not_of(line[0]);
  if (n == std::string_view::npos) return line.size();
  return line[n] == ' ' || line[n] == '\t' ? n : 0;
}

}  // namespace

std::optional<MarkerShape> marker_shape(std::string_view line) {
  const std::size_t n = run_length(line);
  if (n < k_min_length) return std::nullopt;
  const bool labelled = without_eol(line).size() > n;
  const MarkerKind kind = *kind_of(line[0]);
  if (kind == MarkerKind::separator && labelled) return std::nullopt;  // git never labels it
  return MarkerShape{kind, n, labelled};
}

std::vector<MarkerLine> find_marker_lines(const std::vector<std::string_view>& lines) {
  std::vector<MarkerLine> found;
  std::size_t open = 0;  // the length of the block we are in; 0 outside one
  // A heading's underline follows a line of text; an overline has a title and another run after it.
  auto heading_rule = [&](std::size_t i) {
    const bool underline = i > 0 && !only_blanks(lines[i - 1]) && !marker_shape(lines[i - 1]);
    const bool overline = i + 2 < lines.size() && !only_blanks(lines[i + 1]) && run_length(lines[i + 2]) > 0 &&
                          lines[i + 2][0] == lines[i][0];
    return underline || overline;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto shape = marker_shape(lines[i]);
    if (!shape) continue;
    if (open != 0) {
      if (shape->length != open) continue;  // text inside the block: jj lengthened its markers
      found.push_back({i, *shape});
      if (shape->kind == MarkerKind::close) open = 0;
      continue;
    }
    bool counts = false;
    switch (shape->kind) {
      case MarkerKind::open: counts = true; open = shape->length; break;
      case MarkerKind::close:
      case MarkerKind::base: counts = true; break;
      case MarkerKind::diff:
      case MarkerKind::diff_to: counts = shape->labelled; break;
      case MarkerKind::separator: counts = shape->length == k_min_length && !heading_rule(i); break;
      case MarkerKind::side:
      case MarkerKind::snapshot_base: break;
    }
    if (counts) found.push_back({i, *shape});
  }
  return found;
}

std::vector<MarkerLine> find_marker_lines(std::string_view text) { return find_marker_lines(split_lines(text)); }

std::vector<MarkerLine> added_marker_lines(std::string_view text, const std::vector<std::string_view>& sources) {
  std::vector<std::string_view> known;
  for (auto source : sources) {
    const auto lines = split_lines(source);
    for (const auto& m : find_marker_lines(lines)) known.push_back(without_eol(lines[m.index]));
  }
  const auto lines = split_lines(text);
  std::vector<MarkerLine> out;
  for (const auto& m : find_marker_lines(lines)) {
    auto it = std::find(known.begin(), known.end(), without_eol(lines[m.index]));
    if (it != known.end()) {
      known.erase(it);
    } else {
      out.push_back(m);
    }
  }
  return out;
}

std::size_t marker_length_for(const std::vector<std::string_view>& texts) {
  std::size_t longest = 0;
  for (auto text : texts) {
    for (auto line : split_lines(text)) longest = std::max(longest, run_length(line));
  }
  return longest >= k_min_length ? longest + 1 : k_min_length;
}

BlockParse parse_conflict_blocks(std::string_view content) {
  BlockParse out;
  const auto lines = split_lines(content);
  auto text_of = [&](std::size_t from, std::size_t to) { return join_lines(lines, from, to); };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto shape = marker_shape(lines[i]);
    if (!shape || shape->kind != MarkerKind::open) continue;
    const std::size_t n = shape->length;
    std::size_t base_at = 0, separator_at = 0, close_at = 0;
    for (std::size_t j = i + 1; j < lines.size() && close_at == 0; ++j) {
      auto s = marker_shape(lines[j]);
      if (!s || s->length != n) continue;
      if (s->kind == MarkerKind::base && base_at == 0 && separator_at == 0) {
        base_at = j;
      } else if (s->kind == MarkerKind::separator && separator_at == 0) {
        separator_at = j;
      } else if (s->kind == MarkerKind::close && separator_at != 0) {
        close_at = j;
      } else {
        out.error = "a conflict block has a marker out of place";
        out.error_line = j + 1;
        return out;
      }
    }
    if (close_at == 0) {
      out.error = "a conflict block is not closed";
      out.error_line = i + 1;
      return out;
    }
    ConflictBlock b;
    b.first_line = i;
    b.line_count = close_at - i + 1;
    b.has_base = base_at != 0;
    b.ours = text_of(i + 1, b.has_base ? base_at : separator_at);
    if (b.has_base) b.base = text_of(base_at + 1, separator_at);
    b.theirs = text_of(separator_at + 1, close_at);
    out.blocks.push_back(b);
    i = close_at;
  }
  return out;
}

}  // namespace fab::resolve
