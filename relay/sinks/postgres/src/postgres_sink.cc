#include "tern/relay/sinks/postgres.h"

#include <libpq-fe.h>

#include <simdjson.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tern/relay/log.h"
#include "tern/relay/sink_settings.h"

namespace tern::relay {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  std::string name;
  std::string conninfo;
  std::string table;        // quoted, e.g. "public"."events"
  std::string table_plain;  // as configured, for messages
  bool create_table = true;
  milliseconds connect_timeout{5000};
  milliseconds statement_timeout{30'000};
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Quotes "schema.table" as "schema"."table"; false for an unusable name.
bool quote_table(const std::string& in, std::string* out) {
  out->clear();
  std::size_t start = 0;
  int parts = 0;
  for (;;) {
    std::size_t dot = in.find('.', start);
    std::string part = in.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty() || part.size() > 63 || part.find('"') != std::string::npos ||
        part.find('\0') != std::string::npos) {
      return false;
    }
    if (++parts > 2) return false;
    if (!out->empty()) *out += '.';
    *out += '"' + part + '"';
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return true;
}

// One field in COPY's text format.
void copy_field(std::string* out, std::string_view v, bool null) {
  if (null) {
    *out += "\\N";
    return;
  }
  for (char c : v) {
    switch (c) {
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      default:
        *out += c;
    }
  }
}

// A top-level field's text: strings as-is, scalars as JSON text; absent/null
// (and objects/arrays) are SQL NULL.
bool field_text(simdjson::dom::object& obj, const char* key, std::string* out) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) return false;
  switch (e.type()) {
    case simdjson::dom::element_type::STRING:
      *out = std::string(e.get_string().value_unsafe());
      return true;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
    case simdjson::dom::element_type::BOOL:
      *out = simdjson::to_string(e);
      return true;
    default:
      return false;
  }
}

bool is_connection_state(const char* sqlstate) {
  if (!sqlstate) return true;  // no SQLSTATE: a client-side/connection failure
  std::string_view s(sqlstate);
  return s.rfind("08", 0) == 0 || s.rfind("57", 0) == 0 || s.rfind("53", 0) == 0;
}

