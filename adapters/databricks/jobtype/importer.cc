#include "adapters/databricks/jobtype/importer.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/wire/errors.h"
#include "adapters/databricks/wire/ids.h"
#include "common/log.h"

namespace polysync::databricks::jobtype {
namespace {

// A failure with no HTTP answer behind it: the workspace did not answer.
bool IsConnectionFailure(const absl::Status& status) {
  return (status.code() == absl::StatusCode::kUnavailable ||
          status.code() == absl::StatusCode::kDeadlineExceeded) &&
         !HttpStatusOf(status).has_value();
}

// An import's requests wait behind interactive calls (rate_limiter.h).
api::CallContext Bulk(api::CallContext ctx) {
  ctx.priority = Priority::kBulk;
  return ctx;
}

class ImportImpl final : public Import,
                         public std::enable_shared_from_this<ImportImpl> {
 public:
  ImportImpl(api::Workspace& ws, v1::ImportPipelinesRequest request,
             api::CallContext ctx, ImportOptions options, OnBatch on_batch,
             OnDone on_done)
      : ws_(ws),
        request_(std::move(request)),
        ctx_(Bulk(std::move(ctx))),
        options_(std::move(options)),
        max_details_(options_.max_concurrent_details > 0
                         ? options_.max_concurrent_details
                         : ws_.client().limiter().max_concurrency()),
        reserve_for_listing_(options_.max_concurrent_details > 0 ? 0 : 1),
        on_batch_(std::move(on_batch)),
        on_done_(std::move(on_done)) {}

  void Begin() {
    if (request_.pipeline_ids_size() > 0) {
      std::set<std::string> seen;
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& id : request_.pipeline_ids()) {
        if (seen.insert(id).second) queue_.push_back({id, ""});
      }
      listing_done_ = true;
    } else {
      ListNext("");
    }
    Pump();
  }

