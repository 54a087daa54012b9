#pragma once
// A line's journal is its write-ahead log. Every change to an item (or to the line) is one journal
// record that also says what the changed fields of its stored form (to_json) are now:
//   {"kind":"transition","item":"k3x9qa.2","from":"queued","to":"building","reason":"...",
//    "set":{"state":"building","attempts":1,"change_id":"..."},"unset":["feedback"], ...extras}
//   {"kind":"reblueprint","blueprint_digest":"crc32:...","set":{"blueprint_yaml":"...",...}}  (the line)
// so the line as it is now is its checkpoint (line.json) with the records written after it applied
// in order, and the "line_created" record holds the whole line as it was created ("contents": the
// line and every item, bodies included): the journal alone can rebuild line.json. Records without
// "set" (notes, recovery reports, transitions an older fab journaled) are history only.
#include <string>

#include <nlohmann/json.hpp>

#include "substrate/error.h"
#include "workgraph/item.h"
#include "workgraph/journal.h"

namespace fab {

// The keys these records use, which callers' extra fields must not.
inline constexpr const char* kChangeKeys[] = {"set", "unset", "contents"};

// Puts into `record` the "set"/"unset" that turn the stored form `before` into `after`; false
// (and `record` untouched) when they are equal.
bool describe_change(const nlohmann::json& before, const nlohmann::json& after, JournalRecord& record);

// Applies one record to the line (nothing for a history-only record). Refuses a change that would
// alter an item's id or line, or the line's id or item list, or break validate_item. `where` names
// the record in errors ("<journal>:<n>").
Status apply_change(LineRecord& line, const JournalRecord& record, const std::string& where);

// The same for a line's summary, without its items: the state change of a transition record (from
// its "from") and any change of the line. False when the record cannot be applied this way (then
// the caller replays the whole line).
bool apply_change(LineSummary& summary, const JournalRecord& record);

// The "line_created" record of a new line, and the line it says was created.
JournalRecord line_created_record(const LineRecord& record);
Result<LineRecord> line_as_created(const JournalRecord& created, const std::string& where);

}  // namespace fab
