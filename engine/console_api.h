#pragma once
// What `fab serve`'s JSON API answers, read from the factory each time (nothing cached: a `fab run`
// in another process changes the files under it). Each function is one endpoint:
//   /api/lines                    lines_json
//   /api/lines/<line>/items       line_items_json
//   /api/items/<line>/<item>      item_json
//   /api/oplog?limit=N            oplog_json (engine/oplog.h)
//   /api/throughput               throughput_json
// and factory_mark is what /events watches: it changes whenever a line's state or journal does.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

// [{"id","blueprint","requirement","created","dropped","trunk","total","counts": {state: n}}], oldest first.
Result<nlohmann::json> lines_json(const Factory& factory);

// {"line": public line, "items": [{"id","title","state","attempts","drop_reason","change_id","depends_on"}]}
Result<nlohmann::json> line_items_json(const Factory& factory, const std::string& line_id);

// The item (public form) with "feedback", "attempt_records" (engine/item_record.h's to_json),
// "history" ([{time, event, detail}]), "diff" (its change against its parent, git format; null if
// it has none) and "transcript" (the tail of the last attempt's agent file, at most `tail_bytes`).
// The item must belong to `line_id`.
Result<nlohmann::json> item_json(Factory& factory, const std::string& line_id, const std::string& item_id,
                                 std::size_t tail_bytes = 16 * 1024);

// [oplog entry, ...] newest first (engine/oplog.h's to_json); limit 0: all.
Result<nlohmann::json> oplog_json(const Factory& factory, std::size_t limit);

// {"merged_per_minute": [{"minute": "2025-03-01T12:34", "merged": n}, ...] (minutes with a merge,
// in order), "ms_in_state": {state: total ms items spent in it; an item's current state counts
// until `now_ms`}, "merged": n, "dropped": n}
Result<nlohmann::json> throughput_json(Factory& factory, std::int64_t now_ms);

// A digest of every line's line.json and journal (size and modification time) and whether a run
// holds the factory: two calls give the same mark until something changes.
std::string factory_mark(const Factory& factory);

}  // namespace fab::engine
