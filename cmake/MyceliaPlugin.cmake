# mycelia_add_plugin(NAME [SOURCES] src... [OUTPUT_DIRECTORY dir])
#
# Build the Mycelia plugin myc_NAME.so from the given sources: a MODULE
# library with no "lib" prefix, hidden visibility (only the entry symbol
# marked MYC_EXPORT is exported), linked against Mycelia::plugin (the
# header) and nothing else of Mycelia's. The target is called myc_NAME.
#
# This one file serves both the Mycelia source tree (through its
# mycelia_plugin() wrapper) and the installed SDK (find_package(Mycelia)),
# so in-tree and out-of-tree plugins are built the same way.
#
# Unresolved symbols are a link error (-z defs): a plugin that calls the
# embedding API (myc_msg_new ...) instead of the host table fails here
# rather than at load time. Set MYCELIA_PLUGIN_ALLOW_UNDEFINED to turn that
# off; it is off by itself under -fsanitize, whose runtime lives in the
# host program.
include_guard(GLOBAL)

function(mycelia_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY" "SOURCES")
  set(srcs ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  if(NOT name MATCHES "^[A-Za-z0-9_-]+$")
    message(FATAL_ERROR "mycelia_add_plugin: '${name}' is not a plugin name "
                        "(use A-Z a-z 0-9 _ -, as in [plugin NAME])")
  endif()
  if(NOT srcs)
    message(FATAL_ERROR "mycelia_add_plugin(${name}): no source files given")
  endif()
  if(NOT TARGET Mycelia::plugin)
    message(FATAL_ERROR "mycelia_add_plugin(${name}): target Mycelia::plugin "
                        "is missing; call find_package(Mycelia) first")
  endif()

  set(target myc_${name})
  add_library(${target} MODULE ${srcs})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME myc_${name}
    SUFFIX ".so"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES
      LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
  target_link_libraries(${target} PRIVATE Mycelia::plugin)

  set(flags "${CMAKE_C_FLAGS} ${CMAKE_MODULE_LINKER_FLAGS}")
  if(NOT MYCELIA_PLUGIN_ALLOW_UNDEFINED AND NOT MYCELIA_SANITIZE
     AND NOT flags MATCHES "-fsanitize")
    target_link_options(${target} PRIVATE LINKER:-z,defs)
  endif()
endfunction()
