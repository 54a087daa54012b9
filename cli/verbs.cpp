// The verb table: every fab command, in the order `fab --help` lists them.
#include "cli/verb.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {

std::vector<Verb> all_verbs() {
  return {
      make_version_verb(),
  };
}

}  // namespace fab::cli
