package com.sfnagents.tools.stock;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * The contract's error for an event that is not a tool call (docs/contract.md): it cannot be
 * answered with a tool_result, so the function fails with this error and a message naming the
 * field. Java's runtime reports the class's full name as the errorType.
 */
public final class MalformedToolEvent extends RuntimeException {
    public MalformedToolEvent(String message) {
        super(message);
    }

    /** Throws unless {@code event} is an object with non-empty string id and name, and an input object if any. */
    public static void check(JsonNode event) {
        if (event == null || !event.isObject()) {
            throw new MalformedToolEvent("tool event must be a JSON object with name, id and input");
        }
        List<String> missing = new ArrayList<>();
        for (String field : List.of("id", "name")) {
            JsonNode value = event.get(field);
            if (value == null || !value.isTextual() || value.asText().isEmpty()) {
                missing.add(field);
            }
        }
        if (!missing.isEmpty()) {
            throw new MalformedToolEvent("tool event lacks string field(s): " + String.join(", ", missing));
        }
        JsonNode input = event.get("input");
        if (input != null && !input.isObject()) {
            throw new MalformedToolEvent("tool event field 'input' must be a JSON object");
        }
    }
}
