package com.sfnagents.tools.stock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class StockAnalyzerTest {
    private static final ObjectMapper M = new ObjectMapper();

    private static final String MULTI = """
            date,symbol,close
            2024-01-02,AAA,100
            2024-01-03,AAA,110
            2024-01-04,AAA,99
            2024-01-05,AAA,121
            2024-01-02,BBB,50
            2024-01-03,BBB,50
            2024-01-05,BBB,40
            2024-01-04,BBB,45
            """;

    private static JsonNode event(String input) throws Exception {
        return M.readTree("{\"name\": \"analyze_stock_prices\", \"id\": \"toolu_1\", \"input\": " + input + "}");
    }

    private static ObjectNode run(String input, String csv) throws Exception {
        return new StockAnalyzer((b, k) -> csv).handle(event(input));
    }

    private static JsonNode content(ObjectNode result) throws Exception {
        assertFalse(result.get("is_error").asBoolean(), result.toString());
        return M.readTree(result.get("content").asText());
    }

    private static void assertError(ObjectNode result, String needle) {
        assertEquals("tool_result", result.get("type").asText());
        assertTrue(result.get("is_error").asBoolean(), "expected an error: " + result);
        String c = result.get("content").asText();
        assertTrue(c.toLowerCase(Locale.ROOT).contains(needle.toLowerCase(Locale.ROOT)),
                "'" + c + "' does not mention '" + needle + "'");
    }

    @Test
    void analysesEverySymbolWithKnownValues() throws Exception {
        ObjectNode r = run("{\"bucket\": \"b\", \"key\": \"p.csv\", \"windows\": [2, 3]}", MULTI);
        assertEquals("tool_result", r.get("type").asText());
        assertEquals("toolu_1", r.get("tool_use_id").asText());
        assertEquals("analyze_stock_prices", r.get("name").asText());
        JsonNode c = content(r);
        assertEquals("s3://b/p.csv", c.get("source").asText());
        JsonNode a = c.get("symbols").get("AAA");
        assertEquals(4, a.get("days").asInt());
        assertEquals("2024-01-02", a.get("first_date").asText());
        assertEquals(100.0, a.get("first_close").asDouble());
        assertEquals(121.0, a.get("last_close").asDouble());
        assertEquals(21.0, a.get("change_pct").asDouble(), 1e-9);
        assertEquals(110.0, a.get("sma").get("2").asDouble(), 1e-9);
        assertEquals(110.0, a.get("sma").get("3").asDouble(), 1e-9);
        assertEquals(3, a.get("daily_returns").get("count").asInt());
        assertEquals(0.22222222, a.get("daily_returns").get("max").asDouble(), 1e-8);
        assertEquals(2.582276, a.get("annualized_volatility").asDouble(), 1e-6);
        assertEquals(-10.0, a.get("max_drawdown_pct").asDouble(), 1e-9);
        assertEquals("2024-01-03", a.get("max_drawdown_peak_date").asText());
        assertEquals("2024-01-04", a.get("max_drawdown_trough_date").asText());

        // Rows out of order are sorted by date: 50, 50, 45, 40.
        JsonNode b = c.get("symbols").get("BBB");
        assertEquals(40.0, b.get("last_close").asDouble());
        assertEquals(-20.0, b.get("change_pct").asDouble(), 1e-9);
        assertEquals(42.5, b.get("sma").get("2").asDouble(), 1e-9);
        assertEquals(-20.0, b.get("max_drawdown_pct").asDouble(), 1e-9);
        assertTrue(c.get("summary").asText().contains("AAA: 4 days"), c.get("summary").asText());
    }

    @Test
    void symbolFilterAndDefaultWindows() throws Exception {
        StringBuilder csv = new StringBuilder("Date,Close\n");
        for (int i = 1; i <= 25; i++) {
            csv.append(String.format("2024-02-%02d,%d%n", i, i));
        }
        JsonNode c = content(run("{\"bucket\": \"b\", \"key\": \"k\", \"symbol\": \"XYZ\"}", csv.toString()));
        JsonNode x = c.get("symbols").get("XYZ");
        assertEquals(23.0, x.get("sma").get("5").asDouble(), 1e-9);
        assertEquals(15.5, x.get("sma").get("20").asDouble(), 1e-9);
        assertEquals(0.0, x.get("max_drawdown_pct").asDouble());
        assertEquals(5, x.get("daily_returns").get("recent").size());

        JsonNode only = content(run("{\"bucket\": \"b\", \"key\": \"k\", \"symbol\": \"BBB\", \"windows\": [2]}", MULTI));
        assertEquals(1, only.get("symbols").size());
        assertTrue(only.get("symbols").has("BBB"));
    }

    @Test
    void handlerStreamsAToolResult() throws Exception {
        StockAnalyzerHandler h = new StockAnalyzerHandler(new StockAnalyzer((b, k) -> MULTI), new LargeResults(null, null));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        String ev = "{\"name\": \"analyze_stock_prices\", \"id\": \"t9\", \"input\": {\"bucket\": \"b\", \"key\": \"k\", \"windows\": [2]}}";
        h.handleRequest(new ByteArrayInputStream(ev.getBytes(StandardCharsets.UTF_8)), out, null);
        JsonNode r = M.readTree(out.toByteArray());
        assertEquals("t9", r.get("tool_use_id").asText());
        assertFalse(r.get("is_error").asBoolean());

        MalformedToolEvent e = assertThrows(MalformedToolEvent.class, () -> h.handleRequest(
                new ByteArrayInputStream("not json".getBytes(StandardCharsets.UTF_8)), out, null));
        assertTrue(e.getMessage().startsWith("tool event is not JSON"), e.getMessage());
    }

    // ---- bad input -> error tool_results ----

    @Test
    void unknownToolName() throws Exception {
        ObjectNode r = new StockAnalyzer((b, k) -> MULTI)
                .handle(M.readTree("{\"name\": \"rm_rf\", \"id\": \"toolu_2\", \"input\": {}}"));
        assertError(r, "unknown tool 'rm_rf'");
        assertEquals("toolu_2", r.get("tool_use_id").asText());
        assertEquals("rm_rf", r.get("name").asText());
    }

    @Test
    void eventsThatAreNotToolCallsAreMalformedToolEvents() throws Exception {
        assertMalformed("null", "tool event must be a JSON object with name, id and input");
        assertMalformed("[1]", "tool event must be a JSON object with name, id and input");
        assertMalformed("{}", "tool event lacks string field(s): id, name");
        assertMalformed("{\"id\": \"\", \"name\": \"analyze_stock_prices\"}", "tool event lacks string field(s): id");
        assertMalformed("{\"id\": \"t\", \"name\": 7}", "tool event lacks string field(s): name");
        for (String input : new String[] {"null", "[1]", "\"x\""}) {
            assertMalformed("{\"id\": \"t\", \"name\": \"analyze_stock_prices\", \"input\": " + input + "}",
                    "tool event field 'input' must be a JSON object");
        }
        assertError(new StockAnalyzer((b, k) -> MULTI).handle(M.readTree("{\"id\": \"t\", \"name\": \"analyze_stock_prices\"}")),
                "missing required field 'bucket'");
    }

    private static void assertMalformed(String event, String reason) throws Exception {
        JsonNode parsed = M.readTree(event);
        MalformedToolEvent e = assertThrows(MalformedToolEvent.class, () -> new StockAnalyzer((b, k) -> MULTI).handle(parsed));
        assertEquals(reason, e.getMessage());
    }

    @Test
    void missingAndWrongTypedFields() throws Exception {
        assertError(run("{\"key\": \"k\"}", MULTI), "missing required field 'bucket'");
        assertError(run("{\"bucket\": \"b\"}", MULTI), "missing required field 'key'");
        assertError(run("{\"bucket\": 1, \"key\": \"k\"}", MULTI), "'bucket' must be a string");
        assertError(run("{\"bucket\": \"\", \"key\": \"k\"}", MULTI), "'bucket' must not be empty");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": 5}", MULTI), "'windows'");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": []}", MULTI), "'windows'");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": [\"5\"]}", MULTI), "window");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": [0]}", MULTI), "window");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": [2.5]}", MULTI), "window");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"symbol\": 3}", MULTI), "'symbol'");
    }

    @Test
    void emptyCsv() throws Exception {
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\"}", ""), "empty");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\"}", "\n\n"), "empty");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\"}", "date,close\n"), "no price rows");
    }

    @Test
    void malformedCsv() throws Exception {
        String in = "{\"bucket\": \"b\", \"key\": \"k\", \"windows\": [1]}";
        assertError(run(in, "day,price\n2024-01-01,3\n"), "header must name");
        assertError(run(in, "date,close\n2024-01-01,abc\n"), "line 2: close 'abc' is not a number");
        assertError(run(in, "date,close\n2024-01-01,-3\n"), "positive");
        assertError(run(in, "date,close\n01/02/2024,3\n"), "bad date");
        assertError(run(in, "date,symbol,close\n2024-01-01,A\n"), "columns");
        assertError(run(in, "date,close\n2024-01-01,3\n2024-01-01,4\n"), "duplicate date");
    }

    @Test
    void windowLargerThanData() throws Exception {
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"windows\": [5]}", MULTI),
                "window 5 is larger than the number of prices for AAA (4), BBB (4)");
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\"}", MULTI), "window 20");
    }

    @Test
    void unknownSymbol() throws Exception {
        assertError(run("{\"bucket\": \"b\", \"key\": \"k\", \"symbol\": \"ZZZ\", \"windows\": [2]}", MULTI),
                "symbol 'ZZZ' not found; the CSV has: AAA, BBB");
    }

    @Test
    void missingObject() throws Exception {
        StockAnalyzer a = new StockAnalyzer((b, k) -> {
            throw new StockAnalyzer.ObjectSourceException("object s3://" + b + "/" + k + " not found");
        });
        assertError(a.handle(event("{\"bucket\": \"b\", \"key\": \"gone.csv\"}")), "s3://b/gone.csv not found");
    }
}
