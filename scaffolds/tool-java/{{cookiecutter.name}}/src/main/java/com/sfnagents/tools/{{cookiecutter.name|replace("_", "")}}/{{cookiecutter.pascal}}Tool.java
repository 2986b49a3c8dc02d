package com.sfnagents.tools.{{ cookiecutter.name | replace("_", "") }};

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Tool {{ cookiecutter.name }}: {{ cookiecutter.description }}. The tool's logic, free of AWS:
 * replace the example (word and character counts) with yours.
 */
public final class {{ cookiecutter.pascal }}Tool {
    public static final String TOOL_NAME = "{{ cookiecutter.name }}";
    static final ObjectMapper MAPPER = new ObjectMapper();

    private {{ cookiecutter.pascal }}Tool() {}

    /** Words (separated by white space) and characters of the text. */
    public static ObjectNode count(String text) {
        String trimmed = text.strip();
        int words = trimmed.isEmpty() ? 0 : trimmed.split("\\s+").length;
        ObjectNode counts = MAPPER.createObjectNode();
        counts.put("words", words);
        counts.put("characters", text.codePointCount(0, text.length()));
        return counts;
    }

    /** Answers one tool call; bad input is an error result the model can read. */
    public static ObjectNode handle(JsonNode event) {
        String id = event.path("id").asText("");
        String name = event.path("name").asText("");
        if (!TOOL_NAME.equals(name)) {
            return toolResult(id, name, "Error: unknown tool '" + name + "': this function implements '" + TOOL_NAME + "'", true);
        }
        JsonNode text = event.path("input").path("text");
        if (!text.isTextual()) {
            return toolResult(id, name, "Error: text must be a string", true);
        }
        return toolResult(id, name, count(text.asText()).toString(), false);
    }

    static ObjectNode toolResult(String id, String name, String content, boolean isError) {
        ObjectNode result = MAPPER.createObjectNode();
        result.put("type", "tool_result");
        result.put("tool_use_id", id);
        result.put("name", name);
        result.put("content", content);
        result.put("is_error", isError);
        return result;
    }
}
