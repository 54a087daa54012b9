// `fab help [VERB [SUB-VERB]]`: the command list, or one command's usage and options (what
// `fab VERB --help` prints too).
#include <memory>

#include <fmt/format.h>

#include "blueprints/did_you_mean.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {
namespace {

// The visible sub-command of `at` named `word`, if any.
CLI::App* visible_subcommand(CLI::App* at, const std::string& word) {
  for (auto* sub : at->get_subcommands({})) {
    if (sub->get_name() == word && !sub->get_group().empty()) return sub;
  }
  return nullptr;
}

}  // namespace

Verb make_help_verb() {
  return {"help", "Show the commands, or one command's usage and options (`fab help stamp`)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto words = std::make_shared<std::vector<std::string>>();
            app.add_option("VERB", *words, "A command, and a sub-command (`fab help line show`)");
            CLI::App* root = app.get_parent();
            return [words, root, &global]() -> Status {
              CLI::App* at = root;
              std::string path = "fab";
              for (const auto& word : *words) {
                CLI::App* sub = visible_subcommand(at, word);
                if (sub == nullptr) {
                  std::vector<std::string> names;
                  for (auto* s : at->get_subcommands({})) {
                    if (!s->get_group().empty()) names.push_back(s->get_name());
                  }
                  const std::vector<std::string_view> views(names.begin(), names.end());
                  Error e(names.empty() ? fmt::format("`{}` has no sub-commands", path)
                                        : fmt::format("`{}` has no command '{}'", path, word),
                          ErrorKind::usage);
                  auto best = closest_match(word, views);
                  e.hint = best ? fmt::format("did you mean `fab help {}`?",
                                              (path == "fab" ? "" : path.substr(4) + " ") + *best)
                                : fmt::format("`fab help{}` lists them", path == "fab" ? "" : " " + path.substr(4));
                  if (names.empty()) e.hint = fmt::format("`fab help {}` shows its options", path.substr(4));
                  return fail(std::move(e));
                }
                at = sub;
                path += " " + word;
              }
              // (Not at->help(): the root's would describe the sub-command chosen, `help` itself.)
              global.output().data(at->get_formatter()->make_help(at, path, CLI::AppFormatMode::Normal));
              return {};
            };
          }};
}

}  // namespace fab::cli
