#include "plugins/resolve/merge3.h"

#include <algorithm>
#include <initializer_list>
#include <unordered_map>

#include "plugins/resolve/line_diff.h"

namespace fab::resolve {

namespace {

using Lines = std::vector<std::string_view>;

// A run of lines [begin, end) of one version.
struct Range {
  const Lines* lines;
  std::size_t begin, end;

  std::size_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
  std::string_view operator[](std::size_t i) const { return (*lines)[begin + i]; }
};

bool same_lines(const Range& x, const Range& y) {
  if (x.size() != y.size()) {
    return false;
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i] != y[i]) {
      return false;
    }
  }
  return true;
}

std::string join(const Range& r) {
  std::string s;
  for (std::size_t i = 0; i < r.size(); ++i) {
    s += r[i];
  }
  return s;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }
bool is_word(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// The region's text with whitespace removed, except that whitespace separating two word characters
// ("int x") stays as one space: "intx" is a different program, "f(a, b)" and "f(a,b)" are not.
std::string squeeze_whitespace(const Range& r) {
  std::string text = join(r);
  std::string out;
  bool pending_space = false;
  for (char c : text) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space && is_word(out.back()) && is_word(c)) {
      out += ' ';
    }
    pending_space = false;
    out += c;
  }
  return out;
}

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
    if (crlf + lf > 0) {
      return crlf > lf ? "\r\n" : "\n";
    }
  }
  return "\n";
}

class Merger {
 public:
  Merger(const MergeOptions& opts, std::string eol) : m_opts(opts), m_eol(std::move(eol)) {}

  void emit_stable(const Range& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      m_out += r[i];
      ++m_line_count;
    }
  }

  void settle(const Range& o, const Range& a, const Range& b) {
    if (same_lines(a, b)) {
      emit_stable(a);
      note(same_lines(a, o) ? "" : "same-change");
    } else if (same_lines(a, o)) {
      emit_stable(b);
      note("one-side");
    } else if (same_lines(b, o)) {
      emit_stable(a);
      note("one-side");
    } else if (squeeze_whitespace(a) == squeeze_whitespace(b)) {
      emit_stable(a);
      note("whitespace-only");
    } else if (o.empty() && m_opts.allow_union) {
      emit_terminated(a);
      emit_stable(b);
      note("union");
    } else {
      conflict(o, a, b);
    }
  }

  MergeOutcome finish() && {
    MergeOutcome outcome;
    outcome.content = std::move(m_out);
    outcome.rules_applied = std::move(m_rules);
    Lines lines = split_lines(outcome.content);
    std::vector<bool> in_block(lines.size(), false);
    for (const auto& h : m_hunks) {
      std::fill(in_block.begin() + static_cast<long>(h.first_line),
                in_block.begin() + static_cast<long>(h.first_line + h.line_count), true);
    }
    const std::size_t ctx = static_cast<std::size_t>(std::max(0, m_opts.context_lines));
    for (auto& h : m_hunks) {
      std::size_t from = h.first_line;
      while (from > 0 && h.first_line - from < ctx && !in_block[from - 1]) {
        --from;
      }
      std::size_t after = h.first_line + h.line_count;
      std::size_t to = after;
      while (to < lines.size() && to - after < ctx && !in_block[to]) {
        ++to;
      }
      for (std::size_t i = from; i < h.first_line; ++i) {
        h.hunk.context_before += lines[i];
      }
      for (std::size_t i = after; i < to; ++i) {
        h.hunk.context_after += lines[i];
      }
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

  void note(std::string_view rule) {
    if (!rule.empty() && std::find(m_rules.begin(), m_rules.end(), rule) == m_rules.end()) {
      m_rules.emplace_back(rule);
    }
  }

  // Like emit_stable, but a last line without terminator gets one so the next line starts fresh.
  void emit_terminated(const Range& r) {
    emit_stable(r);
    if (!r.empty() && r[r.size() - 1].back() != '\n') {
      m_out += m_eol;
    }
  }

  void marker(std::string_view text) {
    m_out += text;
    m_out += m_eol;
    ++m_line_count;
  }

  void conflict(const Range& o, const Range& a, const Range& b) {
    Pending p{Hunk{}, m_line_count, 4 + a.size() + o.size() + b.size()};
    p.hunk.base = join(o);
    p.hunk.ours = join(a);
    p.hunk.theirs = join(b);
    marker("<<<<<<< ours");
    emit_terminated(a);
    marker("||||||| base");
    emit_terminated(o);
    marker("=======");
    emit_terminated(b);
    marker(">>>>>>> theirs");
    m_hunks.push_back(std::move(p));
  }

  const MergeOptions& m_opts;
  std::string m_eol;
  std::string m_out;
  std::size_t m_line_count = 0;
  std::vector<std::string> m_rules;
  std::vector<Pending> m_hunks;
};

// For each line of `base`, the index of the line of `other` it is matched with, or -1.
std::vector<long> match_base(const std::vector<int>& base, const std::vector<int>& other) {
  std::vector<long> match(base.size(), -1);
  for (auto [i, j] : common_lines(base, other)) {
    match[i] = static_cast<long>(j);
  }
  return match;
}

}  // namespace

MergeOutcome merge3(std::string_view base, std::string_view ours, std::string_view theirs,
                    const MergeOptions& opts) {
  const Lines o = split_lines(base), a = split_lines(ours), b = split_lines(theirs);
  std::unordered_map<std::string_view, int> ids;
  auto intern = [&ids](const Lines& lines) {
    std::vector<int> out;
    out.reserve(lines.size());
    for (auto l : lines) {
      out.push_back(ids.emplace(l, static_cast<int>(ids.size())).first->second);
    }
    return out;
  };
  const std::vector<int> oid = intern(o), aid = intern(a), bid = intern(b);
  const std::vector<long> ma = match_base(oid, aid), mb = match_base(oid, bid);

  Merger merger(opts, detect_eol({&a, &b, &o}));
  // Classic diff3 walk: stable runs are base lines matched in both sides at the same offsets;
  // between them, the chunk up to the next base line matched in both sides is settled or conflicts.
  std::size_t lo = 0, la = 0, lb = 0;
  while (true) {
    std::size_t i = 0;
    while (lo + i < o.size() && ma[lo + i] == static_cast<long>(la + i) && mb[lo + i] == static_cast<long>(lb + i)) {
      ++i;
    }
    if (i > 0) {
      merger.emit_stable(Range{&o, lo, lo + i});
      lo += i;
      la += i;
      lb += i;
      continue;
    }
    std::size_t j = lo;
    while (j < o.size() && (ma[j] < 0 || mb[j] < 0)) {
      ++j;
    }
    const std::size_t ja = j < o.size() ? static_cast<std::size_t>(ma[j]) : a.size();
    const std::size_t jb = j < o.size() ? static_cast<std::size_t>(mb[j]) : b.size();
    Range ro{&o, lo, j}, ra{&a, la, ja}, rb{&b, lb, jb};
    if (!(ro.empty() && ra.empty() && rb.empty())) {
      merger.settle(ro, ra, rb);
    }
    if (j == o.size()) {
      break;
    }
    lo = j;
    la = ja;
    lb = jb;
  }
  return std::move(merger).finish();
}

}  // namespace fab::resolve
