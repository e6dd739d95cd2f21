#include "adapters/databricks/wire/types.h"

namespace polysync::databricks {

bool IsTerminalUpdateState(std::string_view state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELED";
}

bool IsKnownUpdateState(std::string_view state) {
  for (std::string_view known : kUpdateStates) {
    if (state == known) return true;
  }
  return false;
}

bool IsKnownPipelineState(std::string_view state) {
  for (std::string_view known : kPipelineStates) {
    if (state == known) return true;
  }
  return false;
}

bool IsKnownEventLevel(std::string_view level) {
  for (std::string_view known : kEventLevels) {
    if (level == known) return true;
  }
  return false;
}

}  // namespace polysync::databricks
