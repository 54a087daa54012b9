#pragma once
// One make_*_verb() per file in this folder.
#include <filesystem>

#include "cli/verb.h"
#include "workgraph/factory.h"

namespace fab::cli {

// The factory containing the current directory (fab_main has already applied -C).
inline Result<Factory> open_current_factory() { return Factory::open(std::filesystem::current_path()); }

Verb make_version_verb();
Verb make_init_verb();
Verb make_blueprint_verb();
Verb make_stamp_verb();
Verb make_status_verb();
Verb make_line_verb();
Verb make_item_verb();
Verb make_run_verb();
Verb make_stop_verb();
Verb make_oplog_verb();
Verb make_trace_verb();
Verb make_serve_verb();
Verb make_recover_verb();
Verb make_gc_verb();
Verb make_plugins_verb();
Verb make_plugin_call_verb();
Verb make_merge_file_verb();
Verb make_doctor_verb();
Verb make_help_verb();
Verb make_completion_verb();
}  // namespace fab::cli
