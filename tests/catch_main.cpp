// One Catch2 main for every test executable. fab keeps its seat and the agents' workspaces in
// $XDG_STATE_HOME/fab/ (outside the factory's tree): each test process gets a fresh one, removed at
// the end, so no test leaves anything in the real home directory.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <string>

int main(int argc, char* argv[]) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "fab-test-state-XXXXXX").string();
  const bool made = ::mkdtemp(tmpl.data()) != nullptr;
  if (made && std::getenv("FAB_TEST_KEEP_STATE_HOME") == nullptr) ::setenv("XDG_STATE_HOME", tmpl.c_str(), 1);
  const int status = Catch::Session().run(argc, argv);
  std::error_code ec;
  if (made) fs::remove_all(tmpl, ec);
  return status;
}
