#pragma once
// A line's journal: the append-only history of everything that happened to it (every state
// transition, the line's creation, recovery notes). One JSON Lines file, one record per line, each
// prefixed with the CRC-32 of its JSON: "<crc32-hex8> <compact-json>\n".
// Reading verifies every record. A torn last record (no trailing newline, or a last line that fails
// its checksum or does not parse) is what a crash mid-append leaves behind: read() and append()
// cut it off with a warning; read_from() (a reader without the lock) leaves it alone. A bad record
// anywhere else is an Error, never silently dropped.
// Journal does no locking; Store serializes writes under the factory lock.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "substrate/error.h"

namespace fab {

struct JournalRecord {
  std::string time;  // ISO-8601 UTC with ms; filled in by append() when empty
  std::string kind;  // "transition", "line_created", "note", ...
  // Everything else. Transitions: "item", "from", "to", "reason", plus free-form extras such as
  // "op" (jj operation id), "attempt", "feedback".
  nlohmann::json fields = nlohmann::json::object();

  // A string field, or "" when absent or not a string.
  std::string str(std::string_view key) const;
  // {"time":..., "kind":..., ...fields}
  nlohmann::json to_json() const;
};

// The records read from some point of a journal to its end.
struct JournalSlice {
  std::vector<JournalRecord> records;
  std::uint64_t end = 0;    // the byte just past the last record read
  std::uint64_t count = 0;  // how many records the file holds before `end`
};

class Journal {
 public:
  explicit Journal(std::filesystem::path file) : m_file(std::move(file)) {}

  const std::filesystem::path& file() const { return m_file; }

  // Every record, oldest first (none if the file does not exist). Cuts a torn last record.
  Result<std::vector<JournalRecord>> read();

  // The records from byte `offset`, where record number `records_before` + 1 starts, to the end.
  // It changes nothing, so it needs no lock: a last record still being appended (or torn by a
  // crash) is left out. A bad record before the last is an Error naming file:line.
  Result<JournalSlice> read_from(std::uint64_t offset, std::uint64_t records_before) const;

  // Appends one record durably (fsync) and returns the file's size after it. Cuts a torn last
  // record first, so the new record never lands behind garbage; refuses to append after a bad
  // record that is not the last. When writing or syncing fails, the file is cut back to where it
  // was, so a failed append never leaves a record a later read would take for written.
  Result<std::uint64_t> append(JournalRecord record);

  // "<crc32-hex8> <compact-json>\n"
  static std::string encode(const JournalRecord& record);
  // One line without its newline; an error message (without position) if it is bad.
  static Result<JournalRecord> decode(std::string_view line);

 private:
  std::filesystem::path m_file;
};

}  // namespace fab
