// The app of tests/packaging/subdirectory: only needs to name the SDK's API.
#include <tern/client.h>

int main() { return tern::Client::create(tern::Config{}).is_ok() ? 1 : 0; }
