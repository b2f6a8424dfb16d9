# The web console's files (web/), built with npm + esbuild and embedded in logctl: the static library
# logship_console_assets implements src/console/assets.hpp over ${CMAKE_BINARY_DIR}/console-dist/.
#   1. `npm ci` from web/package-lock.json into ${CMAKE_BINARY_DIR}/console-web/node_modules, only
#      when package.json or the lock changed (a stamp file);
#   2. web/build.mjs bundles web/src/ into console-dist/ (index.html, assets/...);
#   3. web/embed.mjs writes console_assets.cpp: every file as a byte array, its content type and etag.
# Node.js and npm come from Debian (scripts/install-deps.sh); nothing is fetched at run time.
find_program(LOGSHIP_NODE node REQUIRED)
find_program(LOGSHIP_NPM npm REQUIRED)

set(console_web ${PROJECT_SOURCE_DIR}/web)
set(console_modules_dir ${CMAKE_BINARY_DIR}/console-web)
set(console_dist ${CMAKE_BINARY_DIR}/console-dist)
set(console_cpp ${CMAKE_BINARY_DIR}/console_assets.cpp)

add_custom_command(OUTPUT ${console_modules_dir}/npm-ci.stamp
  COMMAND ${CMAKE_COMMAND} -E make_directory ${console_modules_dir}
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${console_web}/package.json ${console_web}/package-lock.json
    ${console_modules_dir}
  COMMAND ${LOGSHIP_NPM} ci --no-audit --no-fund --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${console_modules_dir}/npm-ci.stamp
  DEPENDS ${console_web}/package.json ${console_web}/package-lock.json
  WORKING_DIRECTORY ${console_modules_dir}
  COMMENT "npm ci (web/package-lock.json)"
  VERBATIM)

file(GLOB_RECURSE console_sources CONFIGURE_DEPENDS ${console_web}/src/*)
add_custom_command(OUTPUT ${console_cpp}
  COMMAND ${LOGSHIP_NODE} ${console_web}/build.mjs ${console_dist} ${console_modules_dir}/node_modules
  COMMAND ${LOGSHIP_NODE} ${console_web}/embed.mjs ${console_dist} ${console_cpp}
  DEPENDS ${console_modules_dir}/npm-ci.stamp ${console_sources} ${console_web}/index.html
    ${console_web}/build.mjs ${console_web}/embed.mjs
  COMMENT "Building the web console (web/) and embedding it"
  VERBATIM)
add_custom_target(console_assets DEPENDS ${console_cpp})

add_library(logship_console_assets STATIC ${console_cpp})
add_library(logship::console_assets ALIAS logship_console_assets)
add_dependencies(logship_console_assets console_assets)
target_include_directories(logship_console_assets PUBLIC ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(logship_console_assets PRIVATE logship_warnings)
