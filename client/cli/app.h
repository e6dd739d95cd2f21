// pdlt's command line on CLI11: global flags (also from PDLT_* variables),
// one subcommand per entry of Commands(), per-command --help, --version,
// and bad usage as one line and exit 64.
#ifndef POLYSYNC_CLIENT_CLI_APP_H_
#define POLYSYNC_CLIENT_CLI_APP_H_

namespace polysync::client::cli {

// Parses argv, runs the command; returns the exit code.
int Run(int argc, char** argv);

}  // namespace polysync::client::cli

#endif  // POLYSYNC_CLIENT_CLI_APP_H_
