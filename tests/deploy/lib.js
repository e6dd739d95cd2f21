// Helpers shared by the deploy/ checks: the source tree, the npm tools that
// scripts/setup.sh installs into .cache/tools, and a small reader of
// config.proto (message -> fields, with their types and oneofs).
"use strict";
const fs = require("fs");
const path = require("path");

// The source tree: WORKSPACE in the runfiles is a symlink into it.
function sourceTree() {
  const ws = path.join(process.env.TEST_SRCDIR || "", process.env.TEST_WORKSPACE || "", "WORKSPACE");
  if (!process.env.TEST_SRCDIR) return path.resolve(__dirname, "..", "..");
  return path.dirname(fs.realpathSync(ws));
}

// require() of an npm tool from .cache/tools; a missing tool is a failure.
function tool(ws, name) {
  const dir = path.join(ws, ".cache", "tools", "node_modules", name);
  if (!fs.existsSync(dir)) {
    throw new Error(`npm package ${name} missing in ${dir}: run scripts/setup.sh`);
  }
  return require(dir);
}

let failures = 0;
function fail(where, message) {
  failures++;
  console.log(`FAIL ${where}: ${message}`);
}
function check(cond, where, message) {
  if (!cond) fail(where, message);
  return !!cond;
}
function finish(what) {
  if (failures > 0) {
    console.log(`${what}: ${failures} failure(s)`);
    process.exit(1);
  }
  console.log(`${what}: OK`);
}

// Parses a .proto file into {Message: {field: {type, repeated, oneof}}}.
// Enough for config.proto: messages (nested braces of oneof blocks), fields
// "[repeated] type name = N [options];". Nested message declarations are
// named by their simple name.
function parseProto(text) {
  const src = text.replace(/\/\/.*$/gm, "").replace(/\/\*[\s\S]*?\*\//g, "");
  const tokens = src.match(/"[^"]*"|[A-Za-z_][\w.]*|\d+|[{}=;[\]()<>,]/g) || [];
  const messages = {};
  const stack = []; // {kind: "message"|"oneof"|"other", name}
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if ((t === "message" || t === "oneof" || t === "enum" || t === "service") && tokens[i + 2] === "{") {
      const name = tokens[i + 1];
      const kind = t === "message" ? "message" : t === "oneof" ? "oneof" : "other";
      stack.push({ kind, name });
      if (kind === "message") messages[name] = {};
      i += 2;
      continue;
    }
    if (t === "{") {
      stack.push({ kind: "other", name: "" });
      continue;
    }
    if (t === "}") {
      stack.pop();
      continue;
    }
    const top = stack[stack.length - 1];
    if (!top || (top.kind !== "message" && top.kind !== "oneof")) continue;
    // A field: [repeated|optional] TYPE NAME = NUMBER
    let j = i;
    let repeated = false;
    if (tokens[j] === "repeated" || tokens[j] === "optional") {
      repeated = tokens[j] === "repeated";
      j++;
    }
    if (tokens[j + 2] === "=" && /^\d+$/.test(tokens[j + 3] || "") && /^[A-Za-z_]/.test(tokens[j])) {
      if (["reserved", "option", "extensions"].includes(tokens[j])) continue;
      const msg = [...stack].reverse().find((s) => s.kind === "message");
      const oneof = top.kind === "oneof" ? top.name : null;
      messages[msg.name][tokens[j + 1]] = { type: tokens[j], repeated, oneof };
      i = j + 3;
    }
  }
  return messages;
}

const SCALARS = {
  string: (v) => typeof v === "string",
  bytes: (v) => typeof v === "string",
  bool: (v) => typeof v === "boolean",
  int32: (v) => Number.isInteger(v),
  uint32: (v) => Number.isInteger(v) && v >= 0,
  int64: (v) => Number.isInteger(v) || /^-?\d+$/.test(v),
  uint64: (v) => Number.isInteger(v) || /^\d+$/.test(v),
  double: (v) => typeof v === "number",
  float: (v) => typeof v === "number",
  "google.protobuf.Duration": (v) => typeof v === "string" && /^\d+(\.\d{1,9})?s$/.test(v),
};

