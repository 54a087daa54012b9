# ctest -P script: `cmake --install` this build into a temp prefix, build plugins/examples/hello-agent
# against it (find_package(fab) + fab_add_plugin), then check and call it through the installed fab.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
set(workspace "${WORK_DIR}/workspace")
file(MAKE_DIRECTORY "${workspace}")

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
  set(err "${err}" PARENT_SCOPE)
endfunction()

function(expect text haystack)
  string(FIND "${haystack}" "${text}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected to find '${text}' in:\n${haystack}")
  endif()
endfunction()

run("cmake --install" ${CMAKE_COMMAND} --install "${FAB_BUILD_DIR}" --prefix "${prefix}")
foreach(f bin/fab include/fab_plugin.h include/fab/plugin.h lib/cmake/fab/fabConfig.cmake
          lib/cmake/fab/FabPlugin.cmake lib/fab/plugins/fab-plugin-shell.so)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "the install has no ${f}")
  endif()
endforeach()

run("configure the example" ${CMAKE_COMMAND} -S "${EXAMPLE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}")
run("build the example" ${CMAKE_COMMAND} --build "${build}")
set(so "${build}/fab-plugin-hello-agent.so")

run("fab plugins check" "${prefix}/bin/fab" plugins check "${so}")
expect("name:    hello-agent" "${out}")
expect("kind:    agent" "${out}")

# Found by name through FAB_PLUGIN_PATH, next to the installed built-ins.
run("fab plugins list" ${CMAKE_COMMAND} -E env "FAB_PLUGIN_PATH=${build}" "${prefix}/bin/fab" plugins list)
expect("hello-agent" "${out}")
expect("${prefix}/lib/fab/plugins/fab-plugin-shell.so" "${out}")

file(WRITE "${WORK_DIR}/request.json"
  "{\"title\": \"the world\", \"body\": \"Be nice.\", \"attempt\": 1, \"item_id\": \"I1\", \"workspace\": \"${workspace}\", \"with\": {\"greeting\": \"Hi\"}}")
run("fab plugins call" ${CMAKE_COMMAND} -E env "FAB_PLUGIN_PATH=${build}" "${prefix}/bin/fab" plugins call hello-agent
    --request "${WORK_DIR}/request.json")
expect("\"summary\": \"Hi, the world (attempt 1)\"" "${out}")
expect("hello-agent: attempt 1 of item I1" "${err}")
file(READ "${workspace}/HELLO.md" hello)
expect("# Hi, the world" "${hello}")
message(STATUS "hello-agent built out of tree and ran through the installed fab")
