// `fab merge-file [--path NAME] [-p] OURS BASE THEIRS`: fab's deterministic refinery outside fab,
// with git merge-file's argument order, in-place writing and exit status (the number of conflicts
// left, at most 127; 255 on error), so it works as a git merge driver and as a jj merge tool.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "plugins/resolve/merge3.h"
#include "substrate/utf8.h"

namespace fab::cli {

namespace {

namespace fs = std::filesystem;

struct MergeFileArgs {
  std::string ours, base, theirs;
  std::string path;    // the file's name in the repository (messages; later, its language)
  std::string output;  // -o: write here instead of OURS
  bool to_stdout = false;
  bool allow_union = false;
  bool allow_newer_version = false;
  bool allow_token_merge = false;
  std::size_t marker_size = 0;
  std::vector<std::string> labels;
};

Result<std::string> read_input(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(fmt::format("cannot read '{}'", file), "check that the file exists and is readable");
  std::ostringstream text;
  text << in.rdbuf();
  std::string s = std::move(text).str();
  if (binary_nul(s)) {
    return fail(fmt::format("cannot merge binary file '{}'", file), "merge binary files by hand or with another tool");
  }
  return s;
}

// Replaces `file` atomically (a temporary file beside it, renamed over it), keeping its mode.
Status write_atomically(const std::string& file, const std::string& content) {
  const fs::path target(file);
  const fs::path tmp = target.parent_path() / fmt::format(".{}.fab-merge-{}", target.filename().string(), ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      return fail(fmt::format("cannot write '{}'", tmp.string()), "check the directory is writable and the disk not full");
    }
  }
  std::error_code ec;
  if (auto st = fs::status(target, ec); !ec && fs::exists(st)) fs::permissions(tmp, st.permissions(), ec);
  fs::rename(tmp, target, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return fail(Error(fmt::format("cannot replace '{}'", file)).caused_by(ec.message()));
  }
  return {};
}

Result<int> merge_file(const MergeFileArgs& a, bool quiet) {
  FAB_TRY_ASSIGN(auto ours, read_input(a.ours));
  FAB_TRY_ASSIGN(auto base, read_input(a.base));
  FAB_TRY_ASSIGN(auto theirs, read_input(a.theirs));
  resolve::MergeOptions options;
  options.allow_union = a.allow_union;
  options.allow_newer_version = a.allow_newer_version;
  options.allow_token_merge = a.allow_token_merge;
  options.marker_length = a.marker_size;
  options.path = a.path.empty() ? a.ours : a.path;  // its extension selects the grammar
  std::string* labels[] = {&options.ours_label, &options.base_label, &options.theirs_label};
  for (std::size_t i = 0; i < a.labels.size() && i < 3; ++i) *labels[i] = a.labels[i];
  auto merged = resolve::merge3(base, ours, theirs, options);
  if (a.to_stdout) {
    std::fwrite(merged.content.data(), 1, merged.content.size(), stdout);
    std::fflush(stdout);
  } else {
    FAB_TRY(write_atomically(a.output.empty() ? a.ours : a.output, merged.content));
  }
  if (!quiet) {
    if (auto summary = merged.summary(); !summary.empty()) {
      std::fprintf(stderr, "fab merge-file: %s: %s\n", (a.path.empty() ? a.ours : a.path).c_str(), summary.c_str());
    }
  }
  return static_cast<int>(std::min<std::size_t>(merged.unresolved.size(), 127));
}

}  // namespace

Verb make_merge_file_verb() {
  return {"merge-file", "Merge one file's two versions with fab's deterministic refinery (as git merge-file)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            auto a = std::make_shared<MergeFileArgs>();
            app.add_option("ours", a->ours, "Our version (the current branch); the result replaces it")->required();
            app.add_option("base", a->base, "The common ancestor")->required();
            app.add_option("theirs", a->theirs, "Their version (the branch merged in)")->required();
            app.add_option("--path", a->path, "The file's path in the repository (for messages)");
            app.add_flag("-p,--stdout", a->to_stdout, "Print the result instead of replacing OURS");
            app.add_option("-o,--output", a->output, "Write the result to this file instead of OURS");
            app.add_option("-L", a->labels, "A label for the ours, base, then theirs markers (give it up to 3 times)")
                ->allow_extra_args(false);
            app.add_option("--marker-size", a->marker_size, "Conflict marker length (default 7, longer when needed)")
                ->check(CLI::Range(7, 1000));
            app.add_flag("--union", a->allow_union,
                         "Also settle \"both sides only added lines here\" as ours, then theirs (a guess)");
            app.add_flag("--newer-version", a->allow_newer_version,
                         "Also settle \"both sides raised the same versions\" as the higher (what merges nearly always did)");
            app.add_flag("--token-merge", a->allow_token_merge,
                         "Also settle \"both sides edited different tokens of one line\" token by token (people often keep one side)");
            app.footer(
                "Exit status: the number of conflicts left (at most 127), 0 when the merge is clean, 255 on error.\n"
                "As a git merge driver: git config merge.fab.driver 'fab merge-file --path %P %A %O %B'\n"
                "and `* merge=fab` in .gitattributes.");
            return [a, &global]() -> Status {
              auto left = merge_file(*a, global.quiet);
              std::fflush(stdout);
              if (!left) {
                std::fputs(left.error().render().c_str(), stderr);
                std::exit(255);
              }
              std::exit(*left);
            };
          }};
}

}  // namespace fab::cli
