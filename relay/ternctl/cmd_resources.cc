// ternctl's commands on single resources and lists: get (every page of a
// kind, as a table or as the API's JSON), create source, delete, and restore
// of a stored revision.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "client.h"
#include "commands.h"

namespace tern::ternctl {

namespace {

using Json = nlohmann::json;

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out += cells[i];
      if (i + 1 < cells.size()) out += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
}

}  // namespace

int cmd_get(const Client& client, const Args& args) {
  const std::string& kind = args.positional[1];
  Json items = Json::array();
  std::string cursor;
  for (int page = 0; page < 100'000; ++page) {
    std::string target = "/admin/v1/" + kind + "?limit=" + std::to_string(args.page_size);
    if (!cursor.empty()) target += "&cursor=" + escape(cursor);
    Response r = client.request("GET", target);
    if (!ok_status(r)) return fail(client, r);
    auto doc = parse_body(r);
    if (!doc) return kError;
    if (!doc->is_object() || !doc->contains("items") || !(*doc)["items"].is_array()) {
      std::cerr << "ternctl: the server's answer has no items list\n";
      return kError;
    }
    for (Json& item : (*doc)["items"]) items.push_back(std::move(item));
    if (!doc->contains("next_cursor") || !(*doc)["next_cursor"].is_string() ||
        (*doc)["next_cursor"].get<std::string>().empty())
      break;
    cursor = (*doc)["next_cursor"].get<std::string>();
  }
  if (args.output == "json") {
    std::cout << Json{{"items", items}}.dump(2) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows;
  auto rev = [](const Json& item, const char* key) {
    return item.contains(key) ? text_of(item[key]) : std::string("-");
  };
  if (kind == "sources") {
    for (const Json& s : items) {
      std::size_t keys =
          s.contains("write_keys") && s["write_keys"].is_array() ? s["write_keys"].size() : 0;
      rows.push_back({rev(s, "id"), rev(s, "ack_mode"), std::to_string(keys), rev(s, "revision")});
    }
    print_table({"ID", "ACK MODE", "WRITE KEYS", "REVISION"}, rows);
  } else if (kind == "sinks") {
    for (const Json& s : items)
      rows.push_back({rev(s, "name"), rev(s, "type"), rev(s, "revision")});
    print_table({"NAME", "TYPE", "REVISION"}, rows);
  } else if (kind == "routes") {
    for (const Json& s : items) {
      rows.push_back(
          {rev(s, "id"), rev(s, "sources"), rev(s, "types"), rev(s, "sinks"), rev(s, "revision")});
    }
    print_table({"ID", "SOURCES", "TYPES", "SINKS", "REVISION"}, rows);
  } else if (kind == "relays") {
    for (const Json& s : items) {
      std::string errors = "-";
      if (s.contains("errors") && s["errors"].is_array() && !s["errors"].empty()) {
        errors.clear();
        for (const Json& e : s["errors"]) {
          if (!errors.empty()) errors += "; ";
          errors += e.is_string() ? e.get<std::string>() : e.dump();
        }
      }
      rows.push_back({rev(s, "relay_id"), rev(s, "applied_revision"), rev(s, "status"),
                      rev(s, "last_seen"), rev(s, "version"), rev(s, "labels"), errors});
    }
    print_table({"RELAY ID", "REVISION", "STATUS", "LAST SEEN", "VERSION", "LABELS", "ERRORS"},
                rows);
  } else {
    for (const Json& s : items) {
      rows.push_back(
          {rev(s, "revision"), rev(s, "created_at"), rev(s, "token_id"), rev(s, "summary")});
    }
    print_table({"REVISION", "CREATED AT", "BY", "SUMMARY"}, rows);
  }
  return kOk;
}

int cmd_create(const Client& client, const Args& args) {
  Json body = {{"id", args.positional[2]}};
  Response r = client.request("POST", "/admin/v1/sources", body.dump());
  if (!ok_status(r)) return fail(client, r);
  auto doc = parse_body(r);
  if (!doc) return kError;
  if (args.output == "json") {
    std::cout << doc->dump(2) << "\n";
    return kOk;
  }
  const Json* keys = doc->contains("write_keys") ? &(*doc)["write_keys"] : nullptr;
  if (!keys || !keys->is_array() || keys->empty() || !(*keys)[0].contains("key")) {
    std::cerr << "ternctl: the created source has no write key in the answer\n";
    return kError;
  }
  std::cout << (*keys)[0]["key"].get<std::string>() << "\n";
  return kOk;
}

int cmd_delete(const Client& client, const Args& args) {
  const std::string& kind = args.positional[1];
  std::string target = "/admin/v1/" + kind + "s/" + escape(args.positional[2]);
  std::string query;
  if (args.discard) query += "discard=true";
  if (args.force) query += std::string(query.empty() ? "" : "&") + "force=true";
  if (!query.empty()) target += "?" + query;
  Response r = client.request("DELETE", target);
  if (!ok_status(r)) return fail(client, r);
  std::cout << kind << " \"" << args.positional[2] << "\" deleted\n";
  return kOk;
}

int cmd_restore(const Client& client, const Args& args) {
  const std::string& rev = args.positional[1];
  Response r = client.request("POST", "/admin/v1/revisions/" + rev + ":restore");
  if (!ok_status(r)) return fail(client, r);
  auto doc = parse_body(r);
  if (!doc) return kError;
  long long applied = etag_revision(r.etag);
  if (doc->contains("revision") && (*doc)["revision"].is_number())
    applied = (*doc)["revision"].get<long long>();
  std::cout << "restored revision " << rev << " as revision " << applied << "\n";
  return kOk;
}

}  // namespace tern::ternctl
