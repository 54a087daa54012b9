#pragma once
// `fab oplog`: jj's operation log, each operation annotated with the line, item(s) and transition
// that caused it (the cause fab recorded, engine/cause.h), or marked as not fab's.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/cause.h"
#include "substrate/commit.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct OplogEntry {
  Operation op;
  std::optional<Cause> item_cause;  // set when the cause names a line and item(s)
};

// Newest first; limit 0: all.
Result<std::vector<OplogEntry>> annotated_oplog(const Factory& factory, std::size_t limit = 0);

// {"op","time","description","fab":bool,"cause","line","items","transition","workspace","command"}
// (null where unknown), and "claimed_cause" for an operation that is not fab's but passed a cause.
nlohmann::json to_json(const OplogEntry& entry);
// "abc123def456 2025-...  k3x9qa k3x9qa.2: queued -> building   rebase commit ..." / "(not fab)"
std::string format_oplog_line(const OplogEntry& entry);

}  // namespace fab::engine
