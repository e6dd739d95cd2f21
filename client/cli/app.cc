#include "client/cli/app.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "client/cli/commands.h"
#include "client/cli/exit_codes.h"
#include "client/cli/output.h"
#include "client/cli/version.h"
#include "client/pipelines_client.h"

namespace polysync::client::cli {
namespace {

struct GlobalFlags {
  std::string server, workspace, tls_ca, tls_cert, tls_key, token_file, output,
      timeout;
  bool allow_plaintext_token = false;
  bool affinity = false;
};

void DefineGlobalFlags(CLI::App& app, GlobalFlags& g) {
  app.add_option("-s,--server", g.server,
                 "the service (default localhost:50051)")
      ->type_name("HOST:PORT")
      ->envname("PDLT_SERVER");
  app.add_option("-w,--workspace", g.workspace,
                 "workspace profile (default: the server's)")
      ->type_name("NAME")
      ->envname("PDLT_WORKSPACE");
  app.add_option("--tls-ca", g.tls_ca,
                 "CA bundle (PEM) to verify the server; enables TLS")
      ->type_name("FILE")
      ->envname("PDLT_TLS_CA");
  app.add_option("--tls-cert", g.tls_cert,
                 "client certificate (PEM); enables TLS")
      ->type_name("FILE")
      ->envname("PDLT_TLS_CERT");
  app.add_option("--tls-key", g.tls_key,
                 "client certificate's private key (PEM)")
      ->type_name("FILE")
      ->envname("PDLT_TLS_KEY");
  app.add_option("--token-file", g.token_file,
                 "file holding a bearer token (sent in clear text only to "
                 "loopback, unless --allow-plaintext-token)")
      ->type_name("FILE")
      ->envname("PDLT_TOKEN_FILE");
  app.add_flag("--allow-plaintext-token", g.allow_plaintext_token,
               "send --token-file's token without TLS to a non-loopback "
               "server (when something else, e.g. a service mesh, encrypts "
               "the traffic)")
      ->envname("PDLT_ALLOW_PLAINTEXT_TOKEN");
  app.add_option("-o,--output", g.output, "output format (default table)")
      ->type_name("table|json")
      ->envname("PDLT_OUTPUT");
  app.add_flag("--affinity", g.affinity,
               "resolve --server into its replicas and send each pipeline's "
               "calls to its own replica (a headless Service)")
      ->envname("PDLT_AFFINITY");
  app.add_option("-t,--timeout", g.timeout,
                 "budget of each call, e.g. 30s (watch: of the whole watch)")
      ->type_name("DURATION")
      ->envname("PDLT_TIMEOUT");
}

// "  -s, --server HOST:PORT         the service ... [$PDLT_SERVER]" per flag.
std::string FlagLines(const CLI::App& app) {
  std::string out;
  auto line = [&](const CLI::Option* o) {
    std::string left = "  ";
    for (const auto& s : o->get_snames()) absl::StrAppend(&left, "-", s, ", ");
    if (o->get_snames().empty()) left += "    ";
    for (const auto& l : o->get_lnames()) absl::StrAppend(&left, "--", l);
    if (o->get_type_size() != 0)
      absl::StrAppend(&left, " ", o->get_type_name());
    if (left.size() < 36) left.resize(36, ' ');
    absl::StrAppend(&out, left, " ", o->get_description());
    if (!o->get_envname().empty()) {
      absl::StrAppend(&out, " [$", o->get_envname(), "]");
    }
    out += "\n";
  };
  const CLI::Option* help = app.get_help_ptr();
  const CLI::Option* version = app.get_version_ptr();
  for (const CLI::Option* o : app.get_options()) {
    if (o->nonpositional() && o != help && o != version) line(o);
  }
  if (help != nullptr) line(help);
  if (version != nullptr) line(version);
  return out;
}

const Command* CommandNamed(const std::string& name) {
  for (const auto& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// The help pages: `pdlt --help` and `pdlt COMMAND --help`.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string,
                        CLI::AppFormatMode) const override {
    const Command* c =
        app->get_parent() == nullptr ? nullptr : CommandNamed(app->get_name());
    if (c == nullptr)
      return TopHelp(app->get_parent() == nullptr ? *app : *app->get_parent());
    std::string out =
        absl::StrCat("usage: pdlt ", c->name, c->args[0] ? " " : "", c->args,
                     " [flags]\n\n", c->summary, ".\n");
    const std::string own = FlagLines(*app);
    if (c->flags != nullptr) absl::StrAppend(&out, "\nflags:\n", own);
    absl::StrAppend(&out, "\nglobal flags:\n", FlagLines(*app->get_parent()));
    return out;
  }

  static std::string TopHelp(const CLI::App& app) {
    std::string out =
        "usage: pdlt [flags] COMMAND [ARGS] [flags]\n\n"
        "Operator CLI of polysync-dlt (Delta Live Tables pipelines for "
        "Polysync).\n\ncommands:\n";
    for (const auto& c : Commands()) {
      std::string left = absl::StrCat("  ", c.name, " ", c.args);
      if (left.size() < 24) left.resize(24, ' ');
      absl::StrAppend(&out, left, " ", c.summary, "\n");
    }
    absl::StrAppend(
        &out, "\nflags (every command):\n", FlagLines(app),
        "\n'pdlt COMMAND --help' describes a command.\n\n"
        "exit codes:\n"
        "  0   success (status/watch: the update succeeded)\n"
        "  1   the update failed\n"
        "  2   the update was cancelled\n"
        "  3   status: the update has not finished yet\n"
        "  64  bad usage (unknown command or flag, malformed argument, "
        "unreadable file)\n"
        "  65  the service refused or failed the request\n"
        "  69  the service is unreachable or not serving\n"
        "  77  not authenticated or not permitted\n");
    return out;
  }
};

int Usage(const std::string& message, const std::string& help_of) {
  std::cout.flush();
  std::cerr << "pdlt: " << OneLine(message) << " (see 'pdlt "
            << (help_of.empty() ? "" : help_of + " ") << "--help')"
            << std::endl;
  return kExitUsage;
}

}  // namespace

int Run(int argc, char** argv) {
  CLI::App app("Operator CLI of polysync-dlt", "pdlt");
  app.formatter(std::make_shared<HelpFormatter>());
  app.set_help_flag("-h,--help", "show help");
  app.set_version_flag("--version", absl::StrCat("pdlt ", kVersion),
                       "print pdlt's version");
  // A flag given twice: the last one counts.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.require_subcommand(1);
  GlobalFlags g;
  DefineGlobalFlags(app, g);

  Context ctx;
  const Command* chosen = nullptr;
  for (const auto& c : Commands()) {
    CLI::App* sub = app.add_subcommand(c.name, c.summary);
    sub->fallthrough();  // global flags also after the command
    if (c.args[0] != '\0') {
      sub->add_option(c.args, ctx.args.id, c.args)->required();
    }
    if (c.flags != nullptr) c.flags(*sub, ctx.args);
    sub->final_callback([&chosen, &c] { chosen = &c; });
  }
  // `pdlt help [COMMAND]`: the same pages as --help.
  std::string help_topic;
  CLI::App* help = app.add_subcommand("help", "")->group("");
  help->add_option("COMMAND", help_topic);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string parsed;
    for (const CLI::App* sub : app.get_subcommands()) parsed = sub->get_name();
    if (parsed.empty()) {
      const std::vector<std::string> rest = app.remaining();
      if (!rest.empty() && rest[0].rfind("-", 0) != 0) {
        return Usage(absl::StrCat("unknown command '", rest[0], "'"), "");
      }
      if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
        // No command: the whole help, to stderr.
        std::cerr << HelpFormatter::TopHelp(app);
        return kExitUsage;
      }
    }
    return Usage(e.what(), parsed);
  }
  if (help->parsed()) {
    const Command* c = CommandNamed(help_topic);
    if (!help_topic.empty() && c == nullptr) {
      return Usage(absl::StrCat("unknown command '", help_topic, "'"), "");
    }
    std::cout << (c == nullptr ? HelpFormatter::TopHelp(app)
                               : app.get_subcommand(c->name)->help());
    return kExitOk;
  }
  if (chosen == nullptr) return kExitUsage;
  const std::string command = chosen->name;

  if (g.output == "json") {
    ctx.json = true;
  } else if (!g.output.empty() && g.output != "table") {
    return Usage(
        absl::StrCat("--output must be table or json, not \"", g.output, "\""),
        command);
  }
  ClientOptions& o = ctx.options;
  o.target = g.server.empty() ? "localhost:50051" : g.server;
  o.workspace = g.workspace;
  o.tls_ca_file = g.tls_ca;
  o.tls_cert_file = g.tls_cert;
  o.tls_key_file = g.tls_key;
  o.token_file = g.token_file;
  o.allow_token_over_plaintext = g.allow_plaintext_token;
  o.pipeline_affinity = g.affinity;
  o.default_deadline = absl::Seconds(30);
  o.retry.max_attempts = 3;
  o.retry.initial_backoff = absl::Milliseconds(250);
  o.max_reconnect_backoff = absl::Seconds(2);
  if (!g.timeout.empty()) {
    absl::Duration d;
    if (!absl::ParseDuration(g.timeout, &d) || d <= absl::ZeroDuration()) {
      return Usage(absl::StrCat("--timeout must be a duration such as 30s or "
                                "5m, not \"",
                                g.timeout, "\""),
                   command);
    }
    o.default_deadline = d;
    o.import_deadline = d;
    o.watch_deadline = d;
  }
  auto client = PipelinesClient::Create(o);
  if (!client.ok()) {
    std::cerr << "pdlt: " << OneLine(client.status().message()) << std::endl;
    return kExitUsage;
  }
  ctx.client = *std::move(client);
  return chosen->run(ctx);
}

}  // namespace polysync::client::cli
