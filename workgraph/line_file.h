#pragma once
// The on-disk form of a line: `lines/<id>/line.json` holds the line and all its items, so that a
// transition rewrites exactly one file. Layout (one item per text line, for readable diffs):
//   {"format":1,"counts":{"queued":N,...},"line":{...},
//   "items":[
//   {...},
//   {...}
//   ]}
// The first text line is a header: "counts" (items per state) lets `fab status` read just that line
// instead of every item. Whenever the whole file is read the counts are checked against the items;
// a file without "counts" (or reformatted by hand) still works, through a full parse.
#include <filesystem>
#include <string>
#include <string_view>

#include "substrate/error.h"
#include "workgraph/item.h"

namespace fab {

inline constexpr int kLineFileFormat = 1;

std::string encode_line_file(const LineRecord& record);

// Parses and validates a line file; `file` is only used to name it in errors (file:line:col for
// JSON syntax errors).
Result<LineRecord> decode_line_file(std::string_view text, const std::filesystem::path& file);

// The line and its per-state counts, from the header line when the file has one.
Result<LineSummary> summarize_line_file(std::string_view text, const std::filesystem::path& file);

// The rules every stored line obeys: a well-formed line id; items "<line>.1", "<line>.2", ... in
// order and listed in line.items; every item belongs to the line; dependencies are well-formed item
// ids, not the item itself, and exist when they point into the same line.
Status validate_line_record(const LineRecord& record);

}  // namespace fab
