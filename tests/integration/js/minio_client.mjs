// Driven by tests/integration/test_issue4_clients.py.
// minio-js (npm `minio`): path style over plain http to 127.0.0.1. One client
// has no region, so it asks GetBucketLocation before its first request on a
// bucket, and uses the default 64 MiB part size (a 20 MiB file goes in one
// PUT); the other has region us-east-1 and 5 MiB parts (the same file goes as
// a 4-part multipart upload, after minio-js looks for an upload to resume
// with ListMultipartUploads). Then fGetObject, statObject, listObjectsV2 (a
// stream, recursive and with a delimiter), removeObject, removeObjects.
// Reads a JSON plan on argv[2] and prints one JSON result on stdout.
import * as Minio from "minio";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const base = { endPoint: "127.0.0.1", port: plan.port, useSSL: false, pathStyle: true,
               accessKey: process.env.TARN_ACCESS_KEY, secretKey: process.env.TARN_SECRET_KEY };
const noRegion = new Minio.Client(base);
const small = new Minio.Client({ ...base, region: "us-east-1", partSize: 5 * 1024 * 1024 });

// Record every request line minio-js sends (method, path and query).
const seen = [];
for (const [name, c] of [["noregion", noRegion], ["region", small]]) {
  const orig = c.makeRequestStreamAsync.bind(c);
  c.makeRequestStreamAsync = async (options, ...rest) => {
    seen.push([name, options.method, options.bucketName || "", options.objectName || "",
               options.query || ""]);
    return orig(options, ...rest);
  };
}

const out = { seen };
const step = async (name, fn) => {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: `${e.name}: ${e.message} code=${e.code || ""}` };
  }
};
const fileSha = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");
const list = (c, prefix, recursive) => new Promise((resolve, reject) => {
  const items = [];
  const s = c.listObjectsV2(plan.bucket, prefix, recursive);
  s.on("data", (o) => items.push(o.prefix ? ["prefix", o.prefix] : [o.name, o.size, o.etag]));
  s.on("error", reject);
  s.on("end", () => resolve(items));
});

await step("exists", async () => ({ exists: await noRegion.bucketExists(plan.bucket) }));
await step("put_single", async () =>
  await noRegion.fPutObject(plan.bucket, plan.key_single, plan.file, { "x-amz-meta-who": "minio" }));
await step("put_multi", async () =>
  await small.fPutObject(plan.bucket, plan.key_multi, plan.file, { "Content-Type": "application/x-tarn" }));
await step("stat_single", async () => await noRegion.statObject(plan.bucket, plan.key_single));
await step("stat_multi", async () => await small.statObject(plan.bucket, plan.key_multi));
await step("get_single", async () => {
  await noRegion.fGetObject(plan.bucket, plan.key_single, plan.out_single);
  return { sha256: fileSha(plan.out_single) };
});
await step("get_multi", async () => {
  await small.fGetObject(plan.bucket, plan.key_multi, plan.out_multi);
  return { sha256: fileSha(plan.out_multi) };
});
await step("partial", async () => {
  const s = await small.getPartialObject(plan.bucket, plan.key_multi, 5 * 1024 * 1024 - 8, 16);
  const chunks = [];
  for await (const c of s) chunks.push(c);
  return { hex: Buffer.concat(chunks).toString("hex") };
});
await step("put_small", async () => {
  for (const k of plan.small_keys) {
    await small.putObject(plan.bucket, k, Buffer.from(`body of ${k}`));
  }
  return { n: plan.small_keys.length };
});
await step("list_recursive", async () => await list(noRegion, "", true));
await step("list_delim", async () => await list(small, plan.list_prefix, false));
await step("remove", async () => {
  await noRegion.removeObject(plan.bucket, plan.key_single);
  return { ok: true };
});
await step("stat_removed", async () => await noRegion.statObject(plan.bucket, plan.key_single));
await step("remove_many", async () => {
  const r = await small.removeObjects(plan.bucket, plan.small_keys);
  return { result: r };
});
await step("list_after", async () => await list(noRegion, "", true));
process.stdout.write(JSON.stringify(out) + "\n");
