#include "common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/secrets.h"

namespace polysync::log {
namespace {

std::atomic<int> min_level{static_cast<int>(Level::kInfo)};

struct Output {
  std::mutex mu;
  std::function<void(absl::string_view)> sink;  // guarded by mu
};

Output& GetOutput() {
  static auto* output = new Output;
  return *output;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetMinLevel(Level level) { min_level.store(static_cast<int>(level)); }

bool Enabled(Level level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

bool ParseLevel(absl::string_view text, Level* level) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "debug") {
    *level = Level::kDebug;
  } else if (lower == "info") {
    *level = Level::kInfo;
  } else if (lower == "warn" || lower == "warning") {
    *level = Level::kWarn;
  } else if (lower == "error") {
    *level = Level::kError;
  } else {
    return false;
  }
  return true;
}

std::string FormatLine(Level level, absl::string_view message, Fields fields) {
  nlohmann::ordered_json line;
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(),
                                absl::UTCTimeZone());
  line["level"] = LevelName(level);
  line["msg"] = secrets::Redact(message);
  for (const Field& f : fields) {
    std::string key(f.key());
    if (key == "ts" || key == "level" || key == "msg") key = "field." + key;
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            line[key] = secrets::Redact(v);
          } else {
            line[key] = v;
          }
        },
        f.value());
  }
  // Invalid UTF-8 (e.g. from a hostile input echoed in a field) is replaced,
  // never a reason to lose the line.
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Write(Level level, absl::string_view message, Fields fields) {
  std::string text = FormatLine(level, message, fields);
  Output& out = GetOutput();
  std::lock_guard<std::mutex> lock(out.mu);
  if (out.sink) {
    out.sink(text);
    return;
  }
  text.push_back('\n');
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

void SetSinkForTesting(std::function<void(absl::string_view line)> sink) {
  Output& out = GetOutput();
  std::lock_guard<std::mutex> lock(out.mu);
  out.sink = std::move(sink);
}

}  // namespace polysync::log
