#pragma once
// Where a work item's things live while the floor builds it: a jj workspace of the floor's pool
// (`.factory/workspaces/pool-<n>`, workspace name `fab-pool-<n>`; workspace_dir(factory, "pool-<n>"))
// and its per-attempt files under
// `lines/<line>/items/<item>/`: attempt-N.md (what the agent is given: FAB_ITEM_FILE),
// attempt-N.agent.txt (the agent's transcript), attempt-N.inspect.txt (inspector output).
#include <filesystem>
#include <string>

#include "substrate/error.h"
#include "workgraph/factory.h"
#include "workgraph/item.h"

namespace fab::engine {

inline constexpr const char* kWorkspacePrefix = "fab-";

std::string workspace_name(const std::string& item_id);
// True for names fab gave its workspaces; the item id after the prefix in `item_id`.
bool is_fab_workspace(const std::string& name, std::string* item_id = nullptr);
std::filesystem::path workspace_dir(const Factory& factory, const std::string& item_id);
std::filesystem::path item_dir(const Factory& factory, const Item& item);

// Writes attempt-N.md (title, body, and the last feedback on a retry); returns its path.
Result<std::filesystem::path> write_item_file(const Factory& factory, const Item& item, int attempt,
                                              const std::string& feedback);
// Writes attempt-N.<what>.txt next to it (best effort: a full disk must not stop the floor).
void write_attempt_log(const Factory& factory, const Item& item, int attempt, const std::string& what,
                       const std::string& text);

}  // namespace fab::engine
