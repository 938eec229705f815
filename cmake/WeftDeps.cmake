# Third-party dependencies: Debian's packages on developer and CI machines
# (scripts/setup.sh installs them). Machines that cannot install packages (the
# lent GPU machines) pass -DWEFT_DEPS_DIR=<folder> made by
# scripts/device/pack-deps.sh: the same header-only libraries and GoogleTest
# sources, copied from this machine's packages.
set(WEFT_DEPS_DIR "" CACHE PATH "Vendored dependency folder (include/, googletest/) for machines without the packages")

find_package(CLI11 CONFIG QUIET)
find_package(nlohmann_json CONFIG QUIET)
if(NOT TARGET CLI11::CLI11 OR NOT TARGET nlohmann_json::nlohmann_json)
  if(NOT WEFT_DEPS_DIR)
    message(FATAL_ERROR "CLI11 / nlohmann-json not found: run scripts/setup.sh or pass -DWEFT_DEPS_DIR")
  endif()
  if(NOT TARGET CLI11::CLI11)
    add_library(CLI11::CLI11 INTERFACE IMPORTED)
    target_include_directories(CLI11::CLI11 INTERFACE ${WEFT_DEPS_DIR}/include)
  endif()
  if(NOT TARGET nlohmann_json::nlohmann_json)
    add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
    target_include_directories(nlohmann_json::nlohmann_json INTERFACE ${WEFT_DEPS_DIR}/include)
  endif()
endif()

macro(weft_find_gtest)
  find_package(GTest QUIET)
  if(NOT GTest_FOUND)
    if(NOT EXISTS ${WEFT_DEPS_DIR}/googletest/CMakeLists.txt)
      message(FATAL_ERROR "GoogleTest not found: run scripts/setup.sh or pass -DWEFT_DEPS_DIR")
    endif()
    set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
    add_subdirectory(${WEFT_DEPS_DIR}/googletest ${CMAKE_BINARY_DIR}/_deps/googletest EXCLUDE_FROM_ALL)
    if(NOT TARGET GTest::gtest)  # googletest >= 1.11 defines these itself
      add_library(GTest::gtest ALIAS gtest)
      add_library(GTest::gtest_main ALIAS gtest_main)
    endif()
  endif()
endmacro()
