#pragma once
// Whole-file reads and crash-safe writes: a file is replaced by writing a temporary file in the same
// directory, fsyncing it, renaming it over the old one and fsyncing the directory, so a reader (or
// a crash) sees either the old content or the new, never a mix.
#include <filesystem>
#include <string>
#include <string_view>

#include "substrate/error.h"

namespace fab {

// Replaces (or creates) `file` with `content` atomically and durably. On failure the old file is
// untouched and no temporary file is left behind.
Status write_file_atomic(const std::filesystem::path& file, std::string_view content);

// fsync() on a directory, so renames and creations inside it survive a crash.
Status fsync_directory(const std::filesystem::path& dir);

// The whole content of a file.
Result<std::string> read_file_text(const std::filesystem::path& file);

// "Permission denied (errno 13)" for an errno value.
std::string errno_text(int err);

}  // namespace fab
