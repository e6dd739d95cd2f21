#include "adapters/databricks/wire/request_bodies.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace polysync::databricks {
namespace {

using ::testing::HasSubstr;

constexpr char kUpdateId[] = "9a84f906-fc51-11eb-9a03-0242ac130003";

TEST(StartUpdateBodyTest, OnlySetFieldsAreWritten) {
  EXPECT_EQ(*StartUpdateBody(StartUpdateRequest{}), "{}");

  StartUpdateRequest full;
  full.full_refresh = true;
  EXPECT_EQ(*StartUpdateBody(full), R"({"full_refresh":true})");

  StartUpdateRequest selective;
  selective.refresh_selection = {"sales_orders_cleaned",
                                 "sales_order_in_chicago"};
  selective.full_refresh_selection = {"customers", "sales_orders_raw"};
  selective.full_refresh = false;
  selective.validate_only = false;
  selective.cause = "API_CALL";
  EXPECT_EQ(
      *StartUpdateBody(selective),
      R"({"full_refresh":false,)"
      R"("refresh_selection":["sales_orders_cleaned","sales_order_in_chicago"],)"
      R"("full_refresh_selection":["customers","sales_orders_raw"],)"
      R"("validate_only":false,"cause":"API_CALL"})");
}

TEST(StartUpdateBodyTest, ParametersAndFlowSelections) {
  StartUpdateRequest request;
  request.full_refresh = false;
  request.refresh_flow_selection = {"orders_raw"};
  request.reset_checkpoint_selection = {"orders_raw"};
  request.parameters = {{{"region", "apac"}, {"quote\"d", "a\nb"}}};
  EXPECT_EQ(*StartUpdateBody(request),
            R"({"full_refresh":false,"refresh_flow_selection":["orders_raw"],)"
            R"("reset_checkpoint_selection":["orders_raw"],)"
            R"("parameters":{"region":"apac","quote\"d":"a\nb"}})");
  // An empty map given is sent as one; none given sends no map.
  StartUpdateRequest empty;
  empty.parameters.emplace();
  EXPECT_EQ(*StartUpdateBody(empty), R"({"parameters":{}})");
}

TEST(StartUpdateBodyTest, BadParametersAreRefused) {
  for (const auto& params :
       std::vector<std::vector<std::pair<std::string, std::string>>>{
           {{"", "v"}},
           {{"a\tb", "v"}},
           {{"k", "1"}, {"k", "2"}},
           {{"k", "\xff"}},
           {{"k", std::string(10000, 'v')}}}) {
    StartUpdateRequest request;
    request.parameters = params;
    EXPECT_EQ(StartUpdateBody(request).status().code(),
              absl::StatusCode::kInvalidArgument)
        << params[0].first;
  }
  StartUpdateRequest full;
  full.full_refresh = true;
  full.reset_checkpoint_selection = {"f"};
  EXPECT_EQ(StartUpdateBody(full).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StartUpdateBodyTest, HostileTableNamesAreEscapedNotPasted) {
  StartUpdateRequest request;
  request.refresh_selection = {"a\"],\"full_refresh\":true,\"x\":[\"",
                               "line\nbreak\\", "\xc3\xa9t\xc3\xa9"};
  absl::StatusOr<std::string> body = StartUpdateBody(request);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body,
            R"({"refresh_selection":["a\"],\"full_refresh\":true,\"x\":[\"",)"
            R"("line\nbreak\\","été"]})");
}

TEST(StartUpdateBodyTest, InvalidRequestsAreRefused) {
  StartUpdateRequest empty_name;
  empty_name.full_refresh_selection = {"ok", ""};
  EXPECT_EQ(StartUpdateBody(empty_name).status().message(),
            "full_refresh_selection[1] is empty");

  StartUpdateRequest bad_utf8;
  bad_utf8.refresh_selection = {"\xff"};
  EXPECT_EQ(StartUpdateBody(bad_utf8).status().code(),
            absl::StatusCode::kInvalidArgument);

  StartUpdateRequest bad_cause;
  bad_cause.cause = "\xc3";
  EXPECT_EQ(StartUpdateBody(bad_cause).status().code(),
            absl::StatusCode::kInvalidArgument);

  StartUpdateRequest both;
  both.full_refresh = true;
  both.refresh_selection = {"t"};
  EXPECT_THAT(std::string(StartUpdateBody(both).status().message()),
              HasSubstr("full_refresh cannot be combined"));
}

