#include "plugins/resolve/merge3.h"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>

#include "plugins/resolve/agreed_lines.h"
#include "plugins/resolve/conflict_markers.h"
#include "plugins/resolve/line_diff.h"
#include "plugins/resolve/region_rules.h"
#include "plugins/resolve/sequence_merge.h"
#include "plugins/resolve/syntax.h"

namespace fab::resolve {

namespace {

using Lines = std::vector<std::string_view>;

// The line terminator marker lines use: CRLF if most of trunk's (or else the others') lines use it.
std::string detect_eol(std::initializer_list<const Lines*> versions) {
  for (const Lines* lines : versions) {
    std::size_t crlf = 0, lf = 0;
    for (auto l : *lines) {
      if (l.size() >= 2 && l.substr(l.size() - 2) == "\r\n") {
        ++crlf;
      } else if (!l.empty() && l.back() == '\n') {
        ++lf;
      }
    }
    if (crlf + lf > 0) return crlf > lf ? "\r\n" : "\n";
  }
  return "\n";
}

const char* chunk_rule(Chunk::Kind kind) {
  switch (kind) {
    case Chunk::Kind::one_side: return "one-side";
    case Chunk::Kind::same_change: return "same-change";
    case Chunk::Kind::separate_edits: return "separate-edits";
    case Chunk::Kind::stable:
    case Chunk::Kind::conflict: break;
  }
  return "";
}

// The two texts have the same lines but for lines of blanks (and are not equal).
bool differ_only_in_blank_lines(std::string_view a, std::string_view b) {
  if (a == b) return false;
  Lines x, y;
  for (auto l : split_lines(a)) {
    if (!only_blanks(l)) x.push_back(l);
  }
  for (auto l : split_lines(b)) {
    if (!only_blanks(l)) y.push_back(l);
  }
  return x == y;
}

struct NamedRule {
  const char* name;
  std::optional<std::string> (*settle)(const Region&);
  bool whole = false;  // sees the whole region, not what common-lines left of it
};

// Where a conflicting region is in each side's whole text (byte offsets), for the syntax check.
struct RegionAt {
  std::size_t ours_begin = 0, ours_end = 0, theirs_begin = 0, theirs_end = 0;
};

class Merger {
 public:
  Merger(const MergeOptions& opts, std::string eol, std::size_t marker_length, const SyntaxCheck& syntax,
         bool region_rules)
      : m_opts(opts), m_eol(std::move(eol)), m_marker_length(marker_length), m_syntax(syntax),
        m_region_rules(region_rules) {}

  void emit(std::string_view text) {
    for (auto l : split_lines(text)) {
      m_out += l;
      ++m_line_count;
    }
  }

  // Tries the region rules on a conflicting region; emits what settles it, or a marker block.
  void region(Region r, const RegionAt& at) {
    const std::size_t first = m_line_count + 1;
    r.syntax = &m_syntax;
    Narrowed n = strip_common_lines(r);
    const bool narrowed = !n.prefix.empty() || !n.suffix.empty();
    // Which side's blank lines to keep is a guess (on 20 projects' merges both such settlements
    // were wrong, BENCHMARKS.md), so no rule settles such a region.
    if (m_region_rules && differ_only_in_blank_lines(r.ours, r.theirs)) {
      m_refused.push_back(fmt::format("line {} left: the sides differ only in blank lines", first));
      emit(n.prefix);
      conflict(n.inner);
      emit(n.suffix);
      return;
    }
    std::vector<NamedRule> rules;
    if (m_region_rules) {
      if (narrowed) rules.push_back({"common-lines", &settle_by_lines});
      rules.push_back({"whitespace-only", &settle_whitespace_only});
      if (m_opts.allow_token_merge) rules.push_back({"token-merge", &settle_tokens});
      rules.push_back({"sorted-insert", &settle_sorted_insert});
      rules.push_back({"sorted-declarations", &settle_sorted_declarations});
      if (m_opts.allow_newer_version) rules.push_back({"newer-version", &settle_newer_version});
      // A guess, so only where both sides purely added lines: never inside lines both changed.
      if (m_opts.allow_union) rules.push_back({"union", &settle_union, true});
    }
    for (const auto& rule : rules) {
      auto text = rule.settle(rule.whole ? r : n.inner);
      if (!text) continue;
      const std::string settled = rule.whole ? *text : std::string(n.prefix) + *text + std::string(n.suffix);
      std::string why;
      if (auto line = dropped_agreed_line(r.ours, r.theirs, settled)) {
        why = fmt::format("it drops a line both sides agree on: \"{}\"", *line);
      } else {
        why = objection(settled, at);
      }
      if (!why.empty()) {
        m_refused.push_back(fmt::format("{} at line {} refused: {}", rule.name, first, why));
        continue;
      }
      emit(settled);
      m_settled.push_back({first, rule.name});
      note(rule.name);
      return;
    }
    emit(n.prefix);
    conflict(n.inner);
    emit(n.suffix);
  }

