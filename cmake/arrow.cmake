# Imports Apache Arrow C++ (Arrow, compute, Parquet, dataset, S3) from the pinned pyarrow wheel in
# the project's virtualenv (see ../shared/reference/toolchain.md): the wheel ships headers and
# versioned shared libraries but no CMake config, so the targets are declared here.
set(OTLAKE_VENV "${CMAKE_SOURCE_DIR}/.venv" CACHE PATH "Project virtualenv holding pyarrow")
set(Python3_EXECUTABLE "${OTLAKE_VENV}/bin/python")
if(NOT EXISTS "${Python3_EXECUTABLE}")
  message(FATAL_ERROR "No virtualenv at ${OTLAKE_VENV}: run tools/install-deps.sh (make does)")
endif()
execute_process(COMMAND "${Python3_EXECUTABLE}" -c
  "import pyarrow as pa; print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.cpp_build_info.so_version)"
  OUTPUT_VARIABLE _pa OUTPUT_STRIP_TRAILING_WHITESPACE COMMAND_ERROR_IS_FATAL ANY)
string(REPLACE "\n" ";" _pa "${_pa}")
list(GET _pa 0 PA_INC)
list(GET _pa 1 PA_LIB)
list(GET _pa 2 PA_SO)
set(OTLAKE_ARROW_LIBDIR "${PA_LIB}" CACHE INTERNAL "")

function(otlake_pa_lib tgt name)
  add_library(${tgt} SHARED IMPORTED GLOBAL)
  set_target_properties(${tgt} PROPERTIES
    IMPORTED_LOCATION "${PA_LIB}/lib${name}.so.${PA_SO}"
    IMPORTED_SONAME "lib${name}.so.${PA_SO}"
    INTERFACE_INCLUDE_DIRECTORIES "${PA_INC}"  # imported: treated as SYSTEM
    INTERFACE_LINK_LIBRARIES "${ARGN}")
endfunction()
otlake_pa_lib(Arrow::arrow arrow)
otlake_pa_lib(Arrow::compute arrow_compute Arrow::arrow)
otlake_pa_lib(Arrow::s3 arrow_s3 Arrow::arrow)
otlake_pa_lib(Arrow::acero arrow_acero Arrow::compute)
otlake_pa_lib(Parquet::parquet parquet Arrow::arrow)
otlake_pa_lib(Arrow::dataset arrow_dataset Parquet::parquet Arrow::acero)

# The binary finds the wheel's libraries through its RUNPATH.
set(CMAKE_BUILD_RPATH "${PA_LIB}")
set(CMAKE_INSTALL_RPATH "${PA_LIB}")
