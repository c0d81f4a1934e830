// spool_bench: which storage should back the relay's spool?
//
// Measures durable appends of ~300-byte events with group commit, on the same
// disk in the same run, for the two candidates:
//   segment — append-only segment file, one record per event with a CRC32
//             header, one pwrite(2) + fdatasync per group, the file extended
//             with written zeros 1 MiB ahead (what the spool uses); also shown
//             without preallocation (O_APPEND) to justify that choice;
//   sqlite  — SQLite WAL, synchronous=FULL, one INSERT per event (prepared),
//             one transaction per group.
// Both write the same bytes (source id, type, event text, sequence number).
// Also shown: the real tern::relay::Spool fed one-event appends from 4 threads.
// Prints both figures (median of three interleaved rounds), the ratio
// segment/sqlite and a final JSON line.
//
//   spool_bench [--events N] [--group G] [--dir D]
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tern/relay/metrics.h"
#include "tern/relay/spool.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string make_event(int i) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"type\":\"track\",\"event\":\"Button "
                        "Clicked\",\"messageId\":\"018f3c2a-7b1e-7c3d-9a4e-%012d\","
                        "\"anonymousId\":\"a1b2c3d4-e5f6-4789-abcd-ef0123456789\",\"timestamp\":"
                        "\"2026-11-26T04:30:00.123Z\","
                        "\"properties\":{\"button\":\"checkout\",\"price\":19.99,\"currency\":"
                        "\"EUR\"},\"receivedAt\":\"2026-11-26T04:30:00.456Z\"}",
                        i);
  return std::string(buf, static_cast<std::size_t>(n));
}

void put32(std::string& b, uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); }
void put64(std::string& b, uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); }
void put16(std::string& b, uint16_t v) { b.append(reinterpret_cast<const char*>(&v), 2); }

// Same record layout as relay/core/src/spool.cc.
void append_record(std::string& out, uint64_t seq, const std::string& source,
                   const std::string& type, const std::string& event) {
  std::size_t start = out.size();
  put32(out, 0);  // crc placeholder
  put32(out, static_cast<uint32_t>(source.size() + type.size() + event.size()));
  put64(out, seq);
  put16(out, static_cast<uint16_t>(source.size()));
  put16(out, static_cast<uint16_t>(type.size()));
  out += source;
  out += type;
  out += event;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(out.data() + start + 4),
              static_cast<uInt>(out.size() - start - 4));
  uint32_t c = static_cast<uint32_t>(crc);
  std::memcpy(&out[start], &c, 4);
}

// `prealloc`: extend the file with written zeros 1 MiB at a time ahead of the
// data (what the spool does), so most fdatasyncs flush data only; otherwise
// plain O_APPEND, where every fdatasync also commits the new file size
// through the filesystem journal.
double bench_segment(const std::string& dir, const std::vector<std::string>& events, int group,
                     bool prealloc) {
  constexpr off_t kChunk = 1 << 20;
  std::string path = dir + "/seg-bench.log";
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (prealloc ? 0 : O_APPEND), 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  const std::string zeros(static_cast<std::size_t>(kChunk), '\0');
  std::string buf;
  off_t off = 0;
  off_t zeroed = 0;
  auto t0 = Clock::now();
  uint64_t seq = 0;
  for (std::size_t i = 0; i < events.size();) {
    buf.clear();
    for (int g = 0; g < group && i < events.size(); ++g, ++i) {
      append_record(buf, ++seq, "web", "track", events[i]);
    }
    bool ok = true;
    if (prealloc) {
      while (ok && off + static_cast<off_t>(buf.size()) > zeroed) {
        ok = ::pwrite(fd, zeros.data(), zeros.size(), zeroed) == kChunk;
        zeroed += kChunk;
      }
      ok = ok && ::pwrite(fd, buf.data(), buf.size(), off) == static_cast<ssize_t>(buf.size());
    } else {
      ok = ::write(fd, buf.data(), buf.size()) == static_cast<ssize_t>(buf.size());
    }
    off += static_cast<off_t>(buf.size());
    if (!ok || ::fdatasync(fd) != 0) {
      std::perror("write/fdatasync");
      std::exit(1);
    }
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ::close(fd);
  ::unlink(path.c_str());
  return static_cast<double>(events.size()) / secs;
}

void check(int rc, sqlite3* db, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
    std::fprintf(stderr, "sqlite %s: %s\n", what, sqlite3_errmsg(db));
    std::exit(1);
  }
}

double bench_sqlite(const std::string& dir, const std::vector<std::string>& events, int group) {
  std::string path = dir + "/spool-bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  sqlite3* db = nullptr;
  check(sqlite3_open(path.c_str(), &db), db, "open");
  check(sqlite3_exec(
            db,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
            "CREATE TABLE spool(seq INTEGER PRIMARY KEY, source TEXT, type TEXT, event TEXT);",
            nullptr, nullptr, nullptr),
        db, "schema");
  sqlite3_stmt* ins = nullptr;
  check(sqlite3_prepare_v2(db, "INSERT INTO spool(seq, source, type, event) VALUES(?,?,?,?)", -1,
                           &ins, nullptr),
        db, "prepare");
  auto t0 = Clock::now();
  int64_t seq = 0;
  for (std::size_t i = 0; i < events.size();) {
    check(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr), db, "begin");
    for (int g = 0; g < group && i < events.size(); ++g, ++i) {
      sqlite3_bind_int64(ins, 1, ++seq);
      sqlite3_bind_text(ins, 2, "web", 3, SQLITE_STATIC);
      sqlite3_bind_text(ins, 3, "track", 5, SQLITE_STATIC);
      sqlite3_bind_text(ins, 4, events[i].data(), static_cast<int>(events[i].size()),
                        SQLITE_STATIC);
      check(sqlite3_step(ins), db, "insert");
      sqlite3_reset(ins);
    }
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
  }
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  sqlite3_finalize(ins);
  sqlite3_close(db);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  return static_cast<double>(events.size()) / secs;
}

