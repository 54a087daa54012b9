#pragma once
// A jj change ID: the stable name of a work item's change, which survives describe, rebase and
// conflicts. The only way to make one is to validate a full 32-character ID in jj's k-z alphabet;
// short prefixes are resolved by asking jj (Repo::resolve_change), never guessed.
#include <compare>
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab {

class ChangeId {
 public:
  static constexpr std::size_t kLength = 32;

  static Result<ChangeId> parse(std::string_view text);
  // True if `text` could be a (possibly short) prefix of a change ID: 1..32 chars of k-z.
  static bool is_prefix_shaped(std::string_view text);

  const std::string& str() const { return m_id; }
  std::string short_id(std::size_t n = 8) const { return m_id.substr(0, n); }
  auto operator<=>(const ChangeId&) const = default;

 private:
  explicit ChangeId(std::string id) : m_id(std::move(id)) {}
  std::string m_id;
};

}  // namespace fab
