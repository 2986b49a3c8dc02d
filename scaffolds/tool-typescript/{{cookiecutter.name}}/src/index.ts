// Lambda entry point of the {{ cookiecutter.name }} tool (handler: index.handler).
import type { Context } from "aws-lambda";

import { handleEvent, type ToolResult } from "./tool";

export const handler = async (event: unknown, _context?: Context): Promise<ToolResult> => handleEvent(event);
