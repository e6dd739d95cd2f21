// pdlt's output: tables for people (columns padded to the terminal width of
// their text), protobuf JSON for scripts, and the text of statuses.
#ifndef POLYSYNC_CLIENT_CLI_OUTPUT_H_
#define POLYSYNC_CLIENT_CLI_OUTPUT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::client::cli {

using Rows = std::vector<std::vector<std::string>>;

// `text` on one line: line breaks become spaces, outer whitespace goes.
std::string OneLine(absl::string_view text);

// Terminal columns of UTF-8 text: one per code point, two for East Asian
// wide and full-width characters, so that such names line up.
size_t DisplayWidth(const std::string& s);

// The rows as lines: each column as wide as its widest cell plus two spaces
// (the last column unpadded), trailing whitespace removed, "\n" after each.
std::string FormatTable(const Rows& rows);
// FormatTable to stdout, flushed.
void PrintTable(const Rows& rows);

// The message in protobuf's JSON mapping, default values included.
std::string Json(const google::protobuf::Message& message);
// Json and a newline to stdout, flushed.
void PrintJson(const google::protobuf::Message& message);

// "2026-01-02T03:04:05Z", "-" for an unset timestamp.
std::string Time(const google::protobuf::Timestamp& t);
// "SUCCESS", "FAILED", ... ("UNSPECIFIED" for anything else).
std::string StatusName(databricks::v1::RunStatus s);
// "pat", "oauth_m2m", ...: the enum name without AUTH_METHOD_, lower case.
std::string AuthName(databricks::v1::AuthMethod m);

// The rows of a run's status table (status, stop).
Rows StatusRows(const databricks::v1::UpdateStatus& s);
// "mm:ss", or "h:mm:ss" from an hour.
std::string Elapsed(absl::Duration d);
// One line of `watch`: status, DLT state, retrying, hint.
std::string WatchLine(const databricks::v1::UpdateStatus& s);

}  // namespace polysync::client::cli

#endif  // POLYSYNC_CLIENT_CLI_OUTPUT_H_
