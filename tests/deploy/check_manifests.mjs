// Checks Kubernetes manifests against the API's JSON schemas (kubernetes-models, from npm) and
// writes every ConfigMap's pipeline.yaml to OUT_DIR so the test can `cvpipe validate` it.
//   node check_manifests.mjs OUT_DIR FILE...
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";

const models = { "v1/ConfigMap": ConfigMap, "v1/Service": Service, "apps/v1/Deployment": Deployment };
const [outDir, ...files] = process.argv.slice(2);
mkdirSync(outDir, { recursive: true });
let failed = 0, checked = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { console.error(`${file}: ${doc.errors[0].message}`); failed++; continue; }
    const obj = doc.toJS();
    if (obj === null) continue;
    const what = `${file}: ${obj.kind} ${obj.metadata?.name}`;
    const Model = models[`${obj.apiVersion}/${obj.kind}`];
    if (!Model) { console.error(`${what}: no schema for ${obj.apiVersion} ${obj.kind} here`); failed++; continue; }
    try {
      new Model(obj).validate();
    } catch (e) {
      console.error(`${what}: ${e.message}`);
      failed++;
      continue;
    }
    checked++;
    console.log(`${what}: valid`);
    if (obj.kind === "ConfigMap" && obj.data?.["pipeline.yaml"])
      writeFileSync(join(outDir, `${obj.metadata.name}.yaml`), obj.data["pipeline.yaml"]);
  }
}
if (checked === 0) { console.error("no manifest checked"); failed++; }
process.exit(failed ? 1 : 0);
