#pragma once
// Which of jj's operations fab still needs, and whether the ones its journals name are still there.
//
// `fab recover --to OP` rolls each item back by the operations its journal records name ("op"):
// a record whose operation came after OP is undone. An operation that is gone from jj's op log
// cannot be placed before or after OP, so guessing would roll back published work. `fab gc`
// (engine/gc.h) abandons operations older than all it keeps, and jj gives the kept ones after the
// gap new IDs; each line's journal gets a note of what became of the operations it named:
//   {"kind":"op_log_trimmed","oldest_kept":...,"abandoned":N,
//    "trimmed":[the first 32 hex digits of each named operation it abandoned],
//    "renamed":{named operation: its new ID}}
// A trimmed operation came before everything kept, so before any OP one can still recover to; a
// renamed one is placed by its new ID. Any other gone operation (after `jj op abandon` by hand, or
// a `fab gc` killed before it wrote its notes) makes `fab recover --to` refuse.
#include <set>
#include <string>

#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

inline constexpr const char* kOpLogTrimmedKind = "op_log_trimmed";
inline constexpr std::size_t kTrimmedOpPrefix = 32;  // hex digits kept of a trimmed operation's ID

// `before`: the operations of the repo as of the target (its op log there). Adds the journals'
// operations `fab gc` trimmed (they came before it) and those it renamed to one in `before`; an
// Error saying which line, item and operation, why, and what to do when a journal names an
// operation that is gone otherwise.
Status check_journal_operations(Factory& factory, std::set<std::string>& before);

}  // namespace fab::engine
