#include "server/audit.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/ids.h"

namespace polysync::server {

std::string Logged(Shape shape, const std::string& value) {
  bool ok = false;
  switch (shape) {
    case Shape::kWorkspace:
      ok = value.size() <= 64 &&
           std::all_of(value.begin(), value.end(), [](char c) {
             return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '-' || c == '_' || c == '.';
           });
      break;
    case Shape::kPipelineId:
      ok = databricks::HasIdShape(value);
      break;
    case Shape::kRunId:
      ok = databricks::ParseRunId(value).ok();
      break;
  }
  return ok ? value : absl::StrCat("(invalid, ", value.size(), " bytes)");
}

std::string Outcome(const absl::Status& status) {
  return status.ok() ? std::string("OK") : status.ToString();
}

}  // namespace polysync::server
