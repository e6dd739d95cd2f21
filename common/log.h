// The logging facade: one JSON object per line on stderr.
//
// Every line carries "ts" (RFC 3339, UTC, microseconds), "level", "msg" and
// the fields given by the caller. Secrets registered with
// polysync::secrets::Register() are redacted from the message and the fields
// before anything is written. Lines below the minimum level (SetMinLevel) cost
// one comparison.
//
//   using polysync::log::Field;
//   polysync::log::Info("update started", {Field("pipeline_id", id),
//                                         Field("attempt", 2)});
//   // {"ts":"2026-11-21T23:59:59.123456Z","level":"info",
//   //  "msg":"update started","pipeline_id":"...","attempt":2}
#ifndef POLYSYNC_COMMON_LOG_H_
#define POLYSYNC_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <variant>

#include "absl/strings/string_view.h"

namespace polysync::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value pair of a log line.
class Field {
 public:
  Field(absl::string_view key, absl::string_view value)
      : key_(key), value_(std::string(value)) {}
  Field(absl::string_view key, const char* value)
      : key_(key), value_(std::string(value)) {}
  Field(absl::string_view key, const std::string& value)
      : key_(key), value_(value) {}
  Field(absl::string_view key, bool value) : key_(key), value_(value) {}
  Field(absl::string_view key, int value)
      : key_(key), value_(static_cast<int64_t>(value)) {}
  Field(absl::string_view key, int64_t value) : key_(key), value_(value) {}
  Field(absl::string_view key, uint64_t value)
      : key_(key), value_(static_cast<int64_t>(value)) {}
  Field(absl::string_view key, double value) : key_(key), value_(value) {}

  absl::string_view key() const { return key_; }
  const std::variant<std::string, bool, int64_t, double>& value() const {
    return value_;
  }

 private:
  absl::string_view key_;
  std::variant<std::string, bool, int64_t, double> value_;
};

using Fields = std::initializer_list<Field>;

// Sets the minimum level written. Default kInfo.
void SetMinLevel(Level level);
bool Enabled(Level level);

// Parses "debug", "info", "warn", "error" (any case).
bool ParseLevel(absl::string_view text, Level* level);

// Writes one line if `level` is enabled.
void Write(Level level, absl::string_view message, Fields fields = {});

inline void Debug(absl::string_view message, Fields fields = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, message, fields);
}
inline void Info(absl::string_view message, Fields fields = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, message, fields);
}
inline void Warn(absl::string_view message, Fields fields = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, message, fields);
}
inline void Error(absl::string_view message, Fields fields = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, message, fields);
}

// The JSON line Write() would emit (without the trailing newline).
std::string FormatLine(Level level, absl::string_view message, Fields fields);

// Sends lines to `sink` instead of stderr (nullptr restores stderr). For tests
// that assert on log output. The sink is called under a lock.
void SetSinkForTesting(std::function<void(absl::string_view line)> sink);

}  // namespace polysync::log

#endif  // POLYSYNC_COMMON_LOG_H_
