#pragma once
// "Keep every line both sides agree on": the check every settlement passes, a region rule's and
// the LLM's alike.
#include <optional>
#include <string>
#include <string_view>

namespace fab::resolve {

// A line (blanks at its end ignored, blank lines not counted) that `ours` and `theirs` both hold
// and `result` holds fewer times than both do; nothing when `result` keeps every such line.
std::optional<std::string> dropped_agreed_line(std::string_view ours, std::string_view theirs, std::string_view result);

}  // namespace fab::resolve