bool is_data_error(const char* sqlstate) {
  if (!sqlstate) return false;
  std::string_view s(sqlstate);
  return s.rfind("22", 0) == 0 || s.rfind("23", 0) == 0;
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

class PostgresSink final : public Sink {
 public:
  explicit PostgresSink(Options o) : opt_(std::move(o)) {}
  ~PostgresSink() override { disconnect(); }

  Status open() override {
    last_error_ = connect();
    return last_error_;
  }

  DeliveryResult deliver(const std::vector<SinkRecord>& batch) override {
    DeliveryResult res;
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      res.status = connect();
      last_error_ = res.status;
      if (!res.status) return res;
    }
    rows_.assign(batch.size(), std::string());
    std::vector<std::size_t> idx;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::string why;
      if (!row_for(batch[i], &rows_[i], &why)) {
        res.rejected.push_back(SinkRejection{i, why});
      } else {
        idx.push_back(i);
      }
    }
    if (!idx.empty()) res.status = insert_range(idx, &res.rejected);
    last_error_ = res.status;
    if (!res.status) {
      res.rejected.clear();
    } else {
      std::sort(res.rejected.begin(), res.rejected.end(),
                [](const SinkRejection& a, const SinkRejection& b) { return a.index < b.index; });
    }
    return res;
  }

  Status health() override {
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      // Idle: see whether the server is back (refused fast on loopback;
      // bounded by connect_timeout otherwise).
      last_error_ = connect();
      return last_error_;
    }
    ResultPtr r(PQexec(conn_, "SELECT 1"));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
      Status st = failure("health check", r.get());
      disconnect();
      return st;
    }
    return last_error_;
  }

  Status close(SteadyClock::time_point) override {
    disconnect();
    return Status::ok();
  }

 private:
  Status connect() {
    disconnect();
    std::string timeout =
        std::to_string(std::max<int64_t>(2, (opt_.connect_timeout.count() + 999) / 1000));
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {opt_.conninfo.c_str(), timeout.c_str(), "tern-relay", nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      Status st(
          StatusCode::kUnavailable,
          "postgres: cannot connect: " + one_line(conn_ ? PQerrorMessage(conn_) : "out of memory"));
      disconnect();
      return st;
    }
    std::string setup =
        "SET statement_timeout = " + std::to_string(opt_.statement_timeout.count()) + ";";
    if (opt_.create_table) {
      setup +=
          "CREATE TABLE IF NOT EXISTS " + opt_.table +
          " (message_id text PRIMARY KEY, type text, event text, user_id text, anonymous_id text,"
          " timestamp timestamptz, received_at timestamptz, source text, payload jsonb NOT NULL,"
          " inserted_at timestamptz NOT NULL DEFAULT now());";
    }
    // Text columns: COPY itself never fails on a value; the casts happen in
    // the INSERT, where a bad row can be isolated.
    setup +=
        "CREATE TEMP TABLE IF NOT EXISTS tern_stage (message_id text, type text, event text, "
        "user_id text,"
        " anonymous_id text, ts text, received_at text, source text, payload text) ON COMMIT "
        "DELETE ROWS;";
    Status st = exec(setup.c_str(), PGRES_COMMAND_OK, "setup");
    if (!st) {
      disconnect();
      return st;
    }
    return Status::ok();
  }

  void disconnect() {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
  }

  Status failure(const std::string& what, const PGresult* r) {
    std::string msg = r ? PQresultErrorMessage(r) : "";
    if (msg.empty() && conn_) msg = PQerrorMessage(conn_);
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return Status(
        StatusCode::kUnavailable,
        "postgres " + what + (state ? std::string(" [") + state + "]" : "") + ": " + one_line(msg));
  }

  Status exec(const char* sql, ExecStatusType want, const char* what) {
    ResultPtr r(PQexec(conn_, sql));
    if (PQresultStatus(r.get()) != want) return failure(what, r.get());
    return Status::ok();
  }

  bool row_for(const SinkRecord& rec, std::string* row, std::string* why) {
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (parser_.parse(rec.event.data(), rec.event.size()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(obj) != simdjson::SUCCESS) {
      *why = "postgres: event is not a JSON object";
      return false;
    }
    std::string v;
    if (!field_text(obj, "messageId", &v) || v.empty()) {
      *why = "postgres: event has no messageId (the table's idempotency key)";
      return false;
    }
    row->clear();
    copy_field(row, v, false);
    for (const char* key : {"type", "event", "userId", "anonymousId", "timestamp", "receivedAt"}) {
      *row += '\t';
      bool has = field_text(obj, key, &v);
      copy_field(row, v, !has || v.empty());
    }
    *row += '\t';
    copy_field(row, rec.source_id, rec.source_id.empty());
    *row += '\t';
    copy_field(row, rec.event, false);
    *row += '\n';
    return true;
  }

  // Inserts rows_[idx...] in one transaction; bisects a data error down to
  // the bad rows (each half its own transaction).
  Status insert_range(const std::vector<std::size_t>& idx, std::vector<SinkRejection>* rejected) {
    std::string sqlstate;
    std::string message;
    Status st = insert_once(idx, &sqlstate, &message);
    if (st) return st;
    if (!conn_) return st;  // connection lost: the runner retries
    if (!is_data_error(sqlstate.empty() ? nullptr : sqlstate.c_str())) return st;
    if (idx.size() == 1) {
      rejected->push_back(
          SinkRejection{idx[0], "postgres refused the row [" + sqlstate + "]: " + message});
      return Status::ok();
    }
    std::vector<std::size_t> left(idx.begin(), idx.begin() + idx.size() / 2);
    std::vector<std::size_t> right(idx.begin() + idx.size() / 2, idx.end());
    st = insert_range(left, rejected);
    if (st) st = insert_range(right, rejected);
    return st;
  }

  Status insert_once(const std::vector<std::size_t>& idx, std::string* sqlstate,
                     std::string* message) {
    auto fail = [&](const std::string& what, const PGresult* r) {
      const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
      *sqlstate = s ? s : "";
      const char* m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
      *message = one_line(m ? m : (conn_ ? PQerrorMessage(conn_) : ""));
      Status st = failure(what, r);
      if (PQstatus(conn_) != CONNECTION_OK || is_connection_state(s)) {
        disconnect();
      } else {
        ResultPtr rb(PQexec(conn_, "ROLLBACK"));
      }
      return st;
    };
    ResultPtr r(PQexec(conn_, "BEGIN"));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return fail("BEGIN", r.get());
    r.reset(PQexec(
        conn_,
        "COPY tern_stage (message_id, type, event, user_id, anonymous_id, ts, received_at, source, "
        "payload) FROM STDIN"));
    if (PQresultStatus(r.get()) != PGRES_COPY_IN) return fail("COPY", r.get());
    buf_.clear();
    for (std::size_t i : idx) buf_ += rows_[i];
    if (PQputCopyData(conn_, buf_.data(), static_cast<int>(buf_.size())) != 1 ||
        PQputCopyEnd(conn_, nullptr) != 1) {
      return fail("COPY data", nullptr);
    }
    r.reset(PQgetResult(conn_));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
      Status st = fail("COPY", r.get());
      if (conn_) {
        while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
      }
      return st;
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    std::string insert =
        "INSERT INTO " + opt_.table +
        " (message_id, type, event, user_id, anonymous_id, timestamp, received_at, source, payload)"
        " SELECT message_id, type, event, user_id, anonymous_id, ts::timestamptz,"
        " received_at::timestamptz, source, payload::jsonb FROM tern_stage"
        " ON CONFLICT (message_id) DO NOTHING";
    r.reset(PQexec(conn_, insert.c_str()));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return fail("INSERT", r.get());
    r.reset(PQexec(conn_, "COMMIT"));
    if (PQresultStatus(r.get()) != PGRES_COMMAND_OK) return fail("COMMIT", r.get());
    return Status::ok();
  }

  Options opt_;
  PGconn* conn_ = nullptr;
  simdjson::dom::parser parser_;
  std::vector<std::string> rows_;
  std::string buf_;
  Status last_error_;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_postgres_sink(const SinkConfig& config, const SinkContext&) {
  const std::string where = "sink \"" + config.name + "\" (postgres): ";
  SinkSettings s(config);
  Options o;
  o.name = config.name;
  o.conninfo = s.str("conninfo", "");
  o.table_plain = s.str("table", "tern_events");
  o.create_table = s.boolean("create_table", true);
  o.connect_timeout = s.duration("connect_timeout", milliseconds(5000));
  o.statement_timeout = s.duration("statement_timeout", milliseconds(30'000));
  Status st = s.finish();
  if (!st) return st;
  if (o.conninfo.empty())
    return Status(StatusCode::kInvalidArgument, where + "conninfo is required");
  char* err = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(o.conninfo.c_str(), &err);
  if (!parsed) {
    std::string msg = err ? one_line(err) : "cannot parse";
    if (err) PQfreemem(err);
    return Status(StatusCode::kInvalidArgument, where + "conninfo: " + msg);
  }
  PQconninfoFree(parsed);
  if (!quote_table(o.table_plain, &o.table)) {
    return Status(StatusCode::kInvalidArgument, where + "table must be name or schema.name");
  }
  if (o.statement_timeout.count() <= 0 || o.connect_timeout.count() <= 0) {
    return Status(StatusCode::kInvalidArgument, where + "timeouts must be positive");
  }
  return std::unique_ptr<Sink>(new PostgresSink(std::move(o)));
}

}  // namespace tern::relay
