#include "adapters/databricks/http/curl_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/log.h"

namespace polysync::databricks::http {
namespace {

// curl_global_init is not thread-safe; do it once, before any transport.
void GlobalInitOnce() {
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

// One request in flight: owns the easy handle and everything curl points to.
struct Transfer {
  Request request;
  Transport::Callback done;
  absl::Time started;
  CURL* easy = nullptr;
  curl_slist* header_list = nullptr;
  Response response;
  size_t max_bytes = 0;
  bool too_large = false;
  char error[CURL_ERROR_SIZE] = {0};

  ~Transfer() {
    if (header_list != nullptr) curl_slist_free_all(header_list);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  absl::string_view line(data, n);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after 100-continue or a proxy): start over.
    t->response.headers.clear();
    return n;
  }
  const auto colon = line.find(':');
  if (colon != absl::string_view::npos) {
    t->response.headers.emplace_back(
        absl::AsciiStrToLower(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return n;
}

TransportFailure Classify(CURLcode code, const Transfer& t, long bytes_sent) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return TransportFailure::kNotSent;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return TransportFailure::kTls;
    case CURLE_FILESIZE_EXCEEDED:
      return TransportFailure::kResponseTooLarge;
    case CURLE_WRITE_ERROR:
      return t.too_large ? TransportFailure::kResponseTooLarge
                         : TransportFailure::kConnectionLost;
    case CURLE_OPERATION_TIMEDOUT:
      return bytes_sent == 0 ? TransportFailure::kNotSent
                             : TransportFailure::kTimeout;
    default:
      return bytes_sent == 0 ? TransportFailure::kNotSent
                             : TransportFailure::kConnectionLost;
  }
}

absl::Status FailureStatus(TransportFailure failure, CURLcode code,
                           const Transfer& t, size_t cap) {
  const std::string what =
      absl::StrCat(t.request.method, " ", t.request.url.substr(0, 200), ": ");
  const std::string detail =
      t.error[0] != 0 ? std::string(t.error) : curl_easy_strerror(code);
  switch (failure) {
    case TransportFailure::kResponseTooLarge:
      return absl::InternalError(absl::StrCat(
          what, "response body exceeds the ", cap, "-byte limit; refused"));
    case TransportFailure::kTimeout:
      return absl::DeadlineExceededError(absl::StrCat(
          what, "no complete response before the deadline (", detail, ")"));
    case TransportFailure::kTls:
      return absl::UnavailableError(absl::StrCat(what, "TLS failed: ", detail));
    case TransportFailure::kNotSent:
      if (code == CURLE_OPERATION_TIMEDOUT) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, "could not connect before the deadline"));
      }
      return absl::UnavailableError(
          absl::StrCat(what, "could not connect: ", detail));
    case TransportFailure::kConnectionLost:
    case TransportFailure::kNone:
      break;
  }
  return absl::UnavailableError(absl::StrCat(
      what, "connection lost before a complete response: ", detail));
}

