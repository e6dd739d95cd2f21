// pdlt's version (`pdlt --version`): the one place it is written.
#ifndef POLYSYNC_CLIENT_CLI_VERSION_H_
#define POLYSYNC_CLIENT_CLI_VERSION_H_

namespace polysync::client::cli {

inline constexpr char kVersion[] = "1.0.0";

}  // namespace polysync::client::cli

#endif  // POLYSYNC_CLIENT_CLI_VERSION_H_
