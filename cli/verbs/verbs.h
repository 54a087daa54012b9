#pragma once
// One make_*_verb() per file in this folder.
#include "cli/verb.h"

namespace fab::cli {
Verb make_version_verb();
}  // namespace fab::cli
