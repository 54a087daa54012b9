/* fab's plugin ABI: the one C entry point a plugin (.so) exports, and the JSON it speaks.
 *
 * Pure C (C99 and C++ both compile it). Nothing but plain data and C function pointers crosses the
 * boundary: requests and results are UTF-8 JSON text, and the plugin hands its result back through a
 * write callback, so no memory is ever allocated on one side and freed on the other, and no C++
 * type or exception crosses. C++ authors use <fab/plugin.h> (the SDK) instead of filling this in.
 *
 * Entry point (exported with C linkage, default visibility):
 *
 *   const FabPluginInfo* fab_plugin_info(void);
 *
 * It returns a pointer to static storage that lives as long as the library (fab never unloads a
 * plugin). fab checks, before calling anything: abi_version == FAB_PLUGIN_ABI_VERSION,
 * struct_size >= FAB_PLUGIN_INFO_V1_SIZE (the struct as ABI version 1 first shipped it),
 * name/version non-empty, a known kind, and call != NULL, and reads a field added later only when
 * struct_size says the plugin has it (see "Growing the struct" below). Each call runs in its own short-lived child process (`fab __plugin-call`), so a
 * crash, a hang or an exit() inside a plugin fails that one call, never the factory. Anything the
 * plugin prints to stdout or stderr is kept as its diagnostics (stdout is redirected to stderr).
 *
 * ---- Requests and results -----------------------------------------------------------------------
 * agent (builds a work item in its own jj workspace) and inspector (judges it) get the same request:
 *   {"line_id": str, "item_id": str, "title": str, "body": str, "change_id": str,
 *    "attempt": int (1-based), "workspace": str (absolute path; also the process's cwd),
 *    "item_file": str (markdown: title, body and, on a retry, the last feedback),
 *    "feedback": str (from the last failed inspection or refinery; "" on attempt 1),
 *    "timeout_s": int (the call is killed after this long), "with": {...the blueprint's settings}}
 *   agent result:     {"ok": bool, "summary": str, "transcript": str,
 *                      "usage": {"input_tokens": int, "output_tokens": int, "cost_usd": number}
 *                               (optional, each member optional: what the attempt cost),
 *                      "retry": false (optional: a failure no retry can fix; the item is dropped at once)}
 *   inspector result: {"ok": bool, "feedback": str, "retry": false (optional, as above)}
 *                     (feedback becomes the next attempt's input)
 *
 * refinery (settles a merge conflict in one file):
 *   {"path": str, "base": str, "ours": str, "theirs": str,
 *    "content": str (optional: the current partial merge, possibly with diff3 conflict markers left
 *                    by an earlier resolver), "with": {...},
 *    "encoding": "latin1" (optional: the file is not UTF-8, so base, ours, theirs and content are
 *                its Latin-1 reading, one character U+0000..U+00FF per byte; the result's content
 *                must be written the same way, and one with another character is not taken)}
 *   result: {"ok": bool, "content": str (the full file, resolved or partially resolved),
 *            "resolved": bool, "unresolved": int (conflict hunks left), "message": str}
 *
 * "ok": false means the plugin ran and says no (the build failed, the inspection failed, it could
 * not resolve); fab moves on to the next attempt or resolver. Unknown request fields must be
 * ignored (newer fabs may add some); unknown result fields are ignored by fab. A known optional
 * field of the wrong type ("retry": "no", a negative token count) fails the call.
 *
 * ---- Settings schema ----------------------------------------------------------------------------
 * settings_schema (optional) is a JSON Schema (a UTF-8 JSON object) for the blueprint's `with:`
 * block. `fab blueprint check` and `fab stamp` validate every `with:` against it before anything
 * runs. fab reads this part of JSON Schema and ignores other keywords:
 *   {"type": "object",
 *    "properties": {"<key>": {"type": "string"|"boolean"|"integer"|"number"|"array"|"object"
 *                                     (or a list of these), "description": "one line",
 *                             "enum": [...], "minimum": n, "maximum": n}, ...},
 *    "required": ["<key>", ...],
 *    "additionalProperties": false}      (false: any other key is an error, with "did you mean")
 *
 * ---- Growing the struct -------------------------------------------------------------------------
 * Fields are only ever added at the end, and a plugin says how much of the struct it has in
 * struct_size. fab reads a field only if the plugin's struct_size covers it, so a plugin built
 * against an older header (a smaller struct) keeps loading, and the version stays 1.
 */
#ifndef FAB_PLUGIN_H
#define FAB_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define FAB_PLUGIN_ABI_VERSION 1

#ifdef __cplusplus
#define FAB_PLUGIN_EXTERN_C extern "C"
#else
#define FAB_PLUGIN_EXTERN_C
#endif

#if defined(__GNUC__) || defined(__clang__)
#define FAB_PLUGIN_EXPORT FAB_PLUGIN_EXTERN_C __attribute__((visibility("default")))
#else
#define FAB_PLUGIN_EXPORT FAB_PLUGIN_EXTERN_C
#endif

/* What a plugin is for; a fixed-width integer so the struct layout never depends on the compiler. */
typedef uint32_t FabPluginKind;
#define FAB_PLUGIN_KIND_AGENT 1u
#define FAB_PLUGIN_KIND_INSPECTOR 2u
#define FAB_PLUGIN_KIND_REFINERY 3u

/* Appends `size` bytes of the result JSON. May be called any number of times during one call. */
typedef void (*FabWriteFn)(void* write_ctx, const char* data, size_t size);

typedef struct FabPluginInfo {
  uint32_t abi_version; /* FAB_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(FabPluginInfo) the plugin was built with */
  const char* name;     /* [A-Za-z0-9._-]+, e.g. "hello-agent"; the file is fab-plugin-<name>.so */
  const char* version;  /* the plugin's own version, e.g. "1.0.0" */
  FabPluginKind kind;   /* FAB_PLUGIN_KIND_* */
  /* Handles one request (NUL-terminated JSON). Writes the result JSON through `write` and returns
   * 0. A non-zero return means "no result": fab fails the call, quoting whatever was written. */
  int (*call)(const char* request_json, FabWriteFn write, void* write_ctx);
  /* Optional (may be NULL): one line saying what the plugin does, shown by `fab plugins check`. */
  const char* (*describe)(void);
  /* ---- end of the struct as ABI 1 first shipped it (FAB_PLUGIN_INFO_V1_SIZE) ---- */
  /* Optional (may be NULL): the JSON Schema of the plugin's `with:` settings (see above). */
  const char* settings_schema;
} FabPluginInfo;

/* The size of FabPluginInfo in its first ABI 1 layout (up to and including `describe`): the
 * smallest struct_size fab accepts. */
#define FAB_PLUGIN_INFO_V1_SIZE (offsetof(FabPluginInfo, describe) + sizeof(const char* (*)(void)))
/* Whether a plugin's struct_size covers `field` (a field added after the first layout). */
#define FAB_PLUGIN_INFO_HAS(info, field) \
  ((info)->struct_size >= offsetof(FabPluginInfo, field) + sizeof((info)->field))

/* The entry point's name and type, for hosts that look it up. */
#define FAB_PLUGIN_ENTRY_POINT "fab_plugin_info"
typedef const FabPluginInfo* (*FabPluginInfoFn)(void);

#endif /* FAB_PLUGIN_H */
