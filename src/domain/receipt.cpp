// Receipt numbering.
#include "donatio/receipt.hpp"

#include <cstdio>

namespace donatio {

std::string format_receipt_number(const std::string& prefix, int year, std::int64_t sequence) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%06lld", year, static_cast<long long>(sequence));
  return prefix + buf;
}

const char* receipt_kind_name(ReceiptKind kind) {
  switch (kind) {
    case ReceiptKind::original: return "receipt";
    case ReceiptKind::amended: return "amended";
    case ReceiptKind::void_notice: return "void";
  }
  return "receipt";
}

}  // namespace donatio
