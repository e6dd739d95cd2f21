// The typed Databricks Pipelines API 2.0 client for one workspace: one method
// per endpoint, each answering with an absl::StatusOr of a typed result.
//
// Every call is asynchronous (the callback runs on the transport's thread or,
// for an immediate refusal, inline) and goes through the same steps:
// identifiers are validated before they reach a URL; the workspace's
// AdaptiveLimiter grants a permit (interactive calls ahead of bulk ones);
// Credentials add the auth headers; the
// Transport sends; errors are mapped by errors.h; retries follow
// retry_policy.h, with backoff scheduled on the transport (no thread sleeps).
//
// Start update is not idempotent. It is retried only when the request was
// certainly not processed (429, or the connection failed before sending).
// After any other failure the client re-reads the pipeline's latest_updates
// and adopts an update that was not in the snapshot it took just before the
// POST; when there is none it answers UNAVAILABLE and does not retry.
// Stop is idempotent in effect but may stop a *different* update when
// retried later, so it is only retried when certainly not sent; the job-type
// layer re-checks the active update before asking again.
//
//   PipelinesClient client(host, credentials, transport, {});
//   client.GetUpdate(pipeline_id, update_id, {deadline},
//                    [](absl::StatusOr<UpdateInfo> update) { ... });
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/rate_limiter.h"
#include "adapters/databricks/api/retry_policy.h"
#include "adapters/databricks/auth/credentials.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/wire/request_bodies.h"
#include "adapters/databricks/wire/types.h"

namespace polysync::databricks::api {

struct ClientOptions {
  // The workspace profile's name, for metrics and log lines.
  std::string workspace_name;
  BackoffOptions backoff;
  LimiterOptions limiter;
  // Deadline of a call whose caller set none.
  absl::Duration default_timeout = absl::Seconds(30);
  // After a start whose response was lost: the time allowed for finding the
  // update it may have created (independent of the caller's deadline).
  absl::Duration adoption_timeout = absl::Seconds(15);
  // PEM CA bundle trusted for this workspace instead of the system's.
  std::string ca_bundle_file;
  std::function<absl::Time()> now = [] { return absl::Now(); };
  Uniform01 uniform01 = DefaultUniform01();
};

// Per call.
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  // Sent as X-Request-Id for correlation (empty: none).
  std::string correlation_id;
  // True once the caller went away (e.g. the gRPC call was cancelled when
  // the server's grace period ran out). Consulted just before a
  // non-idempotent request (start, stop) is sent, which is then not sent:
  // a caller that saw its call cancelled must not find an update started;
  // and before ReadEvents asks for a further page.
  std::function<bool()> cancelled;
  // Bulk (an import) waits behind interactive calls for the workspace's
  // request slots and leaves them a share (rate_limiter.h).
  Priority priority = Priority::kInteractive;
};

// The result of StartUpdate.
struct StartUpdateOutcome {
  std::string update_id;
  std::string request_id;
  // True when the POST's response was lost and the update was found in
  // latest_updates instead.
  bool adopted = false;
};

struct Empty {};

// What ReadEvents reads: the events of one update (or of every update),
// at some levels, in one order, a page at a time, following the API's
// next_page_token until `stop_when` matches an event, the log ends or
// `max_pages` pages were read.
//
// Why: on a busy pipeline the event an answer needs (an update's terminal
// `update_progress` event for its end time, when STOPPING began, its ERROR
// events) can be pages behind newer events, and the API "may return fewer
// than max_results events in a response, even if there are more events
// available". One page is not enough; every reader above the API layer
// reads through this query.
//
//   EventQuery query;
//   query.update_id = update_id;
//   query.stop_when = IsTerminalUpdateProgress;  // api/events.h
//   query.keep = [](const PipelineEvent& e) {
//     return e.event_type == "update_progress";
//   };
//   client.ReadEvents(pipeline_id, std::move(query), ctx,
//       [](absl::StatusOr<EventsRead> read) {
//         if (read.ok() && read->end == EventsReadEnd::kMatched) { ... }
//       });
struct EventQuery {
  // Whose events: sent as `update_id='...'` in the filter; must be an id
  // (ids.h). Empty: every update's. Events whose origin names another
  // update are dropped even if the API returns them (as the Databricks CLI
  // does); events naming no update are kept.
  std::string update_id;
  // Levels to read (kEventLevels: INFO, WARN, ERROR, METRICS), sent as
  // `level='...'` or `level in (...)`. Empty: every level.
  std::vector<std::string> levels;
  // kOldestFirst sends `order_by timestamp asc`; the API's default is
  // newest first.
  EventOrder order = EventOrder::kNewestFirst;
  // `max_results` of each page: 1..kMaxEventsPageSize (request_bodies.h,
  // the API's largest).
  int page_size = kMaxEventsPageSize;
  // Resume a read from EventsRead::next_page_token. The API takes nothing
  // but max_results with a token (the token carries the filter and order),
  // so update_id, levels and order are then not sent; give the same ones
  // again, they still drop other updates' events and name `order`.
  std::string page_token;
  // Pages to read at most: 1..kMaxEventPages.
  int max_pages = 10;
  // Stop after the page that holds an event for which this is true (every
  // event of that page is still kept). Null: read until the log ends or
  // max_pages.
  std::function<bool(const PipelineEvent&)> stop_when;
  // Which events to return (stop_when still sees every event). Null: all.
  // Bounds memory when only a few events of many pages are wanted.
  std::function<bool(const PipelineEvent&)> keep;
};

