#pragma once
// The on-disk form of a line's checkpoint: `lines/<id>/line.json` holds the line and all its items as
// they were after the first "journal" bytes of the line's journal; the records after those say
// what changed since (see store.h). Layout (one item per text line, for readable diffs):
//   {"format":2,"counts":{"queued":N,...},"journal":{"bytes":B,"records":R},"line":{...},
//   "items":[
//   {...},
//   {...}
//   ]}
// The first text line is a header: "counts" (items per state) lets `fab status` read just that line
// instead of every item. Whenever the whole file is read the counts are checked against the items;
// a file without "counts" (or reformatted by hand) still works, through a full parse. A format-1
// file (no "journal": written by a fab that rewrote line.json on every change) includes all of
// its journal.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "substrate/error.h"
#include "workgraph/item.h"

namespace fab {

inline constexpr int kLineFileFormat = 2;

// How much of a line's journal a line file includes: its first `bytes` bytes, `records` records.
struct JournalMark {
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  bool operator==(const JournalMark&) const = default;
};

struct LineFile {
  LineRecord record;
  std::optional<JournalMark> journal;  // none in a format-1 file
};

struct LineFileSummary {
  LineSummary summary;
  std::optional<JournalMark> journal;  // none in a format-1 file
};

std::string encode_line_file(const LineRecord& record, const JournalMark& journal);

// Parses and validates a line file; `file` is only used to name it in errors (file:line:col for
// JSON syntax errors).
Result<LineFile> decode_line_file(std::string_view text, const std::filesystem::path& file);

// Whether the text is a line file of a later format than this fab's (it starts `{"format":N`).
bool is_newer_line_file(std::string_view text);

// The line and its per-state counts, from the header line when the file has one.
Result<LineFileSummary> summarize_line_file(std::string_view text, const std::filesystem::path& file);

// The rules every stored line obeys: a well-formed line id; items "<line>.1", "<line>.2", ... in
// order and listed in line.items; every item belongs to the line; dependencies are well-formed item
// ids, not the item itself, and exist when they point into the same line.
Status validate_line_record(const LineRecord& record);
// The same rules for one item of a valid line `line_id` of `item_count` items (what an edit of that
// item can break).
Status validate_item(const std::string& line_id, std::size_t item_count, const Item& item);

}  // namespace fab
