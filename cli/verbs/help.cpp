// `fab help [VERB [SUB-VERB]]`: the command list, or one command's usage and options (what
// `fab VERB --help` prints too).
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "blueprints/did_you_mean.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {
namespace {

std::vector<CLI::App*> visible_subcommands(CLI::App* at) {
  std::vector<CLI::App*> subs;
  for (auto* sub : at->get_subcommands({})) {
    if (!sub->get_group().empty()) subs.push_back(sub);  // hidden verbs have no group
  }
  return subs;
}

// `words` (the command path after "fab", e.g. "line") has no visible sub-command `word`.
Error no_such_command(const std::string& words, const std::string& word, const std::vector<CLI::App*>& subs) {
  const std::string fab = words.empty() ? "fab" : "fab " + words;
  if (subs.empty()) {
    return Error(fmt::format("`{}` has no sub-commands", fab), ErrorKind::usage)
        .with_hint(fmt::format("`fab help {}` shows its options", words));
  }
  std::vector<std::string_view> names;
  for (auto* s : subs) names.push_back(s->get_name());
  const std::string help = words.empty() ? "fab help" : "fab help " + words;
  auto best = closest_match(word, names);
  return Error(fmt::format("`{}` has no command '{}'", fab, word), ErrorKind::usage)
      .with_hint(best ? fmt::format("did you mean `{} {}`?", help, *best) : fmt::format("`{}` lists them", help));
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
              std::string path;  // after "fab"
              for (const auto& word : *words) {
                const auto subs = visible_subcommands(at);
                auto it = std::find_if(subs.begin(), subs.end(), [&](CLI::App* s) { return s->get_name() == word; });
                if (it == subs.end()) return fail(no_such_command(path, word, subs));
                at = *it;
                path += (path.empty() ? "" : " ") + word;
              }
              // (Not at->help(): the root's would describe the sub-command chosen, `help` itself.)
              global.output().data(at->get_formatter()->make_help(at, path.empty() ? "fab" : "fab " + path,
                                                                  CLI::AppFormatMode::Normal));
              return {};
            };
          }};
}

}  // namespace fab::cli
