# Debian packages (make deb): CPack's DEB generator over this build tree, see deploy/README.md,
# "Installing from the Debian package". Three packages from the install rules' components:
#   logship               (component logship: every rule without a COMPONENT, i.e. the programs and
#                          the man pages, plus the system files below)
#   liblogship-client0.1  (component client_runtime: the shared library, named after its SONAME)
#   liblogship-client-dev (component client_dev: headers, .so link, CMake package, pkg-config file)
# The system files (units, /etc, logrotate, the Debian doc files) are EXCLUDE_FROM_ALL: a plain
# `cmake --install` leaves them out, the package's component install takes them.
set(LOGSHIP_DEB_MAINTAINER "Logship maintainers <maintainers@logship.example>" CACHE STRING
  "Maintainer field of the Debian packages")
set(logship_runtime_package liblogship-client${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})  # the SONAME
set(logship_pkg_dir ${CMAKE_BINARY_DIR}/packaging)
set(logship_deb_src ${PROJECT_SOURCE_DIR}/deploy/debian)

# The units, with the programs where the package puts them (deploy/systemd/ says /usr/local/bin,
# where `cmake --install` does).
foreach(unit logship-aggregator.service logship-aggregator@.service logship-producer@.service)
  set(src ${PROJECT_SOURCE_DIR}/deploy/systemd/${unit})
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
  file(READ ${src} text)
  string(REPLACE "/usr/local/bin/" "/usr/bin/" text "${text}")
  file(WRITE ${logship_pkg_dir}/units/${unit} "${text}")
endforeach()
install(DIRECTORY ${logship_pkg_dir}/units/ DESTINATION /lib/systemd/system COMPONENT logship EXCLUDE_FROM_ALL)

# /etc/logship/logship.toml: every setting of every program, commented out at its default, from the
# programs themselves (deploy/debian/logship-toml.sh).
add_custom_command(OUTPUT ${logship_pkg_dir}/logship.toml
  COMMAND sh ${logship_deb_src}/logship-toml.sh ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}
    ${logship_deb_src}/logship.toml.head ${logship_pkg_dir}/logship.toml
  DEPENDS log_producer log_aggregator logctl ${logship_deb_src}/logship-toml.sh ${logship_deb_src}/logship.toml.head
  COMMENT "Generating the packaged /etc/logship/logship.toml")
add_custom_target(logship_conffile ALL DEPENDS ${logship_pkg_dir}/logship.toml)
install(FILES ${logship_pkg_dir}/logship.toml DESTINATION /etc/logship COMPONENT logship EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/logrotate/logship DESTINATION /etc/logrotate.d
  COMPONENT logship EXCLUDE_FROM_ALL)
install(FILES ${logship_deb_src}/lintian-overrides DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
  RENAME logship COMPONENT logship EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/logship.env.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT logship EXCLUDE_FROM_ALL)

# /usr/share/doc/PACKAGE/{copyright,changelog.gz} of each package (Debian policy 12.5, 12.7).
set(LOGSHIP_MAINTAINER "${LOGSHIP_DEB_MAINTAINER}")
configure_file(${logship_deb_src}/changelog.in ${logship_pkg_dir}/changelog @ONLY)
execute_process(COMMAND gzip -9 -n -c ${logship_pkg_dir}/changelog OUTPUT_FILE ${logship_pkg_dir}/changelog.gz
  COMMAND_ERROR_IS_FATAL ANY)
foreach(pair logship:logship client_runtime:${logship_runtime_package} client_dev:liblogship-client-dev)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  install(FILES ${logship_deb_src}/copyright ${logship_pkg_dir}/changelog.gz
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${package} COMPONENT ${component} EXCLUDE_FROM_ALL)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME logship)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${LOGSHIP_DEB_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL logship client_runtime client_dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends from the binaries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
# Man pages installed uncompressed by the build are gzipped in the staging tree (policy 12.1).
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/deb-compress-man.cmake)

set(CPACK_DEBIAN_LOGSHIP_PACKAGE_NAME logship)
set(CPACK_DEBIAN_LOGSHIP_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_LOGSHIP_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_LOGSHIP_PACKAGE_RECOMMENDS "logrotate, zstd")
set(CPACK_DEBIAN_LOGSHIP_PACKAGE_CONTROL_EXTRA
  ${logship_deb_src}/conffiles ${logship_deb_src}/postinst ${logship_deb_src}/prerm ${logship_deb_src}/postrm)
# (Description lines: at most 79 columns, lintian's extended-description-line-too-long.)
set(CPACK_COMPONENT_LOGSHIP_DESCRIPTION "distributed log shipper over RabbitMQ or Redis
log_producer ships log lines (arguments, stdin, followed files, syslog) to a
RabbitMQ queue or a Redis list, spooling them on disk until the broker
confirmed them; log_aggregator consumes the queue and appends every record to
files (routing, rotation, duplicate suppression); logctl shows the queue's
status, tails it, searches the output files and recovers dead-lettered records.
This package also holds the systemd units (aggregator, producer agent
template) running as the logship system user, /etc/logship/logship.toml and a
logrotate snippet.")

set(CPACK_DEBIAN_CLIENT_RUNTIME_PACKAGE_NAME ${logship_runtime_package})
set(CPACK_DEBIAN_CLIENT_RUNTIME_PACKAGE_SECTION libs)
# shlibs (what dpkg-shlibdeps puts in a dependent package's Depends) and the ldconfig trigger
# (policy 8.1.1), written here rather than by CPack's GENERATE_SHLIBS, which gives no trigger. CPack
# still adds a postinst and a postrm that run ldconfig (lintian's maintscript-calls-ldconfig, a
# warning: redundant with the trigger, harmless; deploy/README.md).
set(CPACK_DEBIAN_CLIENT_RUNTIME_PACKAGE_CONTROL_EXTRA ${logship_pkg_dir}/runtime/shlibs ${logship_pkg_dir}/runtime/triggers)
file(WRITE ${logship_pkg_dir}/runtime/shlibs
  "liblogship-client ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR} ${logship_runtime_package} (>= ${PROJECT_VERSION})\n")
file(WRITE ${logship_pkg_dir}/runtime/triggers "activate-noawait ldconfig\n")
set(CPACK_COMPONENT_CLIENT_RUNTIME_DESCRIPTION "Logship client library (shared library)
liblogship-client ships log records from a C++ program to a RabbitMQ queue or
a Redis list, in the format the Logship aggregator reads, with batching,
confirms and reconnection done in the background. This package holds the
shared library.")

set(CPACK_DEBIAN_CLIENT_DEV_PACKAGE_NAME liblogship-client-dev)
set(CPACK_DEBIAN_CLIENT_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_CLIENT_DEV_DEPENDS client_runtime)  # Depends: liblogship-client0.1 (= VERSION)
set(CPACK_DEBIAN_CLIENT_DEV_PACKAGE_SUGGESTS "libspdlog-dev")  # only for <logship/spdlog_sink.hpp>
set(CPACK_COMPONENT_CLIENT_DEV_DESCRIPTION "Logship client library (development files)
liblogship-client ships log records from a C++ program to a RabbitMQ queue or
a Redis list, in the format the Logship aggregator reads. This package holds
the C++20 headers, the CMake package (find_package(logship)) and the
pkg-config file (logship-client).")

include(CPack)
