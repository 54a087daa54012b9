#include "plugins/builtin/conflict_markers.h"

#include <stdexcept>

#include "plugins/resolve/conflict_markers.h"
#include "plugins/resolve/line_diff.h"

namespace fab::builtin {

resolve::MergeOutcome outcome_from_markers(const std::string& content, int context_lines) {
  resolve::MergeOutcome out;
  out.content = content;
  auto parsed = resolve::parse_conflict_blocks(content);
  if (!parsed.error.empty()) {
    throw std::runtime_error("the content has " + parsed.error + " at line " + std::to_string(parsed.error_line));
  }
  const auto lines = resolve::split_lines(content);
  const std::size_t ctx = context_lines > 0 ? static_cast<std::size_t>(context_lines) : 0;
  std::size_t last_end = 0;  // first line after the previous block
  for (std::size_t k = 0; k < parsed.blocks.size(); ++k) {
    const auto& b = parsed.blocks[k];
    resolve::Hunk h;
    h.line = b.first_line + 1;
    h.ours = b.ours;
    h.base = b.base;
    h.theirs = b.theirs;
    for (std::size_t c = b.first_line > ctx ? b.first_line - ctx : 0; c < b.first_line; ++c) {
      if (c >= last_end) h.context_before += lines[c];
    }
    const std::size_t after = b.first_line + b.line_count;
    const std::size_t next = k + 1 < parsed.blocks.size() ? parsed.blocks[k + 1].first_line : lines.size();
    for (std::size_t c = after; c < lines.size() && c < after + ctx && c < next; ++c) h.context_after += lines[c];
    out.marker_length = resolve::marker_shape(lines[b.first_line])->length;
    out.unresolved.push_back(std::move(h));
    last_end = after;
  }
  return out;
}

}  // namespace fab::builtin