TEST(PercentEncodeTest, Rfc3986Unreserved) {
  EXPECT_EQ(PercentEncode(""), "");
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("name LIKE '%quickstart%'"),
            "name%20LIKE%20%27%25quickstart%25%27");
  EXPECT_EQ(PercentEncode("a+b=c&d/e?f#g"), "a%2Bb%3Dc%26d%2Fe%3Ff%23g");
  EXPECT_EQ(PercentEncode("eyJ...=="), "eyJ...%3D%3D");
  EXPECT_EQ(PercentEncode(std::string("\r\n\0", 3)), "%0D%0A%00");
  EXPECT_EQ(PercentEncode("\xc3\xa9\xff"), "%C3%A9%FF");
  EXPECT_EQ(PercentEncode("%2e%2e"), "%252e%252e");
}

TEST(QueryBuilderTest, BuildsInOrder) {
  EXPECT_EQ(QueryBuilder().Build(), "");
  EXPECT_EQ(QueryBuilder()
                .Add("max_results", int64_t{5})
                .Add("page_token", "a&b=c")
                .Add("order_by", "timestamp asc")
                .Build(),
            "?max_results=5&page_token=a%26b%3Dc&order_by=timestamp%20asc");
}

TEST(ListQueriesTest, ListPipelines) {
  EXPECT_EQ(*ListPipelinesQuery({}), "");
  ListPipelinesRequest request;
  request.max_results = 100;
  request.filter = "name LIKE '%quickstart%'";
  request.order_by = {"name asc"};
  EXPECT_EQ(*ListPipelinesQuery(request),
            "?max_results=100&filter=name%20LIKE%20%27%25quickstart%25%27"
            "&order_by=name%20asc");
  request.page_token = "eyJ...==";
  request.filter.clear();
  request.order_by.clear();
  EXPECT_EQ(*ListPipelinesQuery(request),
            "?max_results=100&page_token=eyJ...%3D%3D");
}

TEST(ListQueriesTest, MaxResultsIsBounded) {
  for (int bad : {0, -1, 101, 1000}) {
    ListPipelinesRequest pipelines;
    pipelines.max_results = bad;
    EXPECT_EQ(ListPipelinesQuery(pipelines).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
    ListUpdatesRequest updates;
    updates.max_results = bad;
    EXPECT_FALSE(ListUpdatesQuery(updates).ok()) << bad;
  }
  // Events allow up to the API's 1000.
  for (int bad : {0, -1, 1001}) {
    ListEventsRequest events;
    events.max_results = bad;
    EXPECT_EQ(ListEventsQuery(events).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  ListEventsRequest events;
  events.max_results = 1;
  EXPECT_EQ(*ListEventsQuery(events), "?max_results=1");
  events.max_results = kMaxEventsPageSize;
  EXPECT_EQ(*ListEventsQuery(events), "?max_results=1000");
}

TEST(ListQueriesTest, ListUpdates) {
  ListUpdatesRequest request;
  request.max_results = 25;
  request.until_update_id = kUpdateId;
  EXPECT_EQ(*ListUpdatesQuery(request),
            std::string("?max_results=25&until_update_id=") + kUpdateId);
  request.until_update_id = "../x";
  EXPECT_THAT(std::string(ListUpdatesQuery(request).status().message()),
              HasSubstr("until_update_id"));
}

TEST(ListQueriesTest, EventsNeverCombinePageTokenWithFilterOrOrder) {
  ListEventsRequest request;
  request.max_results = 100;
  request.filter = "level='ERROR'";
  request.order_by = {"timestamp asc"};
  EXPECT_EQ(*ListEventsQuery(request),
            "?max_results=100&filter=level%3D%27ERROR%27"
            "&order_by=timestamp%20asc");
  request.page_token = "tok";
  EXPECT_EQ(*ListEventsQuery(request), "?max_results=100&page_token=tok");
}

TEST(EventsFilterTest, UpdateAndLevels) {
  const std::string id = kUpdateId;
  EXPECT_EQ(*EventsFilter(id, {"ERROR"}),
            "update_id='" + id + "' AND level='ERROR'");
  EXPECT_EQ(*EventsFilter(id, {"ERROR", "WARN"}),
            "update_id='" + id + "' AND level in ('ERROR', 'WARN')");
  EXPECT_EQ(*EventsFilter(id, {}), "update_id='" + id + "'");
  EXPECT_EQ(*EventsFilter("", {"ERROR"}), "level='ERROR'");
  EXPECT_EQ(*EventsFilter("", {}), "");
}

TEST(EventsFilterTest, InjectionIsRefused) {
  EXPECT_EQ(EventsFilter("x' OR '1'='1", {"ERROR"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EventsFilter(std::string(kUpdateId) + "'", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  for (const char* level : {"", "error", "ERROR'", "ERROR' OR level='INFO",
                            "ERR OR", "AAAAAAAAAAAAAAAAA", "\xc3\x89RROR"}) {
    absl::StatusOr<std::string> filter = EventsFilter(kUpdateId, {level});
    EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument)
        << level;
  }
}

}  // namespace
}  // namespace polysync::databricks
