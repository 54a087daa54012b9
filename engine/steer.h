#pragma once
// The operator steering the factory: every change here is journaled, saved through the store (so a
// `fab run` in another terminal sees it on its next tick), and refused with a hint when it cannot
// be done safely.
//   retry_items        `fab item retry`: a dropped item, or a merged one whose change is no longer
//                      on trunk, goes back to queued with a fresh attempt count
//   reblueprint_line   `fab line reblueprint`: a line runs with another blueprint from now on
//   drop_line          `fab line drop`: a line's unfinished items are dropped, their changes
//                      abandoned, and the line marked dropped
#include <filesystem>
#include <string>
#include <vector>

#include "blueprints/stamp.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

struct Retried {
  Item item;                       // as it is now (queued)
  int round = 2;                   // the round it starts (1 is its first life)
  std::string archived;            // where its earlier attempts' files went (relative to the line's dir); "" if none
  bool new_change = false;         // its change was gone: it got a new one on trunk
};

// Each of `queries` (item id, change id, or a unique prefix) goes back to queued: attempts 0, no
// drop reason, no feedback; the files of its attempts so far move to items/<item>/round-<k>/ for
// the round k that ends (a retried item's attempts count from 1 again, and nothing of the earlier
// ones is overwritten); a
// change that no longer exists is replaced by a new one on the line's trunk. Journaled as a
// "transition" with "steer": "retry". Refused, before anything changes, for an item that is not
// dropped and not merged-then-gone-from-trunk, of a dropped line, or behind a dropped dependency
// that is not retried with it. `notes` gets one sentence per dropped item that depended on one
// retried (it stays dropped: retry it too).
Result<std::vector<Retried>> retry_items(Factory& factory, const std::vector<std::string>& queries,
                                         std::vector<std::string>* notes = nullptr);

// Validates `file` like `fab blueprint check` (`check` checks its plugins and their settings), then
// makes it the line's blueprint (Line::blueprint_yaml/digest/file, and the blueprint.yaml copy) and
// journals {"kind": "reblueprint", "blueprint_digest", "blueprint_file", "blueprint_yaml",
// "previous_digest"}. A blueprint naming another trunk than the line's is refused (a line's trunk is
// decided when it is stamped). Returns false when the blueprint was already the line's (nothing
// written).
Result<bool> reblueprint_line(Factory& factory, const std::string& line_id, const std::filesystem::path& file,
                              const BlueprintCheck& check);

struct LineDrop {
  std::vector<std::string> dropped;      // items dropped now
  std::vector<ChangeId> abandoned;       // changes abandoned (unmerged items' changes)
  std::string operation;                 // the jj operation after the abandon ("" if none)
  bool already = false;                  // the line was dropped before
};

// Drops the line: every item not merged or dropped goes to dropped with `reason`; the changes of its
// items that are not on trunk are abandoned (one jj operation: `fab recover --to` the operation
// before it, or `jj op restore`, brings them back); the line is marked dropped (Line::dropped,
// journaled as "line_dropped"). Takes the run lock, so it is refused while a `fab run` works on the
// factory. Running it again finishes what a crash interrupted.
Result<LineDrop> drop_line(Factory& factory, const std::string& line_id, const std::string& reason);

}  // namespace fab::engine
