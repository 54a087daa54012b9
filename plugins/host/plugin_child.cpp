#include "plugins/host/plugin_child.h"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "plugins/host/plugin_loader.h"
#include "substrate/process.h"

namespace fab::plugins {
namespace {

using nlohmann::json;

extern "C" void on_terminate(int sig) {
  // The host gave up on this call (timeout, stop, or the host died: SIGTERM is this process's
  // parent-death signal): take down whatever run_process() started for us, then go.
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

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t put = ::write(fd, text.data() + done, text.size() - done);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return;
    done += static_cast<std::size_t>(put);
  }
}

}  // namespace

void run_plugin_child(const std::filesystem::path& so, std::optional<PluginKind> kind, bool info_only) {
  std::signal(SIGTERM, on_terminate);
  std::signal(SIGINT, on_terminate);
  const bool call = kind && !info_only;
  const std::string request = call ? read_stdin() : std::string{};

  // The envelope goes to the real stdout; the plugin's own prints go to stderr.
  std::fflush(stdout);
  const int result_fd = ::dup(1);
  ::fcntl(result_fd, F_SETFD, FD_CLOEXEC);
  ::dup2(2, 1);

  json envelope = {{"fab_plugin_child", 1}};
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
        envelope["result"] = std::move(result);
      }
    }
  }
  const std::string text = envelope.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  write_all(result_fd, text);
  ::_exit(0);
}

}  // namespace fab::plugins
