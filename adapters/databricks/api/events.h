// Pure helpers over an update's pipeline events, as PipelinesClient::
// ReadEvents returns them: the failure messages of a failed update, and the
// predicates a caller gives ReadEvents to stop at the event it needs.
//
// Why: the failure reason of an update lives only in its event log (the
// update itself carries none). Peers (the Databricks CLI) show each ERROR
// event's message followed by its exceptions' messages; DLT often repeats
// the same exception in a flow's and in the update's ERROR event, so
// identical messages are kept once.
//
//   EventQuery query;
//   query.update_id = update_id;
//   query.levels = {"ERROR"};
//   client.ReadEvents(pipeline_id, query, ctx,
//       [update_id](absl::StatusOr<EventsRead> read) {
//         if (!read.ok()) return;
//         std::vector<std::string> messages =
//             FailureMessages(read->events, update_id, read->order);
//         // {"Flow 'orders_cleaned' has FAILED ...",
//         //  "[TABLE_OR_VIEW_NOT_FOUND] ...", "Update 27bc77 is FAILED."}
//       });
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_EVENTS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_EVENTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "adapters/databricks/wire/types.h"

namespace polysync::databricks::api {

// The failure messages in `events` (given in `order`), oldest first: for
// each ERROR event of `update_id` (an event whose origin names another
// update is skipped; one naming none is kept), its non-empty `message`
// followed by the non-empty messages of its `error.exceptions`, each text
// once (the first time it appears). Empty `update_id`: every update's.
std::vector<std::string> FailureMessages(
    const std::vector<PipelineEvent>& events, std::string_view update_id,
    EventOrder order);

// True for an `update_progress` event whose state is terminal (COMPLETED,
// FAILED, CANCELED): the event that gives an update's end time.
bool IsTerminalUpdateProgress(const PipelineEvent& event);

}  // namespace polysync::databricks::api

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_EVENTS_H_
