#pragma once
// fab's C++ plugin SDK (header-only; needs only this header, <fab_plugin.h> and nlohmann-json).
//
// Derive from one of fab::AgentPlugin, fab::InspectorPlugin or fab::RefineryPlugin, implement its
// one method, and add one line that defines the plugin's entry point:
//
//   #include <fab/plugin.h>
//   class Hello : public fab::AgentPlugin {
//    public:
//     fab::AgentResult build(const fab::AgentRequest& req) override {
//       return {true, "said hello to " + req.title, ""};
//     }
//   };
//   FAB_PLUGIN(Hello, "hello-agent", "1.0.0")
//
// A plugin may declare the keys of its `with:` settings with a static member function
//   static std::vector<fab::Setting> settings() {
//     return {{"greeting", fab::SettingType::string, false, "how to greet (default: Hello)"}};
//   }
// fab then refuses a blueprint whose `with:` has another key, a value of another type, or lacks a
// required key, before anything runs (the SDK hands fab a JSON Schema built from the list).
//
// The SDK parses the request, calls your method and serialises the result. An exception thrown from
// your constructor or method is caught here and reported to fab as {"ok": false, ...} carrying its
// message, so it fails that one attempt with a readable reason. One object of your class is made
// (lazily) per process; fab runs every call in a fresh process, so there is no state between calls.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include <fab_plugin.h>

#include <fab/latin1.h>

