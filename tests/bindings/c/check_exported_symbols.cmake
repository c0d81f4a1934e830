# Compares the dynamic symbols libtern.so defines with the checked-in list,
# so that an accidental ABI change (a symbol added, removed or leaked from the
# static SDK) fails CI. Run with -DLIB=<libtern.so> -DEXPECTED=<list> -DNM=<nm>.
# To accept an intended change: update bindings/c/exported_symbols.txt.
execute_process(COMMAND ${NM} -D --defined-only ${LIB}
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${LIB}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(actual "")
foreach(line IN LISTS lines)
  # "<address> <type> <name>[@@VERSION]"; the version node itself is type A.
  if(line MATCHES "^[0-9a-fA-F]+ ([A-Za-z]) ([^@ ]+)")
    if(NOT CMAKE_MATCH_1 STREQUAL "A")
      list(APPEND actual "${CMAKE_MATCH_2}")
    endif()
  endif()
endforeach()
list(SORT actual)
list(REMOVE_DUPLICATES actual)

file(STRINGS ${EXPECTED} expected REGEX "^[^#]")
list(SORT expected)

set(missing ${expected})
list(REMOVE_ITEM missing ${actual})
set(extra ${actual})
list(REMOVE_ITEM extra ${expected})
if(missing OR extra)
  string(REPLACE ";" "\n  " missing_text "${missing}")
  string(REPLACE ";" "\n  " extra_text "${extra}")
  message(FATAL_ERROR "libtern.so exports differ from ${EXPECTED}\n"
    "missing:\n  ${missing_text}\nunexpected:\n  ${extra_text}")
endif()
list(LENGTH actual n)
message(STATUS "libtern.so exports exactly the ${n} expected symbols")
