#include "substrate/change_id.h"

#include <algorithm>

#include <fmt/format.h>

namespace fab {
namespace {
bool in_alphabet(char c) { return c >= 'k' && c <= 'z'; }
}  // namespace

bool ChangeId::is_prefix_shaped(std::string_view text) {
  return !text.empty() && text.size() <= kLength && std::all_of(text.begin(), text.end(), in_alphabet);
}

Result<ChangeId> ChangeId::parse(std::string_view text) {
  if (text.size() != kLength) {
    return fail(fmt::format("'{}' is not a change ID: it has {} characters, a full change ID has {}", text,
                            text.size(), kLength),
                "use the full ID from `jj log -T change_id`, or resolve a prefix with `fab item show`");
  }
  auto bad = std::find_if_not(text.begin(), text.end(), in_alphabet);
  if (bad != text.end()) {
    return fail(fmt::format("'{}' is not a change ID: '{}' at offset {} is outside jj's alphabet k-z", text, *bad,
                            bad - text.begin()),
                "change IDs use only the letters k to z; commit IDs (hex) are something else");
  }
  return ChangeId(std::string(text));
}

}  // namespace fab
