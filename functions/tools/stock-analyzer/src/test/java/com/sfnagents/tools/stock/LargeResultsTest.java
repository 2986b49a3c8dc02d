package com.sfnagents.tools.stock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

class LargeResultsTest {
    private static final ObjectMapper M = new ObjectMapper();

    /** What the tool stores, as S3 would: (bucket, key, body). */
    private static final class Recorder implements LargeResults.ObjectStore {
        final List<List<String>> puts = new ArrayList<>();

        @Override
        public void put(String bucket, String key, String body) {
            puts.add(List.of(bucket, key, body));
        }
    }

    private static ObjectNode result(String toolUseId, String content) {
        return StockAnalyzer.toolResult(toolUseId, StockAnalyzer.TOOL_NAME, content, false);
    }

    @Test
    void everySharedCaseGetsThePythonHelpersAnswer() throws Exception {
        Path file = Path.of(System.getProperty("largeResults.cases", "none"));
        // Present in the repository (make test); absent only in sam build's copy of this folder.
        assumeTrue(Files.exists(file), "no shared cases at " + file);
        JsonNode cases = M.readTree(file.toFile());
        assertEquals(LargeResults.INLINE_LIMIT, cases.get("inline_limit").asInt());
        assertEquals(LargeResults.PREVIEW_CHARS, cases.get("preview_chars").asInt());
        for (JsonNode c : cases.get("cases")) {
            String name = c.get("name").asText();
            String content = c.get("unit").asText().repeat(c.get("repeat").asInt());
            Recorder store = new Recorder();
            String bucket = c.get("bucket").isNull() ? null : c.get("bucket").asText();
            ObjectNode out = new LargeResults(bucket, store).bound(result(c.get("tool_use_id").asText(), content));

            JsonNode expect = c.get("expect");
            String shown = out.get("content").asText();
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(shown.getBytes(StandardCharsets.UTF_8));
            assertEquals(expect.get("content_sha256").asText(), HexFormat.of().formatHex(digest), name);
            if (expect.get("content_ends_with").isNull()) {
                assertEquals(content, shown, name);
            } else {
                assertTrue(shown.endsWith(expect.get("content_ends_with").asText()), name);
            }
            JsonNode ref = expect.get("content_ref");
            assertEquals(ref.isNull() ? null : ref, out.get("content_ref"), name);
            List<List<String>> stored = ref.isNull() ? List.of()
                    : List.of(List.of(ref.get("bucket").asText(), ref.get("key").asText(), content));
            assertEquals(stored, store.puts, name);
        }
    }

