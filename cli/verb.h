#pragma once
// One row of fab's verb table: a name, a one-line summary, and how to set up and run it.
// Each verb lives in its own file under cli/verbs/ and returns its row from a make_*_verb().
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/output.h"
#include "substrate/error.h"

namespace fab::cli {

// Options every verb sees.
struct GlobalOptions {
  std::string directory;  // -C: run as if started in this directory
  bool quiet = false;     // -q: no progress or status on stderr
  bool debug = false;     // --debug: log every jj and plugin call to stderr
  std::string color = "auto";  // --color: auto, always or never

  // How a verb prints (cli/output.h): data to stdout, status to stderr, as these options say.
  Output output() const { return Output(quiet, parse_color_mode(color).value_or(ColorMode::auto_detect)); }
};

struct Verb {
  std::string name;     // "stamp", or a group word such as "line" whose sub-verbs are set up inside
  std::string summary;  // one line, shown by `fab --help`
  bool hidden = false;  // internal verbs (the plugin child) are not listed
  // Adds options/sub-commands to `app` and returns the action to run once parsing succeeded.
  std::function<std::function<Status()>(CLI::App& app, const GlobalOptions& global)> setup;
};

std::vector<Verb> all_verbs();

}  // namespace fab::cli
