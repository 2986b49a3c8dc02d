import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { handler } from "../src/index";
import { count, TOOL_NAME } from "../src/tool";

describe(TOOL_NAME, () => {
  it("counts words and characters", () => {
    assert.deepEqual(count("one two  three"), { words: 3, characters: 14 });
    assert.deepEqual(count(""), { words: 0, characters: 0 });
  });

  it("answers a tool call through the handler", async () => {
    const result = await handler({ name: TOOL_NAME, id: "toolu_1", input: { text: "hello world" } });
    assert.equal(result.is_error, false);
    assert.equal(result.tool_use_id, "toolu_1");
    assert.deepEqual(JSON.parse(result.content), { words: 2, characters: 11 });
  });

  it("reports bad input to the model", async () => {
    const result = await handler({ name: TOOL_NAME, id: "toolu_2", input: { text: 3 } });
    assert.equal(result.is_error, true);
    assert.match(result.content, /text must be a string/);
  });
});
