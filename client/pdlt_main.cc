// pdlt: the operator CLI of polysync-dlt, on the client library.
//
// Why: operators need something easier than hand-written grpcurl JSON. Tables
// for people by default, `--output json` (protobuf JSON, one object per line)
// for scripts, and exit codes a script can act on (client/cli/exit_codes.h,
// `pdlt --help`).
//
//   pdlt workspaces
//   pdlt import --name-filter Sales
//   pdlt start 0a1b2c3d-... --full-refresh --idempotency-key polysync-run-1
//   pdlt start 0a1b2c3d-... --param parameters.region=emea
//   pdlt watch 0a1b2c3d-...:4e5f... ; echo $?   # 0 success, 1 failed, ...
//
// The parts: the command line (client/cli/app), the commands
// (client/cli/commands), the output (client/cli/output) and the exit codes
// (client/cli/exit_codes).
#include <cstdlib>

#include "client/cli/app.h"
#include "common/log.h"

int main(int argc, char** argv) {
  // The library logs retries at info and gRPC logs handshake failures; an
  // operator sees one line on error (PDLT_DEBUG=1 shows everything).
  const bool debug = std::getenv("PDLT_DEBUG") != nullptr;
  polysync::log::SetMinLevel(debug ? polysync::log::Level::kDebug
                                   : polysync::log::Level::kError);
  setenv("GRPC_VERBOSITY", debug ? "DEBUG" : "NONE", /*overwrite=*/0);
  return polysync::client::cli::Run(argc, argv);
}
