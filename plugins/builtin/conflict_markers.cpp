#include "plugins/builtin/conflict_markers.h"

#include <stdexcept>
#include <string_view>
#include <vector>

namespace fab::builtin {
namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    auto end = nl == std::string::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

std::string_view bare(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

}  // namespace

resolve::MergeOutcome outcome_from_markers(const std::string& content, int context_lines) {
  resolve::MergeOutcome out;
  out.content = content;
  const auto lines = split_lines(content);
  const std::size_t ctx = context_lines > 0 ? static_cast<std::size_t>(context_lines) : 0;
  std::size_t last_end = 0;  // first line after the previous block
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (!bare(lines[i]).starts_with("<<<<<<<")) continue;
    resolve::Hunk h;
    h.line = i + 1;
    for (std::size_t c = i > ctx ? i - ctx : 0; c < i; ++c) {
      if (c >= last_end) h.context_before += lines[c];
    }
    enum { ours, base, theirs } section = ours;
    std::size_t j = i + 1;
    for (; j < lines.size(); ++j) {
      auto l = bare(lines[j]);
      if (l.starts_with(">>>>>>>")) break;
      if (section == ours && l.starts_with("|||||||")) {
        section = base;
      } else if (section != theirs && l == "=======") {
        section = theirs;
      } else {
        (section == ours ? h.ours : section == base ? h.base : h.theirs) += lines[j];
      }
    }
    if (j == lines.size() || section != theirs) {
      throw std::runtime_error("the content has an unterminated conflict block at line " + std::to_string(i + 1));
    }
    for (std::size_t c = j + 1; c < lines.size() && c <= j + ctx; ++c) {
      if (bare(lines[c]).starts_with("<<<<<<<")) break;
      h.context_after += lines[c];
    }
    out.unresolved.push_back(std::move(h));
    last_end = j + 1;
    i = j;
  }
  return out;
}

}  // namespace fab::builtin
