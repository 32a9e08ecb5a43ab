# Run by `cmake --install` (see MyceliaInstall.cmake): write the files that
# carry absolute install paths, for the prefix of this install, and install
# them. DESTDIR is honoured by file(INSTALL) and kept out of the contents.
#
# In: MYC_SOURCE_DIR, MYC_STAGE_DIR, MYC_VERSION and the relative (or
# absolute) MYC_INCLUDEDIR, MYC_LIBDIR, MYC_SYSCONFDIR, MYC_PLUGINDIR.

# Absolute form of an install dir: as is if absolute, else under the prefix.
function(myc_abs out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()

myc_abs(PREFIX "")
string(REGEX REPLACE "/$" "" PREFIX "${PREFIX}")
myc_abs(INCLUDEDIR "${MYC_INCLUDEDIR}")
myc_abs(LIBDIR "${MYC_LIBDIR}")
myc_abs(SYSCONFDIR "${MYC_SYSCONFDIR}")
myc_abs(PLUGINDIR "${MYC_PLUGINDIR}")
set(VERSION "${MYC_VERSION}")

# etc/mycelia/mycelia.ini: config/mycelia.ini with plugin_dir pointing at
# the installed plugins.
file(READ "${MYC_SOURCE_DIR}/config/mycelia.ini" ini)
string(REGEX REPLACE "(^|\n)plugin_dir[ \t]*=[^\n]*"
       "\\1plugin_dir     = ${PLUGINDIR}" ini "${ini}")
set(ini "; Installed by cmake --install from config/mycelia.ini.\n${ini}")
file(MAKE_DIRECTORY "${MYC_STAGE_DIR}")
file(WRITE "${MYC_STAGE_DIR}/mycelia.ini" "${ini}")
file(INSTALL DESTINATION "${SYSCONFDIR}/mycelia" TYPE FILE
     FILES "${MYC_STAGE_DIR}/mycelia.ini")

# lib/pkgconfig/mycelia-plugin.pc and mycelia.pc, with paths under the
# prefix written as ${prefix}/... as pkg-config files usually are.
foreach(v INCLUDEDIR LIBDIR PLUGINDIR)
  if(IS_ABSOLUTE "${MYC_${v}}")
    set(PC_${v} "${MYC_${v}}")
  else()
    set(PC_${v} "\${prefix}/${MYC_${v}}")
  endif()
endforeach()
foreach(pc mycelia-plugin mycelia)
  configure_file("${MYC_SOURCE_DIR}/cmake/${pc}.pc.in"
                 "${MYC_STAGE_DIR}/${pc}.pc" @ONLY)
  file(INSTALL DESTINATION "${LIBDIR}/pkgconfig" TYPE FILE
       FILES "${MYC_STAGE_DIR}/${pc}.pc")
endforeach()