namespace fab {

// What an agent or an inspector is asked about: one work item and where it is being built.
struct WorkRequest {
  std::string line_id;
  std::string item_id;
  std::string title;
  std::string body;
  std::string change_id;
  int attempt = 1;         // 1-based
  std::string workspace;   // the item's jj workspace (absolute); also the process's cwd
  std::string item_file;   // markdown with the title, body and (on a retry) the last feedback
  std::string feedback;    // from the last failed inspection or refinery; empty on attempt 1
  int timeout_s = 0;       // fab kills the call after this long; 0: not given
  nlohmann::json with = nlohmann::json::object();  // the blueprint's `with:` settings
  nlohmann::json raw;      // the whole request as received (for fields newer fabs add)
};
using AgentRequest = WorkRequest;
using InspectorRequest = WorkRequest;

// What an attempt cost, as far as the agent knows (each part optional).
struct Usage {
  std::optional<std::int64_t> input_tokens = std::nullopt;
  std::optional<std::int64_t> output_tokens = std::nullopt;
  std::optional<double> cost_usd = std::nullopt;
};

struct AgentResult {
  bool ok = false;
  std::string summary;     // one paragraph: what was done (or why not)
  std::string transcript;  // the long story: tool output, model conversation, ...
  std::optional<Usage> usage = std::nullopt;  // reported with the result when set
  // false with ok == false: the failure is permanent (a missing tool, a bad setting): no retry can
  // fix it, so fab drops the item at once instead of spending every attempt on it.
  bool retry = true;
};

struct InspectorResult {
  bool ok = false;
  std::string feedback;  // why it failed; becomes the next attempt's input
  bool retry = true;     // as AgentResult::retry
};

// One key of a plugin's `with:` settings (see settings() above).
enum class SettingType { string, boolean, integer, number, array, object };
struct Setting {
  std::string name;
  SettingType type = SettingType::string;
  bool required = false;
  std::string description;  // one line
};

// A merge conflict in one file.
struct RefineryRequest {
  std::string path;
  std::string base, ours, theirs;      // ours: trunk's side; theirs: the item's side
  std::optional<std::string> content;  // the partial merge so far (may hold diff3 markers)
  // "utf-8", or "latin1" when a side is not UTF-8. Either way the strings above are the file's
  // bytes (the SDK undoes the Latin-1 transport, see fab/latin1.h) and so is the answer's content.
  std::string encoding = "utf-8";
  nlohmann::json with = nlohmann::json::object();
  nlohmann::json raw;
};

struct RefineryResult {
  bool ok = false;
  std::string content;  // the whole file, resolved or partially resolved (markers left in)
  bool resolved = false;
  int unresolved = 0;   // conflict hunks left in `content`
  std::string message;
};

class AgentPlugin {
 public:
  static constexpr FabPluginKind kind = FAB_PLUGIN_KIND_AGENT;
  virtual ~AgentPlugin() = default;
  virtual AgentResult build(const AgentRequest& request) = 0;
  // One line for `fab plugins check`; empty: none.
  virtual std::string describe() const { return {}; }
};

class InspectorPlugin {
 public:
  static constexpr FabPluginKind kind = FAB_PLUGIN_KIND_INSPECTOR;
  virtual ~InspectorPlugin() = default;
  virtual InspectorResult inspect(const InspectorRequest& request) = 0;
  virtual std::string describe() const { return {}; }
};

class RefineryPlugin {
 public:
  static constexpr FabPluginKind kind = FAB_PLUGIN_KIND_REFINERY;
  virtual ~RefineryPlugin() = default;
  virtual RefineryResult resolve(const RefineryRequest& request) = 0;
  virtual std::string describe() const { return {}; }
};

namespace plugin_detail {

using json = nlohmann::json;

inline std::string str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

inline int integer(const json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

inline json with_of(const json& j) {
  auto it = j.find("with");
  return it != j.end() && it->is_object() ? *it : json::object();
}

inline WorkRequest work_request(const json& j) {
  WorkRequest r;
  r.line_id = str(j, "line_id");
  r.item_id = str(j, "item_id");
  r.title = str(j, "title");
  r.body = str(j, "body");
  r.change_id = str(j, "change_id");
  r.attempt = integer(j, "attempt", 1);
  r.workspace = str(j, "workspace");
  r.item_file = str(j, "item_file");
  r.feedback = str(j, "feedback");
  r.timeout_s = integer(j, "timeout_s", 0);
  r.with = with_of(j);
  r.raw = j;
  return r;
}

// A side sent as Latin-1 text (fab/latin1.h), as the bytes it stands for.
inline std::string latin1_field(const json& j, const char* key) {
  Latin1Refusal why;
  auto bytes = utf8_to_latin1(str(j, key), &why);
  if (!bytes) {
    throw std::runtime_error(std::string("the request's \"") + key + "\" is not a Latin-1 reading of bytes (byte " +
                             std::to_string(why.offset) + ")");
  }
  return std::move(*bytes);
}

inline RefineryRequest refinery_request(const json& j) {
  RefineryRequest r;
  r.path = str(j, "path");
  if (str(j, "encoding") == "latin1") {
    r.encoding = "latin1";
    r.base = latin1_field(j, "base");
    r.ours = latin1_field(j, "ours");
    r.theirs = latin1_field(j, "theirs");
    if (auto it = j.find("content"); it != j.end() && it->is_string()) r.content = latin1_field(j, "content");
  } else {
    r.base = str(j, "base");
    r.ours = str(j, "ours");
    r.theirs = str(j, "theirs");
    if (auto it = j.find("content"); it != j.end() && it->is_string()) r.content = it->get<std::string>();
  }
  r.with = with_of(j);
  r.raw = j;
  return r;
}

inline json failure(FabPluginKind kind, const std::string& message) {
  switch (kind) {
    case FAB_PLUGIN_KIND_AGENT: return {{"ok", false}, {"summary", message}, {"transcript", ""}};
    case FAB_PLUGIN_KIND_INSPECTOR: return {{"ok", false}, {"feedback", message}};
    default: return {{"ok", false}, {"content", ""}, {"resolved", false}, {"unresolved", 0}, {"message", message}};
  }
}

template <class P>
P& instance() {
  static P plugin;  // a throwing constructor is retried on the next use (there is none: one call)
  return plugin;
}

inline json usage_json(const Usage& u) {
  json j = json::object();
  if (u.input_tokens) j["input_tokens"] = *u.input_tokens;
  if (u.output_tokens) j["output_tokens"] = *u.output_tokens;
  if (u.cost_usd) j["cost_usd"] = *u.cost_usd;
  return j;
}

template <class P>
json dispatch(const json& request) {
  P& plugin = instance<P>();
  if constexpr (std::is_base_of_v<AgentPlugin, P>) {
    AgentResult r = plugin.build(work_request(request));
    json out = {{"ok", r.ok}, {"summary", r.summary}, {"transcript", r.transcript}};
    if (r.usage) out["usage"] = usage_json(*r.usage);
    if (!r.retry) out["retry"] = false;
    return out;
  } else if constexpr (std::is_base_of_v<InspectorPlugin, P>) {
    InspectorResult r = plugin.inspect(work_request(request));
    json out = {{"ok", r.ok}, {"feedback", r.feedback}};
    if (!r.retry) out["retry"] = false;
    return out;
  } else {
    const RefineryRequest req = refinery_request(request);
    RefineryResult r = plugin.resolve(req);
    if (req.encoding == "latin1") r.content = latin1_to_utf8(r.content);
    return {{"ok", r.ok}, {"content", r.content}, {"resolved", r.resolved}, {"unresolved", r.unresolved},
            {"message", r.message}};
  }
}

// Invalid UTF-8 (say, binary tool output in a transcript) is replaced rather than thrown on.
inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

template <class P>
int call(const char* request_json, FabWriteFn write, void* write_ctx) noexcept {
  try {
    std::string out;
    try {
      out = dump(dispatch<P>(json::parse(request_json ? request_json : "")));
    } catch (const std::exception& e) {
      out = dump(failure(P::kind, std::string("plugin threw: ") + e.what()));
    } catch (...) {
      out = dump(failure(P::kind, "plugin threw an exception that is not a std::exception"));
    }
    write(write_ctx, out.data(), out.size());
    return 0;
  } catch (...) {
    return 1;  // out of memory while reporting: fab says the plugin returned no result
  }
}

template <class P>
const char* describe() noexcept {
  static std::string text;
  try {
    text = instance<P>().describe();
  } catch (...) {
    return nullptr;
  }
  return text.empty() ? nullptr : text.c_str();
}

inline const char* type_name(SettingType t) {
  switch (t) {
    case SettingType::string: return "string";
    case SettingType::boolean: return "boolean";
    case SettingType::integer: return "integer";
    case SettingType::number: return "number";
    case SettingType::array: return "array";
    case SettingType::object: return "object";
  }
  return "string";
}

// The JSON Schema fab reads (see <fab_plugin.h>, "Settings schema") for a list of settings.
inline std::string settings_schema_json(const std::vector<Setting>& settings) {
  json properties = json::object();
  json required = json::array();
  for (const auto& s : settings) {
    properties[s.name] = {{"type", type_name(s.type)}, {"description", s.description}};
    if (s.required) required.push_back(s.name);
  }
  return dump({{"type", "object"}, {"properties", properties}, {"required", required}, {"additionalProperties", false}});
}

template <class P, class = void>
struct declares_settings : std::false_type {};
template <class P>
struct declares_settings<P, std::void_t<decltype(P::settings())>> : std::true_type {};

// The plugin's settings schema, or NULL when it declares no settings() (fab then checks nothing).
template <class P>
const char* settings_schema() noexcept {
  if constexpr (declares_settings<P>::value) {
    static const std::string text = []() noexcept {
      try {
        return settings_schema_json(P::settings());
      } catch (...) {
        return std::string();
      }
    }();
    return text.empty() ? nullptr : text.c_str();
  } else {
    return nullptr;
  }
}

template <class P>
constexpr bool is_one_plugin_kind() {
  return (std::is_base_of_v<AgentPlugin, P> ? 1 : 0) + (std::is_base_of_v<InspectorPlugin, P> ? 1 : 0) +
             (std::is_base_of_v<RefineryPlugin, P> ? 1 : 0) ==
         1;
}

}  // namespace plugin_detail
}  // namespace fab

// Defines the plugin's entry point, fab_plugin_info(). Use once per plugin, at namespace scope.
#define FAB_PLUGIN(Class, name_literal, version_literal)                                              \
  static_assert(::fab::plugin_detail::is_one_plugin_kind<Class>(),                                  \
                #Class " must derive from exactly one of fab::AgentPlugin, fab::InspectorPlugin, "  \
                       "fab::RefineryPlugin");                                                      \
  FAB_PLUGIN_EXPORT const FabPluginInfo* fab_plugin_info(void) {                                    \
    static const FabPluginInfo info = {FAB_PLUGIN_ABI_VERSION,                                      \
                                       static_cast<uint32_t>(sizeof(FabPluginInfo)),                \
                                       name_literal,                                                \
                                       version_literal,                                             \
                                       Class::kind,                                                 \
                                       &::fab::plugin_detail::call<Class>,                          \
                                       &::fab::plugin_detail::describe<Class>,                      \
                                       ::fab::plugin_detail::settings_schema<Class>()};             \
    return &info;                                                                                   \
  }
