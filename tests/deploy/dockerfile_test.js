// Checks deploy/Dockerfile without a Docker engine: no dockerfile-utils
// errors; a Debian bookworm build stage that runs scripts/setup.sh and the
// optimised Bazel build; a bookworm-slim runtime stage that runs as a
// numeric non-root user, exposes 50051 and 9090 and starts the binary; and
// every shared library `ldd` lists for the server binary (argv[2]) is
// provided (`dpkg -S`) by a package the runtime stage installs, which
// installs nothing else but ca-certificates. Also checks .dockerignore.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const lib = require("./lib.js");
const { check, fail } = lib;

const ws = lib.sourceTree();
const utils = lib.tool(ws, "dockerfile-utils");
const binary = process.argv[2];
if (!binary || !fs.existsSync(binary)) throw new Error(`server binary missing: ${binary}`);

// Packages the runtime stage may install beyond the libraries' providers.
const NON_LIBRARY_PACKAGES = new Set(["ca-certificates"]);

const dockerfilePath = path.join(ws, "deploy", "Dockerfile");
const text = fs.readFileSync(dockerfilePath, "utf8");

// 1. dockerfile-utils: no errors (severity 1); warnings are printed.
for (const d of utils.validate(text)) {
  const line = `Dockerfile:${d.range.start.line + 1}: ${d.message}`;
  if (d.severity === 1) fail("dockerfile-utils", line);
  else console.log(`warning ${line}`);
}

