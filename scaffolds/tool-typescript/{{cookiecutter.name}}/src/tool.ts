// Tool {{ cookiecutter.name }}: {{ cookiecutter.description }}.
// The tool's logic, free of AWS: replace the example (word and character counts) with yours.

export const TOOL_NAME = "{{ cookiecutter.name }}";

export interface ToolResult {
  type: "tool_result";
  tool_use_id: string;
  name: string;
  content: string;
  is_error: boolean;
}

export interface Counts {
  words: number;
  characters: number;
}

export function count(text: string): Counts {
  const words = text.split(/\s+/).filter((word) => word.length > 0).length;
  return { words, characters: [...text].length };
}

function result(id: string, name: string, content: string, isError: boolean): ToolResult {
  return { type: "tool_result", tool_use_id: id, name, content, is_error: isError };
}

// One tool call ({"name", "id", "input"}); bad input is an error result the model can read.
export function handleEvent(event: unknown): ToolResult {
  const call = (typeof event === "object" && event !== null ? event : {}) as Record<string, unknown>;
  const id = typeof call.id === "string" ? call.id : "";
  const name = typeof call.name === "string" ? call.name : "";
  if (name !== TOOL_NAME) {
    return result(id, name, `Error: unknown tool ${JSON.stringify(name)}: this function provides "${TOOL_NAME}"`, true);
  }
  const input = (typeof call.input === "object" && call.input !== null ? call.input : {}) as Record<string, unknown>;
  if (typeof input.text !== "string") {
    return result(id, name, "Error: text must be a string", true);
  }
  return result(id, name, JSON.stringify(count(input.text)), false);
}
