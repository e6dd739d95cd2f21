#include "adapters/databricks/simulator/seed.h"

#include "absl/strings/str_format.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

json Cluster(int min_workers, int max_workers, bool maintenance = false) {
  json clusters =
      json::array({{{"label", "default"},
                    {"node_type_id", "Standard_DS3_v2"},
                    {"autoscale",
                     {{"min_workers", min_workers},
                      {"max_workers", max_workers},
                      {"mode", "ENHANCED"}}},
                    {"custom_tags", {{"cost-center", "data-platform"}}}}});
  if (maintenance) {
    clusters.push_back({{"label", "maintenance"}, {"num_workers", 1}});
  }
  return clusters;
}

json Notebook(const std::string& path) {
  return json::array({{{"notebook", {{"path", path}}}}});
}

SeedPipeline Make(json spec, Behavior behavior = Behavior::kSucceed,
                  const std::string& creator = "data.engineer@contoso.com") {
  return SeedPipeline{std::move(spec), behavior, creator};
}

}  // namespace

std::vector<SeedPipeline> DefaultPipelines() {
  std::vector<SeedPipeline> out;
  out.push_back(
      Make({{"name", "Wikipedia pipeline (SQL)"},
            {"storage", "/Users/username/data"},
            {"clusters", Cluster(1, 5)},
            {"libraries", Notebook("/Users/username/DLT Notebooks/Delta Live "
                                   "Tables quickstart (SQL)")},
            {"target", "wikipedia_quickstart_data"},
            {"continuous", false},
            {"development", true},
            {"photon", false},
            {"channel", "CURRENT"},
            {"edition", "ADVANCED"}}));
  out.push_back(
      Make({{"name", "Retail sales (SQL)"},
            {"configuration",
             {{"pipelines.numStreamRetryAttempts", "5"},
              {"spark.sql.shuffle.partitions", "64"},
              {"custom.source_path",
               "abfss://raw@contosolake.dfs.core.windows.net/retail"}}},
            {"clusters", Cluster(2, 8, true)},
            {"libraries", Notebook("/Repos/retail/dlt/retail_sales")},
            {"target", "retail_gold"},
            {"continuous", false},
            {"development", false},
            {"photon", true},
            {"channel", "CURRENT"},
            {"edition", "ADVANCED"}}));
  out.push_back(
      Make({{"name", "Müller's \"Kunden\" – Übersicht"},
            {"configuration",
             {{"custom.region", "DACH"},
              {"spark.databricks.delta.optimizeWrite.enabled", "true"}}},
            {"clusters", Cluster(1, 3)},
            {"libraries", Notebook("/Repos/crm/dlt/kunden")},
            {"target", "crm_kunden"},
            {"continuous", false},
            {"development", false},
            {"photon", true}},
           Behavior::kSucceed, "jürgen.müller@contoso.de"));
  out.push_back(Make({{"name", "Ventes quotidiennes – Île-de-France"},
                      {"configuration", {{"custom.currency", "EUR"}}},
                      {"clusters", Cluster(1, 4)},
                      {"libraries", Notebook("/Repos/ventes/dlt/quotidiennes")},
                      {"target", "ventes_idf"},
                      {"continuous", false},
                      {"development", true},
                      {"photon", false}},
                     Behavior::kSucceed, "amélie.dubois@contoso.fr"));
  out.push_back(Make({{"name", "売上 集計 パイプライン"},
                      {"configuration",
                       {{"custom.timezone", "Asia/Tokyo"},
                        {"pipelines.trigger.interval", "1 hour"}}},
                      {"clusters", Cluster(1, 2)},
                      {"libraries", Notebook("/Repos/apac/dlt/uriage")},
                      {"target", "apac_sales"},
                      {"continuous", false},
                      {"development", false},
                      {"photon", false}}));
  out.push_back(Make(
      {{"name", "O'Brien orders (Python)"},
       {"configuration",
        {{"spark.sql.ansi.enabled", "true"}, {"custom.owner", "o'brien"}}},
       {"clusters", Cluster(1, 5)},
       {"libraries",
        json::array({{{"file", {{"path", "/Repos/orders/dlt/orders.py"}}}},
                     {{"notebook", {{"path", "/Repos/orders/dlt/helpers"}}}}})},
       {"target", "orders_silver"},
       {"continuous", false},
       {"development", false},
       {"photon", true}}));
  out.push_back(Make({{"name", "IoT telemetry (continuous)"},
                      {"configuration",
                       {{"pipelines.trigger.interval", "10 seconds"},
                        {"spark.sql.streaming.stateStore.providerClass",
                         "com.databricks.sql.streaming.state."
                         "RocksDBStateStoreProvider"}}},
                      {"clusters", Cluster(2, 10)},
                      {"libraries", Notebook("/Repos/iot/dlt/telemetry")},
                      {"target", "iot_bronze"},
                      {"continuous", true},
                      {"development", false},
                      {"photon", true}}));
  out.push_back(Make({{"name", "Customer 360 – failing source"},
                      {"configuration", {{"custom.source", "crm_export_v2"}}},
                      {"clusters", Cluster(1, 3)},
                      {"libraries", Notebook("/Repos/c360/dlt/customer_360")},
                      {"target", "c360"},
                      {"continuous", false},
                      {"development", true},
                      {"photon", false}},
                     Behavior::kFail));
  out.push_back(Make({{"name", "Finance ledger [nightly]"},
                      {"configuration",
                       {{"spark.databricks.io.cache.enabled", "true"},
                        {"custom.cutoff", "23:00"}}},
                      {"clusters", Cluster(2, 6, true)},
                      {"libraries", Notebook("/Repos/finance/dlt/ledger")},
                      {"target", "finance_ledger"},
                      {"continuous", false},
                      {"development", false},
                      {"photon", true}},
                     Behavior::kFail));
  out.push_back(Make({{"name", "Flaky inventory sync (retried once)"},
                      {"configuration",
                       {{"pipelines.numUpdateRetryAttempts", "1"},
                        {"custom.warehouse", "WH-07"}}},
                      {"clusters", Cluster(1, 2)},
                      {"libraries", Notebook("/Repos/inventory/dlt/sync")},
                      {"target", "inventory"},
                      {"continuous", false},
                      {"development", false},
                      {"photon", false}},
                     Behavior::kFailOnceThenRetry));
  out.push_back(Make({{"name", "Ventas España y México"},
                      {"configuration",
                       {{"custom.países", "ES,MX"},
                        {"spark.sql.session.timeZone", "Europe/Madrid"}}},
                      {"clusters", Cluster(1, 4)},
                      {"libraries", Notebook("/Repos/latam/dlt/ventas")},
                      {"target", "ventas"},
                      {"continuous", false},
                      {"development", false},
                      {"photon", true}}));
  out.push_back(Make({{"name", "  Dev sandbox  Ångström  "},
                      {"configuration", {{"custom.sandbox", "true"}}},
                      {"clusters", Cluster(1, 1)},
                      {"libraries", Notebook("/Users/dev@contoso.com/sandbox")},
                      {"continuous", false},
                      {"development", true},
                      {"photon", false}},
                     Behavior::kSucceed, "dev@contoso.com"));
  return out;
}

SeedPipeline GeneratedPipeline(int index) {
  static const char* const kDomains[] = {"orders", "customers", "payments",
                                         "inventory", "events"};
  const char* domain = kDomains[index % 5];
  json spec = {
      {"name", absl::StrFormat("Generated pipeline %06d (%s)", index, domain)},
      {"configuration",
       {{"custom.index", std::to_string(index)},
        {"spark.sql.shuffle.partitions", "8"}}},
      {"clusters", Cluster(1, 2)},
      {"libraries",
       Notebook(absl::StrFormat("/Repos/generated/%s/p%06d", domain, index))},
      {"target", absl::StrFormat("gen_%s", domain)},
      {"continuous", false},
      {"development", index % 2 == 0},
      {"photon", index % 3 == 0}};
  return Make(std::move(spec),
              index % 50 == 49 ? Behavior::kFail : Behavior::kSucceed,
              "generator@contoso.com");
}

}  // namespace polysync::databricks::sim
