#pragma once
// Whether a plugin file may be loaded, the way ssh judges a key file: the file and every directory
// above it must be owned by the user running fab (or root) and writable by nobody else (group or
// others), so that no one else can swap the code fab runs. A directory writable by others with the
// sticky bit (such as /tmp) is allowed above it: nobody else can replace what is in it.
#include <filesystem>

#include "substrate/error.h"

namespace fab::plugins {

// Checks the path as given and, if it involves symlinks, the file it resolves to. The error names
// the offending file or directory, its owner or mode, and the command that fixes it.
Status check_plugin_trust(const std::filesystem::path& so);

}  // namespace fab::plugins
