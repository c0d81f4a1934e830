# Included right after project() in the clang fuzz tree only (scripts/fuzz.sh
# passes -DCMAKE_PROJECT_INCLUDE=this file). Line tables instead of full debug
# info, as OSS-Fuzz builds do: sanitizer and crash stacks keep file:line, and
# the cold build (run by every CI job) is faster: the relay's Beast TUs compile
# ~25% faster. add_compile_options comes after the Asan build type's -g on
# the command line, so it wins.
add_compile_options(-gline-tables-only)

# The usual fuzz-build macro: code that draws random numbers from the OS
# (the SDK's UUIDv7 seed) uses a fixed seed instead, so that a run with a
# fixed -seed is reproducible. Never defined outside this tree.
add_compile_definitions(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
