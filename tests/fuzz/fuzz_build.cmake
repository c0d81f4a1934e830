# Included right after project() in the clang fuzz tree only (scripts/fuzz.sh
# passes -DCMAKE_PROJECT_INCLUDE=this file). Line tables instead of full debug
# info, as OSS-Fuzz builds do: sanitizer and crash stacks keep file:line, and
# the cold build (run by every CI job) is faster: the relay's Beast TUs compile
# ~25% faster. add_compile_options comes after the Asan build type's -g on
# the command line, so it wins.
add_compile_options(-gline-tables-only)
