#include "adapters/databricks/wire/ids.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/text.h"

namespace polysync::databricks {
namespace {

absl::Status ValidateId(absl::string_view field, std::string_view id) {
  if (HasIdShape(id)) return absl::OkStatus();
  if (id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  }
  // The value is not repeated: whatever a caller sends (a guessed secret
  // included) gets the same answer, so redaction cannot be used as an oracle.
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be 8-4-4-4-12 letters and digits; the value ",
                   "given (", id.size(), " bytes) is not"));
}

}  // namespace

bool HasIdShape(std::string_view id) {
  // 8-4-4-4-12: 36 characters, dashes at 8, 13, 18 and 23.
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position) {
      if (id[i] != '-') return false;
    } else if (!absl::ascii_isalnum(static_cast<unsigned char>(id[i]))) {
      return false;
    }
  }
  return true;
}

absl::Status ValidatePipelineId(std::string_view id) {
  return ValidateId("pipeline_id", id);
}

absl::Status ValidateUpdateId(std::string_view id) {
  return ValidateId("update_id", id);
}

absl::Status ValidateRequestId(std::string_view id) {
  return ValidateId("request_id", id);
}

absl::StatusOr<RunId> ParseRunId(std::string_view run_id) {
  const size_t colon = run_id.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("run_id must be \"{pipeline_id}:{update_id}\"; the value "
                     "given (",
                     run_id.size(), " bytes) has no ':'"));
  }
  std::string_view pipeline_id = run_id.substr(0, colon);
  std::string_view update_id = run_id.substr(colon + 1);
  if (absl::Status s = ValidatePipelineId(pipeline_id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("run_id: ", s.message()));
  }
  if (absl::Status s = ValidateUpdateId(update_id); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("run_id: ", s.message()));
  }
  return RunId{std::string(pipeline_id), std::string(update_id)};
}

std::string FormatRunId(std::string_view pipeline_id,
                        std::string_view update_id) {
  std::string out;
  out.reserve(pipeline_id.size() + 1 + update_id.size());
  out.append(pipeline_id).append(":").append(update_id);
  return out;
}

}  // namespace polysync::databricks
