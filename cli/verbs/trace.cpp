// `fab trace LINE|ITEM [-o FILE]`: a line's or an item's attempts as OpenTelemetry spans in
// OTLP/JSON (engine/trace.h): to FILE, else POSTed to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces when
// that is set, else to stdout.
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "cli/verbs/verbs.h"
#include "engine/trace.h"
#include "workgraph/durable_file.h"
#include "workgraph/factory.h"

namespace fab::cli {

Verb make_trace_verb() {
  return {"trace", "Export a line's or an item's attempts as OpenTelemetry spans (OTLP/JSON)", false,
          [](CLI::App& app, const GlobalOptions& global) {
            struct Args {
              std::string target, file;
            };
            auto args = std::make_shared<Args>();
            app.add_option("LINE|ITEM", args->target, "A line id, or an item id, change id or unique prefix")->required();
            app.add_option("-o,--output", args->file,
                           "Write the spans to FILE (default: POST them to $OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces "
                           "if it is set, else print them)");
            return [args, &global]() -> Status {
              FAB_TRY_ASSIGN(auto factory, open_current_factory());
              FAB_TRY_ASSIGN(auto records, engine::trace_records(factory, args->target));
              const auto payload = engine::otlp_trace(records);
              const std::string body = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
              std::size_t spans = payload["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
              auto out = global.output();
              if (!args->file.empty()) {
                FAB_TRY(write_file_atomic(args->file, body + "\n"));
                out.status(fmt::format("wrote {} spans to {}", spans, args->file));
                return {};
              }
              const char* endpoint = std::getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
              if (endpoint == nullptr || *endpoint == '\0') {
                out.data_line(body);
                return {};
              }
              const auto url = engine::otlp_traces_url(endpoint);
              FAB_TRY(engine::post_otlp(url, body));
              out.status(fmt::format("sent {} spans to {}", spans, url));
              return {};
            };
          }};
}

}  // namespace fab::cli
