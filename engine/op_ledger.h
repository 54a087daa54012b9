#pragma once
// Who made each jj operation while the floor runs. jj records the workspace every operation ran
// in: fab runs its repo-wide calls from its seat (Repo::at_seat) and its own calls in a pool
// workspace only while no plugin call runs there, so an operation is
//   - fab's: made in a seat (`fab-engineer-*`), or in a pool workspace outside its calls;
//   - an agent's (or inspector's): made in the pool workspace of a running call;
//   - someone else's: made anywhere else (the user's own checkout, another tool).
// The ledger keeps a cursor: every operation up to it is accounted for. fab's own calls move it on
// (note_own) without reading the log; anything else is found by scan() (one `jj op log`).
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "substrate/commit.h"
#include "substrate/error.h"
#include "substrate/repo.h"

namespace fab::engine {

struct ForeignOp {
  Operation op;
  std::string item;  // the item whose call made it; empty: someone else (the user)
  std::string slot;  // the pool workspace it was made in, for an item's
};

class OpLedger {
 public:
  using Clock = std::chrono::system_clock;

  // Everything up to `op` is accounted for.
  void reset(const std::string& op) { m_cursor = op; }
  const std::string& cursor() const { return m_cursor; }

  // The current operation, read before a mutation of fab's; and after it: when nothing came in
  // between (`before` was the cursor) and no plugin call runs (an agent's jj operation may be
  // committed concurrently with fab's, and jj then merges them into one history), the cursor moves
  // on to `after` without a read. Otherwise the next scan() sorts them out.
  void note_own(const std::string& before, const std::string& after);

  // A plugin call for `item` runs in pool workspace `slot` from now until call_ended.
  void call_started(const std::string& slot, const std::string& item);
  void call_ended(const std::string& slot);

  // True when operations may have happened that the cursor does not account for.
  bool dirty(const Repo& repo) const;
  // The operations since the cursor that are not fab's, oldest first, attributed; the cursor moves
  // to the newest. Empty (and no jj call) when nothing new happened.
  Result<std::vector<ForeignOp>> scan(const Repo& repo);
  // The operations found to be fab's since the last call (those note_own jumped over, and those
  // scan() found in a pool workspace outside its calls), for `fab oplog` to tell them from an
  // agent's that claim fab's cause.
  std::vector<std::string> take_own() { return std::exchange(m_own, {}); }

 private:
  struct Interval {
    std::string item;
    Clock::time_point from, to;  // `to` is max while the call runs
  };
  std::string who(const Operation& op, std::string* slot) const;  // item, "" (user) or "fab"
  std::string m_cursor;
  std::map<std::string, std::vector<Interval>> m_calls;  // by pool workspace name
  int m_running = 0;  // calls between call_started and call_ended
  std::vector<std::string> m_own;
};

// Runs `mutate` (one of fab's jj mutations) and tells the ledger the operation it made is fab's.
template <class F>
auto as_own(OpLedger& ledger, const Repo& repo, F&& mutate) {
  auto before = repo.current_operation();
  auto result = mutate();
  auto after = repo.current_operation();
  ledger.note_own(before ? *before : std::string{}, after ? *after : std::string{});
  return result;
}

// Milliseconds since the epoch of an ISO-8601 time as jj prints it ("2026-12-01T19:44:42.548+00:00"
// or "...Z"); 0 if it cannot be read.
std::int64_t parse_iso_ms(const std::string& text);

}  // namespace fab::engine
