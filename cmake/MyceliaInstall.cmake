# Install rules: `cmake --install BUILD --prefix P` lays out the SDK.
#
#   P/bin/mycelia                          the host binary
#   P/include/mycelia/{plugin,mycelia}.h   the plugin ABI, the embedding API
#   P/lib/libmycelia.so                    the kernel for embedders
#   P/lib/mycelia/plugins/myc_*.so         the shipped plugins
#   P/etc/mycelia/mycelia.ini              default config, absolute plugin_dir
#   P/lib/pkgconfig/mycelia-plugin.pc      header only: plugins link nothing
#   P/lib/pkgconfig/mycelia.pc             -lmycelia for embedders
#   P/lib/cmake/Mycelia/                   find_package(Mycelia): targets
#                                          Mycelia::plugin, Mycelia::mycelia,
#                                          MYCELIA_PLUGIN_DIR and
#                                          mycelia_add_plugin()
#   P/share/mycelia/template/              the plugin project to copy
#   P/share/mycelia/examples/embed.c       the embedding example
#   P/share/doc/mycelia/*.md               plugins, config, embedding docs
#
# The files that name absolute paths (the config and the .pc files) are
# written at install time, so the prefix given to `cmake --install` wins
# over the one given at configure time. (lib is CMAKE_INSTALL_LIBDIR.)
include(CMakePackageConfigHelpers)

install(TARGETS mycelia RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES
  ${PROJECT_SOURCE_DIR}/kernel/include/mycelia/plugin.h
  ${PROJECT_SOURCE_DIR}/kernel/include/mycelia/mycelia.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mycelia)
install(TARGETS mycelia_shared mycelia_plugin_api EXPORT MyceliaTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The CMake package.
install(EXPORT MyceliaTargets NAMESPACE Mycelia::
  DESTINATION ${MYCELIA_INSTALL_CMAKEDIR})
set(MYCELIA_INSTALL_CONFIGFILE ${CMAKE_INSTALL_SYSCONFDIR}/mycelia/mycelia.ini)
file(STRINGS ${PROJECT_SOURCE_DIR}/kernel/include/mycelia/plugin.h abi_line
     REGEX "^#define MYC_ABI_MAJOR [0-9]+")
string(REGEX REPLACE ".* ([0-9]+)$" "\\1" MYCELIA_ABI_MAJOR "${abi_line}")
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/MyceliaConfig.cmake.in
  ${PROJECT_BINARY_DIR}/MyceliaConfig.cmake
  INSTALL_DESTINATION ${MYCELIA_INSTALL_CMAKEDIR}
  PATH_VARS MYCELIA_INSTALL_PLUGINDIR CMAKE_INSTALL_INCLUDEDIR MYCELIA_INSTALL_CONFIGFILE)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/MyceliaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/MyceliaConfig.cmake
  ${PROJECT_BINARY_DIR}/MyceliaConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/MyceliaPlugin.cmake
  DESTINATION ${MYCELIA_INSTALL_CMAKEDIR})

# What a plugin author needs besides the SDK: the template, the example,
# the docs.
install(FILES
  ${PROJECT_SOURCE_DIR}/template/CMakeLists.txt
  ${PROJECT_SOURCE_DIR}/template/README.md
  ${PROJECT_SOURCE_DIR}/template/hello.c
  ${PROJECT_SOURCE_DIR}/template/test_hello.c
  DESTINATION ${CMAKE_INSTALL_DATADIR}/mycelia/template)
install(FILES ${PROJECT_SOURCE_DIR}/examples/embed.c
  DESTINATION ${CMAKE_INSTALL_DATADIR}/mycelia/examples)
install(FILES
  ${PROJECT_SOURCE_DIR}/docs/plugins.md
  ${PROJECT_SOURCE_DIR}/docs/config.md
  ${PROJECT_SOURCE_DIR}/docs/embedding.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/mycelia)

# The default config and the pkg-config files, with install-time paths.
install(CODE "
  set(MYC_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(MYC_STAGE_DIR \"${PROJECT_BINARY_DIR}/install-files\")
  set(MYC_VERSION \"${PROJECT_VERSION}\")
  set(MYC_INCLUDEDIR \"${CMAKE_INSTALL_INCLUDEDIR}\")
  set(MYC_LIBDIR \"${CMAKE_INSTALL_LIBDIR}\")
  set(MYC_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(MYC_PLUGINDIR \"${MYCELIA_INSTALL_PLUGINDIR}\")
  include(\"${PROJECT_SOURCE_DIR}/cmake/MyceliaInstallFiles.cmake\")
")