  // Why the region's settlement may not stand: each side's file with it in place of the region
  // fails the syntax check (one of them passing is enough: the rest of the settlement may hold
  // what the other side's text needs).
  std::string objection(const std::string& settled, const RegionAt& at) const {
    if (!m_syntax.active()) return {};
    auto with = [&](std::string_view side, std::size_t begin, std::size_t end) {
      return std::string(side.substr(0, begin)) + settled + std::string(side.substr(end));
    };
    std::string why = m_syntax.objection(with(m_syntax.ours_text(), at.ours_begin, at.ours_end));
    if (why.empty()) return {};
    if (m_syntax.objection(with(m_syntax.theirs_text(), at.theirs_begin, at.theirs_end)).empty()) return {};
    return why;
  }

  // The whole file as one conflict (when the merged file fails the syntax check).
  void whole_file(std::string_view base, std::string_view ours, std::string_view theirs) {
    conflict(Region{base, ours, theirs, {}, {}, nullptr});
  }

  // The last `n` lines merged so far (views into the output: use them before emitting more).
  Lines tail(std::size_t n) const {
    Lines lines = split_lines(m_out);
    return Lines(lines.end() - static_cast<long>(std::min(n, lines.size())), lines.end());
  }

  void note(std::string_view rule) {
    if (!rule.empty() && std::find(m_rules.begin(), m_rules.end(), rule) == m_rules.end()) m_rules.emplace_back(rule);
  }

  MergeOutcome finish() && {
    MergeOutcome outcome;
    outcome.content = std::move(m_out);
    outcome.rules_applied = std::move(m_rules);
    outcome.settled = std::move(m_settled);
    outcome.refused = std::move(m_refused);
    outcome.marker_length = m_marker_length;
    Lines lines = split_lines(outcome.content);
    std::vector<bool> in_block(lines.size(), false);
    for (const auto& h : m_hunks) {
      std::fill(in_block.begin() + static_cast<long>(h.first_line),
                in_block.begin() + static_cast<long>(h.first_line + h.line_count), true);
    }
    const std::size_t ctx = static_cast<std::size_t>(std::max(0, m_opts.context_lines));
    for (auto& h : m_hunks) {
      std::size_t from = h.first_line;
      while (from > 0 && h.first_line - from < ctx && !in_block[from - 1]) --from;
      std::size_t after = h.first_line + h.line_count;
      std::size_t to = after;
      while (to < lines.size() && to - after < ctx && !in_block[to]) ++to;
      for (std::size_t i = from; i < h.first_line; ++i) h.hunk.context_before += lines[i];
      for (std::size_t i = after; i < to; ++i) h.hunk.context_after += lines[i];
      h.hunk.line = h.first_line + 1;
      outcome.unresolved.push_back(std::move(h.hunk));
    }
    return outcome;
  }

 private:
  struct Pending {
    Hunk hunk;
    std::size_t first_line, line_count;
  };

  // Like emit, but a last line without terminator gets one so the next line starts fresh.
  void emit_terminated(std::string_view text) {
    emit(text);
    if (!text.empty() && text.back() != '\n') m_out += m_eol;
  }

  void marker(char c, std::string_view label) {
    m_out.append(m_marker_length, c);
    if (!label.empty()) m_out += " " + std::string(label);
    m_out += m_eol;
    ++m_line_count;
  }

  void conflict(const Region& r) {
    Pending p{Hunk{}, m_line_count, 4 + split_lines(r.ours).size() + split_lines(r.base).size() +
                                        split_lines(r.theirs).size()};
    p.hunk.base = r.base;
    p.hunk.ours = r.ours;
    p.hunk.theirs = r.theirs;
    marker('<', m_opts.ours_label);
    emit_terminated(r.ours);
    marker('|', m_opts.base_label);
    emit_terminated(r.base);
    marker('=', "");
    emit_terminated(r.theirs);
    marker('>', m_opts.theirs_label);
    m_hunks.push_back(std::move(p));
  }

