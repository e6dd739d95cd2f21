#include "adapters/databricks/wire/endpoints.h"

#include <set>
#include <string_view>

#include "gtest/gtest.h"

namespace polysync::databricks {
namespace {

constexpr const Endpoint* kAll[] = {
    &kListPipelines,  &kCreatePipeline, &kGetPipeline, &kEditPipeline,
    &kDeletePipeline, &kStopPipeline,   &kListUpdates, &kStartUpdate,
    &kGetUpdate,      &kGetRequest,     &kListEvents};

// Messages start with the request line an operator can read, metrics and
// fault rules with the name.
TEST(EndpointsTest, DescribeIsTheRequestLineWithoutTheApiRoot) {
  EXPECT_EQ(Describe(kGetPipeline), "GET pipelines/{id}");
  EXPECT_EQ(Describe(kStartUpdate), "POST pipelines/{id}/updates");
  EXPECT_EQ(Describe(kGetUpdate), "GET pipelines/{id}/updates/{update_id}");
  EXPECT_EQ(Describe(kListPipelines), "GET pipelines");
  EXPECT_EQ(Describe(Endpoint{"x", "GET", "/oidc/v1/token"}),
            "GET /oidc/v1/token");
}

TEST(EndpointsTest, NamesAndRequestLinesAreUnique) {
  std::set<std::string> names;
  std::set<std::string> lines;
  for (const Endpoint* e : kAll) {
    EXPECT_TRUE(names.insert(e->name).second) << e->name;
    EXPECT_TRUE(lines.insert(Describe(*e)).second) << Describe(*e);
  }
}

}  // namespace
}  // namespace polysync::databricks
