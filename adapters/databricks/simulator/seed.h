// Seed data: the default workspace's pipelines and a generator for many more.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SEED_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SEED_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "adapters/databricks/simulator/workspace.h"

namespace polysync::databricks::sim {

struct SeedPipeline {
  nlohmann::json spec;  // PipelineSettings without "id"
  Behavior behavior = Behavior::kSucceed;
  std::string creator;
};

// A dozen realistic pipelines: names with spaces, quotes and non-ASCII
// letters; triggered and continuous; development and production; photon;
// `configuration` keys under spark.*, custom.*, pipelines.*; clusters,
// libraries, target. Two fail, one fails once and is retried, one is
// continuous.
std::vector<SeedPipeline> DefaultPipelines();

// The spec of generated pipeline `index` (names "Generated pipeline 000042
// (orders)"), unique per index; every 50th fails.
SeedPipeline GeneratedPipeline(int index);

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SEED_H_
