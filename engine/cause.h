#pragma once
// The cause fab records with every jj operation it makes for a work item (Repo::with_cause), and
// its parsed form for `fab oplog`:  "<line> <item>[,<item>...]: <what>", where <what> is a
// transition ("queued -> building") optionally followed by a detail ("(rebase onto main)").
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fab::engine {

struct Cause {
  std::string line;
  std::vector<std::string> items;
  std::string what;  // "refining -> merged", "building (snapshot)", ...
};

std::string format_cause(const std::string& line, const std::vector<std::string>& items, const std::string& what);
// nullopt when `text` is not in fab's item-cause form (e.g. "fab init", or empty); every item
// must be "<line>.<n>".
std::optional<Cause> parse_cause(std::string_view text);

}  // namespace fab::engine
