#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace polysync::client::cli {

namespace v1 = ::polysync::databricks::v1;

std::string OneLine(absl::string_view text) {
  std::string s = absl::StrReplaceAll(text, {{"\r\n", " "}, {"\n", " "}});
  return std::string(absl::StripAsciiWhitespace(s));
}

// Terminal columns of UTF-8 text: one per code point, two for East Asian
// wide and full-width characters, so that such names line up.
size_t DisplayWidth(const std::string& s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    if (i + len > s.size()) len = 1;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (int k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    }
    const bool wide =
        (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
        (cp >= 0x20000 && cp <= 0x3FFFD);
    width += wide ? 2 : 1;
    i += len;
  }
  return width;
}

std::string FormatTable(const Rows& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) {
        line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

void PrintTable(const Rows& rows) {
  std::cout << FormatTable(rows);
  std::cout.flush();
}

std::string Json(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status =
      google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  return out;
}

void PrintJson(const google::protobuf::Message& message) {
  std::cout << Json(message) << "\n";
  std::cout.flush();
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ",
                          absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string StatusName(v1::RunStatus s) {
  switch (s) {
    case v1::RUN_STATUS_UNKNOWN:
      return "UNKNOWN";
    case v1::RUN_STATUS_RUNNING:
      return "RUNNING";
    case v1::RUN_STATUS_SUCCESS:
      return "SUCCESS";
    case v1::RUN_STATUS_FAILED:
      return "FAILED";
    case v1::RUN_STATUS_CANCELLED:
      return "CANCELLED";
    default:
      return "UNSPECIFIED";
  }
}

std::string AuthName(v1::AuthMethod m) {
  std::string name = v1::AuthMethod_Name(m);
  if (absl::StartsWith(name, "AUTH_METHOD_")) name = name.substr(12);
  return absl::AsciiStrToLower(name);
}

Rows StatusRows(const v1::UpdateStatus& s) {
  Rows rows = {
      {"run id", s.run_id()},
      {"status", StatusName(s.status())},
      {"dlt state", s.dlt_state().empty() ? "-" : s.dlt_state()},
      {"terminal", s.terminal() ? "yes" : "no"},
      {"created", Time(s.creation_time())},
      {"ended", Time(s.end_time())},
      {"cause", s.cause().empty() ? "-" : s.cause()},
      {"full refresh", s.full_refresh() ? "yes" : "no"},
      {"link", s.link()},
  };
  if (s.has_retry() && (s.retry().retrying() || s.retry().attempts() > 1)) {
    rows.push_back(
        {"retry", absl::StrCat(s.retry().retrying() ? "retrying, " : "",
                               "attempts ", s.retry().attempts())});
  }
  if (!s.hint().empty()) rows.push_back({"hint", OneLine(s.hint())});
  for (const auto& m : s.failure_messages()) {
    rows.push_back({"failure", OneLine(m)});
  }
  return rows;
}

std::string Elapsed(absl::Duration d) {
  const int64_t s = std::max<int64_t>(0, absl::ToInt64Seconds(d));
  if (s >= 3600) {
    return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  }
  return absl::StrFormat("%02d:%02d", s / 60, s % 60);
}

std::string WatchLine(const v1::UpdateStatus& s) {
  std::string line = absl::StrCat(StatusName(s.status()), "  ",
                                  s.dlt_state().empty() ? "-" : s.dlt_state());
  if (s.has_retry() && s.retry().retrying()) {
    absl::StrAppend(&line, "  (DLT is retrying)");
  }
  if (!s.hint().empty()) absl::StrAppend(&line, "  hint: ", OneLine(s.hint()));
  return line;
}

}  // namespace polysync::client::cli
