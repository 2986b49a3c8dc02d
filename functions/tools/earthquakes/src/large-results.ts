// Tool results of any size (docs/contract.md, "Large results"): content above INLINE_LIMIT
// characters goes to the artifact bucket and the model gets a preview plus the object's
// reference. Thresholds, key, preview text and content_ref are those of the Python helper
// (layers/agent_core/agent_core/large_results.py), so every language hands the model and the
// history the same thing. Characters are Unicode code points, as Python counts them.
import { createHash } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";

export const INLINE_LIMIT = 16_384;
export const PREVIEW_CHARS = 4_096;
const PREFIX = "tool-results";

export interface ContentRef {
  bucket: string;
  key: string;
  chars: number;
}

export interface BoundedResult {
  tool_use_id: string;
  content: string;
  content_ref?: ContentRef;
}

/** Where results are stored: an S3 client, or a stand-in with its send(). */
export interface ObjectStore {
  send(command: PutObjectCommand): Promise<unknown>;
}

/** Content-addressed, so a retried call rewrites the same object. */
export function objectKey(toolUseId: string, content: string): string {
  const digest = createHash("sha256").update(content, "utf8").digest("hex").slice(0, 32);
  return `${PREFIX}/${toolUseId.replace(/[^A-Za-z0-9_-]/gu, "_").slice(0, 80)}/${digest}.txt`;
}

export function preview(chars: string[], where: string): string {
  return (
    `${chars.slice(0, PREVIEW_CHARS).join("")}\n[result truncated: ${chars.length} characters in all; ` +
    `the first ${PREVIEW_CHARS} are shown. Full result: ${where}]`
  );
}

let client: S3Client | undefined;

function s3(): S3Client {
  // The SDK reads AWS_ENDPOINT_URL(_S3) itself; local emulators (moto, MinIO) need path style.
  const local = Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL);
  client ??= new S3Client({ forcePathStyle: local });
  return client;
}

/** `result` with oversized content moved to S3 and replaced by a preview and content_ref. */
export async function bound<R extends BoundedResult>(
  result: R,
  bucket: string | undefined = process.env.ARTIFACT_BUCKET,
  store?: ObjectStore,
): Promise<R> {
  if (result.content.length <= INLINE_LIMIT) return result; // UTF-16 units >= code points
  const chars = Array.from(result.content);
  if (chars.length <= INLINE_LIMIT) return result;
  if (!bucket) return { ...result, content: preview(chars, "not stored (no ARTIFACT_BUCKET)") };
  const key = objectKey(result.tool_use_id, result.content);
  await (store ?? s3()).send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: result.content, ContentType: "text/plain; charset=utf-8" }),
  );
  return { ...result, content: preview(chars, `s3://${bucket}/${key}`), content_ref: { bucket, key, chars: chars.length } };
}
