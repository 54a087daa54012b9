#pragma once
// A real HTTP stand-in for an OpenAI-compatible provider on 127.0.0.1 (started and stopped by the
// test), answering POST /v1/chat/completions with a handler the test gives. Link
// fab_test_llm_provider (cpp-httplib).
#include <httplib.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace fab::test {

// What the stand-in was sent.
struct SeenRequest {
  std::string body;
  std::string authorization;
  bool has_authorization = false;
};

class FakeProvider {
 public:
  // Called with the 1-based number of the request.
  using Handler = std::function<void(const httplib::Request&, httplib::Response&, int)>;

  explicit FakeProvider(Handler handler) : m_handler(std::move(handler)) {
    m_server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      int n = 0;
      {
        std::lock_guard lock(m_mutex);
        m_seen.push_back({req.body, req.get_header_value("Authorization"), req.has_header("Authorization")});
        n = static_cast<int>(m_seen.size());
      }
      m_handler(req, res, n);
    });
    m_port = m_server.bind_to_any_port("127.0.0.1");
    REQUIRE(m_port > 0);
    m_thread = std::thread([this] { m_server.listen_after_bind(); });
    while (!m_server.is_running()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakeProvider() {
    release_sleepers();
    m_server.stop();
    m_thread.join();
  }
  FakeProvider(const FakeProvider&) = delete;
  FakeProvider& operator=(const FakeProvider&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(m_port) + "/v1"; }
  int requests() {
    std::lock_guard lock(m_mutex);
    return static_cast<int>(m_seen.size());
  }
  SeenRequest request(int n) {
    std::lock_guard lock(m_mutex);
    return m_seen.at(static_cast<std::size_t>(n - 1));
  }

  // Sleeps up to `d` in a handler, cut short when the stand-in is stopped.
  void slow_sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(m_mutex);
    m_cv.wait_for(lock, d, [this] { return m_released; });
  }

 private:
  void release_sleepers() {
    std::lock_guard lock(m_mutex);
    m_released = true;
    m_cv.notify_all();
  }

  Handler m_handler;
  httplib::Server m_server;
  int m_port = 0;
  std::thread m_thread;
  std::mutex m_mutex;
  std::condition_variable m_cv;
  bool m_released = false;
  std::vector<SeenRequest> m_seen;
};

// An OpenAI chat-completions reply carrying `content`.
inline std::string completion(const nlohmann::json& content, const std::string& finish = "stop",
                              const nlohmann::json& refusal = nullptr) {
  nlohmann::json message = {{"role", "assistant"}, {"content", content}};
  if (!refusal.is_null()) {
    message["refusal"] = refusal;
  }
  return nlohmann::json{{"id", "chatcmpl-1"},
                        {"object", "chat.completion"},
                        {"choices", nlohmann::json::array({{{"index", 0}, {"message", message}, {"finish_reason", finish}}})}}
      .dump();
}

// The conflict the llm tests resolve: both sides changed `x` and `y` and both added the log line
// between them; `kGood` is the answer for its one hunk, `kResolved` the file with that answer in place.
inline const std::string kBase = "int main() {\n  int x = 1;\n  return x;\n}\n";
inline const std::string kOurs = "int main() {\n  int x = 2;\n  log(x);\n  y = 2;\n  return x;\n}\n";
inline const std::string kTheirs = "int main() {\n  int x = 3;\n  log(x);\n  y = 3;\n  return x;\n}\n";
inline const std::string kGood = "  int x = 5;\n  log(x);\n  y = 5;\n";
inline const std::string kResolved = "int main() {\n  int x = 5;\n  log(x);\n  y = 5;\n  return x;\n}\n";

// The answer the llm resolver asks for: {"hunks": [{"id": N, "resolution": TEXT}, ...]}.
inline std::string hunks_answer(const std::vector<std::pair<int, std::string>>& hunks) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [id, text] : hunks) {
    list.push_back({{"id", id}, {"resolution", text}});
  }
  return nlohmann::json{{"hunks", list}}.dump();
}

inline void reply_ok(httplib::Response& res, const std::string& content) {
  res.set_content(completion(content), "application/json");
}

}  // namespace fab::test
