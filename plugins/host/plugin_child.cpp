#include "plugins/host/plugin_child.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "plugins/host/plugin_call.h"
#include "plugins/host/plugin_loader.h"
#include "substrate/process.h"

namespace fab::plugins {
namespace {

using nlohmann::json;

extern "C" void on_terminate(int sig) {
  // The host gave up on this call (timeout, stop, or the host died: the supervisor passes on its
  // parent-death signal): take down whatever run_process() started for us, then go. (A plugin may
  // install a handler of its own instead; the supervisor ends whatever is left either way.)
  fab::kill_all_children(fab::kStopGrandchildrenGrace);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

extern "C" void append_result(void* ctx, const char* data, size_t size) {
  if (ctx != nullptr && data != nullptr) static_cast<std::string*>(ctx)->append(data, size);
}

std::string read_stdin() {
  std::string in;
  char buf[65536];
  while (true) {
    ssize_t got = ::read(0, buf, sizeof buf);
    if (got > 0) {
      in.append(buf, static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  return in;
}

json error_json(const Error& e) { return {{"message", e.message}, {"causes", e.causes}, {"hint", e.hint}}; }

// The text fields of a result that can grow without bound, per kind; a refinery's "content" is a
// whole file and is never cut.
std::vector<const char*> long_fields(PluginKind kind) {
  switch (kind) {
    case PluginKind::agent: return {"summary", "transcript"};
    case PluginKind::inspector: return {"feedback"};
    case PluginKind::refinery: return {"message"};
  }
  return {};
}

// The plugin's result text as the envelope carries it: parsed (so it is not escaped twice), each
// long text field cut to its tail; or where it stops being JSON.
void put_result(json& envelope, const std::string& text, PluginKind kind) {
  json result;
  try {
    result = json::parse(text);
  } catch (const json::parse_error& e) {
    // parse_error::byte counts bytes read (1-based); the offset of the offending byte is one less.
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    const std::size_t from = at > 20 ? at - 20 : 0;
    envelope["invalid_result"] = {{"offset", at}, {"near", text.substr(std::min(from, text.size()), 60)}};
    return;
  }
  if (result.is_object()) {
    // (With some slack: a built-in's text, already cut, with its note, is left as it is.)
    constexpr std::size_t kOver = kKeptOutputBytes + 4096;
    for (const char* key : long_fields(kind)) {
      if (auto it = result.find(key);
          it != result.end() && it->is_string() && it->get_ref<const std::string&>().size() > kOver) {
        *it = tail_with_note(it->get<std::string>(), kKeptOutputBytes);
      }
    }
  }
  envelope["result"] = std::move(result);
}

// The worker: loads the plugin, calls it, writes the envelope.
[[noreturn]] void work(const std::filesystem::path& so, std::optional<PluginKind> kind, bool info_only) {
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGINT, on_terminate);
  const bool call = kind && !info_only;
  const std::string request = call ? read_stdin() : std::string{};

  // The envelope goes to the real stdout; the plugin's own prints go to stderr.
  std::fflush(stdout);
  const int result_fd = ::dup(1);
  ::fcntl(result_fd, F_SETFD, FD_CLOEXEC);
  ::dup2(2, 1);

  json envelope = {{"fab_plugin_child", 2}};
  auto loaded = load_plugin(so);
  if (!loaded) {
    envelope["error"] = error_json(loaded.error());
  } else {
    const PluginInfo& info = loaded->info;
    envelope["plugin"] = {{"name", info.name},
                          {"version", info.version},
                          {"kind", to_string(info.kind)},
                          {"abi_version", info.abi_version},
                          {"description", info.description},
                          {"path", info.path.string()}};
    if (!info.settings_schema.empty()) envelope["plugin"]["settings_schema"] = info.settings_schema;
    if (kind) {
      if (auto k = expect_kind(info, *kind); !k) {
        envelope["error"] = error_json(k.error());
      } else if (call) {
        std::string result;
        const int status = loaded->abi->call(request.c_str(), &append_result, &result);
        envelope["status"] = status;
        if (status != 0) {
          envelope["result_text"] = result.substr(0, 4000);
        } else if (!result.empty()) {
          put_result(envelope, result, *kind);
        }
      }
    }
  }
  const std::string text = envelope.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  fab::write_fully(result_fd, text);
  ::_exit(0);
}

}  // namespace

void run_plugin_child(const std::filesystem::path& so, std::optional<PluginKind> kind, bool info_only) {
  // The plugin runs in a worker process; this one only supervises it, so that no handler a plugin
  // installs can keep it from ending what the plugin started.
  const auto end = fab::run_supervised([&] { work(so, kind, info_only); }, fab::kStopGrandchildrenGrace);
  if (end.left_behind > 0) {
    fab::write_fully(2, fmt::format("[fab: the plugin left {} process{} running; killed when the call ended]\n",
                                    end.left_behind, end.left_behind == 1 ? "" : "es"));
  }
  fab::exit_like(end.wait_status);
}

}  // namespace fab::plugins
