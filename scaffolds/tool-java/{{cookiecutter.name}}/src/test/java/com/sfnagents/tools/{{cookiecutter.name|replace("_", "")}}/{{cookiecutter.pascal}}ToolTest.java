package com.sfnagents.tools.{{ cookiecutter.name | replace("_", "") }};

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class {{ cookiecutter.pascal }}ToolTest {
    @Test
    void countsWordsAndCharacters() {
        assertEquals("{\"words\":3,\"characters\":14}", {{ cookiecutter.pascal }}Tool.count("one two  three").toString());
        assertEquals("{\"words\":0,\"characters\":0}", {{ cookiecutter.pascal }}Tool.count("").toString());
    }

    @Test
    void theHandlerAnswersAToolCall() throws Exception {
        JsonNode result = invoke("{\"name\": \"{{ cookiecutter.name }}\", \"id\": \"toolu_1\", \"input\": {\"text\": \"hello world\"}}");
        assertEquals(false, result.get("is_error").asBoolean());
        assertEquals("toolu_1", result.get("tool_use_id").asText());
        assertEquals("{\"words\":2,\"characters\":11}", result.get("content").asText());
    }

    @Test
    void badInputIsReportedToTheModel() throws Exception {
        JsonNode result = invoke("{\"name\": \"{{ cookiecutter.name }}\", \"id\": \"toolu_2\", \"input\": {\"text\": 3}}");
        assertTrue(result.get("is_error").asBoolean());
        assertTrue(result.get("content").asText().contains("text must be a string"));
    }

    private static JsonNode invoke(String event) throws Exception {
        var output = new ByteArrayOutputStream();
        new {{ cookiecutter.pascal }}Handler().handleRequest(
                new ByteArrayInputStream(event.getBytes(StandardCharsets.UTF_8)), output, null);
        return {{ cookiecutter.pascal }}Tool.MAPPER.readTree(output.toByteArray());
    }
}
