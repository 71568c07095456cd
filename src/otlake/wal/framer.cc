#include "otlake/wal/framer.h"

#include <algorithm>

#include "otlake/wal/crc32c.h"
#include "otlake/wal/log_format.h"

namespace otlake::wal {

void Framer::AddRecord(std::string_view record, std::string* out) {
  bool first = true;
  do {
    const int left_in_block = kBlockSize - block_offset_;
    if (left_in_block < kHeaderSize) {
      out->append(static_cast<size_t>(left_in_block), '\0');  // trailer
      block_offset_ = 0;
      continue;
    }
    const size_t avail = static_cast<size_t>(left_in_block - kHeaderSize);
    const size_t n = std::min(avail, record.size());
    const bool last = n == record.size();
    const RecordType type = first && last ? RecordType::kFull
                            : first       ? RecordType::kFirst
                            : last        ? RecordType::kLast
                                          : RecordType::kMiddle;
    char header[kHeaderSize];
    const char type_byte = static_cast<char>(type);
    uint32_t crc = Crc32cExtend(0, &type_byte, 1);
    crc = MaskCrc(Crc32cExtend(crc, record.data(), n));
    for (int i = 0; i < 4; ++i) header[i] = static_cast<char>(crc >> (8 * i));
    header[4] = static_cast<char>(n & 0xFF);
    header[5] = static_cast<char>(n >> 8);
    header[6] = type_byte;
    out->append(header, kHeaderSize);
    out->append(record.data(), n);
    block_offset_ += kHeaderSize + static_cast<int>(n);
    record.remove_prefix(n);
    first = false;
    if (last) break;
  } while (true);
}

}  // namespace otlake::wal
