#pragma once
// The plugin calls the floor makes, each sequence on a worker thread of its own (a Job) so that no
// call — an agent that takes an hour, a resolver whose LLM endpoint hangs — holds the floor. A job
// touches no jj and no state: only plugin children (plugins/host/plugin_call.h). What it brings
// back says how each call went, step by step, for the item's record.
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "blueprints/blueprint.h"
#include "plugins/host/plugin_call.h"

namespace fab::engine {

struct PluginStep {
  PluginUse use;
  plugins::PluginRef ref;
  plugins::CallOptions options;  // environment and sandbox (filled per line, and per call for paths)
};

// One plugin call, as the item's record keeps it (a "step" journal record, see ARCHITECTURE.md).
struct CallStep {
  std::string step;     // "agent", "inspect", "refine"
  std::string plugin;
  std::string path;     // refine: the file
  std::string started;  // ISO-8601
  std::int64_t ms = 0;
  bool ok = false;
  std::string summary;  // one line
  nlohmann::json usage;  // null unless the plugin reported it
  bool permanent = false;  // the plugin said "retry": false
};

// What a job's calls came to.
struct JobResult {
  bool ok = false;
  bool permanent = false;   // a failure no retry can fix
  std::string summary;      // the agent's summary
  std::string feedback;     // why not (the next attempt's input)
  std::string log;          // the whole output, kept next to the attempt
  std::vector<CallStep> steps;
};

// A conflicted file, with its sides, for the resolvers; and what they made of it.
struct ConflictFile {
  std::string path;
  std::string base, ours, theirs;
  std::string error;         // reading its sides failed: no resolver sees it
  bool resolved = false;
  std::string content;       // the resolution, when resolved
  std::string settled_by;    // the resolver that settled it
};

struct RefineResult {
  std::vector<ConflictFile> files;
  std::string log;
  std::vector<CallStep> steps;
};

class Job {
 public:
  // Runs `work` on a thread of its own; `notify` is called when it is done.
  Job(std::function<void()> work, std::function<void()> notify);
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
  bool done() const { return m_done.load(); }
  void join();
  std::chrono::system_clock::time_point started() const { return m_started; }

 private:
  std::atomic<bool> m_done{false};
  std::chrono::system_clock::time_point m_started;
  std::thread m_thread;
};

// The agent's call; `request` is the work request (with / timeout_s filled from the step).
JobResult run_agent(const PluginStep& agent, nlohmann::json request);
// The inspectors in order; the first that fails (or gives no answer) ends the sequence.
JobResult run_inspectors(const std::vector<PluginStep>& inspectors, nlohmann::json request);
// Each file through the resolvers in order, until one settles it. An answer that says it settled
// the file but adds conflict markers its sides did not have is not taken (the log says so).
RefineResult run_resolvers(const std::vector<PluginStep>& resolvers, std::vector<ConflictFile> files);

std::string first_line(const std::string& s);
// One line saying why an attempt failed: the feedback's first line, and when that only introduces
// what follows ("inspector command failed:"), the first line that says something.
std::string summary_of(const std::string& feedback);
std::string iso_time(std::chrono::system_clock::time_point t);
// The first 12 characters of a commit or operation ID, for messages.
inline std::string short_hex(const std::string& id) { return id.substr(0, 12); }

}  // namespace fab::engine
