#pragma once
// `fab stamp`: a blueprint stamped onto a requirement becomes a production line — one work item
// per requirement section, each with its own new jj change on trunk (created in a batch). All or
// nothing: if anything fails, no line is recorded and the changes made for it are abandoned.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "blueprints/blueprint.h"
#include "blueprints/requirement.h"
#include "workgraph/factory.h"
#include "workgraph/item.h"

namespace fab {

struct StampResult {
  Line line;
  std::vector<Item> items;
  Blueprint blueprint;
  bool dry_run = false;
};

// A check of the parsed blueprint that must pass before anything is written (the CLI's checks that
// every plugin it names exists and is of the right kind: this library knows nothing of plugins).
using BlueprintCheck = std::function<Status(const Blueprint&)>;

struct StampOptions {
  bool dry_run = false;  // validate and return the plan (items without change IDs, line id "(dry-run)")
  bool again = false;    // stamp even if a line (not dropped) was stamped from the same two texts
  BlueprintCheck check;  // run on the parsed blueprint before anything is written
};

// Validates both files (and runs `check` on the blueprint). A requirement already stamped with the
// same blueprint (the same texts: a line not dropped whose blueprint and requirement.md copy are
// byte for byte these) is refused, naming that line, unless `again`.
Result<StampResult> stamp(Factory& factory, const std::filesystem::path& blueprint_file,
                          const std::filesystem::path& requirement_file, const StampOptions& options = {});

// The description a stamped item's change carries: its title, then trailers naming line and item.
std::string item_change_description(const std::string& title, const std::string& line_id,
                                    const std::string& item_id);

// {"line": ID, "blueprint": NAME, "items": [ITEM...]}
nlohmann::json to_json(const StampResult& result);

// A stamp in progress holds a lock on `.factory/stamping/<line>` from before it creates its changes
// until its line is recorded. A file there nobody holds is a stamp that died in between: its
// changes (described `fab-line: <line>`) are abandoned unless the line was recorded after all.
// Returns one sentence per repair. Run by `fab stamp` and by crash repair.
Result<std::vector<std::string>> clean_interrupted_stamps(Factory& factory);

}  // namespace fab
