#include "engine/jobs.h"

#include <ctime>

#include <fab/latin1.h>
#include <fmt/format.h>

#include "plugins/resolve/conflict_markers.h"
#include "substrate/utf8.h"

namespace fab::engine {
namespace {

using Clock = std::chrono::system_clock;

std::chrono::milliseconds timeout_of(const PluginUse& use) {
  return std::chrono::seconds(use.timeout_s > 0 ? use.timeout_s : 600);
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

// The 1-based line and column (in characters) of a byte offset in UTF-8 text.
std::pair<std::size_t, std::size_t> line_col(std::string_view text, std::size_t offset) {
  std::size_t line = 1, column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  return {line, column};
}

// "binary: ours has a NUL byte at offset 12" when a side is binary to git (binary_nul), else "".
std::string binary_side(const ConflictFile& file) {
  for (const auto& [side, text] : {std::pair{"base", &file.base}, {"ours", &file.ours}, {"theirs", &file.theirs}}) {
    if (const auto at = binary_nul(*text)) return fmt::format("binary: {} has a NUL byte at offset {}", side, *at);
  }
  return "";
}

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// What a plugin printed during a call that gave no answer (a timeout, a crash): the host streams
// it to us as it comes, so nothing printed before the end is lost.
struct Printed {
  std::string text;
  std::size_t total = 0;
  static constexpr std::size_t kKeep = 1u << 20;
  void add(std::string_view piece) {
    total += piece.size();
    text.append(piece);
    if (text.size() > 2 * kKeep) text.erase(0, text.size() - kKeep);
  }
  std::string kept() const {
    if (total <= text.size()) return text;
    return fmt::format("[... {} bytes printed in all; the last {} follow]\n{}", total, text.size(), text);
  }
};

CallStep step_of(const std::string& step, const PluginStep& plugin, Clock::time_point started) {
  CallStep r;
  r.step = step;
  r.plugin = plugin.use.plugin;
  r.started = iso_time(started);
  r.ms = ms_since(started);
  return r;
}

// One agent or inspector call: the step's settings in `request`, what the call prints kept as it
// arrives (its tail, for when it gives no answer), and the step's record begun.
struct StepCall {
  Result<plugins::PluginCallResult> r;
  CallStep step;
  Printed printed;
};
StepCall call_step(const std::string& kind, const PluginStep& plugin, nlohmann::json& request) {
  request["with"] = plugin.use.with;
  request["timeout_s"] = plugin.use.timeout_s;
  const auto started = Clock::now();
  StepCall c{fail_internal("not called"), {}, {}};
  auto options = plugin.options;
  options.on_output = [&c](std::string_view piece) { c.printed.add(piece); };
  c.r = plugins::call_plugin(plugin.ref, request, timeout_of(plugin.use), options);
  c.step = step_of(kind, plugin, started);
  return c;
}

}  // namespace

Job::Job(std::function<void()> work, std::function<void()> notify) : m_started(Clock::now()) {
  m_thread = std::thread([this, work = std::move(work), notify = std::move(notify)] {
    work();
    m_done.store(true);
    notify();
  });
}

Job::~Job() { join(); }

void Job::join() {
  if (m_thread.joinable()) m_thread.join();
}

std::string iso_time(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

std::string summary_of(const std::string& feedback) {
  std::string out = first_line(feedback);
  while (!out.empty() && (out.back() == ' ' || out.back() == '\r')) out.pop_back();
  if (out.empty() || out.back() != ':') return out;
  std::size_t at = feedback.find('\n');
  while (at != std::string::npos && at + 1 < feedback.size()) {
    std::string next = first_line(feedback.substr(at + 1));
    const auto b = next.find_first_not_of(" \t\r");
    if (b != std::string::npos) {
      next = next.substr(b);
      if (next.size() > 200) next = next.substr(0, 197) + "...";
      return out + " " + next;
    }
    at = feedback.find('\n', at + 1);
  }
  return out;
}

JobResult run_agent(const PluginStep& agent, nlohmann::json request) {
  auto [r, step, printed] = call_step("agent", agent, request);
  JobResult out;
  if (!r) {
    const auto text = r.error().render();
    out.feedback = "the agent gave no answer:\n" + text;
    out.log = fmt::format("the agent gave no answer:\n{}\n--- what it printed ---\n{}", text, printed.kept());
    step.summary = first_line(r.error().message);
    out.steps.push_back(std::move(step));
    return out;
  }
  out.ok = r->ok;
  out.permanent = !out.ok && !r->retryable();
  out.summary = r->response.value("summary", std::string{});
  const auto transcript = r->response.value("transcript", std::string{});
  out.log = fmt::format("summary: {}\n\n--- transcript ---\n{}\n--- diagnostics ---\n{}", out.summary, transcript,
                        r->diagnostics);
  if (!out.ok) out.feedback = fmt::format("the agent failed: {}\n{}", out.summary, tail(transcript, 4000));
  step.ok = out.ok;
  step.summary = first_line(out.summary);
  step.permanent = out.permanent;
  if (auto u = r->response.find("usage"); u != r->response.end() && u->is_object()) step.usage = *u;
  out.steps.push_back(std::move(step));
  return out;
}

JobResult run_inspectors(const std::vector<PluginStep>& inspectors, nlohmann::json request) {
  JobResult out{true, false, "", "", "", {}};
  for (const auto& inspector : inspectors) {
    auto [r, step, printed] = call_step("inspect", inspector, request);
    if (!r) {
      const auto text = r.error().render();
      out.log += fmt::format("--- inspector {}: no answer ---\n{}\n--- what it printed ---\n{}\n", inspector.use.plugin,
                             text, printed.kept());
      out.ok = false;
      out.feedback = fmt::format("inspector {} gave no answer:\n{}", inspector.use.plugin, text);
      step.summary = first_line(r.error().message);
      out.steps.push_back(std::move(step));
      return out;
    }
    const auto feedback = r->response.value("feedback", std::string{});
    out.log += fmt::format("--- inspector {}: {} ---\n{}\n{}\n", inspector.use.plugin, r->ok ? "pass" : "FAIL", feedback,
                           r->diagnostics);
    step.ok = r->ok;
    step.summary = first_line(feedback);
    step.permanent = !r->ok && !r->retryable();
    out.steps.push_back(step);
    if (!r->ok) {
      out.ok = false;
      out.permanent = step.permanent;
      out.feedback = fmt::format("inspector {} failed:\n{}", inspector.use.plugin, tail(feedback, 4000));
      return out;
    }
  }
  return out;
}

RefineResult run_resolvers(const std::vector<PluginStep>& resolvers, std::vector<ConflictFile> files) {
  RefineResult out;
  for (auto& file : files) {
    if (!file.error.empty()) {  // its sides could not be read: no resolver sees it
      out.log += fmt::format("{}: {}\n", file.path, file.error);
      continue;
    }
    // A binary file (as git tells one: a NUL byte in its first 8000) is no text to merge: a line
    // rule would "settle" it into bytes no program reads. It goes back to the agent, saying why.
    if (auto nul = binary_side(file); !nul.empty()) {
      file.error = nul + "; the resolvers merge text only, so none was asked";
      out.log += fmt::format("{}: {}\n", file.path, file.error);
      continue;
    }
    // A resolver's request is JSON, which holds only UTF-8 text. A file with other bytes (a Latin-1
    // .po file, a Windows-1252 source) goes as its Latin-1 reading, one character per byte, with
    // "encoding": "latin1" (fab/latin1.h), and the answer is turned back into bytes; an answer with a
    // character that stands for no byte is not taken. Nothing is replaced on the way.
    std::string encoding = "utf-8";
    for (const auto& [side, text] : {std::pair{"base", &file.base}, {"ours", &file.ours}, {"theirs", &file.theirs}}) {
      if (auto utf8 = check_utf8(*text, side); !utf8) {  // "ours:1:5: not valid UTF-8 (byte 0xe7)"
        out.log += fmt::format("{}: {}; sent to the resolvers as Latin-1, one character per byte\n", file.path,
                               utf8.error().message);
        encoding = "latin1";
        break;
      }
    }
    const bool latin1 = encoding == "latin1";
    const auto carried = [latin1](const std::string& bytes) { return latin1 ? latin1_to_utf8(bytes) : bytes; };
    std::optional<std::string> content;  // the file's bytes, as the last resolver left them
    for (const auto& resolver : resolvers) {
      nlohmann::json request{{"path", file.path},
                             {"base", carried(file.base)},
                             {"ours", carried(file.ours)},
                             {"theirs", carried(file.theirs)},
                             {"with", resolver.use.with}};
      if (latin1) request["encoding"] = encoding;
      if (content) request["content"] = carried(*content);
      const auto started = Clock::now();
      auto r = plugins::call_plugin(resolver.ref, request, timeout_of(resolver.use), resolver.options);
      CallStep step = step_of("refine", resolver, started);
      step.path = file.path;
      if (!r) {
        out.log += fmt::format("{}: refinery {} gave no answer: {}\n", file.path, resolver.use.plugin, r.error().render());
        step.summary = "no answer: " + first_line(r.error().message);
        out.steps.push_back(std::move(step));
        continue;
      }
      const auto message = r->response.value("message", std::string{});
      out.log += fmt::format("{}: refinery {}: {}\n", file.path, resolver.use.plugin, message);
      step.summary = first_line(message);
      bool resolved = r->ok && r->response.value("resolved", false);
      if (!r->ok) {
        out.steps.push_back(std::move(step));
        continue;
      }
      const auto answer = r->response.value("content", std::string{});
      std::string why_not;
      if (latin1) {
        Latin1Refusal refusal;
        if (auto bytes = utf8_to_latin1(answer, &refusal)) {
          content = std::move(*bytes);
        } else {
          const auto at = line_col(answer, refusal.offset);
          why_not = refusal.codepoint != 0
                        ? fmt::format("answered with U+{:04X} (line {}, column {}), which is no byte of this "
                                      "Latin-1 file; not taken",
                                      refusal.codepoint, at.first, at.second)
                        : fmt::format("answered with bytes that are not UTF-8 (line {}, column {}); not taken",
                                      at.first, at.second);
        }
      } else {
        content = answer;
      }
      // A resolver is trusted no more than an agent: an answer that still has markers is no answer.
      if (why_not.empty() && content) {
        if (auto left = resolve::added_marker_lines(*content, {file.ours, file.theirs}); resolved && !left.empty()) {
          why_not = fmt::format("said it settled the file, but its answer has conflict markers (line {}); not taken",
                                left.front().index + 1);
        }
      }
      // One side deleted the file (jj hands it out empty): an empty answer would land as an empty
      // file, not as the deletion it stands for. That choice is the agent's.
      if (why_not.empty() && resolved && content && content->empty() && !file.base.empty() &&
          (file.ours.empty() || file.theirs.empty())) {
        why_not = "settled a file one side deleted by emptying it, which would land an empty file, not the "
                  "deletion; not taken";
      }
      if (!why_not.empty()) {
        out.log += fmt::format("{}: refinery {} {}\n", file.path, resolver.use.plugin, why_not);
        step.summary = why_not;
        resolved = false;
        content.reset();
      }
      step.ok = resolved;
      out.steps.push_back(std::move(step));
      if (!content) continue;
      if (resolved) {
        file.resolved = true;
        file.content = *content;
        file.settled_by = resolver.use.plugin;
        break;
      }
    }
  }
  out.files = std::move(files);
  return out;
}

}  // namespace fab::engine
