// Checks the deploy files: Kubernetes manifests against the API's JSON schemas (kubernetes-models,
// from npm) and against the hardening docs/security.md promises, and compose files for the same.
// Writes every ConfigMap's pipeline.yaml to OUT_DIR, with a NAME.env beside it holding the
// environment the Deployment gives it, so the test can `cvpipe validate` it.
//   node check_manifests.mjs OUT_DIR FILE...
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";

const models = {
  "v1/ConfigMap": ConfigMap, "v1/Secret": Secret, "v1/Service": Service, "apps/v1/Deployment": Deployment,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
};
const [outDir, ...files] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
let failed = 0, checked = 0;
const fail = (what, why) => { console.error(`${what}: ${why}`); failed++; };

// A pipeline's limits.shutdown_grace (10 s when not given); its !env and !file tags read as strings.
const secretTags = ["!env", "!file"].map((tag) => ({ tag, resolve: (s) => s }));
const shutdownGrace = (pipelineText) => parse(pipelineText, { customTags: secretTags })?.limits?.shutdown_grace ?? 10;
const seconds = (text) => {  // compose durations: "20s", "1m30s"
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(String(text ?? ""));
  return m && (m[1] || m[2]) ? Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) : NaN;
};
const userinfo = /[a-z][a-z0-9+.-]*:\/\/[^\s\/@]+@/i;
const quote = (v) => `'${String(v).replaceAll("'", "'\\''")}'`;

function checkKubernetes(file, objects) {
  const byKind = (kind) => objects.filter((o) => o.kind === kind);
  for (const d of byKind("Deployment")) {
    const what = `${file}: Deployment ${d.metadata.name}`;
    const pod = d.spec.template.spec;
    const labels = d.spec.template.metadata?.labels ?? {};
    if (pod.automountServiceAccountToken !== false) fail(what, "automountServiceAccountToken must be false");
    if (pod.securityContext?.seccompProfile?.type !== "RuntimeDefault") fail(what, "securityContext.seccompProfile.type must be RuntimeDefault");
    if (pod.securityContext?.runAsNonRoot !== true) fail(what, "securityContext.runAsNonRoot must be true");
    const configMaps = (pod.volumes ?? []).filter((v) => v.configMap).map((v) => v.configMap.name);
    const pipelines = byKind("ConfigMap").filter((c) => configMaps.includes(c.metadata.name) && c.data?.["pipeline.yaml"]);
    for (const c of pipelines) {
      const grace = shutdownGrace(c.data["pipeline.yaml"]);
      if (!(pod.terminationGracePeriodSeconds > grace + 5))
        fail(what, `terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) must leave the drain (limits.shutdown_grace: ${grace} s) time to finalize`);
    }
    for (const c of pod.containers) {
      const cwhat = `${what} container ${c.name}`;
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) fail(cwhat, "allowPrivilegeEscalation must be false");
      if (sc.readOnlyRootFilesystem !== true) fail(cwhat, "readOnlyRootFilesystem must be true");
      if (!(sc.capabilities?.drop ?? []).includes("ALL")) fail(cwhat, "capabilities.drop must hold ALL");
      for (const probe of ["livenessProbe", "readinessProbe"])
        if (!(c[probe]?.timeoutSeconds >= 1)) fail(cwhat, `${probe}.timeoutSeconds must be set`);
      // The environment a pipeline reads with !env, from the Secrets of this file.
      const env = (c.env ?? []).map((e) => {
        const ref = e.valueFrom?.secretKeyRef;
        if (!ref) return [e.name, e.value ?? ""];
        const secret = byKind("Secret").find((s) => s.metadata.name === ref.name);
        const value = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] && Buffer.from(secret.data[ref.key], "base64").toString());
        if (value === undefined) fail(cwhat, `env ${e.name}: no Secret ${ref.name} with key ${ref.key} in this file`);
        return [e.name, value ?? ""];
      });
      for (const p of pipelines)
        writeFileSync(join(outDir, `${p.metadata.name}.env`), env.map(([k, v]) => `${k}=${quote(v)}\n`).join(""));
    }
    const policed = byKind("NetworkPolicy").some((p) =>
      Object.entries(p.spec.podSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) &&
      (p.spec.policyTypes ?? []).includes("Ingress") && (p.spec.policyTypes ?? []).includes("Egress"));
    if (!policed) fail(what, "no NetworkPolicy for Ingress and Egress selects its pods");
  }
  for (const c of byKind("ConfigMap"))
    for (const [key, text] of Object.entries(c.data ?? {}))
      if (userinfo.test(text)) fail(`${file}: ConfigMap ${c.metadata.name}`, `${key} holds a URL with credentials: put it in a Secret (!env)`);
}

function checkCompose(file, doc) {
  for (const [name, s] of Object.entries(doc.services ?? {})) {
    const what = `${file}: service ${name}`;
    const before = failed;
    if (s.read_only !== true) fail(what, "read_only must be true");
    if (!(s.cap_drop ?? []).includes("ALL")) fail(what, "cap_drop must hold ALL");
    if (!(s.security_opt ?? []).some((o) => /^no-new-privileges(:true)?$/.test(o))) fail(what, "security_opt must hold no-new-privileges:true");
    // The config it runs: the command's path, through its volumes, or the image's default.
    let grace = 10;
    const config = s.command?.[0];
    const volume = (s.volumes ?? []).map((v) => v.split(":")).find(([, inside]) => inside === config);
    if (volume && existsSync(join(dirname(file), volume[0]))) grace = shutdownGrace(readFileSync(join(dirname(file), volume[0]), "utf8"));
    if (!(seconds(s.stop_grace_period) > grace + 2))
      fail(what, `stop_grace_period (${s.stop_grace_period ?? "10s, the default"}) must be above limits.shutdown_grace (${grace} s)`);
    checked++;
    if (failed === before) console.log(`${what}: hardened`);
  }
}

for (const file of files) {
  const objects = [];
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"), { merge: true })) {
    if (doc.errors.length) { fail(file, doc.errors[0].message); continue; }
    const obj = doc.toJS({ maxAliasCount: 100 });
    if (obj === null) continue;
    if (obj.services) { checkCompose(file, obj); continue; }
    const what = `${file}: ${obj.kind} ${obj.metadata?.name}`;
    const Model = models[`${obj.apiVersion}/${obj.kind}`];
    if (!Model) { fail(what, `no schema for ${obj.apiVersion} ${obj.kind} here`); continue; }
    try {
      new Model(obj).validate();
    } catch (e) {
      fail(what, e.message);
      continue;
    }
    checked++;
    objects.push(obj);
    console.log(`${what}: valid`);
    if (obj.kind === "ConfigMap" && obj.data?.["pipeline.yaml"])
      writeFileSync(join(outDir, `${obj.metadata.name}.yaml`), obj.data["pipeline.yaml"]);
  }
  checkKubernetes(file, objects);
}
if (checked === 0) fail("check_manifests", "nothing checked");
process.exit(failed ? 1 : 0);
