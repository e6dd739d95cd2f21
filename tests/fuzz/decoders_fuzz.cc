// Fuzz target: every Databricks JSON decoder and the HTTP error mapping. The
// first byte picks the decoder; the rest is the response body. Decoders
// must never crash, whatever the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "adapters/databricks/wire/decoders.h"
#include "adapters/databricks/wire/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace d = ::polysync::databricks;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1,
                              size - 1);
  switch (data[0] % 11) {
    case 0:
      (void)d::DecodePipeline(body);
      break;
    case 1:
      (void)d::DecodeListPipelinesPage(body);
      break;
    case 2:
      (void)d::DecodeUpdate(body);
      break;
    case 3:
      (void)d::DecodeListUpdatesPage(body);
      break;
    case 4:
      (void)d::DecodeStartUpdateResult(body);
      break;
    case 5:
      (void)d::DecodeRequestStatus(body);
      break;
    case 6:
      (void)d::DecodeListEventsPage(body);
      break;
    case 7:
      (void)d::DecodeDatabricksError(body);
      break;
    case 8:
      (void)d::DecodeTokenResponse(body);
      break;
    case 9:
      (void)d::StatusFromHttpResponse("GET pipelines/{id}", 400 + data[0] % 200,
                                      body, "req");
      break;
    default:
      (void)d::StatusFromTokenEndpointResponse("token", 401, body, "");
      break;
  }
  return 0;
}
