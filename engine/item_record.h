#pragma once
// The record of one work item, read back from its line's journal and its per-attempt files: what
// `fab item show` and `fab item log` print (and what a console or a trace exporter can read).
//
// The journal's records about an item, oldest first, are grouped into attempts: a "transition" to
// building starts attempt N (its "attempt" field); "step" records (one per step of an attempt:
// agent, snapshot, inspect, refine, land; see the floor) and "resolved" records (a resolver settled
// a file) belong to the attempt they name or, lacking a number, to the one under way; the
// transition that ends an attempt (rework, dropped, merged, ...) gives its outcome and feedback. A
// "transition" with "steer": "retry" (`fab item retry`) starts a new round: attempts count from 1
// again, and the earlier round's files were moved to items/<item>/round-<k>/.
//
// Per-attempt files, in `.factory/lines/<line>/items/<item>/` (round-<k>/ for earlier rounds):
//   attempt-N.md           the agent's input (FAB_ITEM_FILE): title, body, the last feedback
//   attempt-N.agent.txt    the agent's summary, transcript and diagnostics (its tail if huge)
//   attempt-N.inspect.txt  every inspector's output, pass or fail
//   attempt-N.refine.txt   what each resolver said about each conflicted file
//   attempt-N.undone.txt   what fab undid of what the agent did with git/jj, when it did
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "substrate/error.h"
#include "workgraph/factory.h"
#include "workgraph/item.h"
#include "workgraph/journal.h"

namespace fab::engine {

// The step kinds, in the order an attempt runs them; also the per-attempt file suffixes
// (attempt-N.<step>.txt) where one exists.
inline constexpr const char* kStepOrder[] = {"agent", "snapshot", "inspect", "refine", "land"};
inline constexpr const char* kLogSteps[] = {"agent", "inspect", "refine", "undone"};

// Tokens and cost one plugin call reported.
struct Usage {
  std::optional<std::int64_t> input_tokens;
  std::optional<std::int64_t> output_tokens;
  std::optional<double> cost_usd;
  void add(const Usage& other);
  bool empty() const { return !input_tokens && !output_tokens && !cost_usd; }
};

struct StepRecord {
  std::string step;     // agent | snapshot | inspect | refine | land
  std::string plugin;   // the plugin (for refine: the resolver); may be empty
  std::string path;     // refine: the file
  std::string started;  // ISO-8601; may be empty
  std::string time;     // when it ended
  std::optional<std::int64_t> ms;  // wall time
  bool ok = true;
  std::string summary;  // one line
  std::optional<Usage> usage;
  bool permanent = false;          // the plugin said "retry": false
  std::vector<std::string> ops;    // jj operations it caused
  std::string log;                 // its full output, relative to the line's directory
};

struct AttemptRecord {
  int round = 1;
  int number = 0;
  std::string started;   // the transition to building
  std::string ended;     // the last transition of the attempt
  std::string outcome;   // the state the attempt's last transition reached ("" before any)
  std::string reason;    // that transition's reason
  std::string feedback;  // why it failed, in full as the journal keeps it ("" if it did not)
  std::vector<StepRecord> steps;
  std::vector<std::string> ops;  // every jj operation its records name, in order, no repeats
  std::vector<std::filesystem::path> files;  // its per-attempt files that exist (absolute)

  Usage usage() const;  // the sum over its steps
  std::optional<std::int64_t> wall_ms() const;  // from started to ended, when both are known
};

struct ItemRecord {
  Item item;
  std::filesystem::path dir;             // .factory/lines/<line>/items/<item>
  std::vector<JournalRecord> history;    // every journal record about the item, oldest first
  std::vector<AttemptRecord> attempts;   // rounds and attempts in order
  int round = 1;                         // the current round: 1 + how often it was retried
};

// The item whose id or change id is (or starts with) `query`, with its record.
Result<ItemRecord> read_item_record(Factory& factory, const std::string& query);

// The directory of a round's per-attempt files: `dir` for the current round, else dir/round-<k>.
std::filesystem::path round_dir(const ItemRecord& record, int round);

// One history row: what happened ("queued -> building", "resolved", "step inspect", ...) and its
// detail ("attempt 1", "src/a.c by deterministic", ...). Never empty, whatever the record's kind.
struct HistoryRow {
  std::string time;
  std::string event;
  std::string detail;
};
HistoryRow describe_record(const JournalRecord& record);

nlohmann::json to_json(const AttemptRecord& attempt, const std::filesystem::path& line_dir);

}  // namespace fab::engine
