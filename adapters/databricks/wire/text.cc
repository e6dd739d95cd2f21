#include "adapters/databricks/wire/text.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "common/secrets.h"

namespace polysync::databricks {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 when the
// bytes there are not one.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) -> uint8_t {
    return static_cast<uint8_t>(text[k]);
  };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlongs
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlongs
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < len) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

namespace {

// Registered secrets replaced in the part of `text` an excerpt can show
// (plus room for a secret that starts inside it), before anything is cut.
std::string RedactedHead(std::string_view text, size_t max_bytes) {
  constexpr size_t kLongestSecret = 16 * 1024;
  return secrets::Redact(AsAbsl(text.substr(0, max_bytes + kLongestSecret)));
}

}  // namespace

std::string Excerpt(std::string_view raw, size_t max_bytes) {
  // Leading whitespace first, so that the head redacted is the head shown.
  const absl::string_view lead = absl::StripLeadingAsciiWhitespace(AsAbsl(raw));
  const std::string redacted =
      RedactedHead(std::string_view(lead.data(), lead.size()), max_bytes);
  const absl::string_view stripped = absl::StripAsciiWhitespace(redacted);
  std::string_view text(stripped.data(), stripped.size());
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes + 3);
  size_t i = 0;
  while (i < text.size()) {
    size_t len = Utf8SequenceLength(text, i);
    const size_t emitted = len == 0 ? 1 : len;
    if (out.size() + emitted > max_bytes) break;
    if (len == 0) {
      out.push_back('?');
    } else if (len == 1) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
    } else {
      out.append(text.data() + i, len);
    }
    i += emitted;
  }
  if (i < text.size()) out.append("...");
  return out;
}

std::string EscapedPrefix(std::string_view raw, size_t max_bytes) {
  const std::string redacted = RedactedHead(raw, max_bytes);
  const std::string_view text(redacted);
  const bool cut = text.size() > max_bytes;
  std::string out = absl::CHexEscape(AsAbsl(text.substr(0, max_bytes)));
  if (cut) out.append("...");
  return out;
}

}  // namespace polysync::databricks
