// Test tool: creates N changes in a repo with the batch API (run twice at once by jj_test).
#include <cstdio>
#include <string>
#include <vector>

#include "substrate/repo.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: substrate_create_changes REPO PREFIX N\n");
    return 2;
  }
  auto jj = fab::JjRunner::locate();
  if (!jj) return std::fputs(jj.error().render().c_str(), stderr), 1;
  auto repo = fab::Repo::open(argv[1], *jj);
  if (!repo) return std::fputs(repo.error().render().c_str(), stderr), 1;
  std::vector<std::string> descs;
  for (int i = 0; i < std::stoi(argv[3]); ++i) descs.push_back(std::string(argv[2]) + " " + std::to_string(i));
  auto ids = repo->create_changes("root()", descs);
  if (!ids) return std::fputs(ids.error().render().c_str(), stderr), 1;
  return 0;
}
