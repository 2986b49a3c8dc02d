// Lambda entry point of the query_earthquakes tool (handler: index.handler).
import type { Context } from "aws-lambda";

import { handleEvent, type ToolResult } from "./earthquakes";

export const handler = async (event: unknown, _context?: Context): Promise<ToolResult> =>
  handleEvent(event, {
    baseUrl: process.env.USGS_BASE_URL,
    timeoutMs: Number(process.env.USGS_TIMEOUT_MS) || undefined,
    artifactBucket: process.env.ARTIFACT_BUCKET || undefined,
  });