// EventQuery::max_pages at most.
inline constexpr int kMaxEventPages = 100;

// Why a read ended.
enum class EventsReadEnd {
  kMatched,   // stop_when matched an event
  kLogEnded,  // the last page had no next_page_token
  kMaxPages,  // max_pages pages were read and the log goes on
};

// The result of ReadEvents.
struct EventsRead {
  // The events kept, in `order` (page after page).
  std::vector<PipelineEvent> events;
  EventOrder order = EventOrder::kNewestFirst;
  EventsReadEnd end = EventsReadEnd::kLogEnded;
  // Where the log goes on (EventQuery::page_token); empty when it ended.
  std::string next_page_token;
  // Pages read (requests answered).
  int pages = 0;
};

class PipelinesClient {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // `host` is the workspace URL ("https://adb-1.2.azuredatabricks.net").
  // `transport` must outlive the client and every call in flight.
  PipelinesClient(std::string host, std::shared_ptr<auth::Credentials> creds,
                  http::Transport& transport, ClientOptions options);
  ~PipelinesClient();

  void ListPipelines(ListPipelinesRequest request, CallContext ctx,
                     Done<ListPipelinesPage> done);
  void GetPipeline(std::string pipeline_id, CallContext ctx,
                   Done<Pipeline> done);
  void StartUpdate(std::string pipeline_id, StartUpdateRequest request,
                   CallContext ctx, Done<StartUpdateOutcome> done);
  void GetUpdate(std::string pipeline_id, std::string update_id,
                 CallContext ctx, Done<UpdateInfo> done);
  void ListUpdates(std::string pipeline_id, ListUpdatesRequest request,
                   CallContext ctx, Done<ListUpdatesPage> done);
  void GetRequestStatus(std::string pipeline_id, std::string request_id,
                        CallContext ctx, Done<RequestStatus> done);
  // POST /api/2.0/pipelines/{id}/stop: stops the pipeline's active update.
  void StopPipeline(std::string pipeline_id, CallContext ctx, Done<Empty> done);
  // One page of events. Callers above the API layer use ReadEvents.
  void ListEvents(std::string pipeline_id, ListEventsRequest request,
                  CallContext ctx, Done<ListEventsPage> done);
  // Reads events as `query` says (EventQuery), following next_page_token.
  // INVALID_ARGUMENT, with nothing sent, for a pipeline id or update id that
  // is not an id, an unknown level, page_size outside
  // 1..kMaxEventsPageSize or max_pages outside 1..kMaxEventPages. A page
  // that fails (after the usual retries) fails the read with its error;
  // CANCELLED when ctx.cancelled() before a further page. The whole read
  // keeps to ctx.deadline, or to the default timeout when there is none.
  void ReadEvents(std::string pipeline_id, EventQuery query, CallContext ctx,
                  Done<EventsRead> done);

  const std::string& host() const;
  // The limiter's current values (metrics, tests).
  const AdaptiveLimiter& limiter() const;
  // True when the last request to the workspace got no HTTP answer at all
  // (it failed to connect, or lost the connection or timed out).
  bool unreachable() const;

  struct Shared;  // implementation detail, shared with calls in flight

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace polysync::databricks::api

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_
