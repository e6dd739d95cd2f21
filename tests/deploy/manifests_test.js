// Renders every overlay under deploy/k8s/overlays with `kubectl kustomize`,
// validates each object against the Kubernetes schemas of npm
// kubernetes-models 4.5.1, and checks what matters for polysync-dlt: gRPC
// probes on the right health service names, a locked-down security context,
// a grace period longer than the server's drain, replicas, the
// NetworkPolicy's ports and namespaces, and a config.json that only uses keys
// of proto/polysync/databricks/v1/config.proto and files that are mounted.
"use strict";
const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");
const lib = require("./lib.js");
const { check, fail } = lib;

const ws = lib.sourceTree();
const YAML = lib.tool(ws, "yaml");
const models = path.join(ws, ".cache", "tools", "node_modules", "kubernetes-models");
if (!fs.existsSync(models)) throw new Error(`kubernetes-models missing in ${models}: run scripts/setup.sh`);

const READINESS_SERVICE = "polysync.databricks.v1.DatabricksPipelines";
const GRPC_PORT = 50051;
const METRICS_PORT = 9090;
const CONFIG_DIR = "/etc/polysync-dlt";
const IMDS = "169.254.169.254/32";

// kubectl: the one setup.sh put in .cache/tools/bin, else the PATH's; its
// kustomize must be v5.
let kubectlPath = null;
function kubectl() {
  if (kubectlPath) return kubectlPath;
  const local = path.join(ws, ".cache", "tools", "bin", "kubectl");
  const candidate = fs.existsSync(local) ? local : "kubectl";
  let version = "";
  try {
    version = execFileSync(candidate, ["version", "--client"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    throw new Error(`kubectl missing (${candidate}): run scripts/setup.sh`);
  }
  if (!/Kustomize Version: v5/.test(version)) {
    throw new Error(`${candidate} has no kustomize v5:\n${version}run scripts/setup.sh`);
  }
  return (kubectlPath = candidate);
}

const checkFields = lib.fieldChecker(models);
const protoMessages = lib.parseProto(
  fs.readFileSync(path.join(ws, "proto/polysync/databricks/v1/config.proto"), "utf8"),
);
check(protoMessages.ServerConfig, "config.proto", "no message ServerConfig parsed");

// kubernetes-models class for apiVersion/kind, e.g. apps/v1 Deployment ->
// kubernetes-models/apps/v1/Deployment.
function modelFor(apiVersion, kind) {
  const file = path.join(models, ...apiVersion.split("/"), `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  return require(file)[kind];
}

function labelsMatch(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => (labels || {})[k] === v);
}

function portOf(hostPort) {
  const m = /:(\d+)$/.exec(hostPort || "");
  return m ? Number(m[1]) : null;
}

// Every "file" path in the config (SecretRef.file and *_file keys).
function configFiles(value, where, out) {
  if (Array.isArray(value)) value.forEach((v, i) => configFiles(v, `${where}[${i}]`, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string" && (k === "file" || k.endsWith("_file"))) out.push({ where: `${where}.${k}`, file: v });
      else configFiles(v, `${where}.${k}`, out);
    }
  }
  return out;
}
function configEnvs(value, out) {
  if (Array.isArray(value)) value.forEach((v) => configEnvs(v, out));
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      if (k === "env" && typeof v === "string") out.push(v);
      else configEnvs(v, out);
    }
  }
  return out;
}
function usesAuth(config, kind) {
  return (config.workspaces || []).some((w) => w[kind] !== undefined);
}

function checkOverlay(name, dir) {
  const at = (what) => `${name}: ${what}`;
  let rendered;
  try {
    rendered = execFileSync(kubectl(), ["kustomize", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    return fail(at("kustomize"), `${e.message}\n${e.stderr || ""}`);
  }
  const docs = YAML.parseAllDocuments(rendered);
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length) fail(at("yaml"), doc.errors.map((e) => e.message).join("; "));
    const o = doc.toJS();
    if (o) objects.push(o);
  }

  // Schema validation of every object.
  for (const o of objects) {
    const where = at(`${o.kind}/${o.metadata && o.metadata.name}`);
    const Model = modelFor(o.apiVersion || "", o.kind || "");
    if (!check(Model, where, `no Kubernetes schema for ${o.apiVersion} ${o.kind}`)) continue;
    try {
      new Model(o).validate();
    } catch (e) {
      fail(where, `schema: ${e.message}`);
    }
    checkFields(o.apiVersion, o.kind, o, where, (w, m) => fail(w, m));
  }

  const all = (kind) => objects.filter((o) => o.kind === kind);
  const one = (kind) => {
    const list = all(kind);
    check(list.length === 1, at(kind), `expected exactly one, found ${list.length}`);
    return list[0];
  };
  const isProd = name.startsWith("prod");

  // One namespace for everything, created by the overlay.
  const namespaces = new Set(objects.filter((o) => o.kind !== "Namespace").map((o) => o.metadata.namespace));
  check(namespaces.size === 1 && [...namespaces][0], at("namespace"), `objects in ${[...namespaces].join(", ")}`);
  const ns = one("Namespace");
  if (ns) check(namespaces.has(ns.metadata.name), at("Namespace"), `${ns.metadata.name} is not the objects' namespace`);

  const deploy = one("Deployment");
  const sa = one("ServiceAccount");
  const cm = one("ConfigMap");
  const hpa = one("HorizontalPodAutoscaler");
  const pdb = one("PodDisruptionBudget");
  const np = one("NetworkPolicy");
  if (!deploy || !sa || !cm || !hpa || !pdb || !np) return;

  // The configuration file.
  let config = {};
  if (check(cm.data && typeof cm.data["config.json"] === "string", at("ConfigMap"), "no key config.json")) {
    try {
      config = JSON.parse(cm.data["config.json"]);
      lib.checkMessage(protoMessages, "ServerConfig", config, "config.json", (w, m) => fail(at(w), m));
    } catch (e) {
      fail(at("config.json"), `does not parse: ${e.message}`);
    }
  }
  check(portOf(config.listen || "0.0.0.0:50051") === GRPC_PORT, at("config.json"), `listen is not port ${GRPC_PORT}`);
  check(config.metrics_listen === `0.0.0.0:${METRICS_PORT}`, at("config.json"), `metrics_listen must be 0.0.0.0:${METRICS_PORT}`);
  const drain = lib.seconds(config.drain_delay, 5) + lib.seconds(config.shutdown_grace, 20);

  // The Deployment.
  const spec = deploy.spec;
  const pod = spec.template.spec;
  const podLabels = spec.template.metadata.labels;
  check(labelsMatch(spec.selector.matchLabels, podLabels), at("Deployment"), "selector does not match the pod labels");
  check(pod.serviceAccountName === sa.metadata.name, at("Deployment"), "serviceAccountName is not the overlay's ServiceAccount");
  const grace = pod.terminationGracePeriodSeconds;
  check(grace > 25 && grace > drain, at("Deployment"), `terminationGracePeriodSeconds ${grace} must exceed 25 and drain_delay + shutdown_grace (${drain}s)`);
  const replicas = spec.replicas === undefined ? 1 : spec.replicas;
  if (isProd) {
    check(replicas >= 2, at("Deployment"), `prod needs at least 2 replicas, has ${replicas}`);
    check(hpa.spec.minReplicas >= 2, at("HorizontalPodAutoscaler"), "prod minReplicas must be at least 2");
  }
  const psc = pod.securityContext || {};
  check(psc.runAsNonRoot === true, at("Deployment"), "pod securityContext.runAsNonRoot must be true");
  check(pod.hostNetwork !== true && pod.hostPID !== true && pod.hostIPC !== true, at("Deployment"), "host namespaces used");
  check(pod.containers.length === 1, at("Deployment"), "expected one container");
  const c = pod.containers[0];
  const where = at(`container ${c.name}`);
  const sc = c.securityContext || {};
  check(sc.runAsNonRoot === true || psc.runAsNonRoot === true, where, "runAsNonRoot");
  const uid = sc.runAsUser !== undefined ? sc.runAsUser : psc.runAsUser;
  check(uid !== undefined && uid !== 0, where, `runAsUser must be a non-zero UID, is ${uid}`);
  check(sc.readOnlyRootFilesystem === true, where, "readOnlyRootFilesystem must be true");
  check(sc.allowPrivilegeEscalation === false, where, "allowPrivilegeEscalation must be false");
  check(sc.privileged !== true, where, "privileged");
  check(((sc.capabilities || {}).drop || []).includes("ALL"), where, "capabilities must drop ALL");
  check(((sc.capabilities || {}).add || []).length === 0, where, "capabilities added");
  const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
  check(seccomp === "RuntimeDefault", where, `seccompProfile must be RuntimeDefault, is ${seccomp}`);
  for (const r of ["requests", "limits"]) {
    for (const k of ["cpu", "memory"]) check(((c.resources || {})[r] || {})[k], where, `resources.${r}.${k} missing`);
  }
  const ports = Object.fromEntries((c.ports || []).map((p) => [p.name, p.containerPort]));
  check(ports.grpc === GRPC_PORT && ports.metrics === METRICS_PORT, where, `ports must be grpc ${GRPC_PORT}, metrics ${METRICS_PORT}`);

  // Probes: native gRPC, liveness and startup on "", readiness on the
  // service. The kubelet's gRPC probe is plaintext only: with TLS on the
  // gRPC port the probes need a plaintext health listener (a
  // "health_listen" key, once config.proto has one).
  const probePort = config.health_listen ? portOf(config.health_listen) : GRPC_PORT;
  if (config.tls && !config.health_listen) {
    console.log(`WARNING ${name}: TLS on port ${GRPC_PORT} but the kubelet's gRPC probes are plaintext (see "Probes and TLS" in deploy/README.md)`);
  }
  const ready = c.readinessProbe || {};
  const notice = (ready.periodSeconds || 10) * (ready.failureThreshold || 3);
  check(notice <= lib.seconds(config.drain_delay, 5), where, `readiness notices draining after ${notice}s, later than drain_delay`);
  const probes = { startupProbe: "", livenessProbe: "", readinessProbe: READINESS_SERVICE };
  for (const [probe, service] of Object.entries(probes)) {
    const p = c[probe];
    if (!check(p && p.grpc, where, `${probe} must be a gRPC probe`)) continue;
    check(!p.httpGet && !p.tcpSocket && !p.exec, where, `${probe} must be only gRPC`);
    check(p.grpc.port === probePort, where, `${probe} port ${p.grpc.port}, expected ${probePort}`);
    check((p.grpc.service || "") === service, where, `${probe} service "${p.grpc.service || ""}", expected "${service}"`);
  }

  // Arguments: the config file; out-of-the-box mode never in prod.
  const args = c.args || [];
  check(args.includes(`--config=${CONFIG_DIR}/config.json`), where, `args must include --config=${CONFIG_DIR}/config.json`);
  if (isProd) check(!args.some((a) => a.startsWith("--simulated")), where, "prod must not run --simulated_workspace");
  else if (!args.includes("--simulated_workspace")) check((config.workspaces || []).length > 0, where, "no workspace and no --simulated_workspace");

  // Volumes: the ConfigMap at CONFIG_DIR, secrets as whole directories.
  const volumes = Object.fromEntries((pod.volumes || []).map((v) => [v.name, v]));
  const mounts = c.volumeMounts || [];
  const configMount = mounts.find((m) => m.mountPath === CONFIG_DIR);
  if (check(configMount, where, `nothing mounted at ${CONFIG_DIR}`)) {
    const v = volumes[configMount.name] || {};
    check(v.configMap && v.configMap.name === cm.metadata.name, where, `${CONFIG_DIR} is not the ConfigMap ${cm.metadata.name}`);
  }
  for (const m of mounts) {
    check(m.readOnly === true, where, `volume ${m.name} must be mounted readOnly`);
    check(!m.subPath, where, `volume ${m.name} uses subPath (rotated files would never be updated)`);
    check(volumes[m.name], where, `volume ${m.name} is not defined`);
  }
  for (const f of configFiles(config, "config.json", [])) {
    const m = mounts.find((mm) => f.file.startsWith(mm.mountPath.replace(/\/?$/, "/")));
    if (!check(m, at(f.where), `${f.file} is not under a mounted volume`)) continue;
    const v = volumes[m.name] || {};
    check(v.secret && v.secret.secretName, at(f.where), `${f.file} must come from a Secret volume`);
  }
  const envNames = (c.env || []).map((e) => e.name);
  for (const name of configEnvs(config, [])) {
    check(envNames.includes(name), at("config.json"), `env ${name} referenced but not set on the container`);
  }

  // Production: TLS with client certificates, authorization, no reflection.
  if (isProd) {
    const tls = config.tls || {};
    check(tls.cert_file && tls.key_file, at("config.json"), "prod must serve TLS");
    check(tls.client_ca_file && tls.require_client_certificate === true, at("config.json"), "prod must require client certificates");
    check(config.authorization && config.authorization.enabled === true, at("config.json"), "prod must enable authorization");
    check(config.disable_reflection === true, at("config.json"), "prod must disable reflection");
    check(usesAuth(config, "azure_workload_identity") || usesAuth(config, "azure_managed_identity"), at("config.json"), "prod must use a managed Azure identity");
  }
  // Workload identity needs the ServiceAccount annotation and the pod label.
  if (usesAuth(config, "azure_workload_identity")) {
    check(((sa.metadata.annotations || {})["azure.workload.identity/client-id"] || "").length > 0, at("ServiceAccount"), "azure.workload.identity/client-id annotation missing");
    check(podLabels["azure.workload.identity/use"] === "true", at("Deployment"), 'pod label azure.workload.identity/use: "true" missing');
  }

  // Services: a ClusterIP one and a headless one, both on the gRPC port.
  const services = all("Service");
  const headless = services.filter((s) => s.spec.clusterIP === "None");
  const clusterIP = services.filter((s) => s.spec.clusterIP !== "None" && (s.spec.type || "ClusterIP") === "ClusterIP");
  check(headless.length === 1, at("Service"), `expected one headless Service, found ${headless.length}`);
  check(clusterIP.length === 1, at("Service"), `expected one ClusterIP Service, found ${clusterIP.length}`);
  for (const s of services) {
    const w = at(`Service/${s.metadata.name}`);
    check(labelsMatch(s.spec.selector, podLabels) && Object.keys(s.spec.selector || {}).length > 0, w, "selector does not match the pods");
    const grpc = s.spec.ports.find((p) => p.name === "grpc");
    check(grpc && grpc.port === GRPC_PORT && (grpc.targetPort === "grpc" || grpc.targetPort === GRPC_PORT), w, "no grpc port to the container's gRPC port");
  }

  // HPA and PDB.
  check(hpa.apiVersion === "autoscaling/v2", at("HorizontalPodAutoscaler"), "must be autoscaling/v2");
  check(hpa.spec.scaleTargetRef.kind === "Deployment" && hpa.spec.scaleTargetRef.name === deploy.metadata.name, at("HorizontalPodAutoscaler"), "does not target the Deployment");
  check(hpa.spec.minReplicas >= 1 && hpa.spec.maxReplicas >= hpa.spec.minReplicas, at("HorizontalPodAutoscaler"), "replica bounds");
  check(pdb.apiVersion === "policy/v1", at("PodDisruptionBudget"), "must be policy/v1");
  check(labelsMatch(pdb.spec.selector.matchLabels, podLabels), at("PodDisruptionBudget"), "selector does not match the pods");
  if (pdb.spec.minAvailable !== undefined) {
    check(pdb.spec.minAvailable < Math.max(replicas, hpa.spec.minReplicas), at("PodDisruptionBudget"), "minAvailable blocks every voluntary disruption");
  }

  // NetworkPolicy.
  const w = at("NetworkPolicy");
  check(labelsMatch(np.spec.podSelector.matchLabels, podLabels) && Object.keys(np.spec.podSelector.matchLabels || {}).length > 0, w, "podSelector does not match the pods");
  const types = np.spec.policyTypes || [];
  check(types.includes("Ingress") && types.includes("Egress"), w, "policyTypes must be Ingress and Egress");
  const ingress = new Set();
  for (const rule of np.spec.ingress || []) {
    const from = rule.from || [];
    const rulePorts = rule.ports || [];
    if (!check(from.length > 0 && rulePorts.length > 0, w, "an ingress rule without from or ports allows too much")) continue;
    for (const peer of from) {
      const name = ((peer.namespaceSelector || {}).matchLabels || {})["kubernetes.io/metadata.name"];
      check(name && !peer.ipBlock && Object.keys(peer).length === 1, w, `ingress peer must be only a namespaceSelector on kubernetes.io/metadata.name: ${JSON.stringify(peer)}`);
      for (const p of rulePorts) ingress.add(`${name}:${p.port}/${p.protocol || "TCP"}`);
    }
  }
  const wantIngress = [`polysync:${GRPC_PORT}/TCP`, `monitoring:${METRICS_PORT}/TCP`];
  check(JSON.stringify([...ingress].sort()) === JSON.stringify(wantIngress.sort()), w, `ingress ${[...ingress].join(", ")}, expected exactly ${wantIngress.join(", ")}`);
  const egress = new Set();
  for (const rule of np.spec.egress || []) {
    const rulePorts = rule.ports || [];
    if (!check(rulePorts.length > 0, w, "an egress rule without ports allows everything")) continue;
    const peers = (rule.to || []).length ? rule.to : [{ any: true }];
    for (const peer of peers) {
      const dest = peer.any ? "*" : peer.ipBlock ? peer.ipBlock.cidr : JSON.stringify(peer);
      for (const p of rulePorts) egress.add(`${dest}:${p.port}/${p.protocol || "TCP"}`);
    }
  }
  const wantEgress = ["*:53/UDP", "*:53/TCP", "*:443/TCP"];
  if (usesAuth(config, "azure_managed_identity")) wantEgress.push(`${IMDS}:80/TCP`);
  check(JSON.stringify([...egress].sort()) === JSON.stringify(wantEgress.sort()), w, `egress ${[...egress].join(", ")}, expected exactly ${wantEgress.join(", ")}`);

  console.log(`${name}: ${objects.length} objects checked`);
}

const overlaysDir = path.join(ws, "deploy", "k8s", "overlays");
const overlays = fs.readdirSync(overlaysDir).filter((d) => fs.existsSync(path.join(overlaysDir, d, "kustomization.yaml")));
for (const required of ["dev", "prod"]) check(overlays.includes(required), "overlays", `overlay ${required} missing`);
for (const o of overlays.sort()) checkOverlay(o, path.join(overlaysDir, o));
lib.finish("manifests");