  const MergeOptions& m_opts;
  std::string m_eol;
  std::size_t m_marker_length;
  const SyntaxCheck& m_syntax;
  bool m_region_rules;
  std::vector<std::string> m_refused;
  std::string m_out;
  std::size_t m_line_count = 0;
  std::vector<std::string> m_rules;
  std::vector<Settlement> m_settled;
  std::vector<Pending> m_hunks;
};

}  // namespace

std::string MergeOutcome::summary() const {
  std::string settled_text;
  for (const auto& s : settled) {
    settled_text += fmt::format("{}line {}: {}", settled_text.empty() ? "" : ", ", s.line, s.rule);
  }
  std::string out;
  if (!settled.empty()) {
    out = fmt::format("{} conflicting region{} settled ({})", settled.size(), settled.size() == 1 ? "" : "s",
                      settled_text);
  }
  if (!unresolved.empty()) {
    std::string lines;
    for (const auto& h : unresolved) lines += fmt::format("{}{}", lines.empty() ? "" : ", ", h.line);
    out += fmt::format("{}{} left for the next resolver (line{} {})", out.empty() ? "" : "; ", unresolved.size(),
                       unresolved.size() == 1 ? "" : "s", lines);
  }
  for (const auto& r : refused) out += fmt::format("{}{}", out.empty() ? "" : "; ", r);
  return out;
}

namespace {

// Byte offset of line `i` of `lines` (views into `text`); the text's end past the last line.
std::size_t offset_of(const Lines& lines, std::size_t i, std::string_view text) {
  return i < lines.size() ? static_cast<std::size_t>(lines[i].data() - text.data()) : text.size();
}

MergeOutcome merge_with(std::string_view base, std::string_view ours, std::string_view theirs, const MergeOptions& opts,
                        const SyntaxCheck& syntax, bool region_rules) {
  const Lines o = split_lines(base), a = split_lines(ours), b = split_lines(theirs);
  Interner interner;
  const std::vector<int> oid = interner.ids(o), aid = interner.ids(a), bid = interner.ids(b);
  std::vector<bool> anchors;
  for (auto l : o) anchors.push_back(is_anchor_line(l));
  const auto chunks = merge_sequences(oid, aid, bid, anchors);

  Merger merger(opts, detect_eol({&a, &b, &o}),
                opts.marker_length > 0 ? opts.marker_length : marker_length_for({base, ours, theirs}), syntax,
                region_rules);
  const std::size_t ctx = static_cast<std::size_t>(std::max(3, opts.context_lines));
  for (std::size_t k = 0; k < chunks.size(); ++k) {
    const Chunk& c = chunks[k];
    if (c.kind != Chunk::Kind::conflict) {
      merger.emit(text_of(c.result, o, a, b));
      merger.note(chunk_rule(c.kind));
      continue;
    }
    Region r;
    r.base = join_lines(o, c.base.begin, c.base.end);
    r.ours = join_lines(a, c.ours.begin, c.ours.end);
    r.theirs = join_lines(b, c.theirs.begin, c.theirs.end);
    const RegionAt at{offset_of(a, c.ours.begin, ours), offset_of(a, c.ours.end, ours),
                       offset_of(b, c.theirs.begin, theirs), offset_of(b, c.theirs.end, theirs)};
    // Context: the merged lines next to it.
    r.before = merger.tail(ctx);
    std::string next;
    if (k + 1 < chunks.size() && chunks[k + 1].kind != Chunk::Kind::conflict) {
      next = text_of(chunks[k + 1].result, o, a, b);
      for (auto l : split_lines(next)) {
        if (r.after.size() == ctx) break;
        r.after.push_back(l);
      }
    }
    merger.region(std::move(r), at);
  }
  return std::move(merger).finish();
}

}  // namespace

MergeOutcome merge3(std::string_view base, std::string_view ours, std::string_view theirs, const MergeOptions& opts) {
  const SyntaxCheck syntax(language_for_path(opts.path), ours, theirs);
  MergeOutcome outcome = merge_with(base, ours, theirs, opts, syntax, true);
  // A side that changed nothing, or both the same: the result is a side, nothing to check.
  if (!outcome.clean() || ours == base || theirs == base || ours == theirs || !syntax.active()) return outcome;
  std::string why = syntax.objection(outcome.content);
  if (why.empty()) return outcome;
  // The regions' settlements each passed, so together they fail, or the line merge made the file
  // fail: without the rules, or else as one whole-file conflict.
  std::string refusal = fmt::format("the merged file was refused: {}", why);
  if (!outcome.settled.empty()) {
    outcome = merge_with(base, ours, theirs, opts, syntax, false);
    if (!outcome.clean()) {
      outcome.refused.push_back(refusal + "; its regions are left");
      return outcome;
    }
  }
  const Lines o = split_lines(base), a = split_lines(ours), b = split_lines(theirs);
  Merger merger(opts, detect_eol({&a, &b, &o}), opts.marker_length > 0 ? opts.marker_length : marker_length_for({base, ours, theirs}),
                syntax, false);
  merger.whole_file(base, ours, theirs);
  outcome = std::move(merger).finish();
  outcome.refused.push_back(refusal + "; the file is left whole");
  return outcome;
}

}  // namespace fab::resolve
