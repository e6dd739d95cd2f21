#include "adapters/databricks/wire/start_update.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/text.h"

namespace polysync::databricks {
namespace {

absl::Status CheckTableNames(absl::string_view field,
                             const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "] is empty"));
    }
    if (!IsValidUtf8(names[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, "[", i, "] is not valid UTF-8"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateStartUpdate(const StartUpdateRequest& request) {
  if (!IsValidUtf8(request.pipeline_id)) {
    return absl::InvalidArgumentError("pipeline_id is not valid UTF-8");
  }
  if (absl::Status s =
          CheckTableNames("refresh_selection", request.refresh_selection);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTableNames("full_refresh_selection",
                                       request.full_refresh_selection);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTableNames("refresh_flow_selection",
                                       request.refresh_flow_selection);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckTableNames("reset_checkpoint_selection",
                                       request.reset_checkpoint_selection);
      !s.ok()) {
    return s;
  }
  if (request.full_refresh.value_or(false) &&
      (!request.refresh_selection.empty() ||
       !request.full_refresh_selection.empty() ||
       !request.refresh_flow_selection.empty() ||
       !request.reset_checkpoint_selection.empty())) {
    return absl::InvalidArgumentError(
        "full_refresh cannot be combined with a selection "
        "(refresh_selection, full_refresh_selection, refresh_flow_selection, "
        "reset_checkpoint_selection): a full refresh already recomputes "
        "every table");
  }
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();
  if (request.parameters.has_value()) {
    for (const auto& [key, value] : *request.parameters) {
      if (key.empty()) {
        return absl::InvalidArgumentError("parameters: a key is empty");
      }
      for (unsigned char c : key) {
        if (c < 0x20 || c == 0x7f) {
          return absl::InvalidArgumentError(
              "parameters: a key contains a control character");
        }
      }
      if (!IsValidUtf8(key) || !IsValidUtf8(value)) {
        return absl::InvalidArgumentError(
            "parameters: a key or value is not valid UTF-8");
      }
      if (parameters.contains(key)) {
        return absl::InvalidArgumentError("parameters: a key is given twice");
      }
      parameters[key] = value;
    }
    const size_t size = parameters.dump().size();
    if (size > kMaxParametersJsonBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("parameters: ", size, " bytes as JSON; at most ",
                       kMaxParametersJsonBytes, " are allowed"));
    }
  }
  if (request.cause.has_value() && !IsValidUtf8(*request.cause)) {
    return absl::InvalidArgumentError("cause is not valid UTF-8");
  }
  return absl::OkStatus();
}

}  // namespace polysync::databricks
