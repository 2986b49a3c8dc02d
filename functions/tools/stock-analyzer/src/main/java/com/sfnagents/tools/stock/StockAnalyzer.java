package com.sfnagents.tools.stock;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tool {@code analyze_stock_prices}: validates a tool call, reads the CSV through an injected
 * {@link ObjectSource} and computes the statistics. Never throws for expected failures: every
 * problem becomes a tool_result with {@code is_error: true}. Only an event that is not a tool call
 * throws ({@link MalformedToolEvent}).
 */
public final class StockAnalyzer {
    public static final String TOOL_NAME = "analyze_stock_prices";
    public static final List<Integer> DEFAULT_WINDOWS = List.of(5, 20);
    public static final int MAX_WINDOWS = 10;
    public static final int MAX_WINDOW = 10_000;
    /** How many of the latest daily returns are listed. */
    public static final int RECENT_RETURNS = 5;

    /** Reads an object's text; the S3 implementation lives in the handler. */
    @FunctionalInterface
    public interface ObjectSource {
        String read(String bucket, String key) throws ObjectSourceException;
    }

    /** An expected failure reading the object (missing, denied, too large...). */
    public static final class ObjectSourceException extends Exception {
        public ObjectSourceException(String message) {
            super(message);
        }
    }

    /** Bad input; the message goes to the model. */
    static final class ToolInputException extends Exception {
        ToolInputException(String message) {
            super(message);
        }
    }

    static final ObjectMapper MAPPER = new ObjectMapper();

    private final ObjectSource source;

    public StockAnalyzer(ObjectSource source) {
        this.source = source;
    }

    public static ObjectNode toolResult(String toolUseId, String name, String content, boolean isError) {
        ObjectNode r = MAPPER.createObjectNode();
        r.put("type", "tool_result");
        r.put("tool_use_id", toolUseId);
        r.put("name", name);
        r.put("content", content);
        r.put("is_error", isError);
        return r;
    }

    private static ObjectNode error(String toolUseId, String name, String message) {
        return toolResult(toolUseId, name, "Error: " + message, true);
    }

    /**
     * Handles one tool call event {@code {"name", "id", "input"}}.
     *
     * @throws MalformedToolEvent if the event is not a tool call
     */
    public ObjectNode handle(JsonNode event) {
        MalformedToolEvent.check(event);
        String id = event.get("id").asText();
        String name = event.get("name").asText();
        if (!TOOL_NAME.equals(name)) {
            return error(id, name, "unknown tool '" + name + "': this function implements '" + TOOL_NAME + "'");
        }
        JsonNode input = event.has("input") ? event.get("input") : MAPPER.createObjectNode();
        String bucket;
        String key;
        List<Integer> windows;
        String symbol;
        try {
            bucket = requiredString(input, "bucket");
            key = requiredString(input, "key");
            windows = windows(input.get("windows"));
            symbol = optionalString(input, "symbol");
        } catch (ToolInputException e) {
            return error(id, name, e.getMessage());
        }
        String where = "s3://" + bucket + "/" + key;
        String text;
        try {
            text = source.read(bucket, key);
        } catch (ObjectSourceException e) {
            return error(id, name, e.getMessage());
        }
        try {
            ObjectNode content = analyze(text, windows, symbol, where);
            return toolResult(id, name, MAPPER.writeValueAsString(content), false);
        } catch (PriceCsv.CsvException | ToolInputException e) {
            return error(id, name, where + ": " + e.getMessage());
        } catch (Exception e) {
            // Unexpected, but a tool answers with a result rather than failing the run.
            return error(id, name, where + ": analysis failed: " + e);
        }
    }

    private static String requiredString(JsonNode input, String field) throws ToolInputException {
        JsonNode v = input.get(field);
        if (v == null || v.isNull()) {
            throw new ToolInputException("missing required field '" + field + "'");
        }
        if (!v.isTextual()) {
            throw new ToolInputException("field '" + field + "' must be a string, got " + v);
        }
        if (v.asText().isBlank()) {
            throw new ToolInputException("field '" + field + "' must not be empty");
        }
        return v.asText();
    }

