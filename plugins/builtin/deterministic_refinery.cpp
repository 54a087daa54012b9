// Built-in refinery `deterministic`: a classic 3-way merge (plugins/resolve/merge3.h) that settles
// what is safe to settle mechanically and leaves diff3 markers for the rest. It never guesses.
// with.union: true also settles "both sides added different lines here" as ours-then-theirs.
#include <fab/plugin.h>

#include <string>

#include "plugins/resolve/merge3.h"

namespace {

class DeterministicRefinery : public fab::RefineryPlugin {
 public:
  fab::RefineryResult resolve(const fab::RefineryRequest& request) override {
    fab::resolve::MergeOptions options;
    options.allow_union = request.with.value("union", false);
    auto merged = fab::resolve::merge3(request.base, request.ours, request.theirs, options);
    std::string rules;
    for (const auto& r : merged.rules_applied) rules += (rules.empty() ? "" : ", ") + r;
    std::string message = merged.clean() ? "merged cleanly" : std::to_string(merged.unresolved.size()) +
                                                                  " conflict hunk(s) left for the next resolver";
    if (!rules.empty()) message += " (settled by: " + rules + ")";
    return {true, merged.content, merged.clean(), static_cast<int>(merged.unresolved.size()), message};
  }
  static std::vector<fab::Setting> settings() {
    return {{"union", fab::SettingType::boolean, false,
             "also settle \"both sides only added lines here\" as ours, then theirs (default false)"}};
  }
  std::string describe() const override {
    return "3-way line merge; settles only what is safe (with.union: true adds union of pure additions)";
  }
};

}  // namespace

FAB_PLUGIN(DeterministicRefinery, "deterministic", "1.0.0")
