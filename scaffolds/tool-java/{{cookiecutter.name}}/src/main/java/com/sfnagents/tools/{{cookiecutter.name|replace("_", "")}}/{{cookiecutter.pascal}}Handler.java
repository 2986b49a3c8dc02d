package com.sfnagents.tools.{{ cookiecutter.name | replace("_", "") }};

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * Lambda entry point: {@code com.sfnagents.tools.{{ cookiecutter.name | replace("_", "") }}.{{ cookiecutter.pascal }}Handler::handleRequest}.
 * Reads the tool call from the stream and writes one tool_result.
 */
public final class {{ cookiecutter.pascal }}Handler implements RequestStreamHandler {
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
        JsonNode event;
        try {
            event = {{ cookiecutter.pascal }}Tool.MAPPER.readTree(input);
        } catch (IOException e) {
            event = null;
        }
        var result = event == null || !event.isObject()
                ? {{ cookiecutter.pascal }}Tool.toolResult("", "", "Error: the event is not a JSON object", true)
                : {{ cookiecutter.pascal }}Tool.handle(event);
        output.write({{ cookiecutter.pascal }}Tool.MAPPER.writeValueAsBytes(result));
        output.flush();
    }
}