    private static String optionalString(JsonNode input, String field) throws ToolInputException {
        JsonNode v = input.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw new ToolInputException("field '" + field + "' must be a non-empty string, got " + v);
        }
        return v.asText().trim();
    }

    static List<Integer> windows(JsonNode v) throws ToolInputException {
        if (v == null || v.isNull()) {
            return DEFAULT_WINDOWS;
        }
        if (!v.isArray() || v.isEmpty()) {
            throw new ToolInputException("field 'windows' must be a non-empty array of integers, got " + v);
        }
        if (v.size() > MAX_WINDOWS) {
            throw new ToolInputException("at most " + MAX_WINDOWS + " windows, got " + v.size());
        }
        Set<Integer> out = new LinkedHashSet<>();
        for (JsonNode w : v) {
            boolean integral = w.isIntegralNumber() || (w.isNumber() && w.asDouble() == Math.rint(w.asDouble()));
            if (!integral || w.asDouble() < 1 || w.asDouble() > MAX_WINDOW) {
                throw new ToolInputException("each window must be an integer from 1 to " + MAX_WINDOW + ", got " + w);
            }
            out.add(w.asInt());
        }
        return new ArrayList<>(out);
    }

    /** Computes the statistics for every symbol (or the requested one). */
    static ObjectNode analyze(String csv, List<Integer> windows, String symbol, String where)
            throws PriceCsv.CsvException, ToolInputException {
        Map<String, List<PriceCsv.Price>> bySymbol = PriceCsv.parse(csv, symbol);
        if (symbol != null) {
            if (bySymbol.containsKey(symbol)) {
                bySymbol = Map.of(symbol, bySymbol.get(symbol));
            } else {
                throw new ToolInputException("symbol '" + symbol + "' not found; the CSV has: "
                        + String.join(", ", bySymbol.keySet()));
            }
        }
        int maxWindow = windows.stream().mapToInt(Integer::intValue).max().orElse(1);
        List<String> tooShort = new ArrayList<>();
        bySymbol.forEach((s, prices) -> {
            if (prices.size() < maxWindow) {
                tooShort.add(s + " (" + prices.size() + ")");
            }
        });
        if (!tooShort.isEmpty()) {
            throw new ToolInputException("window " + maxWindow + " is larger than the number of prices for "
                    + String.join(", ", tooShort) + "; use smaller windows");
        }

        ObjectNode content = MAPPER.createObjectNode();
        content.put("source", where);
        ArrayNode w = content.putArray("windows");
        windows.forEach(w::add);
        ObjectNode symbols = content.putObject("symbols");
        List<String> summary = new ArrayList<>();
        for (Map.Entry<String, List<PriceCsv.Price>> e : bySymbol.entrySet()) {
            summary.add(analyzeOne(symbols.putObject(e.getKey()), e.getKey(), e.getValue(), windows));
        }
        content.put("summary", String.join(" ", summary));
        return content;
    }

    private static String analyzeOne(ObjectNode out, String symbol, List<PriceCsv.Price> prices, List<Integer> windows) {
        List<Double> closes = prices.stream().map(PriceCsv.Price::close).toList();
        PriceCsv.Price first = prices.get(0);
        PriceCsv.Price last = prices.get(prices.size() - 1);
        double change = StockMath.changePct(first.close(), last.close());

        out.put("days", prices.size());
        out.put("first_date", first.date().toString());
        out.put("last_date", last.date().toString());
        out.put("first_close", first.close());
        out.put("last_close", last.close());
        out.put("change_pct", StockMath.round(change, 4));

        ObjectNode sma = out.putObject("sma");
        for (int win : windows) {
            sma.put(String.valueOf(win), StockMath.round(StockMath.lastSma(closes, win), 6));
        }

        double[] returns = StockMath.dailyReturns(closes);
        ObjectNode dr = out.putObject("daily_returns");
        dr.put("count", returns.length);
        if (returns.length > 0) {
            double min = Double.POSITIVE_INFINITY;
            double max = Double.NEGATIVE_INFINITY;
            for (double r : returns) {
                min = Math.min(min, r);
                max = Math.max(max, r);
            }
            dr.put("mean", StockMath.round(StockMath.mean(returns), 8));
            putNumberOrNull(dr, "stdev", StockMath.round(StockMath.sampleStdDev(returns), 8));
            dr.put("min", StockMath.round(min, 8));
            dr.put("max", StockMath.round(max, 8));
            ArrayNode recent = dr.putArray("recent");
            for (int i = Math.max(0, returns.length - RECENT_RETURNS); i < returns.length; i++) {
                ObjectNode r = recent.addObject();
                r.put("date", prices.get(i + 1).date().toString());
                r.put("return", StockMath.round(returns[i], 8));
            }
        }
        double vol = returns.length >= 2 ? StockMath.annualisedVolatility(returns) : Double.NaN;
        putNumberOrNull(out, "annualized_volatility", StockMath.round(vol, 6));

        StockMath.Drawdown dd = StockMath.maxDrawdown(closes);
        out.put("max_drawdown_pct", StockMath.round(-dd.fraction() * 100.0, 4));
        if (dd.fraction() > 0) {
            out.put("max_drawdown_peak_date", prices.get(dd.peakIndex()).date().toString());
            out.put("max_drawdown_trough_date", prices.get(dd.troughIndex()).date().toString());
        }

        StringBuilder s = new StringBuilder();
        s.append(String.format(java.util.Locale.ROOT, "%s: %d days %s to %s, close %s -> %s (%+.2f%%)", symbol,
                prices.size(), first.date(), last.date(), fmt(first.close()), fmt(last.close()), change));
        for (int win : windows) {
            s.append(String.format(java.util.Locale.ROOT, ", SMA%d %s", win, fmt(StockMath.lastSma(closes, win))));
        }
        if (!Double.isNaN(vol)) {
            s.append(String.format(java.util.Locale.ROOT, ", annualized volatility %.1f%%", vol * 100));
        }
        s.append(String.format(java.util.Locale.ROOT, ", max drawdown %.2f%%.", -dd.fraction() * 100));
        return s.toString();
    }

    private static void putNumberOrNull(ObjectNode node, String field, double value) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            node.putNull(field);
        } else {
            node.put(field, value);
        }
    }

    private static String fmt(double x) {
        return String.format(java.util.Locale.ROOT, "%.2f", x);
    }
}
