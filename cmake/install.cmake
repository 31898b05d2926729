# SPDX-License-Identifier: MIT
# Installation: headers, the shared library (versioned SONAME) and the
# static one, the cfutures program and the event-loop adapters where they
# are built, a pkg-config file per library, and a relocatable CMake package
# (find_package(cfutures) -> cfutures::cfutures). Also the tests that check
# all of that from the outside. Included at the end of the root
# CMakeLists.txt, once every target exists.
include(CMakePackageConfigHelpers)

set(CF_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cfutures CACHE STRING
    "Where the CMake package files are installed, relative to the prefix")

# The header's version macros are what consumers see at compile time; they
# must agree with the project version the library is installed as.
file(STRINGS ${PROJECT_SOURCE_DIR}/include/cfutures.h CF_VERSION_LINES
     REGEX "^#define CF_VERSION_(MAJOR|MINOR|PATCH) ")
set(CF_HEADER_VERSION)
foreach(part MAJOR MINOR PATCH)
  string(REGEX MATCH "CF_VERSION_${part} ([0-9]+)" _ "${CF_VERSION_LINES}")
  list(APPEND CF_HEADER_VERSION ${CMAKE_MATCH_1})
endforeach()
string(REPLACE ";" "." CF_HEADER_VERSION "${CF_HEADER_VERSION}")
if(NOT CF_HEADER_VERSION STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/cfutures.h says version ${CF_HEADER_VERSION}, "
                      "CMakeLists.txt says ${PROJECT_VERSION}: keep them equal")
endif()

# The adapters (cfutures_uv, cfutures_event and their _static twins) are
# installed and exported where they were built; the package config then
# looks up their loop library again on the consumer's side.
set(CF_INSTALL_TARGETS cfutures cfutures_static)
set(CF_EXPORTED_ADAPTERS)
foreach(adapter uv event)
  if(TARGET cfutures_${adapter})
    list(APPEND CF_INSTALL_TARGETS cfutures_${adapter})
    list(APPEND CF_EXPORTED_ADAPTERS ${adapter})
    if(TARGET cfutures_${adapter}_static)
      list(APPEND CF_INSTALL_TARGETS cfutures_${adapter}_static)
    endif()
  endif()
endforeach()

# The MPI pool likewise, where MPI was found.
set(CF_EXPORTED_MPI OFF)
if(TARGET cfutures_mpi)
  list(APPEND CF_INSTALL_TARGETS cfutures_mpi cfutures_mpi_static)
  set(CF_EXPORTED_MPI ON)
endif()

install(TARGETS ${CF_INSTALL_TARGETS} EXPORT cfuturesTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# executor/CMakeLists.txt installs the cfutures program.
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

# CMake package: relocatable, so `cmake --install --prefix` anywhere works.
install(EXPORT cfuturesTargets NAMESPACE cfutures::
        FILE cfuturesTargets.cmake DESTINATION ${CF_INSTALL_CMAKEDIR})
configure_package_config_file(cmake/cfuturesConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cfuturesConfig.cmake
  INSTALL_DESTINATION ${CF_INSTALL_CMAKEDIR})
# 0.x releases may break the API between minor versions.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cfuturesConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cfuturesConfig.cmake
              ${PROJECT_BINARY_DIR}/cfuturesConfigVersion.cmake
        DESTINATION ${CF_INSTALL_CMAKEDIR})

# pkg-config: the prefix is found from the .pc file's own place, so the
# files stay right wherever the tree is installed (cmake --install
# --prefix). A system install into /usr, as distributions package it,
# gets plain absolute paths.
set(CF_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${CF_PC_DIR}" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(CF_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH CF_PC_UP "/${CF_PC_DIR}" "/")
  string(REGEX REPLACE "/$" "" CF_PC_UP "${CF_PC_UP}")
  set(CF_PC_PREFIX "\${pcfiledir}/${CF_PC_UP}")
endif()
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(CF_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(CF_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(cfutures.pc.in ${PROJECT_BINARY_DIR}/cfutures.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cfutures.pc DESTINATION ${CF_PC_DIR})
set(CF_PC_REQUIRES_uv libuv)
set(CF_PC_REQUIRES_event libevent)
foreach(adapter uv event)
  if(TARGET cfutures_${adapter})
    set(CF_PC_ADAPTER ${adapter})
    set(CF_PC_ADAPTER_REQUIRES ${CF_PC_REQUIRES_${adapter}})
    configure_file(cmake/cfutures-adapter.pc.in
                   ${PROJECT_BINARY_DIR}/cfutures-${adapter}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/cfutures-${adapter}.pc
            DESTINATION ${CF_PC_DIR})
  endif()
endforeach()

if(TARGET cfutures_mpi)
  # Open MPI's own pkg-config module, where it has one (else: build with
  # mpicc, which adds MPI's flags itself).
  set(CF_PC_MPI_REQUIRES "")
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CF_OMPI QUIET ompi-c)
    if(CF_OMPI_FOUND)
      set(CF_PC_MPI_REQUIRES ", ompi-c")
    endif()
  endif()
  configure_file(cmake/cfutures-mpi.pc.in ${PROJECT_BINARY_DIR}/cfutures-mpi.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/cfutures-mpi.pc DESTINATION ${CF_PC_DIR})
endif()

# API reference: `make docs` (HTML in <build>/docs/html, XML beside it).
# Any undocumented public entity or doc error fails Doxygen; then
# docs/check_reference.py compares the declarations it parses from the
# headers with the documented members of the XML (and fails, naming them,
# when they differ), and its self-test shows that removing one comment
# makes it fail.
find_package(Doxygen QUIET)
find_package(Python3 QUIET COMPONENTS Interpreter)
if(DOXYGEN_FOUND)
  configure_file(Doxyfile.in ${PROJECT_BINARY_DIR}/Doxyfile @ONLY)
  if(Python3_Interpreter_FOUND)
    set(CF_REFERENCE_CHECK
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/check_reference.py
        ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/docs/xml
      COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/docs/check_reference.py
        --self-test ${PROJECT_SOURCE_DIR}/include
        ${PROJECT_BINARY_DIR}/Doxyfile)
  else()
    # No silent pass: a reference that was not checked is an error.
    set(CF_REFERENCE_CHECK
      COMMAND ${CMAKE_COMMAND} -E echo
        "docs: python3 is needed to check the reference"
      COMMAND ${CMAKE_COMMAND} -E false)
  endif()
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E rm -rf ${PROJECT_BINARY_DIR}/docs/xml
    COMMAND ${DOXYGEN_EXECUTABLE} ${PROJECT_BINARY_DIR}/Doxyfile
    ${CF_REFERENCE_CHECK}
    WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
    COMMENT "API reference into ${PROJECT_BINARY_DIR}/docs/html"
    VERBATIM)
endif()

if(CF_BUILD_TESTS)
  add_subdirectory(tests/install)
endif()