class CurlTransport final : public Transport {
 public:
  explicit CurlTransport(CurlTransportOptions options)
      : options_(std::move(options)) {
    GlobalInitOnce();
    multi_ = curl_multi_init();
    curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS,
                      static_cast<long>(options_.max_cached_connections));
    loop_ = std::thread([this] { Loop(); });
  }

  ~CurlTransport() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    curl_multi_wakeup(multi_);
    loop_.join();
    curl_multi_cleanup(multi_);
  }

  void Send(Request request, Callback done) override {
    const absl::Time now = absl::Now();
    absl::Status refused = CheckUrlAllowed(request.url);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (refused.ok() && cancelled_) {
        refused = CancelledStatus(request.method, request.url);
      }
    }
    if (refused.ok() && request.deadline != absl::InfiniteFuture() &&
        request.deadline <= now) {
      refused = absl::DeadlineExceededError(
          absl::StrCat(request.method, " ", request.url.substr(0, 200),
                       ": deadline already passed; not sent"));
    }
    if (!refused.ok()) {
      // Still answered on the transport's thread, like every other result.
      RunAfter(absl::ZeroDuration(), [done = std::move(done), refused,
                                      now]() mutable {
        Complete(std::move(done), refused, TransportFailure::kNotSent, {}, now);
      });
      return;
    }
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    t->started = now;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_ && !cancelled_) {
        incoming_.push_back(std::move(t));
      }
    }
    if (t != nullptr) {  // shutting down, or cancelled just now
      absl::Status status;
      {
        std::lock_guard<std::mutex> lock(mu_);
        status = stopping_ ? absl::CancelledError("HTTP transport shut down")
                           : CancelledStatus(t->request.method, t->request.url);
      }
      Complete(std::move(t->done), std::move(status),
               TransportFailure::kNotSent, {}, now);
      return;
    }
    WakeUnlessOnLoop();
  }

  void RunAfter(absl::Duration delay, std::function<void()> fn) override {
    bool queued = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!exited_) {
        timers_.push(
            Timer{absl::Now() + delay, next_timer_id_++, std::move(fn)});
        queued = true;
      }
    }
    if (!queued) {
      fn();  // the loop has exited (shutdown): run it here, now
      return;
    }
    WakeUnlessOnLoop();
  }

  void CancelAll(absl::string_view reason) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return;
      cancelled_ = true;
      cancel_reason_ = std::string(reason);
    }
    log::Info("cancelling every request to Databricks still in flight",
              {log::Field("reason", std::string(reason))});
    curl_multi_wakeup(multi_);
  }

 private:
  // CANCELLED for a request CancelAll() ended or refused. Needs mu_ held.
  absl::Status CancelledStatus(absl::string_view method,
                               absl::string_view url) const {
    return absl::CancelledError(absl::StrCat(method, " ", url.substr(0, 200),
                                             ": cancelled: ", cancel_reason_));
  }

  // After CancelAll(): ends the transfers in flight and the ones not yet
  // started. Loop thread only.
  void FailCancelled(std::deque<std::unique_ptr<Transfer>>& incoming) {
    std::vector<std::pair<std::unique_ptr<Transfer>, TransportFailure>> ended;
    for (auto& [easy, t] : transfers_) {
      curl_multi_remove_handle(multi_, easy);
      ended.emplace_back(std::move(t), TransportFailure::kConnectionLost);
    }
    transfers_.clear();
    for (auto& t : incoming) {
      ended.emplace_back(std::move(t), TransportFailure::kNotSent);
    }
    incoming.clear();
    for (auto& [t, failure] : ended) {
      absl::Status status;
      {
        std::lock_guard<std::mutex> lock(mu_);
        status = CancelledStatus(t->request.method, t->request.url);
      }
      Complete(std::move(t->done), std::move(status), failure, {}, t->started);
    }
  }

  // A Send or RunAfter from the loop's own thread (a callback sending the
  // next request) needs no wake-up: the loop looks at the queues again
  // before it waits. That saves two system calls and a loop turn per request
  // of an import.
  void WakeUnlessOnLoop() {
    if (std::this_thread::get_id() != loop_.get_id()) {
      curl_multi_wakeup(multi_);
    }
  }

  struct Timer {
    absl::Time when;
    uint64_t id;
    std::function<void()> fn;
    bool operator>(const Timer& other) const {
      return when != other.when ? when > other.when : id > other.id;
    }
  };

  static void Complete(Callback done, absl::Status status,
                       TransportFailure failure, Response response,
                       absl::Time started) {
    TransportResult result;
    result.status = std::move(status);
    result.failure = failure;
    result.response = std::move(response);
    result.elapsed = absl::Now() - started;
    done(std::move(result));
  }

  void Start(std::unique_ptr<Transfer> t) {
    CURL* easy = curl_easy_init();
    t->easy = easy;
    t->max_bytes = options_.max_response_bytes;
    const Request& r = t->request;
    curl_easy_setopt(easy, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                     options_.http2_prior_knowledge
                         ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                         : CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
    if (!r.idempotent) {
      // libcurl resends a request whose reused connection died before any
      // response byte; never for a request that may have been processed.
      curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (!r.ca_bundle_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, r.ca_bundle_file.c_str());
    } else if (!options_.ca_bundle_file.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle_file.c_str());
    }
    curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(options_.max_response_bytes));
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");

    const absl::Time deadline = r.deadline == absl::InfiniteFuture()
                                    ? t->started + options_.default_timeout
                                    : r.deadline;
    const int64_t timeout_ms =
        std::max<int64_t>(1, absl::ToInt64Milliseconds(deadline - absl::Now()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    curl_easy_setopt(
        easy, CURLOPT_CONNECTTIMEOUT_MS,
        static_cast<long>(std::min<int64_t>(
            timeout_ms, absl::ToInt64Milliseconds(options_.connect_timeout))));

    if (r.method == "GET") {
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      if (r.method != "DELETE" || !r.body.empty()) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, r.body.data());
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(r.body.size()));
      }
    }
    // No "Expect: 100-continue" round trip for small bodies.
    t->header_list = curl_slist_append(t->header_list, "Expect:");
    for (const auto& [name, value] : r.headers) {
      t->header_list = curl_slist_append(
          t->header_list, absl::StrCat(name, ": ", value).c_str());
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->header_list);

    curl_multi_add_handle(multi_, easy);
    transfers_.emplace(easy, std::move(t));
  }

  void Finish(CURL* easy, CURLcode code) {
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers_.erase(it);
    curl_multi_remove_handle(multi_, easy);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    long bytes_sent = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &bytes_sent);
    if (code == CURLE_OK) {
      t->response.status = static_cast<int>(status);
      long version = 0;
      curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
      t->response.http_version = version >= CURL_HTTP_VERSION_2_0 ? 2 : 1;
      long connects = 0;
      curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
      t->response.new_connection = connects > 0;
      Complete(std::move(t->done), absl::OkStatus(), TransportFailure::kNone,
               std::move(t->response), t->started);
      return;
    }
    const TransportFailure failure = Classify(code, *t, bytes_sent);
    absl::Status status_error =
        FailureStatus(failure, code, *t, options_.max_response_bytes);
    log::Debug("http transport failure",
               {log::Field("method", t->request.method),
                log::Field("failure", TransportFailureName(failure)),
                log::Field("curl_code", static_cast<int>(code))});
    Complete(std::move(t->done), std::move(status_error), failure, {},
             t->started);
  }

  void Loop() {
    while (true) {
      std::deque<std::unique_ptr<Transfer>> incoming;
      std::vector<std::function<void()>> due;
      absl::Time next_timer = absl::InfiniteFuture();
      bool stopping;
      bool cancelled;
      {
        std::lock_guard<std::mutex> lock(mu_);
        incoming.swap(incoming_);
        const absl::Time now = absl::Now();
        while (!timers_.empty() && timers_.top().when <= now) {
          due.push_back(std::move(const_cast<Timer&>(timers_.top()).fn));
          timers_.pop();
        }
        if (!timers_.empty()) next_timer = timers_.top().when;
        stopping = stopping_;
        cancelled = cancelled_;
      }
      if (stopping) break;
      if (cancelled) FailCancelled(incoming);
      for (auto& t : incoming) Start(std::move(t));
      for (auto& fn : due) fn();

      int running = 0;
      curl_multi_perform(multi_, &running);
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_, &queued)) {
        if (msg->msg == CURLMSG_DONE)
          Finish(msg->easy_handle, msg->data.result);
      }

      int wait_ms = 1000;
      {
        // Callbacks above may have queued requests or timers without a
        // wake-up (WakeUnlessOnLoop): look again.
        std::lock_guard<std::mutex> lock(mu_);
        if (!timers_.empty()) next_timer = timers_.top().when;
        if (!incoming_.empty()) wait_ms = 0;
      }
      if (next_timer != absl::InfiniteFuture()) {
        // Rounded up, so the loop never wakes just before a timer is due.
        const absl::Duration until = next_timer - absl::Now();
        const int64_t ms = until <= absl::ZeroDuration()
                               ? 0
                               : absl::ToInt64Milliseconds(
                                     absl::Ceil(until, absl::Milliseconds(1)));
        wait_ms = std::min<int>(wait_ms, std::min<int64_t>(ms, 1000));
      }
      if (!incoming.empty() || !due.empty()) {
        // Something new was started: let curl make progress right away.
        wait_ms = 0;
      }
      curl_multi_poll(multi_, nullptr, 0, wait_ms, nullptr);
    }
    // Shutting down: fail what is in flight, run what is scheduled (so every
    // callback still runs exactly once), until nothing is left.
    for (auto& [easy, t] : transfers_) {
      curl_multi_remove_handle(multi_, easy);
      Complete(std::move(t->done),
               absl::CancelledError("HTTP transport shut down"),
               TransportFailure::kConnectionLost, {}, t->started);
    }
    transfers_.clear();
    while (true) {
      std::deque<std::unique_ptr<Transfer>> incoming;
      std::vector<std::function<void()>> due;
      {
        std::lock_guard<std::mutex> lock(mu_);
        incoming.swap(incoming_);
        while (!timers_.empty()) {
          due.push_back(std::move(const_cast<Timer&>(timers_.top()).fn));
          timers_.pop();
        }
      }
      if (incoming.empty() && due.empty()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (incoming_.empty() && timers_.empty()) {
          exited_ = true;
          break;
        }
        continue;
      }
      for (auto& t : incoming) {
        Complete(std::move(t->done),
                 absl::CancelledError("HTTP transport shut down"),
                 TransportFailure::kNotSent, {}, t->started);
      }
      for (auto& fn : due) fn();
    }
  }

  const CurlTransportOptions options_;
  CURLM* multi_ = nullptr;
  std::thread loop_;

  std::mutex mu_;
  bool stopping_ = false;                           // guarded by mu_
  bool exited_ = false;                             // guarded by mu_
  bool cancelled_ = false;                          // guarded by mu_
  std::string cancel_reason_;                       // guarded by mu_
  std::deque<std::unique_ptr<Transfer>> incoming_;  // guarded by mu_
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>>
      timers_;                  // guarded by mu_
  uint64_t next_timer_id_ = 0;  // guarded by mu_

  // Only touched by the loop thread.
  std::map<CURL*, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace

std::unique_ptr<Transport> MakeCurlTransport(CurlTransportOptions options) {
  return std::make_unique<CurlTransport>(std::move(options));
}

TransportResult SendAndWait(Transport& transport, Request request) {
  std::promise<TransportResult> promise;
  auto future = promise.get_future();
  transport.Send(std::move(request), [&promise](TransportResult result) {
    promise.set_value(std::move(result));
  });
  return future.get();
}

}  // namespace polysync::databricks::http
