// SpoolBatch: a request's events, encoded as spool records as they are added.
#include <algorithm>

#include "spool_format.h"
#include "tern/relay/spool.h"

namespace tern::relay {

using spool_format::kRecordHeaderBytes;

SpoolBatch::SpoolBatch(std::string source_id) : source_id_(std::move(source_id)) {
  if (source_id_.size() > 0xffff) invalid_ = "source id longer than 65535 bytes";
}

std::string& SpoolBatch::begin_event(std::string_view type) {
  if (type.size() > 0xffff) {
    invalid_ = "type longer than 65535 bytes";
    type = {};
  }
  // An over-long source id is left out so that the records still parse; the
  // batch is refused anyway.
  const std::string_view source = source_id_.size() > 0xffff ? std::string_view() : source_id_;
  starts_.push_back(buf_.size());
  spool_format::begin_record(buf_, source, type);
  return buf_;
}

void SpoolBatch::end_event() {
  if (spool_format::finish_record(buf_, starts_.back()) > spool_format::kMaxRecordLen) {
    invalid_ = "event larger than 64 MiB";
  }
}

void SpoolBatch::add(std::string_view type, std::string_view event) {
  begin_event(type).append(event);
  end_event();
}

void SpoolBatch::reserve(std::size_t events, std::size_t text_bytes) {
  starts_.reserve(events);
  buf_.reserve(text_bytes + events * (kRecordHeaderBytes + source_id_.size() + 8));
}

std::string_view SpoolBatch::type(std::size_t i) const {
  return spool_format::record_type(buf_.data() + starts_[i]);
}

std::string_view SpoolBatch::event(std::size_t i) const {
  return spool_format::record_event(buf_.data() + starts_[i]);
}

}  // namespace tern::relay