// The real tern::relay::Spool: one-event appends from 4 threads, as the
// server's I/O threads would submit, each thread keeping up to 64 appends in
// flight; the committer groups them within its commit window.
double bench_real_spool(const std::string& dir, const std::vector<std::string>& events) {
  std::string sdir = dir + "/spool-bench";
  std::filesystem::remove_all(sdir);
  tern::relay::Metrics metrics;
  tern::relay::SpoolOptions o;
  o.dir = sdir;
  o.max_bytes = std::size_t{4} << 30;
  auto spool = tern::relay::Spool::open(o, metrics);
  if (!spool) {
    std::fprintf(stderr, "spool: %s\n", spool.status().to_string().c_str());
    std::exit(1);
  }
  constexpr int kThreads = 4;
  constexpr int kInFlight = 64;
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      for (std::size_t i = static_cast<std::size_t>(t); i < events.size(); i += kThreads) {
        {
          std::unique_lock<std::mutex> l(mu);
          cv.wait(l, [&] { return in_flight < kInFlight; });
          ++in_flight;
        }
        tern::relay::SpoolBatch one("web");
        one.add("track", events[i]);
        tern::Status st = (*spool)->append(std::move(one), [&](tern::Status s, uint64_t, uint64_t) {
          if (!s) std::fprintf(stderr, "append: %s\n", s.to_string().c_str());
          std::lock_guard<std::mutex> l(mu);
          --in_flight;
          cv.notify_one();
        });
        if (!st) {
          std::fprintf(stderr, "append: %s\n", st.to_string().c_str());
          std::exit(1);
        }
      }
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return in_flight == 0; });
    });
  }
  for (auto& th : threads) th.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  (void)(*spool)->close();
  spool.value().reset();
  std::filesystem::remove_all(sdir);
  return static_cast<double>(events.size()) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 50'000;
  int group = 100;
  std::string dir = ".";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--events")
      n = std::atoi(argv[i + 1]);
    else if (a == "--group")
      group = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: spool_bench [--events N] [--group G] [--dir D]\n");
      return 2;
    }
  }
  if (n <= 0 || group <= 0) {
    std::fprintf(stderr, "spool_bench: --events and --group must be positive\n");
    return 2;
  }
  std::vector<std::string> events;
  events.reserve(static_cast<std::size_t>(n));
  std::size_t bytes = 0;
  for (int i = 0; i < n; ++i) {
    events.push_back(make_event(i));
    bytes += events.back().size();
  }
  // Warm up the disk and page cache once for each, then measure.
  std::vector<std::string> warm(events.begin(),
                                events.begin() + std::min<std::size_t>(events.size(), 2000));
  bench_segment(dir, warm, group, true);
  bench_segment(dir, warm, group, false);
  bench_sqlite(dir, warm, group);
  // The disk is shared with whatever else runs: interleave three rounds of
  // each and keep the median of each.
  std::vector<double> segs, grows, sqls;
  for (int round = 0; round < 3; ++round) {
    segs.push_back(bench_segment(dir, events, group, true));
    grows.push_back(bench_segment(dir, events, group, false));
    sqls.push_back(bench_sqlite(dir, events, group));
  }
  std::sort(segs.begin(), segs.end());
  std::sort(grows.begin(), grows.end());
  std::sort(sqls.begin(), sqls.end());
  double seg = segs[1];
  double grow = grows[1];
  double sql = sqls[1];
  double real = bench_real_spool(dir, events);
  double ratio = seg / sql;
  std::printf("spool_bench: %d events of %zu bytes avg, %d per group commit, dir %s\n", n,
              bytes / static_cast<std::size_t>(n), group, dir.c_str());
  std::printf("  segment + CRC32, zero-preallocated     : %10.0f events/s  (the spool)\n", seg);
  std::printf("  segment + CRC32, O_APPEND growing      : %10.0f events/s\n", grow);
  std::printf("  SQLite WAL synchronous=FULL, txn/group : %10.0f events/s  (baseline)\n", sql);
  std::printf(
      "  tern Spool, 1-event appends, 4 threads : %10.0f events/s  (2 ms group-commit window)\n",
      real);
  std::printf("  ratio segment/sqlite                   : %10.2fx\n", ratio);
  std::printf(
      "{\"bench\":\"spool\",\"events\":%d,\"group\":%d,\"segment_eps\":%.0f,\"segment_append_eps\":"
      "%.0f,\"sqlite_eps\":%.0f,\"spool_eps\":%.0f,"
      "\"ratio\":%.3f}\n",
      n, group, seg, grow, sql, real, ratio);
  return 0;
}
