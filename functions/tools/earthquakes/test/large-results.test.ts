import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { after, before, describe, it } from "node:test";

import type { PutObjectCommand } from "@aws-sdk/client-s3";

import { handleEvent, TOOL_NAME } from "../src/earthquakes";
import { type BoundedResult, bound, INLINE_LIMIT, type ObjectStore, PREVIEW_CHARS } from "../src/large-results";

/** Keeps what the tool stores, as S3 would. */
class FakeStore implements ObjectStore {
  readonly puts: PutObjectCommand["input"][] = [];
  async send(command: PutObjectCommand): Promise<unknown> {
    this.puts.push(command.input);
    return {};
  }
}

// 200 events whose places are long enough for a ~1 MB result.
const BIG = JSON.stringify({
  type: "FeatureCollection",
  features: Array.from({ length: 200 }, (_, i) => ({
    id: `ev${i}`,
    properties: { mag: 5, place: `${i} `.padEnd(5_000, "x"), time: 1700000000000 },
    geometry: { type: "Point", coordinates: [1, 2, 3] },
  })),
});

let server: Server;
let base = "";

before(async () => {
  server = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(BIG));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const call = { name: TOOL_NAME, id: "toolu_01/big", input: { start_date: "2024-01-01", end_date: "2024-01-02", limit: 200 } };

describe("large results", () => {
  it("stores content over the inline limit and hands back a preview and its reference", async () => {
    const store = new FakeStore();
    const r = await handleEvent(call, { baseUrl: base, artifactBucket: "artifacts", store });

    assert.equal(r.is_error, false);
    const [put] = store.puts;
    assert.ok(put && typeof put.Body === "string" && put.Body.length > 1_000_000);
    const full = put.Body as string;
    const digest = createHash("sha256").update(full).digest("hex").slice(0, 32);
    assert.equal(put.Key, `tool-results/toolu_01_big/${digest}.txt`);
    assert.deepEqual(r.content_ref, { bucket: "artifacts", key: put.Key, chars: full.length });
    assert.equal(
      r.content,
      `${full.slice(0, PREVIEW_CHARS)}\n[result truncated: ${full.length} characters in all; ` +
        `the first ${PREVIEW_CHARS} are shown. Full result: s3://artifacts/${put.Key}]`,
    );
    assert.equal(JSON.parse(full).count, 200);
  });

  it("counts characters as code points, as Python does", async () => {
    const store = new FakeStore();
    const emoji = (n: number): BoundedResult => ({ tool_use_id: "t", content: "😀".repeat(n) });
    const r = await bound(emoji(INLINE_LIMIT), "b", store);
    assert.equal(r.content_ref, undefined); // 16,384 characters, 32,768 UTF-16 units: inline
    const over = await bound(emoji(INLINE_LIMIT + 1), "b", store);
    assert.equal(over.content_ref?.chars, INLINE_LIMIT + 1);
    assert.ok(over.content.startsWith(`${"😀".repeat(PREVIEW_CHARS)}\n[result truncated: 16385 characters`));
  });

  it("leaves small content alone and cuts large content without a bucket", async () => {
    const store = new FakeStore();
    const small = { tool_use_id: "t", content: "x".repeat(INLINE_LIMIT) };
    assert.equal(await bound(small, "b", store), small);
    const cut = await bound({ tool_use_id: "t", content: "x".repeat(INLINE_LIMIT + 1) }, "", store);
    assert.ok(cut.content.endsWith("Full result: not stored (no ARTIFACT_BUCKET)]"));
    assert.equal(store.puts.length, 0);
  });

  it("answers with an error result when the bucket refuses the object", async () => {
    const refusing: ObjectStore = {
      send: async () => {
        throw Object.assign(new Error("The specified bucket does not exist"), { name: "NoSuchBucket" });
      },
    };
    const r = await handleEvent(call, { baseUrl: base, artifactBucket: "gone", store: refusing });
    assert.equal(r.is_error, true);
    assert.match(r.content, /^the result \(\d+ characters\) could not be stored in the artifact bucket \(NoSuchBucket\)$/);
  });
});

interface SharedCase {
  name: string;
  tool_use_id: string;
  unit: string;
  repeat: number;
  bucket: string | null;
  expect: { content_sha256: string; content_ends_with: string | null; content_ref: BoundedResult["content_ref"] | null };
}

// The contract's shared cases at the repository root (the tests run bundled in .test-build/).
const SHARED = resolve(__dirname, "../../../../tests/contract/large_results.json");

describe("the shared large-results cases", () => {
  const shared = JSON.parse(readFileSync(SHARED, "utf8")) as { inline_limit: number; preview_chars: number; cases: SharedCase[] };

  it("name this helper's limits", () => {
    assert.deepEqual([shared.inline_limit, shared.preview_chars], [INLINE_LIMIT, PREVIEW_CHARS]);
  });

  for (const c of shared.cases) {
    it(c.name, async () => {
      const store = new FakeStore();
      const content = c.unit.repeat(c.repeat);
      const r = await bound<BoundedResult>({ tool_use_id: c.tool_use_id, content }, c.bucket ?? "", store);
      assert.equal(createHash("sha256").update(r.content, "utf8").digest("hex"), c.expect.content_sha256);
      if (c.expect.content_ends_with === null) assert.equal(r.content, content);
      else assert.ok(r.content.endsWith(c.expect.content_ends_with));
      assert.deepEqual(r.content_ref ?? null, c.expect.content_ref);
      const ref = c.expect.content_ref;
      assert.deepEqual(
        store.puts.map((p) => [p.Bucket, p.Key, p.Body]),
        ref ? [[ref.bucket, ref.key, content]] : [],
      );
    });
  }
});
