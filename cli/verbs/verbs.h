#pragma once
// One make_*_verb() per file in this folder.
#include "cli/verb.h"

namespace fab::cli {
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
Verb make_recover_verb();
Verb make_plugins_verb();
Verb make_plugin_call_verb();
}  // namespace fab::cli
