#include "adapters/databricks/api/events.h"

#include <set>

namespace polysync::databricks::api {

std::vector<std::string> FailureMessages(
    const std::vector<PipelineEvent>& events, std::string_view update_id,
    EventOrder order) {
  std::vector<std::string> messages;
  std::set<std::string_view> seen;
  auto add = [&](const std::string& message) {
    if (message.empty() || !seen.insert(message).second) return;
    messages.push_back(message);
  };
  auto visit = [&](const PipelineEvent& e) {
    if (e.level != "ERROR") return;
    if (!update_id.empty() && !e.origin.update_id.empty() &&
        e.origin.update_id != update_id) {
      return;
    }
    add(e.message);
    if (!e.error.has_value()) return;
    for (const EventException& ex : e.error->exceptions) add(ex.message);
  };
  if (order == EventOrder::kOldestFirst) {
    for (const PipelineEvent& e : events) visit(e);
  } else {
    for (auto it = events.rbegin(); it != events.rend(); ++it) visit(*it);
  }
  return messages;
}

bool IsTerminalUpdateProgress(const PipelineEvent& event) {
  return event.event_type == "update_progress" &&
         IsTerminalUpdateState(event.update_progress_state);
}

}  // namespace polysync::databricks::api
