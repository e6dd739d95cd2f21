// The server binary (argv[2]) accepts what the overlays give it: every flag
// in each overlay's container args is one of the binary's flags (--help),
// and the dev overlay's container, started as the Deployment starts it (its
// args and its ConfigMap's config.json, with the listen ports moved to free
// loopback ports and the drain shortened), serves and exits 0 on SIGTERM.
"use strict";
const fs = require("fs");
const net = require("net");
const os = require("os");
const path = require("path");
const { execFileSync, spawn, spawnSync } = require("child_process");
const lib = require("./lib.js");
const { check, fail } = lib;

const ws = lib.sourceTree();
const YAML = lib.tool(ws, "yaml");
const binary = process.argv[2];
if (!binary || !fs.existsSync(binary)) throw new Error(`server binary missing: ${binary}`);

function kubectl() {
  const local = path.join(ws, ".cache", "tools", "bin", "kubectl");
  return fs.existsSync(local) ? local : "kubectl";
}
function render(overlay) {
  const out = execFileSync(kubectl(), ["kustomize", path.join(ws, "deploy", "k8s", "overlays", overlay)], { encoding: "utf8" });
  const objects = YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
  const deploy = objects.find((o) => o.kind === "Deployment");
  const cm = objects.find((o) => o.kind === "ConfigMap");
  return { container: deploy.spec.template.spec.containers[0], config: JSON.parse(cm.data["config.json"]) };
}

// Abseil's --help exits 1.
const help = spawnSync(binary, ["--help"], { encoding: "utf8" }).stdout || "";
const flags = new Set([...help.matchAll(/^\s+--(\w+) \(/gm)].map((m) => m[1]));
check(flags.has("config"), "--help", "lists no --config flag");

const overlaysDir = path.join(ws, "deploy", "k8s", "overlays");
for (const overlay of fs.readdirSync(overlaysDir).sort()) {
  if (!fs.existsSync(path.join(overlaysDir, overlay, "kustomization.yaml"))) continue;
  const { container } = render(overlay);
  for (const arg of [...(container.command || []), ...(container.args || [])]) {
    const m = /^--(?:no)?(\w+)(=|$)/.exec(arg);
    if (!check(m, `${overlay}: args`, `${arg} is not a --flag`)) continue;
    check(flags.has(m[1]), `${overlay}: args`, `${arg}: the server has no flag --${m[1]}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startDev() {
  const { container, config } = render("dev");
  const dir = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), "dev-overlay-"));
  const grpcPort = await freePort();
  config.listen = `127.0.0.1:${grpcPort}`;
  if (config.metrics_listen) config.metrics_listen = `127.0.0.1:${await freePort()}`;
  config.drain_delay = "0s";
  config.shutdown_grace = "2s";
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
  const args = container.args.map((a) => a.replace(/^--config=.*$/, `--config=${path.join(dir, "config.json")}`));
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 15000;
  let connected = false;
  while (Date.now() < deadline && !connected && child.exitCode === null) {
    connected = await new Promise((resolve) => {
      const sock = net.connect(grpcPort, "127.0.0.1", () => {
        sock.destroy();
        resolve(true);
      });
      sock.on("error", () => resolve(false));
    });
    if (!connected) await new Promise((r) => setTimeout(r, 100));
  }
  if (check(connected, "dev: start", `the server did not listen on ${config.listen}:\n${log}`)) {
    check(/OUT-OF-THE-BOX MODE/.test(log), "dev: start", "no out-of-the-box mode log line");
    child.kill("SIGTERM");
  } else {
    child.kill("SIGKILL");
  }
  const timer = setTimeout(() => child.kill("SIGKILL"), 15000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  if (connected) check(code === 0, "dev: SIGTERM", `exit ${code} ${signal || ""}:\n${log}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

startDev()
  .catch((e) => fail("dev", e.stack))
  .then(() => lib.finish("overlay start"));