    /** A fake S3 on localhost: PUT to bucket "artifacts" is kept, any other bucket is NoSuchBucket. */
    private static HttpServer fakeS3(Map<String, String> objects) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            String path = exchange.getRequestURI().getPath();
            boolean signed = exchange.getRequestHeaders().getFirst("Authorization") != null;
            if ("PUT".equals(exchange.getRequestMethod()) && signed && path.startsWith("/artifacts/")) {
                boolean chunked = exchange.getRequestHeaders().getFirst("x-amz-decoded-content-length") != null;
                objects.put(path, new String(chunked ? unchunk(body) : body, StandardCharsets.UTF_8));
                exchange.getResponseHeaders().add("ETag", "\"x\"");
                exchange.sendResponseHeaders(200, -1);
            } else {
                byte[] error = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
                        + "<Message>The specified bucket does not exist</Message></Error>").getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().add("Content-Type", "application/xml");
                exchange.sendResponseHeaders(404, error.length);
                exchange.getResponseBody().write(error);
            }
            exchange.close();
        });
        server.start();
        return server;
    }

    /** The payload of an aws-chunked body: chunks "SIZE-HEX;chunk-signature=...\r\nDATA\r\n" up to size 0. */
    private static byte[] unchunk(byte[] body) {
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        int at = 0;
        while (true) {
            int lineEnd = indexOfCrlf(body, at);
            String header = new String(body, at, lineEnd - at, StandardCharsets.US_ASCII);
            int size = Integer.parseInt(header.split(";", 2)[0], 16);
            if (size == 0) {
                return data.toByteArray();
            }
            data.write(body, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static int indexOfCrlf(byte[] body, int from) {
        for (int i = from; i + 1 < body.length; i++) {
            if (body[i] == '\r' && body[i + 1] == '\n') {
                return i;
            }
        }
        throw new IllegalArgumentException("not an aws-chunked body");
    }

    private static S3Client client(HttpServer server) {
        return S3Client.builder()
                .httpClientBuilder(UrlConnectionHttpClient.builder())
                .endpointOverride(URI.create("http://127.0.0.1:" + server.getAddress().getPort()))
                .forcePathStyle(true)
                .region(Region.US_EAST_1)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create("testing", "testing")))
                .build();
    }

    @Test
    void theSdkStoresTheObjectAndNamesARefusal() throws Exception {
        Map<String, String> objects = new ConcurrentHashMap<>();
        HttpServer server = fakeS3(objects);
        try (S3Client s3 = client(server)) {
            StockAnalyzerHandler.writeS3(s3, "artifacts", "tool-results/t/k.txt", "é😀");
            assertEquals(Map.of("/artifacts/tool-results/t/k.txt", "é😀"), objects);
            LargeResults.StoreException refused = assertThrows(LargeResults.StoreException.class,
                    () -> StockAnalyzerHandler.writeS3(s3, "gone", "k", "x"));
            assertEquals("NoSuchBucket", refused.getMessage());
        } finally {
            server.stop(0);
        }
        ObjectNode out = new LargeResults("gone", (b, k, body) -> {
            throw new LargeResults.StoreException("NoSuchBucket");
        }).bound(result("t", "x".repeat(LargeResults.INLINE_LIMIT + 1)));
        assertTrue(out.get("is_error").asBoolean());
        assertEquals("the result (16385 characters) could not be stored in the artifact bucket (NoSuchBucket)",
                out.get("content").asText());
        assertFalse(out.has("content_ref"));
    }

    /** 1,500 symbols (an index's members): the analysis is far over 256 KiB, so it is stored. */
    @Test
    void theHandlerStoresALargeAnalysis() throws Exception {
        StringBuilder csv = new StringBuilder("date,symbol,close\n");
        for (int s = 0; s < 1_500; s++) {
            for (int d = 1; d <= 25; d++) {
                csv.append(String.format("2024-01-%02d,SYM%04d,%d%n", d, s, 100 + (s + d * 7) % 23));
            }
        }
        Recorder store = new Recorder();
        StockAnalyzerHandler handler = new StockAnalyzerHandler(
                new StockAnalyzer((b, k) -> csv.toString()), new LargeResults("artifacts", store));
        String event = "{\"name\": \"analyze_stock_prices\", \"id\": \"toolu_big\", \"input\": "
                + "{\"bucket\": \"in\", \"key\": \"index.csv\", \"windows\": [5, 20]}}";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        handler.handleRequest(new ByteArrayInputStream(event.getBytes(StandardCharsets.UTF_8)), out, null);

        JsonNode r = M.readTree(out.toByteArray());
        assertFalse(r.get("is_error").asBoolean(), r.toString());
        List<String> put = store.puts.get(0);
        String full = put.get(2);
        assertTrue(full.length() > 256 * 1024, full.length() + " characters");
        assertEquals(1_500, M.readTree(full).get("symbols").size());
        assertEquals(LargeResults.objectKey("toolu_big", full), put.get(1));
        assertEquals(M.readTree("{\"bucket\": \"artifacts\", \"key\": \"" + put.get(1) + "\", \"chars\": "
                + full.length() + "}"), r.get("content_ref"));
        assertEquals(LargeResults.preview(full, full.length(), "s3://artifacts/" + put.get(1)), r.get("content").asText());
    }
}
