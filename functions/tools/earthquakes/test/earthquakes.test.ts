import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";

import { handleEvent, TOOL_NAME, type ToolResult } from "../src/earthquakes";
import { handler } from "../src/index";

const FEATURES = {
  type: "FeatureCollection",
  metadata: { generated: 1700000000000, count: 2, status: 200 },
  features: [
    {
      type: "Feature",
      id: "us7000abcd",
      properties: {
        mag: 5.4,
        magType: "mww",
        place: "45 km SW of Somewhere, Chile",
        time: 1700000000000,
        url: "https://earthquake.usgs.gov/earthquakes/eventpage/us7000abcd",
        tsunami: 1,
        alert: "green",
      },
      geometry: { type: "Point", coordinates: [-71.5, -33.2, 35.1] },
    },
    {
      type: "Feature",
      id: "us7000abce",
      properties: { mag: 4.6, magType: "mb", place: "Off the coast", time: 1699990000000, tsunami: 0, alert: null },
      geometry: { type: "Point", coordinates: [-72.0, -34.0, 10] },
    },
  ],
};

type Responder = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base = "";
let responder: Responder = (_req, res) => res.end();
const seen: URL[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push(new URL(req.url ?? "/", "http://127.0.0.1"));
    responder(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function reply(status: number, body: string, type = "application/json"): void {
  responder = (_req, res) => {
    res.writeHead(status, { "Content-Type": type });
    res.end(body);
  };
}

function ev(input: unknown, name = TOOL_NAME): unknown {
  return { name, id: "toolu_01", input };
}

function assertError(r: ToolResult, fragment: string): void {
  assert.equal(r.type, "tool_result");
  assert.equal(r.tool_use_id, "toolu_01");
  assert.equal(r.is_error, true, `expected an error result, got ${r.content}`);
  assert.ok(r.content.includes(fragment), `"${r.content}" lacks "${fragment}"`);
}

describe("query_earthquakes", () => {
  it("queries USGS and summarizes the events", async () => {
    reply(200, JSON.stringify(FEATURES));
    seen.length = 0;
    const r = await handleEvent(
      ev({
        start_date: "2023-11-01",
        end_date: "2023-11-15",
        min_magnitude: 4.5,
        latitude: -33.4,
        longitude: -70.6,
        max_radius_km: 300,
        limit: 2,
      }),
      { baseUrl: `${base}/` },
    );
    assert.equal(r.is_error, false, r.content);
    assert.equal(r.name, TOOL_NAME);
    assert.equal(r.tool_use_id, "toolu_01");

    assert.equal(seen.length, 1);
    const url = seen[0]!;
    assert.equal(url.pathname, "/fdsnws/event/1/query");
    const q = Object.fromEntries(url.searchParams);
    assert.deepEqual(q, {
      format: "geojson",
      starttime: "2023-11-01",
      endtime: "2023-11-15T23:59:59",
      orderby: "time",
      limit: "2",
      minmagnitude: "4.5",
      latitude: "-33.4",
      longitude: "-70.6",
      maxradiuskm: "300",
    });

    const out = JSON.parse(r.content);
    assert.equal(out.count, 2);
    assert.equal(out.largest_magnitude, 5.4);
    assert.match(out.truncated, /more may exist/);
    assert.deepEqual(out.events[0], {
      id: "us7000abcd",
      time: "2023-11-14T22:13:20.000Z",
      magnitude: 5.4,
      magnitude_type: "mww",
      place: "45 km SW of Somewhere, Chile",
      depth_km: 35.1,
      latitude: -33.2,
      longitude: -71.5,
      url: "https://earthquake.usgs.gov/earthquakes/eventpage/us7000abcd",
      tsunami_warning: true,
      alert: "green",
    });
    assert.equal(out.events[1].tsunami_warning, undefined);
    assert.equal(out.events[1].alert, undefined);
    assert.equal(out.events[1].url, null);
  });

  it("uses defaults and the handler reads USGS_BASE_URL", async () => {
    reply(200, JSON.stringify(FEATURES));
    seen.length = 0;
    process.env.USGS_BASE_URL = base;
    try {
      const r = await handler(ev({ start_date: "2024-01-01", end_date: "2024-01-01" }));
      assert.equal(r.is_error, false, r.content);
      assert.equal(JSON.parse(r.content).truncated, undefined);
    } finally {
      delete process.env.USGS_BASE_URL;
    }
    const q = Object.fromEntries(seen[0]!.searchParams);
    assert.equal(q.limit, "20");
    assert.equal(q.minmagnitude, undefined);
    assert.equal(q.latitude, undefined);
  });

  it("defaults the radius when only a point is given", async () => {
    reply(200, JSON.stringify(FEATURES));
    seen.length = 0;
    const r = await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02", latitude: 35, longitude: 139 }), {
      baseUrl: base,
    });
    assert.equal(r.is_error, false, r.content);
    assert.equal(seen[0]!.searchParams.get("maxradiuskm"), "500");
  });

  const bad: Array<[string, unknown, string]> = [
    ["missing input", undefined, `"start_date" is required`],
    ["missing start_date", { end_date: "2024-01-02" }, `"start_date" is required`],
    ["missing end_date", { start_date: "2024-01-02" }, `"end_date" is required`],
    ["date wrong type", { start_date: 20240101, end_date: "2024-01-02" }, `"start_date" must be a string`],
    ["date wrong format", { start_date: "01/02/2024", end_date: "2024-01-02" }, "YYYY-MM-DD"],
    ["impossible date", { start_date: "2024-02-30", end_date: "2024-03-02" }, "not a valid date"],
    ["end before start", { start_date: "2024-03-02", end_date: "2024-03-01" }, "is before"],
    ["magnitude wrong type", { start_date: "2024-01-01", end_date: "2024-01-02", min_magnitude: "5" }, "must be a number"],
    ["magnitude out of range", { start_date: "2024-01-01", end_date: "2024-01-02", min_magnitude: 11 }, "between -2 and 10"],
    ["latitude out of range", { start_date: "2024-01-01", end_date: "2024-01-02", latitude: 91, longitude: 0 }, "between -90 and 90"],
    ["longitude alone", { start_date: "2024-01-01", end_date: "2024-01-02", longitude: 10 }, "given together"],
    ["radius without point", { start_date: "2024-01-01", end_date: "2024-01-02", max_radius_km: 100 }, "needs"],
    ["radius zero", { start_date: "2024-01-01", end_date: "2024-01-02", latitude: 0, longitude: 0, max_radius_km: 0 }, "greater than 0"],
    ["limit too big", { start_date: "2024-01-01", end_date: "2024-01-02", limit: 201 }, "between 1 and 200"],
    ["limit zero", { start_date: "2024-01-01", end_date: "2024-01-02", limit: 0 }, "between 1 and 200"],
    ["limit not integer", { start_date: "2024-01-01", end_date: "2024-01-02", limit: 2.5 }, "must be an integer"],
    ["unknown field", { start_date: "2024-01-01", end_date: "2024-01-02", country: "JP" }, `unknown field "country"`],
  ];
  for (const [title, input, fragment] of bad) {
    it(`rejects bad input: ${title}`, async () => {
      seen.length = 0;
      assertError(await handleEvent(ev(input), { baseUrl: base }), fragment);
      assert.equal(seen.length, 0, "no request for invalid input");
    });
  }

  it("answers an unknown tool name with an error", async () => {
    const r = await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }, "get_weather"), { baseUrl: base });
    assertError(r, `unknown tool "get_weather"`);
    assert.equal(r.name, "get_weather");
  });

  it("answers a malformed event with the typed MalformedToolEvent error", async () => {
    const cases: Array<[unknown, string]> = [
      [null, "must be a JSON object"],
      ["x", "must be a JSON object"],
      [[1, 2], "must be a JSON object"],
      [{}, "lacks string field(s): id, name"],
      [{ id: 7, name: TOOL_NAME }, "lacks string field(s): id"],
      [{ id: "t1", name: "" }, "lacks string field(s): name"],
      [{ id: "t1", name: TOOL_NAME, input: [1] }, "'input' must be a JSON object"],
      [{ id: "t1", name: TOOL_NAME, input: null }, "'input' must be a JSON object"],
      [{ id: "t1", name: TOOL_NAME, input: "2024-01-01" }, "'input' must be a JSON object"],
    ];
    for (const [event, fragment] of cases) {
      await assert.rejects(handler(event), (err: Error) => err.name === "MalformedToolEvent" && err.message.includes(fragment));
    }
  });

  const upstream: Array<[number, string, string]> = [
    [500, "Internal Server Error", "HTTP 500: the earthquake service had an internal error"],
    [404, "Not Found", "HTTP 404: the earthquake service endpoint was not found"],
    [400, "Error 400: Bad Request\n\nstarttime must be before endtime", "HTTP 400: the earthquake service rejected the query: Error 400"],
  ];
  for (const [status, body, fragment] of upstream) {
    it(`reports upstream HTTP ${status}`, async () => {
      reply(status, body, "text/plain");
      assertError(await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: base }), fragment);
    });
  }

  it("reports a non-JSON body", async () => {
    reply(200, "<html>maintenance</html>", "text/html");
    assertError(await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: base }), "non-JSON");
  });

  it("reports JSON without features", async () => {
    reply(200, JSON.stringify({ type: "FeatureCollection" }));
    assertError(await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: base }), "no features");
  });

  it("reports no matching events", async () => {
    reply(200, JSON.stringify({ type: "FeatureCollection", features: [] }));
    const r = await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02", min_magnitude: 9 }), { baseUrl: base });
    assertError(r, "No earthquakes found between 2024-01-01 and 2024-01-02 with magnitude >= 9");
    reply(204, "");
    assertError(await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: base }), "No earthquakes");
  });

  it("times out", async () => {
    responder = () => {}; // never answers; the connection is closed in after()
    const started = Date.now();
    const r = await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: base, timeoutMs: 200 });
    assertError(r, "timed out after 200 ms");
    assert.ok(Date.now() - started < 3000);
  });

  it("reports a refused connection", async () => {
    const s = createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const r = await handleEvent(ev({ start_date: "2024-01-01", end_date: "2024-01-02" }), { baseUrl: `http://127.0.0.1:${port}` });
    assertError(r, "earthquake query failed");
  });
});
