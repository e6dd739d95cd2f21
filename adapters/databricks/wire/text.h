// Small text helpers shared by the Databricks adapter's pure parts: turning
// untrusted bytes (response bodies, identifiers from callers) into short,
// printable, valid UTF-8 text that is safe to put in an error message, a log
// line or a protobuf string field.
//
// Why: error messages travel to gRPC clients and into protobuf `string`
// fields, which reject invalid UTF-8, and a hostile or broken upstream must
// not be able to smuggle control characters or megabytes into them.
//
//   Excerpt("<html>\r\n<title>502</title>...", 20)
//   // -> "<html>  <title>502</..."
//   EscapedPrefix("../clusters\r\n", 8)  // -> "../clust..."
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TEXT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace polysync::databricks {

// Debian's Abseil has its own absl::string_view (not std::string_view), and
// absl::StrCat and friends do not accept std::string_view.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// True when `text` is well-formed UTF-8 (no overlongs, no surrogates, nothing
// above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Both first replace every registered secret (common/secrets.h) by
// "[REDACTED]", then cut: a cut never keeps part of a secret.
//
// At most `max_bytes` bytes of `text` (plus "..." when cut), cut on a
// character boundary, leading and trailing whitespace trimmed, every control
// character (C0, DEL) replaced by a space and every invalid UTF-8 byte by '?'.
// The result is always valid UTF-8.
std::string Excerpt(std::string_view text, size_t max_bytes = 200);

// The first `max_bytes` bytes of `text`, C-escaped ("\r", "\x00", non-ASCII
// bytes as "\xNN"), followed by "..." when cut. Printable ASCII only.
std::string EscapedPrefix(std::string_view text, size_t max_bytes = 40);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TEXT_H_
