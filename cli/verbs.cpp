// The verb table: every fab command, in the order `fab --help` lists them.
#include "cli/verb.h"
#include "cli/verbs/verbs.h"

namespace fab::cli {

std::vector<Verb> all_verbs() {
  return {
      make_init_verb(),
      make_blueprint_verb(),
      make_stamp_verb(),
      make_status_verb(),
      make_line_verb(),
      make_item_verb(),
      make_run_verb(),
      make_stop_verb(),
      make_oplog_verb(),
      make_trace_verb(),
      make_serve_verb(),
      make_recover_verb(),
      make_merge_file_verb(),
      make_gc_verb(),
      make_version_verb(),
      make_plugins_verb(),
      make_doctor_verb(),
      make_plugin_call_verb(),
      make_help_verb(),
      make_completion_verb(),
  };
}

}  // namespace fab::cli