  void Cancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
      queue_.clear();
    }
    Pump();
  }

 private:
  struct Pending {
    std::string id;
    std::string name;
  };

  void ListNext(std::string page_token) {
    ListPipelinesRequest list;
    list.max_results = options_.page_size;
    list.page_token = std::move(page_token);
    if (!request_.name_filter().empty() &&
        LikeFilterIsExact(request_.name_filter())) {
      list.filter = absl::StrCat("name LIKE '%", request_.name_filter(), "%'");
    }
    auto self = shared_from_this();
    ws_.client().ListPipelines(std::move(list), ctx_,
                               [self](absl::StatusOr<ListPipelinesPage> page) {
                                 self->OnPage(std::move(page));
                               });
  }

  void OnPage(absl::StatusOr<ListPipelinesPage> page) {
    std::string next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!page.ok()) {
        listing_error_ = page.status();
        listing_done_ = true;
        // The list is incomplete and the import fails anyway: what was
        // listed is not fetched (against a dead workspace each fetch would
        // spend its whole retry budget).
        AbandonQueueLocked();
      } else if (cancelled_) {
        // Cancelled while the page was on its way: nothing more is sent.
        listing_done_ = true;
      } else if (unreachable_) {
        for (const auto& st : page->statuses) {
          not_fetched_ += absl::StrContains(st.name, request_.name_filter());
        }
        listing_done_ = true;
      } else {
        for (auto& s : page->statuses) {
          if (!absl::StrContains(s.name, request_.name_filter())) continue;
          queue_.push_back({std::move(s.pipeline_id), std::move(s.name)});
        }
        if (page->next_page_token.empty()) {
          listing_done_ = true;
        } else {
          next = page->next_page_token;
        }
      }
    }
    if (!next.empty()) ListNext(std::move(next));
    Pump();
  }

  // Starts detail fetches up to the limit; finishes when all is done.
  void Pump() {
    std::vector<Pending> to_fetch;
    bool finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // While pages are still listed, one request slot stays theirs. The
      // workspace's limit now (halved after a 429), not its ceiling: details
      // queued in the limiter would be ahead of the next page.
      const int slots =
          reserve_for_listing_ == 0
              ? max_details_
              : std::min(max_details_, ws_.client().limiter().concurrency_limit(
                                           Priority::kBulk));
      const int limit =
          std::max(1, slots - (listing_done_ ? 0 : reserve_for_listing_));
      while (!queue_.empty() && in_flight_ < limit) {
        to_fetch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        ++in_flight_;
      }
      if (listing_done_ && queue_.empty() && in_flight_ == 0 && !finished_) {
        finished_ = true;
        finish = true;
      }
    }
    for (auto& p : to_fetch) Fetch(std::move(p));
    if (finish) Finish();
  }

  void Fetch(Pending p) {
    if (auto s = ValidatePipelineId(p.id); !s.ok()) {
      OnDetail(p, s);
      return;
    }
    auto self = shared_from_this();
    ws_.client().GetPipeline(p.id, ctx_,
                             [self, p](absl::StatusOr<Pipeline> pipeline) {
                               self->OnDetail(p, std::move(pipeline));
                             });
  }

  void OnDetail(const Pending& p, absl::StatusOr<Pipeline> pipeline) {
    std::optional<v1::ImportPipelinesResponse> full;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      // A deadline that passed in the limiter's queue is no sign of a dead
      // workspace: the last request must have gone unanswered too.
      if (IsConnectionFailure(pipeline.status()) &&
          ws_.client().unreachable()) {
        if (++connection_failures_in_a_row_ >= options_.unreachable_after &&
            !unreachable_) {
          unreachable_ = true;
          unreachable_error_ = pipeline.status();
          AbandonQueueLocked();
        }
      } else {
        connection_failures_in_a_row_ = 0;
      }
      if (pipeline.ok()) {
        if (absl::StrContains(pipeline->name, request_.name_filter())) {
          *batch_.add_jobs() =
              ImportedJobFromPipeline(*pipeline, ws_.name(), ws_.host(),
                                      options_.configuration_prefixes);
        }
      } else {
        v1::PipelineError* e = batch_.add_errors();
        e->set_pipeline_id(p.id);
        e->set_name(p.name);
        e->set_code(static_cast<int>(pipeline.status().code()));
        e->set_message(std::string(pipeline.status().message()));
      }
      if (batch_.jobs_size() + batch_.errors_size() >= options_.batch_size) {
        full = std::move(batch_);
        batch_.Clear();
      }
    }
    if (full.has_value()) on_batch_(*std::move(full));
    Pump();
  }

  void Finish() {
    absl::Status status;
    v1::ImportPipelinesResponse last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = std::move(batch_);
      batch_.Clear();
      status = cancelled_ ? absl::CancelledError("import cancelled")
                          : EndStatusLocked();
    }
    if (last.jobs_size() + last.errors_size() > 0) on_batch_(std::move(last));
    log::Info(
        "import finished",
        {log::Field("workspace", ws_.name()), log::Field("ok", status.ok()),
         log::Field("correlation_id", ctx_.correlation_id)});
    on_done_(status);
  }

  // Drops the pipelines not yet fetched (counted in not_fetched_).
  void AbandonQueueLocked() {
    not_fetched_ += static_cast<int>(queue_.size());
    queue_.clear();
  }

  absl::Status EndStatusLocked() const {
    const std::string not_fetched =
        absl::StrCat(not_fetched_, " pipeline", not_fetched_ == 1 ? "" : "s",
                     " not fetched; import again");
    if (unreachable_) {
      return absl::UnavailableError(absl::StrCat(
          "workspace ", ws_.name(), " is unreachable (",
          connection_failures_in_a_row_,
          " pipelines in a row got no answer; the last: ",
          unreachable_error_.message(), "): import stopped",
          listing_done_ ? "" : " before listing ended", ", ", not_fetched));
    }
    if (listing_error_.ok() || not_fetched_ == 0) return listing_error_;
    return absl::Status(
        listing_error_.code(),
        absl::StrCat(listing_error_.message(), "; import stopped, ",
                     not_fetched, " once listing works"));
  }

  api::Workspace& ws_;
  const v1::ImportPipelinesRequest request_;
  const api::CallContext ctx_;
  const ImportOptions options_;
  const int max_details_;
  const int reserve_for_listing_;
  OnBatch on_batch_;
  OnDone on_done_;

  std::mutex mu_;
  std::deque<Pending> queue_;   // guarded by mu_
  int in_flight_ = 0;           // guarded by mu_
  bool listing_done_ = false;   // guarded by mu_
  bool cancelled_ = false;      // guarded by mu_
  bool finished_ = false;       // guarded by mu_
  absl::Status listing_error_;  // guarded by mu_
  // Pipelines whose details failed for want of any answer, in a row.
  int connection_failures_in_a_row_ = 0;  // guarded by mu_
  // Set after `unreachable_after` of those: nothing more is sent.
  bool unreachable_ = false;           // guarded by mu_
  absl::Status unreachable_error_;     // guarded by mu_
  int not_fetched_ = 0;                // guarded by mu_
  v1::ImportPipelinesResponse batch_;  // guarded by mu_
};

}  // namespace

bool LikeFilterIsExact(const std::string& name_filter) {
  for (char c : name_filter) {
    if (c == '\'' || c == '%' || c == '_' || c == '\\' ||
        static_cast<unsigned char>(c) < 0x20) {
      return false;
    }
  }
  return true;
}

std::shared_ptr<Import> Import::Start(api::Workspace& workspace,
                                      const v1::ImportPipelinesRequest& request,
                                      api::CallContext ctx,
                                      const ImportOptions& options,
                                      OnBatch on_batch, OnDone on_done) {
  for (const auto& id : request.pipeline_ids()) {
    if (auto s = ValidatePipelineId(id); !s.ok()) {
      on_done(s);
      return nullptr;
    }
  }
  auto op =
      std::make_shared<ImportImpl>(workspace, request, std::move(ctx), options,
                                   std::move(on_batch), std::move(on_done));
  op->Begin();
  return op;
}

}  // namespace polysync::databricks::jobtype
