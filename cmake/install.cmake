# Installs every nextbatch module as a CMake package, so that another project can write
#   find_package(nextbatch 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE nextbatch::pipeline)   # or ::engine, ::scenarios, ...
# Headers go to <prefix>/include/nextbatch/<module>/, so that `#include "engine/model.h"` reads the
# same inside and outside this tree without claiming top-level include folders.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NEXTBATCH_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/nextbatch)
set(NEXTBATCH_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/nextbatch)

set(NEXTBATCH_MODULES engine scenarios calibration planners pipeline)
foreach(module ${NEXTBATCH_MODULES})
  set_target_properties(nextbatch_${module} PROPERTIES EXPORT_NAME ${module})
  install(TARGETS nextbatch_${module} EXPORT nextbatchTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${module}/
    DESTINATION ${NEXTBATCH_INSTALL_INCLUDEDIR}/${module}
    FILES_MATCHING PATTERN "*.h" PATTERN "internal.h" EXCLUDE)
endforeach()
target_include_directories(nextbatch_engine PUBLIC
  $<INSTALL_INTERFACE:${NEXTBATCH_INSTALL_INCLUDEDIR}>)
install(EXPORT nextbatchTargets
  NAMESPACE nextbatch::
  DESTINATION ${NEXTBATCH_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nextbatchConfig.cmake.in
  ${PROJECT_BINARY_DIR}/nextbatchConfig.cmake
  INSTALL_DESTINATION ${NEXTBATCH_INSTALL_CMAKEDIR})
# 0.x: a new minor version may change the API.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nextbatchConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/nextbatchConfig.cmake
  ${PROJECT_BINARY_DIR}/nextbatchConfigVersion.cmake
  DESTINATION ${NEXTBATCH_INSTALL_CMAKEDIR})
