#pragma once
// How the fab binary exits.
namespace fab::cli {
enum ExitCode : int {
  kExitOk = 0,
  kExitUserError = 1,   // the user's input or repo is wrong (bad YAML, not a factory, ...)
  kExitUsage = 2,       // the command line is wrong
  kExitInternal = 255,  // a bug in fab or an unexpected environment failure
};
}  // namespace fab::cli
