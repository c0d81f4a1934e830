// ternctl's parsed command line (Args) and the commands run() dispatches
// to, one function each; every command returns ternctl's exit status (kOk,
// kError) after printing its result on stdout or its error on stderr.
#pragma once

#include <string>
#include <vector>

#include "client.h"

namespace tern::ternctl {

struct Args {
  std::string server;
  std::string token_file;
  std::string output = "table";
  std::string file;
  std::string ca_file;
  int page_size = 500;
  bool discard = false;
  bool force = false;
  std::vector<std::string> positional;
  // tap
  std::string sources, types, events, sample, limit;
  bool rejected = false;
};

// get sources|sinks|routes|relays|revisions: every page, as a table or JSON.
int cmd_get(const Client& client, const Args& args);
// create source ID: prints its write key.
int cmd_create(const Client& client, const Args& args);
// delete source|sink|route ID [--discard] [--force].
int cmd_delete(const Client& client, const Args& args);
// restore REV: commits revision REV's state as a new revision.
int cmd_restore(const Client& client, const Args& args);
// plan (apply false: a dry run, prints the diff) or apply -f pipeline.toml.
int cmd_plan_apply(const Client& client, const Args& args, bool apply);
// tap: the live events, one JSON line each, until the end or Ctrl-C.
int cmd_tap(const Client& client, const Args& args);

}  // namespace tern::ternctl
