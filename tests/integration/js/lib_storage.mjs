// Driven by tests/integration/test_issue4_clients.py.
// @aws-sdk/lib-storage Upload of a stream (length unknown to the SDK, so it
// cuts 5 MiB parts itself and sends them 4 at a time), then GetObject as a
// stream hashed on the fly, then @aws-sdk/s3-request-presigner URLs (GET and
// PUT) fetched with node's own fetch.
// Reads a JSON plan on argv[2] and prints one JSON result on stdout.
import { S3Client, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync } from "node:fs";
import { PassThrough } from "node:stream";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const s3 = new S3Client({
  endpoint: process.env.TARN_ENDPOINT,
  region: process.env.TARN_REGION,
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: { accessKeyId: process.env.TARN_ACCESS_KEY,
                 secretAccessKey: process.env.TARN_SECRET_KEY },
});

// Count the requests by kind, to show the upload really was multipart.
const calls = {};
s3.middlewareStack.add((next, ctx) => async (args) => {
  calls[ctx.commandName] = (calls[ctx.commandName] || 0) + 1;
  return next(args);
}, { step: "initialize", name: "tarnCountCalls" });

const out = { calls };
const step = async (name, fn) => {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: `${e.name}: ${e.message} (${e.$metadata ? e.$metadata.httpStatusCode : "?"})` };
  }
};

const sha = (buf) => createHash("sha256").update(buf).digest("hex");

await step("upload", async () => {
  // A plain stream: the SDK does not know its length.
  const body = new PassThrough();
  createReadStream(plan.file, { highWaterMark: 1 << 20 }).pipe(body);
  const parts = new Set();
  const up = new Upload({ client: s3, queueSize: 4,
                          params: { Bucket: plan.bucket, Key: plan.key, Body: body,
                                    ContentType: "application/x-tarn-test" } });
  let loaded = 0;
  up.on("httpUploadProgress", (p) => { if (p.part) parts.add(p.part); loaded = Math.max(loaded, p.loaded || 0); });
  const r = await up.done();
  return { etag: r.ETag, key: r.Key, bucket: r.Bucket, progress_parts: parts.size, loaded };
});

await step("get", async () => {
  const g = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: plan.key }));
  const h = createHash("sha256");
  let n = 0;
  for await (const chunk of g.Body) { h.update(chunk); n += chunk.length; }
  return { sha256: h.digest("hex"), len: n, content_length: g.ContentLength, etag: g.ETag,
           content_type: g.ContentType };
});

await step("head_part", async () => {
  const h = await s3.send(new HeadObjectCommand({ Bucket: plan.bucket, Key: plan.key, PartNumber: 2 }));
  return { content_length: h.ContentLength, parts_count: h.PartsCount ?? null, etag: h.ETag };
});

await step("presign_get", async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: plan.bucket, Key: plan.key }),
                                 { expiresIn: 900 });
  const r = await fetch(url);
  const buf = Buffer.from(await r.arrayBuffer());
  return { url, status: r.status, sha256: sha(buf), len: buf.length };
});

await step("presign_get_range", async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: plan.bucket, Key: plan.key }),
                                 { expiresIn: 60 });
  const r = await fetch(url, { headers: { Range: "bytes=5242870-5242889" } });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, hex: buf.toString("hex"), content_range: r.headers.get("content-range") };
});

await step("presign_put", async () => {
  const data = readFileSync(plan.small_file);
  const url = await getSignedUrl(s3, new PutObjectCommand({ Bucket: plan.bucket, Key: plan.put_key }),
                                 { expiresIn: 300 });
  const r = await fetch(url, { method: "PUT", body: data });
  const text = await r.text();
  const g = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: plan.put_key }));
  const back = Buffer.from(await g.Body.transformToByteArray());
  return { status: r.status, etag: r.headers.get("etag"), body: text.slice(0, 500),
           sha256: sha(back), len: back.length };
});

await step("presign_unsigned_tamper", async () => {
  // Changing the signed key must be refused.
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: plan.bucket, Key: plan.key }),
                                 { expiresIn: 60 });
  const bad = url.replace(encodeURIComponent(plan.key).replace(/%2F/g, "/"), plan.put_key);
  const r = await fetch(bad);
  const text = await r.text();
  return { status: r.status, body: text.slice(0, 500), changed: bad !== url };
});

process.stdout.write(JSON.stringify(out) + "\n");