// Checks JSON value `obj` against message `type`: every key must be a field
// of the message (snake_case, as written in the .proto), values of the right
// kind, at most one field of each oneof. Calls report(path, message).
function checkMessage(messages, type, obj, where, report) {
  const fields = messages[type];
  if (!fields) return report(where, `unknown message type ${type}`);
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
    return report(where, `expected an object (${type})`);
  }
  const oneofs = {};
  for (const [key, value] of Object.entries(obj)) {
    const f = fields[key];
    const at = `${where}.${key}`;
    if (!f) {
      report(at, `unknown key "${key}" (${type} has: ${Object.keys(fields).join(", ")})`);
      continue;
    }
    if (f.oneof) (oneofs[f.oneof] = oneofs[f.oneof] || []).push(key);
    const values = f.repeated ? value : [value];
    if (f.repeated && !Array.isArray(value)) {
      report(at, "expected an array");
      continue;
    }
    values.forEach((v, k) => {
      const vat = f.repeated ? `${at}[${k}]` : at;
      if (SCALARS[f.type]) {
        if (!SCALARS[f.type](v)) report(vat, `expected ${f.type}, got ${JSON.stringify(v)}`);
      } else {
        checkMessage(messages, f.type, v, vat, report);
      }
    });
  }
  for (const [name, keys] of Object.entries(oneofs)) {
    if (keys.length > 1) report(where, `oneof ${name} has several fields set: ${keys.join(", ")}`);
  }
}

// Durations of the protobuf JSON mapping ("5s", "0.5s") in seconds.
function seconds(duration, fallback) {
  if (duration === undefined) return fallback;
  return parseFloat(duration);
}

module.exports = { sourceTree, tool, fail, check, finish, parseProto, checkMessage, seconds };

// Unknown-field check with the TypeScript declarations of kubernetes-models
// (its schema validation ignores unknown fields): every key of an object must
// be a property of the model's interface, recursively through the
// interfaces it references. Maps and inline types are not descended into.
function fieldChecker(modelsDir) {
  const nodeModules = path.dirname(modelsDir);
  const cache = {};
  function load(file) {
    if (cache[file]) return cache[file];
    const text = fs.readFileSync(file, "utf8");
    const imports = {};
    for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) {
      const from = m[2].startsWith(".") ? path.resolve(path.dirname(file), m[2]) : path.join(nodeModules, m[2]);
      imports[m[1]] = `${from}.d.ts`;
    }
    const props = {};
    const body = /export interface I\w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/.exec(text);
    if (!body) return (cache[file] = null);
    for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: (.*)$/gm)) {
      const ref = /^(?:Array<)?(I\w+)>?;$/.exec(m[2]);
      props[m[1]] = ref && imports[ref[1]] && fs.existsSync(imports[ref[1]]) ? imports[ref[1]] : null;
    }
    if (/extends TypeMeta/.test(text)) props.apiVersion = props.kind = null;
    return (cache[file] = props);
  }
  function walk(file, value, where, report) {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(file, v, `${where}[${i}]`, report));
    if (!value || typeof value !== "object") return;
    const props = load(file);
    if (!props) return;
    for (const [k, v] of Object.entries(value)) {
      if (!(k in props)) report(`${where}.${k}`, `unknown field "${k}"`);
      else if (props[k]) walk(props[k], v, `${where}.${k}`, report);
    }
  }
  return (apiVersion, kind, object, where, report) => {
    const file = path.join(modelsDir, ...apiVersion.split("/"), `${kind}.d.ts`);
    if (!fs.existsSync(file)) return report(where, `no declarations for ${apiVersion} ${kind}`);
    walk(file, object, where, report);
  };
}

module.exports.fieldChecker = fieldChecker;
