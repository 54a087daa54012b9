# fab_add_plugin(<name> <source>...): builds the fab plugin fab-plugin-<name>.so (a MODULE library:
# loaded by fab at run time, never linked against) from C++ or C sources.
#   - the CMake target is fab-plugin-<name> (add libraries with target_link_libraries as usual);
#   - only the entry point fab_plugin_info() is exported (hidden visibility for everything else);
#   - an undefined symbol fails the link now, not the plugin's first load inside a factory.
# fab finds plugins by name in: the directory of the fab binary (built-ins) and each directory in
# FAB_PLUGIN_PATH (colon-separated); never in a factory's .factory/. The file name must be
# fab-plugin-<name>.so where <name> is the name the plugin declares in FAB_PLUGIN(...), and the
# file and its directories must be yours (or root's) and not writable by others.
include_guard(GLOBAL)

function(fab_add_plugin name)
  if(NOT name MATCHES "^[A-Za-z0-9._-]+$")
    message(FATAL_ERROR "fab_add_plugin: '${name}' is not a valid plugin name (use letters, digits, '.', '_', '-')")
  endif()
  if(NOT ARGN)
    message(FATAL_ERROR "fab_add_plugin(${name}): no source files given")
  endif()
  set(target fab-plugin-${name})
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE fab::plugin_sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "fab-plugin-${name}"
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")
endfunction()
