// Driven by tests/integration/test_issue3_clients.py.
// @aws-sdk/client-s3 v3 with its default checksums: a Buffer body goes with an
// x-amz-checksum-crc32 header, a Readable stream (ContentLength set) as
// aws-chunked (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with a checksum trailer.
// Reads a JSON plan on argv[2] and prints one JSON result on stdout.
import { S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
         ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, statSync } from "node:fs";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const s3 = new S3Client({
  endpoint: process.env.TARN_ENDPOINT,
  region: process.env.TARN_REGION,
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: { accessKeyId: process.env.TARN_ACCESS_KEY,
                 secretAccessKey: process.env.TARN_SECRET_KEY },
});

// Record the wire form of every PutObject: content-encoding, the checksum
// header or trailer, x-amz-content-sha256.
const wire = {};
s3.middlewareStack.add((next) => async (args) => {
  const h = args.request.headers || {};
  if (args.request.method === "PUT") {
    const pick = {};
    for (const [k, v] of Object.entries(h)) {
      const l = k.toLowerCase();
      if (l.startsWith("x-amz-checksum") || l === "x-amz-trailer" || l === "content-encoding" ||
          l === "x-amz-content-sha256" || l === "x-amz-decoded-content-length") pick[l] = v;
    }
    wire[(args.input && args.input.Key) || args.request.path] = pick;
  }
  return next(args);
}, { step: "finalizeRequest", name: "tarnRecordWire", priority: "low" });

const sha = (buf) => createHash("sha256").update(buf).digest("hex");

const out = [];
for (const p of plan.items) {
  const r = { key: p.key, mode: p.mode, alg: p.alg || null };
  try {
    const input = { Bucket: plan.bucket, Key: p.key };
    if (p.alg) input.ChecksumAlgorithm = p.alg;
    if (p.mode === "buffer") {
      input.Body = readFileSync(p.file);
    } else {
      input.Body = createReadStream(p.file, { highWaterMark: 64 * 1024 });
      input.ContentLength = statSync(p.file).size;
    }
    const put = await s3.send(new PutObjectCommand(input));
    r.put_etag = put.ETag;
    r.put_checksums = { crc32: put.ChecksumCRC32, crc32c: put.ChecksumCRC32C,
                        crc64nvme: put.ChecksumCRC64NVME };
    const get = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: p.key,
                                                    ChecksumMode: "ENABLED" }));
    const body = Buffer.from(await get.Body.transformToByteArray());
    r.get_sha256 = sha(body);
    r.get_len = body.length;
    r.get_etag = get.ETag;
    r.get_checksums = { crc32: get.ChecksumCRC32, crc32c: get.ChecksumCRC32C,
                        crc64nvme: get.ChecksumCRC64NVME };
    const head = await s3.send(new HeadObjectCommand({ Bucket: plan.bucket, Key: p.key }));
    r.head_len = head.ContentLength;
    if (statSync(p.file).size > 10) {
      const rng = await s3.send(new GetObjectCommand({ Bucket: plan.bucket, Key: p.key,
                                                      Range: "bytes=1-10" }));
      r.range_hex = Buffer.from(await rng.Body.transformToByteArray()).toString("hex");
      r.range_content_range = rng.ContentRange || null;
    }
  } catch (e) {
    r.error = `${e.name}: ${e.message} (${e.$metadata ? e.$metadata.httpStatusCode : "?"})`;
  }
  out.push(r);
}
const lst = await s3.send(new ListObjectsV2Command({ Bucket: plan.bucket }));
const result = { sdk: plan.sdk, items: out, wire,
                 listed: (lst.Contents || []).map((c) => [c.Key, c.Size, c.ETag]) };
process.stdout.write(JSON.stringify(result) + "\n");
