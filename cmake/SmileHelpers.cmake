# Helpers for smile's own programs. Warnings go on these targets only, never on the INTERFACE
# targets that downstream projects link (their flags are theirs to choose).

function(smile_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wcast-qual)
  # GCC 12 reports std::string concatenation (const char* + std::string&&) at -O2/-O3 as an
  # overlapping memcpy: a known false positive (GCC PR105329, PR105651), not a bug of ours.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(SMILE_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# smile_add_executable(name SOURCES... [LIBS ...]): an own program linked to smile::smile.
# It links smile_factories: the model and method factories for default_backend, compiled once for
# all of them (include/smile/factory_instances.hpp says how; docs/building.md has the measurement).
function(smile_add_executable name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE smile::smile smile_factories ${arg_LIBS})
  smile_set_warnings(${name})
  if(TARGET smile_precompiled)
    target_precompile_headers(${name} REUSE_FROM smile_precompiled)
  endif()
endfunction()
