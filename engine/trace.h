#pragma once
// `fab trace LINE|ITEM`: what the factory did, as OpenTelemetry spans in OTLP/JSON (an
// ExportTraceServiceRequest: resourceSpans / scopeSpans / spans), read from the items' records
// (engine/item_record.h), so it can be written to a file or sent to any OTLP/HTTP collector.
//
//   one trace per item        traceId: a hash of "<line>/<item>"
//   one span per attempt      "invoke_agent <agent>" (gen_ai.operation.name invoke_agent,
//                             gen_ai.agent.name, gen_ai.usage.* when the agent reported usage;
//                             fab.line, fab.item, fab.change_id, fab.round, fab.attempt, fab.outcome,
//                             fab.jj_operation: the last jj operation of the attempt); status ERROR
//                             with the reason when it did not end in merged
//   a child per step          "<step> <plugin>" for each plugin call (agent, inspect) and each
//                             refinery step (refine: a resolver on one file); fab.step, fab.plugin,
//                             fab.path, fab.jj_operation, fab.usage.* (GenAI usage is counted once,
//                             on the attempt's span, which sums its steps')
// Span ids hash line/item/round/attempt(/step index): exporting again gives the same ids, so a
// collector sees the same spans, not new ones. An attempt under way ends at its last record.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/item_record.h"
#include "substrate/error.h"
#include "workgraph/factory.h"

namespace fab::engine {

// The records of every item of the line named `line_or_item` (its id), else of the one item it
// names (item id, change id, or a unique prefix of either).
Result<std::vector<ItemRecord>> trace_records(Factory& factory, const std::string& line_or_item);

// The ExportTraceServiceRequest for `records` (pure: the same records give the same JSON).
nlohmann::json otlp_trace(const std::vector<ItemRecord>& records);

// "<endpoint>/v1/traces", as OTEL_EXPORTER_OTLP_ENDPOINT is meant (a trailing '/' is dropped).
std::string otlp_traces_url(const std::string& endpoint);

// POSTs `body` (OTLP/JSON) to `url`; an error names the HTTP status and the collector's answer.
Status post_otlp(const std::string& url, const std::string& body, long timeout_ms = 10'000);

}  // namespace fab::engine
