# CPACK_PRE_BUILD_SCRIPTS of the Debian packages: gzip -9n every man page in the staging tree
# (Debian policy 12.1; lintian's uncompressed-manual-page).
file(GLOB_RECURSE files LIST_DIRECTORIES false "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*")
foreach(file IN LISTS files)
  if(file MATCHES "/share/man/man[1-9]/[^/]+$" AND NOT file MATCHES "\\.gz$")
    execute_process(COMMAND gzip -9 -n -f "${file}" COMMAND_ERROR_IS_FATAL ANY)
  endif()
endforeach()
