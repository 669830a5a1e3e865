# Finds every external dependency and fails at configure time with the name
# of the Debian package to install (scripts/install-deps installs them all).
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config (or run scripts/install-deps)")
endif()

macro(cml_require_pkg var module debpkg)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: apt-get install ${debpkg} (or run scripts/install-deps)")
  endif()
endmacro()

cml_require_pkg(FFTW3 fftw3 libfftw3-dev)
cml_require_pkg(SODIUM libsodium libsodium-dev)
cml_require_pkg(YAML yaml-0.1 libyaml-dev)

# CUnit ships no reliable pkg-config file on Debian; look for it directly.
find_path(CUNIT_INCLUDE_DIR CUnit/CUnit.h)
find_library(CUNIT_LIBRARY cunit)
if(NOT CUNIT_INCLUDE_DIR OR NOT CUNIT_LIBRARY)
  message(FATAL_ERROR "CUnit not found: apt-get install libcunit1-dev (or run scripts/install-deps)")
endif()
add_library(CUnit::CUnit UNKNOWN IMPORTED)
set_target_properties(CUnit::CUnit PROPERTIES IMPORTED_LOCATION ${CUNIT_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${CUNIT_INCLUDE_DIR})

find_package(FLEX)
find_package(BISON 3.0)
if(NOT FLEX_FOUND)
  message(FATAL_ERROR "flex not found: apt-get install flex (or run scripts/install-deps)")
endif()
if(NOT BISON_FOUND)
  message(FATAL_ERROR "bison >= 3.0 not found: apt-get install bison (or run scripts/install-deps)")
endif()

# LLVM 14 or newer, located through llvm-config (Debian's llvm-dev provides it).
find_program(LLVM_CONFIG NAMES llvm-config llvm-config-19 llvm-config-18
             llvm-config-17 llvm-config-16 llvm-config-15 llvm-config-14)
if(NOT LLVM_CONFIG)
  message(FATAL_ERROR "llvm-config not found: apt-get install llvm-dev (or run scripts/install-deps)")
endif()
execute_process(COMMAND ${LLVM_CONFIG} --version OUTPUT_VARIABLE LLVM_VERSION
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(LLVM_VERSION VERSION_LESS 14)
  message(FATAL_ERROR "LLVM ${LLVM_VERSION} is too old (need 14+): apt-get install llvm-dev")
endif()
execute_process(COMMAND ${LLVM_CONFIG} --bindir OUTPUT_VARIABLE LLVM_BINDIR
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --includedir OUTPUT_VARIABLE LLVM_INCLUDE_DIR
                OUTPUT_STRIP_TRAILING_WHITESPACE)
execute_process(COMMAND ${LLVM_CONFIG} --ldflags --libs core target native passes
                OUTPUT_VARIABLE LLVM_LINK_FLAGS OUTPUT_STRIP_TRAILING_WHITESPACE)
string(REPLACE "\n" " " LLVM_LINK_FLAGS "${LLVM_LINK_FLAGS}")
message(STATUS "LLVM ${LLVM_VERSION} (${LLVM_CONFIG})")

find_program(FILECHECK NAMES FileCheck PATHS ${LLVM_BINDIR} NO_DEFAULT_PATH)
find_program(FILECHECK NAMES FileCheck FileCheck-19 FileCheck-18 FileCheck-17
             FileCheck-16 FileCheck-15 FileCheck-14)
if(NOT FILECHECK)
  message(FATAL_ERROR "FileCheck not found: apt-get install llvm-dev (it depends on llvm-N-tools)")
endif()

find_package(Threads REQUIRED)
find_library(MATH_LIBRARY m)
