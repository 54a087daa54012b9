#include "engine/op_retention.h"

#include <map>
#include <vector>

#include <fmt/format.h>

namespace fab::engine {
namespace {

struct TrimNote {
  std::size_t at = 0;  // its index in the journal
  std::set<std::string> trimmed;
  std::map<std::string, std::string> renamed;
};

std::vector<TrimNote> trim_notes(const std::vector<JournalRecord>& journal) {
  std::vector<TrimNote> notes;
  for (std::size_t i = 0; i < journal.size(); ++i) {
    if (journal[i].kind != kOpLogTrimmedKind) continue;
    TrimNote note{i, {}, {}};
    for (const auto& op : journal[i].fields.value("trimmed", nlohmann::json::array())) {
      if (op.is_string()) note.trimmed.insert(op.get<std::string>());
    }
    const auto renamed = journal[i].fields.value("renamed", nlohmann::json::object());
    for (const auto& [from, to] : renamed.items()) {
      if (to.is_string()) note.renamed[from] = to.get<std::string>();
    }
    notes.push_back(std::move(note));
  }
  return notes;
}

}  // namespace

Status check_journal_operations(Factory& factory, std::set<std::string>& before) {
  FAB_TRY_ASSIGN(auto ops, factory.repo().operations());
  std::set<std::string> present;
  for (const auto& op : ops) present.insert(op.id);
  FAB_TRY_ASSIGN(auto lines, factory.store().lines());
  std::set<std::string> also_before;
  for (const auto& line : lines) {
    FAB_TRY_ASSIGN(auto journal, factory.store().journal(line.id));
    const auto notes = trim_notes(journal);
    std::size_t gone = 0;
    const JournalRecord* first = nullptr;
    for (std::size_t i = 0; i < journal.size(); ++i) {
      const auto op = journal[i].str("op");
      if (op.empty() || present.count(op)) continue;
      // Follow it through every `fab gc` since the record was written.
      std::string now = op;
      bool trimmed = false;
      for (const auto& note : notes) {
        if (note.at < i) continue;
        if (note.trimmed.count(now.substr(0, kTrimmedOpPrefix))) {
          trimmed = true;
          break;
        }
        if (auto it = note.renamed.find(now); it != note.renamed.end()) now = it->second;
      }
      if (trimmed || (present.count(now) && before.count(now))) {
        also_before.insert(op);
      } else if (!present.count(now)) {
        ++gone;
        if (!first) first = &journal[i];
      }
    }
    if (gone > 0) {
      const auto item = first->str("item");
      return fail(Error(fmt::format("cannot roll line {} back: its journal names {} operation(s) that are no longer "
                                    "in jj's operation log",
                                    line.id, gone))
                      .caused_by(fmt::format("the first is {} ({}{})", first->str("op").substr(0, 12),
                                             item.empty() ? first->kind : item,
                                             first->str("to").empty() ? "" : " -> " + first->str("to")))
                      .caused_by("fab cannot tell whether they came before the operation to restore, so rolling "
                                 "back could undo work already on trunk")
                      .with_hint("they were abandoned by hand (`jj op abandon`), or by a `fab gc` that was killed "
                                 "before it noted them; `fab gc` itself keeps what `fab recover --to` needs. "
                                 "`fab recover` without --to still repairs a crash"));
    }
  }
  before.insert(also_before.begin(), also_before.end());
  return {};
}

}  // namespace fab::engine