// 2. Instructions: join continuation lines, drop comments, split stages.
const instructions = [];
let current = "";
for (const raw of text.split("\n")) {
  const line = raw.replace(/\s+$/, "");
  if (current === "" && /^\s*(#|$)/.test(line)) continue;
  if (/^\s*#/.test(line)) continue; // comment inside a continuation
  if (line.endsWith("\\")) {
    current += line.slice(0, -1) + " ";
    continue;
  }
  current += line;
  const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(current);
  if (m) instructions.push({ op: m[1].toUpperCase(), args: m[2].trim() });
  current = "";
}
const stages = [];
for (const ins of instructions) {
  if (ins.op === "FROM") stages.push({ from: ins.args, instructions: [] });
  else if (stages.length) stages[stages.length - 1].instructions.push(ins);
}
check(stages.length >= 2, "stages", `expected a build and a runtime stage, found ${stages.length}`);
const build = stages[0];
const runtime = stages[stages.length - 1];
const runOf = (stage) => stage.instructions.filter((i) => i.op === "RUN").map((i) => i.args).join("\n");
const last = (stage, op) => stage.instructions.filter((i) => i.op === op).pop();

check(/^debian:bookworm(\s|@|$)/.test(build.from), "build stage", `must be FROM debian:bookworm, is ${build.from}`);
check(/scripts\/setup\.sh/.test(runOf(build)), "build stage", "must run scripts/setup.sh");
check(/bazel build -c opt \/\/server:polysync-dlt/.test(runOf(build)), "build stage", "must run bazel build -c opt //server:polysync-dlt");
check(/^debian:bookworm-slim(\s|@|$)/.test(runtime.from), "runtime stage", `must be FROM debian:bookworm-slim, is ${runtime.from}`);
const user = last(runtime, "USER");
check(user && /^[1-9]\d*(:[1-9]\d*)?$/.test(user.args), "runtime stage", `USER must be a numeric non-root UID, is ${user && user.args}`);
const exposed = runtime.instructions.filter((i) => i.op === "EXPOSE").flatMap((i) => i.args.split(/\s+/)).map((p) => p.replace(/\/tcp$/, ""));
check(exposed.includes("50051") && exposed.includes("9090"), "runtime stage", `must EXPOSE 50051 9090, exposes ${exposed.join(" ")}`);
const entrypoint = last(runtime, "ENTRYPOINT");
let entry = [];
try {
  entry = JSON.parse(entrypoint ? entrypoint.args : "null") || [];
} catch (e) {
  fail("runtime stage", "ENTRYPOINT must be in exec (JSON) form");
}
check(entry.length >= 1 && /\/polysync-dlt$/.test(entry[0]), "runtime stage", `ENTRYPOINT must start the binary, is ${JSON.stringify(entry)}`);
const copies = runtime.instructions.filter((i) => i.op === "COPY" && /--from=/.test(i.args));
check(copies.some((i) => entry[0] && i.args.endsWith(entry[0])), "runtime stage", "the ENTRYPOINT binary must be copied from the build stage");

// 3. The runtime stage's apt-get install list.
const installed = new Set();
for (const cmd of runOf(runtime).split(/&&|;|\n/)) {
  const m = /apt-get\s+install\s+(.*)$/.exec(cmd.trim());
  if (!m) continue;
  for (const word of m[1].split(/\s+/)) if (word && !word.startsWith("-")) installed.add(word.replace(/[=:].*$/, ""));
}
check(installed.size > 0, "runtime stage", "no apt-get install found");

// 4. ldd of the binary -> library paths -> Debian packages.
function run(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    if (e.code === "ENOENT") throw new Error(`${cmd} missing`);
    return null;
  }
}
const ldd = run("ldd", [binary]);
if (ldd === null) throw new Error(`ldd ${binary} failed`);
const libraries = [];
for (const line of ldd.split("\n")) {
  if (/not found/.test(line)) fail("ldd", line.trim());
  const m = /=>\s*(\/\S+)/.exec(line) || /^\s*(\/\S+)\s+\(/.exec(line);
  // Under --config=asan/tsan the test's binary links the sanitizer
  // runtimes; the release binary never does.
  if (m && /\/lib(a|ub|t|l|hwa)san\.so/.test(m[1])) console.log(`ignored (sanitizer runtime): ${m[1]}`);
  else if (m) libraries.push(m[1]);
}
check(libraries.length > 5, "ldd", `suspiciously few libraries: ${libraries.join(" ")}`);

// dpkg -S needs the path a package ships: try the path, its target, and the
// other side of the /lib -> /usr/lib merge. One dpkg call for all of them.
function candidatesOf(file) {
  const real = fs.realpathSync(file);
  const out = [file, real];
  for (const f of [file, real]) out.push(f.startsWith("/usr/") ? f.slice(4) : `/usr${f}`);
  return [...new Set(out)];
}
const owners = {};
{
  const all = [...new Set(libraries.flatMap(candidatesOf))];
  let out = "";
  try {
    out = execFileSync("dpkg", ["-S", ...all], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    if (e.code === "ENOENT") throw new Error("dpkg missing");
    out = e.stdout || ""; // exits 1 when some candidates are not found
  }
  for (const line of out.split("\n")) {
    const m = /^(\S+?)(?::\w+)?: (\/\S+)$/.exec(line);
    if (m && !m[1].includes(",")) owners[m[2]] = m[1];
  }
}
function owner(file) {
  const found = candidatesOf(file).find((f) => owners[f]);
  return found ? owners[found] : null;
}
const needed = new Set();
for (const file of libraries) {
  const pkg = owner(file);
  if (!check(pkg, "dpkg -S", `no Debian package provides ${file}`)) continue;
  needed.add(pkg);
  check(installed.has(pkg), "runtime stage", `${file} is provided by ${pkg}, which the runtime stage does not install`);
}
for (const pkg of installed) {
  check(needed.has(pkg) || NON_LIBRARY_PACKAGES.has(pkg), "runtime stage", `installs ${pkg}, which provides none of the binary's libraries`);
}
console.log(`ldd: ${libraries.length} libraries from ${needed.size} Debian packages`);

// 5. .dockerignore keeps Bazel outputs, caches and git out of the context.
const ignorePath = path.join(ws, ".dockerignore");
if (check(fs.existsSync(ignorePath), ".dockerignore", "missing")) {
  const patterns = fs.readFileSync(ignorePath, "utf8").split("\n").map((l) => l.trim());
  for (const p of ["bazel-*", ".cache", ".git"]) check(patterns.includes(p), ".dockerignore", `must exclude ${p}`);
  // No tracked source the build needs is left out of the context (Docker's
  // patterns: Go filepath.Match plus "**"; a match on a directory excludes
  // what is under it; "!" re-includes).
  const rules = patterns
    .filter((p) => p && !p.startsWith("#"))
    .map((p) => {
      const negate = p.startsWith("!");
      const glob = p.replace(/^!/, "").replace(/^\/+/, "").replace(/\/+$/, "");
      const re = glob
        .split(/(\*\*\/?|\*|\?)/)
        .map((part) => (part.startsWith("**") ? "(?:.*/)?" : part === "*" ? "[^/]*" : part === "?" ? "[^/]" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
        .join("");
      return { negate, re: new RegExp(`^${re}$`) };
    });
  const excluded = (file) => {
    const parts = file.split("/");
    let out = false;
    for (const r of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (r.re.test(parts.slice(0, i).join("/"))) out = !r.negate;
      }
    }
    return out;
  };
  const tracked = execFileSync("git", ["-C", ws, "ls-files"], { encoding: "utf8" }).split("\n").filter(Boolean);
  check(tracked.length > 10, ".dockerignore", "git ls-files listed almost nothing");
  for (const f of tracked) {
    if (f === ".gitignore" || f === ".dockerignore") continue;
    check(!excluded(f), ".dockerignore", `excludes the tracked file ${f}`);
  }
  check(excluded("bazel-bin/server/polysync-dlt") && excluded(".cache/tools/package.json") && excluded(".git/HEAD"), ".dockerignore", "pattern matching is broken");
}
lib.finish("dockerfile");
