#include "engine/op_ledger.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "engine/pool.h"

namespace fab::engine {

std::int64_t parse_iso_ms(const std::string& text) {
  int y, mo, d, h, mi, s;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
  std::size_t at = 19;
  int ms = 0;
  if (at < text.size() && text[at] == '.') {
    int digits = 0;
    for (++at; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at) {
      if (digits < 3) ms = ms * 10 + (text[at] - '0');
      ++digits;
    }
    for (; digits < 3; ++digits) ms *= 10;
  }
  int offset_min = 0;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    int oh = 0, om = 0;
    std::sscanf(text.c_str() + at + 1, "%d:%d", &oh, &om);
    offset_min = (text[at] == '-' ? -1 : 1) * (oh * 60 + om);
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::int64_t secs = static_cast<std::int64_t>(::timegm(&tm)) - offset_min * 60;
  return secs * 1000 + ms;
}

void OpLedger::note_own(const std::string& before, const std::string& after) {
  if (m_running == 0 && !before.empty() && before == m_cursor && !after.empty()) {
    if (after != m_cursor) m_own.push_back(after);
    m_cursor = after;
  }
}

void OpLedger::call_started(const std::string& slot, const std::string& item) {
  m_calls[slot].push_back({item, Clock::now(), Clock::time_point::max()});
  ++m_running;
}

void OpLedger::call_ended(const std::string& slot) {
  auto it = m_calls.find(slot);
  if (it == m_calls.end() || it->second.empty() || it->second.back().to != Clock::time_point::max()) return;
  --m_running;
  // The call's processes are gone (its leftovers are killed with it), so every operation it made
  // started before now; fab's own operations in the workspace start after it. (jj's times have
  // milliseconds: the end is cut to the millisecond, so that fab's next snapshot there, started in
  // the same millisecond, is not counted as the call's.)
  it->second.back().to = std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now());
}

bool OpLedger::dirty(const Repo& repo) const {
  auto now = repo.current_operation();
  return !now || *now != m_cursor;
}

std::string OpLedger::who(const Operation& op, std::string* slot) const {
  if (op.workspace.rfind("fab-engineer", 0) == 0) return "fab";
  // jj's own merge of concurrent operations names no workspace.
  if (op.workspace.empty()) return "fab";
  // Any workspace but fab's own is someone else's (the user's checkout is "default").
  if (!is_pool_workspace(op.workspace)) return "";
  auto calls = m_calls.find(op.workspace);
  if (calls == m_calls.end()) return "fab";
  const auto at = Clock::time_point(std::chrono::milliseconds(parse_iso_ms(op.time_start)));
  for (const auto& c : calls->second) {
    if (at >= c.from && at < c.to) {
      *slot = op.workspace;
      return c.item;
    }
  }
  return "fab";
}

Result<std::vector<ForeignOp>> OpLedger::scan(const Repo& repo) {
  std::vector<ForeignOp> found;
  FAB_TRY_ASSIGN(auto now, repo.current_operation());
  if (now == m_cursor) return found;
  std::vector<Operation> ops;
  if (m_cursor.empty()) {
    FAB_TRY_ASSIGN(ops, repo.operations(1));
  } else {
    FAB_TRY_ASSIGN(ops, repo.operations_since(m_cursor));
  }
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    std::string slot;
    auto item = who(*it, &slot);
    if (item == "fab") {
      if (is_pool_workspace(it->workspace)) m_own.push_back(it->id);
      continue;
    }
    found.push_back({*it, item, slot});
  }
  if (!ops.empty()) m_cursor = ops.front().id;
  return found;
}

}  // namespace fab::engine
