// Test helpers that turn the adapter's callback APIs into blocking calls.
//
//   absl::StatusOr<Pipeline> p = Await<Pipeline>([&](auto done) {
//     client.GetPipeline(id, {}, done);
//   });
#ifndef POLYSYNC_TESTS_TESTING_SYNC_H_
#define POLYSYNC_TESTS_TESTING_SYNC_H_

#include <chrono>
#include <functional>
#include <future>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polysync::testing {

// Calls `start(done)` and waits (at most `timeout`) for `done` to be called.
template <typename T>
absl::StatusOr<T> Await(
    const std::function<void(std::function<void(absl::StatusOr<T>)>)>& start,
    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<T>>>();
  auto future = promise->get_future();
  start([promise](absl::StatusOr<T> result) {
    promise->set_value(std::move(result));
  });
  if (future.wait_for(timeout) != std::future_status::ready) {
    return absl::DeadlineExceededError("test: the callback never ran");
  }
  return future.get();
}

}  // namespace polysync::testing

#endif  // POLYSYNC_TESTS_TESTING_SYNC_H_
