#include "plugins/host/plugin_trust.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace fab::plugins {
namespace {

namespace fs = std::filesystem;

std::string user_name(uid_t uid) {
  const passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? fmt::format("{} ({})", uid, pw->pw_name) : std::to_string(uid);
}

// One component: `path` itself (lstat: a symlink's target is checked on its own chain).
Status check_one(const fs::path& path, const fs::path& plugin) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};  // a missing file is load_plugin's to report
  const uid_t me = ::geteuid();
  const bool dir = S_ISDIR(st.st_mode);
  const char* what = dir ? "directory" : "plugin file";
  const std::string about = path == plugin ? "" : fmt::format(" (it holds plugin {})", plugin.string());
  if (S_ISLNK(st.st_mode)) {
    // A symlink's own mode means nothing; its owner could repoint it.
    if (st.st_uid != me && st.st_uid != 0) {
      return fail(Error(fmt::format("refusing to load a plugin through symlink {}: it is owned by user {}, not by "
                                    "you ({}) or root{}",
                                    path.string(), user_name(st.st_uid), user_name(me), about))
                      .with_hint("point at the plugin file itself, or have it owned by you"));
    }
    return {};
  }
  if (st.st_uid != me && st.st_uid != 0) {
    return fail(Error(fmt::format("refusing to load a plugin: {} {} is owned by user {}, not by you ({}) or root{}",
                                  what, path.string(), user_name(st.st_uid), user_name(me), about))
                    .with_hint(fmt::format("another user could change the code fab would run; `chown {} {}` if it "
                                           "is yours, or install the plugin somewhere of your own",
                                           ::getpwuid(me) != nullptr ? ::getpwuid(me)->pw_name : std::to_string(me),
                                           path.string())));
  }
  const mode_t writable = st.st_mode & (S_IWGRP | S_IWOTH);
  if (writable == 0) return {};
  if (dir && (st.st_mode & S_ISVTX) != 0) return {};  // sticky: others cannot replace what we own in it
  const char* by = writable == (S_IWGRP | S_IWOTH) ? "its group and others" : writable == S_IWGRP ? "its group"
                                                                                                   : "others";
  return fail(Error(fmt::format("refusing to load a plugin: {} {} is writable by {} (mode {:o}){}", what,
                                path.string(), by, st.st_mode & 07777, about))
                  .with_hint(fmt::format("anyone who can write it could change the code fab runs; fix it with "
                                         "`chmod go-w {}`",
                                         path.string())));
}

// `path` and every directory above it.
Status check_chain(const fs::path& path, const fs::path& plugin) {
  for (fs::path p = path;; p = p.parent_path()) {
    FAB_TRY(check_one(p, plugin));
    if (p == p.root_path() || p.parent_path() == p || p.empty()) break;
  }
  return {};
}

}  // namespace

Status check_plugin_trust(const fs::path& so) {
  std::error_code ec;
  const fs::path given = fs::absolute(so, ec).lexically_normal();
  FAB_TRY(check_chain(given, given));
  const fs::path real = fs::canonical(given, ec);
  if (!ec && real != given) FAB_TRY(check_chain(real, given));
  return {};
}

}  // namespace fab::plugins
