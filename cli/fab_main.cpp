#include "cli/fab_main.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <map>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "blueprints/did_you_mean.h"
#include "cli/exit_codes.h"
#include "cli/verb.h"

namespace fab::cli {
namespace {

int print_error(const Error& e, const GlobalOptions& g) {
  g.output().error(e);
  switch (e.kind) {
    case ErrorKind::usage: return kExitUsage;
    case ErrorKind::internal: return kExitInternal;
    case ErrorKind::user: return kExitUserError;
  }
  return kExitInternal;
}

void setup_logging(const GlobalOptions& g) {
  auto logger = spdlog::stderr_color_mt(
      "fab", g.output().color_stderr() ? spdlog::color_mode::always : spdlog::color_mode::never);
  logger->set_pattern("fab: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(g.debug ? spdlog::level::debug : (g.quiet ? spdlog::level::err : spdlog::level::warn));
}

}  // namespace

int fab_main(int argc, char** argv) {
  try {
    auto verbs = all_verbs();
    CLI::App app{"fab: a software dark factory on jujutsu", "fab"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "fab 0.1.0");
    GlobalOptions global;
    app.add_option("-C,--directory", global.directory, "Run as if fab was started in this directory");
    app.add_flag("-q,--quiet", global.quiet, "Silence progress and status output on stderr");
    app.add_flag("--debug", global.debug, "Log every jj and plugin call to stderr");
    app.add_option("--color", global.color, "Colour: auto (on a terminal, unless NO_COLOR is set), always or never")
        ->check(CLI::IsMember({"auto", "always", "never"}));
    // The global options are also accepted after the verb (`fab run --quiet`): an option a verb does
    // not know falls through to here. Sub-commands inherit this, sub-verbs (`fab line list`) too.
    app.fallthrough();
    app.footer("Global options (-C DIR, -q/--quiet, --debug, --color) may also follow the verb. "
               "`fab help VERB` shows a verb's options.");  // inherited too

    std::map<CLI::App*, std::function<std::function<Status()>(CLI::App&, const GlobalOptions&)>> setups;
    std::map<CLI::App*, std::function<Status()>> actions;
    for (const auto& verb : verbs) {
      CLI::App* sub = app.add_subcommand(verb.name, verb.summary);
      if (verb.hidden) sub->group("");
      actions[sub] = verb.setup(*sub, global);
    }

    // An unknown verb gets "did you mean ...?" (CLI11 would only say it was not expected).
    if (argc > 1 && argv[1][0] != '-') {
      std::string word = argv[1];
      bool known = std::any_of(verbs.begin(), verbs.end(), [&](const Verb& v) { return v.name == word; });
      if (!known) {
        Error e(fmt::format("unknown command '{}'", word), ErrorKind::usage);
        std::vector<std::string_view> names;
        for (const auto& v : verbs) {
          if (!v.hidden) names.push_back(v.name);
        }
        auto best = closest_match(word, names);
        e.hint = best ? fmt::format("did you mean `fab {}`?", *best) : "run `fab help` to list the commands";
        return print_error(e, global);
      }
    }

    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
      return app.exit(e);
    } catch (const CLI::ParseError& e) {
      Error err(e.what(), ErrorKind::usage);
      err.hint = "run `fab help` (or `fab help <command>`) for usage";
      return print_error(err, global);
    }
    setup_logging(global);
    if (!global.directory.empty() && ::chdir(global.directory.c_str()) != 0) {
      return print_error(Error(fmt::format("cannot change to directory '{}'", global.directory)), global);
    }
    for (auto* sub : app.get_subcommands()) {
      auto it = actions.find(sub);
      if (it == actions.end() || !it->second) continue;
      auto status = it->second();
      if (!status) return print_error(status.error(), global);
      return kExitOk;
    }
    return kExitUsage;
  } catch (const std::exception& e) {
    return print_error(Error(fmt::format("internal error: {}", e.what()), ErrorKind::internal)
                           .with_hint("this is a bug in fab; please report it"),
                       GlobalOptions{});
  }
}

}  // namespace fab::cli
