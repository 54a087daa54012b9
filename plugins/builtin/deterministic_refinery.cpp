// Built-in refinery `deterministic`: the whole deterministic phase (plugins/resolve/merge3.h): a
// 3-way line merge that never lets two edits that could meet pass for separate ones, then the
// region rules in a fixed order. It settles what a rule proves (or, for raised versions, what
// maintainers nearly always did) and leaves diff3 blocks for the rest;
// its message says which rule settled which region. with.union: true also settles "both sides
// added different lines here" as ours-then-theirs (a guess at the order, so off by default);
// with.newer_version: false turns off "both sides raised one version: the higher"; with.token_merge:
// true also merges one line both sides edited token by token (off by default: people keep one side's
// version of such a line too often).
#include <fab/plugin.h>

#include <string>

#include "plugins/resolve/merge3.h"

namespace {

class DeterministicRefinery : public fab::RefineryPlugin {
 public:
  fab::RefineryResult resolve(const fab::RefineryRequest& request) override {
    fab::resolve::MergeOptions options;
    options.allow_union = request.with.value("union", false);
    // On by default here: the floor's two sides are trunk and an item made from it, one line of
    // development, never a release branch held back on purpose (BENCHMARKS.md: in every one of 130
    // measured merges the maintainers kept the higher version or released a newer one).
    options.allow_newer_version = request.with.value("newer_version", true);
    // Off by default: people merging one line both sides edited keep one side's version too often
    // (BENCHMARKS.md) for the result to pass as what they would have written.
    options.allow_token_merge = request.with.value("token_merge", false);
    options.path = request.path;
    auto merged = fab::resolve::merge3(request.base, request.ours, request.theirs, options);
    std::string message = merged.clean() ? "merged cleanly" : "not settled";
    if (auto summary = merged.summary(); !summary.empty()) message += ": " + summary;
    return {true, merged.content, merged.clean(), static_cast<int>(merged.unresolved.size()), message};
  }
  static std::vector<fab::Setting> settings() {
    return {{"union", fab::SettingType::boolean, false,
             "also settle \"both sides only added lines here\" as ours, then theirs (default false)"},
            {"newer_version", fab::SettingType::boolean, false,
             "settle \"both sides raised the same versions\" as the higher (default true; false turns it off)"},
            {"token_merge", fab::SettingType::boolean, false,
             "also settle \"both sides edited different tokens of one line\" token by token (default false)"}};
  }
  std::string describe() const override {
    return "3-way line merge, then rules that settle a region only when they prove it (common lines, "
           "whitespace at line ends, sorted lists, sorted declarations by the file's grammar) "
           "and the higher of two raised versions (with.newer_version: false turns it off), "
           "each settlement checked to parse; with.token_merge: true adds one line both sides edited, token "
           "by token; with.union: true adds ours-then-theirs for pure additions";
  }
};

}  // namespace

FAB_PLUGIN(DeterministicRefinery, "deterministic", "1.0.0")
