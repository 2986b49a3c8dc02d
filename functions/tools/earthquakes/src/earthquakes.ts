// The query_earthquakes tool: earthquakes from the USGS FDSN event web service.
// Pure domain logic; src/index.ts is the Lambda handler.
import { bound, type ContentRef, type ObjectStore } from "./large-results";

export const TOOL_NAME = "query_earthquakes";
export const DEFAULT_BASE_URL = "https://earthquake.usgs.gov";
export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 200;
export const DEFAULT_RADIUS_KM = 500;
const MAX_RADIUS_KM = 20_001.6; // USGS upper bound: half the Earth's circumference
const MAX_ERROR_SNIPPET = 300;

export interface ToolEvent {
  name?: unknown;
  id?: unknown;
  input?: unknown;
}

export interface ToolResult {
  type: "tool_result";
  tool_use_id: string;
  name: string;
  content: string;
  is_error: boolean;
  content_ref?: ContentRef;
}

export interface Options {
  baseUrl?: string;
  timeoutMs?: number;
  /** Where content over large-results' INLINE_LIMIT is stored (default: ARTIFACT_BUCKET). */
  artifactBucket?: string;
  store?: ObjectStore;
}

export interface Query {
  startDate: string;
  endDate: string;
  minMagnitude?: number;
  latitude?: number;
  longitude?: number;
  maxRadiusKm?: number;
  limit: number;
}

export interface EarthquakeEvent {
  id: string | null;
  time: string | null;
  magnitude: number | null;
  magnitude_type: string | null;
  place: string | null;
  depth_km: number | null;
  latitude: number | null;
  longitude: number | null;
  tsunami_warning?: boolean;
  alert?: string;
  url: string | null;
}

class ToolError extends Error {}

/** The contract's error for an event that is not a tool call; Lambda reports its name as the errorType. */
export class MalformedToolEvent extends Error {
  override name = "MalformedToolEvent";
}

function checkEvent(event: unknown): asserts event is ToolEvent {
  if (!isObject(event)) throw new MalformedToolEvent("tool event must be a JSON object with name, id and input");
  const missing = ["id", "name"].filter((key) => typeof event[key] !== "string" || event[key] === "");
  if (missing.length) throw new MalformedToolEvent(`tool event lacks string field(s): ${missing.join(", ")}`);
  if (event.input !== undefined && !isObject(event.input)) throw new MalformedToolEvent("tool event field 'input' must be a JSON object");
}

const ALLOWED = new Set([
  "start_date",
  "end_date",
  "min_magnitude",
  "latitude",
  "longitude",
  "max_radius_km",
  "limit",
]);

function result(id: string, name: string, content: string, isError: boolean): ToolResult {
  return { type: "tool_result", tool_use_id: id, name, content, is_error: isError };
}

/** Answers one tool event with a result whose content fits any turn (see large-results). Throws
 * MalformedToolEvent for an event that is not a tool call, and nothing else. */
export async function handleEvent(event: unknown, options: Options = {}): Promise<ToolResult> {
  checkEvent(event);
  const answer = await answerCall(event, options);
  try {
    return await bound(answer, options.artifactBucket, options.store);
  } catch (err) {
    const why = err instanceof Error ? err.name : String(err);
    const stored = `the result (${answer.content.length} characters) could not be stored in the artifact bucket (${why})`;
    return result(answer.tool_use_id, answer.name, stored, true);
  }
}

