#pragma once
// Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe: JSON messages,
// each ended by a NUL byte, written to the browser's fd 3 and read from its fd 4), for the
// console's browser tests. Debian's `chromium` (scripts/bootstrap installs it for the tests);
// FAB_CHROMIUM names another binary (one that is not there: none). The browser runs in a process group of its own, ended with
// the object.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace fab::test {

// The Chromium binary, if there is one.
inline std::optional<std::filesystem::path> find_chromium() {
  if (const char* env = std::getenv("FAB_CHROMIUM"); env != nullptr && *env != '\0') {
    if (::access(env, X_OK) == 0) return std::filesystem::path(env);
    return std::nullopt;
  }
  for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (::access(p, X_OK) == 0) return std::filesystem::path(p);
  }
  return std::nullopt;
}

class HeadlessChromium {
 public:
  HeadlessChromium(const std::filesystem::path& binary, const std::filesystem::path& profile) {
    int to_browser[2], from_browser[2];
    REQUIRE(::pipe2(to_browser, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from_browser, O_CLOEXEC) == 0);
    const std::vector<std::string> args = {binary.string(), "--headless", "--no-sandbox", "--disable-gpu",
                                           "--disable-dev-shm-usage", "--no-first-run", "--window-size=1200,800",
                                           "--user-data-dir=" + profile.string(), "--remote-debugging-pipe",
                                           "about:blank"};
    std::vector<char*> argv;  // made before the fork: the child of a threaded process only execs
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    m_pid = ::fork();
    REQUIRE(m_pid >= 0);
    if (m_pid == 0) {
      ::setpgid(0, 0);
      // Out of the way of 3 and 4 first (a pipe may be there already), then onto them; dup2's
      // copies are not close-on-exec.
      const int in = ::fcntl(to_browser[0], F_DUPFD_CLOEXEC, 10);
      const int out = ::fcntl(from_browser[1], F_DUPFD_CLOEXEC, 10);
      ::dup2(in, 3);
      ::dup2(out, 4);
      const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      ::dup2(devnull, 1);
      ::dup2(devnull, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::setpgid(m_pid, m_pid);
    ::close(to_browser[0]);
    ::close(from_browser[1]);
    m_write = to_browser[1];
    m_read = from_browser[0];
  }
  ~HeadlessChromium() {
    if (m_write >= 0) {
      std::string close = nlohmann::json{{"id", ++m_id}, {"method", "Browser.close"}}.dump();
      close.push_back('\0');
      (void)!::write(m_write, close.data(), close.size());
      ::close(m_write);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(m_pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(-m_pid, SIGKILL);
        ::waitpid(m_pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(-m_pid, SIGKILL);  // whatever of its group is left (renderers, zygote)
    if (m_read >= 0) ::close(m_read);
  }
  HeadlessChromium(const HeadlessChromium&) = delete;
  HeadlessChromium& operator=(const HeadlessChromium&) = delete;

  // Sends one command and returns its "result" (fails the test on an error or after `limit`).
  nlohmann::json call(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                      const std::string& session = {}, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    const int id = ++m_id;
    nlohmann::json msg = {{"id", id}, {"method", method}, {"params", params}};
    if (!session.empty()) msg["sessionId"] = session;
    std::string text = msg.dump();
    text.push_back('\0');
    REQUIRE(::write(m_write, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    const auto until = std::chrono::steady_clock::now() + limit;
    for (;;) {
      for (auto end = m_buffer.find('\0'); end != std::string::npos; end = m_buffer.find('\0')) {
        auto reply = nlohmann::json::parse(m_buffer.substr(0, end), nullptr, false);
        m_buffer.erase(0, end + 1);
        if (!reply.is_object() || reply.value("id", -1) != id) continue;  // an event, or another reply
        INFO(method << ": " << reply.dump());
        REQUIRE_FALSE(reply.contains("error"));
        return reply.value("result", nlohmann::json::object());
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) FAIL("no answer from chromium to " << method);
      pollfd p{m_read, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(m_read, chunk, sizeof chunk);
      if (n <= 0) FAIL("chromium closed its DevTools pipe (did it start?)");
      m_buffer.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Opens `url` in a new tab; returns the session that speaks to it.
  std::string open(const std::string& url) {
    const auto target = call("Target.createTarget", {{"url", url}}).at("targetId").get<std::string>();
    return call("Target.attachToTarget", {{"targetId", target}, {"flatten", true}}).at("sessionId").get<std::string>();
  }
  // The value of a JavaScript expression in the tab (null when it throws or is undefined).
  nlohmann::json evaluate(const std::string& session, const std::string& expression) {
    auto r = call("Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, session);
    if (r.contains("exceptionDetails")) return nullptr;
    return r.at("result").value("value", nlohmann::json(nullptr));
  }
  // Polls `expression` until `pred` holds for its value; returns the value (fails after `limit`).
  template <class Pred>
  nlohmann::json wait_until(const std::string& session, const std::string& expression, Pred pred, const char* what,
                            std::chrono::seconds limit = std::chrono::seconds(90)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    nlohmann::json v;
    while (!pred(v = evaluate(session, expression))) {
      if (std::chrono::steady_clock::now() > until) FAIL("the page never showed " << what << "; last: " << v.dump());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return v;
  }

 private:
  pid_t m_pid = -1;
  int m_write = -1;
  int m_read = -1;
  int m_id = 0;
  std::string m_buffer;
};

}  // namespace fab::test
