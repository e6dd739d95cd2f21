// Test-only: captures the process's log lines while it lives.
//
//   LogCapture logs;
//   ...
//   auto audits = logs.Lines("\"msg\":\"audit\"");
//   auto mine = logs.Lines({"\"msg\":\"audit\"", "late-start-1"});
#ifndef POLYSYNC_TESTS_TESTING_LOG_CAPTURE_H_
#define POLYSYNC_TESTS_TESTING_LOG_CAPTURE_H_

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "common/log.h"

namespace polysync::testing {

class LogCapture {
 public:
  LogCapture() {
    ::polysync::log::SetSinkForTesting([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { ::polysync::log::SetSinkForTesting(nullptr); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // The lines containing `containing`.
  std::vector<std::string> Lines(absl::string_view containing) {
    return Lines(std::vector<std::string>{std::string(containing)});
  }
  // The lines containing every one of `parts`.
  std::vector<std::string> Lines(const std::vector<std::string>& parts) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& l : lines_) {
      bool all = true;
      for (const auto& p : parts) all = all && absl::StrContains(l, p);
      if (all) out.push_back(l);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace polysync::testing

#endif  // POLYSYNC_TESTS_TESTING_LOG_CAPTURE_H_
