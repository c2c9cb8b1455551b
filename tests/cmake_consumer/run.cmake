# cmake -DBUILD_DIR=<nextbatch build> -DSOURCE_DIR=<nextbatch source> -P run.cmake
# Installs the built nextbatch into BUILD_DIR/cmake_consumer/install, then configures, builds and
# runs tests/cmake_consumer against that install only.
foreach(var BUILD_DIR SOURCE_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: expected -D${var}=..., got nothing")
  endif()
endforeach()
set(work ${BUILD_DIR}/cmake_consumer)
set(prefix ${work}/install)
file(REMOVE_RECURSE ${work})

function(step name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "cmake_consumer: ${name} failed (${rc})")
  endif()
endfunction()

step(install ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# No package registry and no other prefix: the consumer can only find the install.
step(configure ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/cmake_consumer -B ${work}/build
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS ${work}/build/CMakeCache.txt found REGEX "^nextbatch_DIR:")
if(NOT found MATCHES "${prefix}/")
  message(FATAL_ERROR "cmake_consumer: expected nextbatch from ${prefix}, got ${found}")
endif()
step(build ${CMAKE_COMMAND} --build ${work}/build)
step(run ${work}/build/consumer)