async function answerCall(ev: ToolEvent, options: Options): Promise<ToolResult> {
  const id = ev.id as string;
  const name = ev.name as string;
  if (ev.name !== TOOL_NAME) {
    return result(id, name, `unknown tool ${JSON.stringify(ev.name)}: this function provides "${TOOL_NAME}"`, true);
  }
  try {
    const query = parseInput(ev.input);
    const content = await queryEarthquakes(query, options);
    return result(id, name, content, false);
  } catch (err) {
    const msg = err instanceof ToolError ? err.message : `unexpected error: ${String(err)}`;
    return result(id, name, msg, true);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDate(field: string, v: unknown): string {
  if (v === undefined || v === null) throw new ToolError(`invalid input: "${field}" is required (YYYY-MM-DD)`);
  if (typeof v !== "string") throw new ToolError(`invalid input: "${field}" must be a string in the form YYYY-MM-DD`);
  const m = DATE_RE.exec(v.trim());
  if (!m) throw new ToolError(`invalid input: "${field}" must be a date in the form YYYY-MM-DD, got ${JSON.stringify(v)}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || y < 1900) {
    throw new ToolError(`invalid input: "${field}" is not a valid date: ${JSON.stringify(v)}`);
  }
  return v.trim();
}

function parseNumber(field: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ToolError(`invalid input: "${field}" must be a number`);
  if (v < min || v > max) throw new ToolError(`invalid input: "${field}" must be between ${min} and ${max}, got ${v}`);
  return v;
}

export function parseInput(input: unknown): Query {
  if (input === undefined || input === null) throw new ToolError(`invalid input: "start_date" is required (YYYY-MM-DD)`);
  if (!isObject(input)) throw new ToolError("invalid input: input must be a JSON object");
  for (const key of Object.keys(input)) {
    if (!ALLOWED.has(key)) {
      throw new ToolError(`invalid input: unknown field "${key}" (allowed: ${[...ALLOWED].join(", ")})`);
    }
  }
  const startDate = parseDate("start_date", input.start_date);
  const endDate = parseDate("end_date", input.end_date);
  if (endDate < startDate) throw new ToolError(`invalid input: "end_date" (${endDate}) is before "start_date" (${startDate})`);

  const minMagnitude = parseNumber("min_magnitude", input.min_magnitude, -2, 10);
  const latitude = parseNumber("latitude", input.latitude, -90, 90);
  const longitude = parseNumber("longitude", input.longitude, -180, 180);
  let maxRadiusKm = parseNumber("max_radius_km", input.max_radius_km, 0, MAX_RADIUS_KM);
  if ((latitude === undefined) !== (longitude === undefined)) {
    throw new ToolError(`invalid input: "latitude" and "longitude" must be given together`);
  }
  if (maxRadiusKm !== undefined && latitude === undefined) {
    throw new ToolError(`invalid input: "max_radius_km" needs "latitude" and "longitude"`);
  }
  if (maxRadiusKm === 0) throw new ToolError(`invalid input: "max_radius_km" must be greater than 0`);
  if (latitude !== undefined && maxRadiusKm === undefined) maxRadiusKm = DEFAULT_RADIUS_KM;

  let limit = DEFAULT_LIMIT;
  if (input.limit !== undefined && input.limit !== null) {
    if (typeof input.limit !== "number" || !Number.isInteger(input.limit)) {
      throw new ToolError(`invalid input: "limit" must be an integer`);
    }
    if (input.limit < 1 || input.limit > MAX_LIMIT) {
      throw new ToolError(`invalid input: "limit" must be between 1 and ${MAX_LIMIT}, got ${input.limit}`);
    }
    limit = input.limit;
  }
  const q: Query = { startDate, endDate, limit };
  if (minMagnitude !== undefined) q.minMagnitude = minMagnitude;
  if (latitude !== undefined && longitude !== undefined) {
    q.latitude = latitude;
    q.longitude = longitude;
    q.maxRadiusKm = maxRadiusKm;
  }
  return q;
}

export function buildUrl(q: Query, baseUrl: string): string {
  const params = new URLSearchParams({
    format: "geojson",
    starttime: q.startDate,
    // end_date is inclusive: a bare date would mean midnight at its start.
    endtime: `${q.endDate}T23:59:59`,
    orderby: "time",
    limit: String(q.limit),
  });
  if (q.minMagnitude !== undefined) params.set("minmagnitude", String(q.minMagnitude));
  if (q.latitude !== undefined && q.longitude !== undefined && q.maxRadiusKm !== undefined) {
    params.set("latitude", String(q.latitude));
    params.set("longitude", String(q.longitude));
    params.set("maxradiuskm", String(q.maxRadiusKm));
  }
  return `${baseUrl.replace(/\/+$/, "")}/fdsnws/event/1/query?${params.toString()}`;
}

function describe(q: Query): string {
  let s = `between ${q.startDate} and ${q.endDate}`;
  if (q.minMagnitude !== undefined) s += ` with magnitude >= ${q.minMagnitude}`;
  if (q.latitude !== undefined) s += ` within ${q.maxRadiusKm} km of (${q.latitude}, ${q.longitude})`;
  return s;
}

function snippet(body: string): string {
  const s = body.replace(/\s+/g, " ").trim();
  return s.length > MAX_ERROR_SNIPPET ? `${s.slice(0, MAX_ERROR_SNIPPET)}…` : s;
}

function statusMessage(status: number, body: string): string {
  let what: string;
  if (status === 400) what = "the earthquake service rejected the query";
  else if (status === 404) what = "the earthquake service endpoint was not found";
  else if (status === 429) what = "the earthquake service is rate limiting requests; try again later";
  else if (status >= 500) what = "the earthquake service had an internal error; try again later";
  else what = "the earthquake service returned an unexpected status";
  const detail = snippet(body);
  return `earthquake query failed: HTTP ${status}: ${what}${detail ? `: ${detail}` : ""}`;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

export function summarize(features: unknown[]): EarthquakeEvent[] {
  return features.filter(isObject).map((f) => {
    const p = isObject(f.properties) ? f.properties : {};
    const coords = isObject(f.geometry) && Array.isArray(f.geometry.coordinates) ? f.geometry.coordinates : [];
    const t = num(p.time);
    const ev: EarthquakeEvent = {
      id: str(f.id),
      time: t === null ? null : new Date(t).toISOString(),
      magnitude: num(p.mag),
      magnitude_type: str(p.magType),
      place: str(p.place),
      depth_km: num(coords[2]),
      latitude: num(coords[1]),
      longitude: num(coords[0]),
      url: str(p.url),
    };
    if (p.tsunami === 1) ev.tsunami_warning = true;
    const alert = str(p.alert);
    if (alert) ev.alert = alert;
    return ev;
  });
}

export async function queryEarthquakes(q: Query, options: Options = {}): Promise<string> {
  const url = buildUrl(q, options.baseUrl || DEFAULT_BASE_URL);
  const timeoutMs = options.timeoutMs && options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let status: number;
  let body: string;
  try {
    const resp = await fetch(url, { signal: controller.signal, headers: { Accept: "application/json" } });
    status = resp.status;
    body = await resp.text();
  } catch (err) {
    if (controller.signal.aborted) {
      throw new ToolError(`earthquake query timed out after ${timeoutMs} ms; try again or narrow the query`);
    }
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    throw new ToolError(`earthquake query failed: ${err instanceof Error ? err.message : String(err)}${cause}`);
  } finally {
    clearTimeout(timer);
  }

  if (status === 204) body = '{"features": []}'; // nodata=204: nothing matched
  else if (status !== 200) throw new ToolError(statusMessage(status, body));

  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new ToolError(`earthquake query failed: the earthquake service returned a non-JSON response: ${snippet(body).slice(0, 100)}`);
  }
  if (!isObject(data) || !Array.isArray(data.features)) {
    throw new ToolError("earthquake query failed: the earthquake service returned an unexpected response (no features list)");
  }
  const events = summarize(data.features);
  if (events.length === 0) {
    throw new ToolError(
      `No earthquakes found ${describe(q)}. Try a wider date range, a lower min_magnitude or a larger max_radius_km.`,
    );
  }
  const summary: Record<string, unknown> = {
    count: events.length,
    query: describe(q),
    order: "newest first",
  };
  if (events.length >= q.limit) {
    summary.truncated = `only the ${q.limit} most recent matching events are listed; more may exist (narrow the query or raise limit, max ${MAX_LIMIT})`;
  }
  const mags = events.map((e) => e.magnitude).filter((m): m is number => m !== null);
  if (mags.length > 0) summary.largest_magnitude = Math.max(...mags);
  summary.events = events;
  return JSON.stringify(summary);
}
