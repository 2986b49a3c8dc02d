package com.sfnagents.tools.stock;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * Lambda entry point: {@code com.sfnagents.tools.stock.StockAnalyzerHandler::handleRequest}.
 * Reads the tool call from the stream and writes one tool_result, with content over the inline limit
 * stored in ARTIFACT_BUCKET ({@link LargeResults}); the S3 client is built once per execution
 * environment.
 */
public final class StockAnalyzerHandler implements RequestStreamHandler {
    /** Objects larger than this are refused. */
    static final long MAX_OBJECT_BYTES = 64L * 1024 * 1024;

    private static S3Client s3;

    private final StockAnalyzer analyzer;
    private final LargeResults results;

    public StockAnalyzerHandler() {
        this(new StockAnalyzer(StockAnalyzerHandler::readS3),
                new LargeResults(System.getenv("ARTIFACT_BUCKET"), (b, k, body) -> writeS3(s3(), b, k, body)));
    }

    StockAnalyzerHandler(StockAnalyzer analyzer, LargeResults results) {
        this.analyzer = analyzer;
        this.results = results;
    }

    /** Writes one tool_result; an event that is not a tool call fails with {@link MalformedToolEvent}. */
    @Override
    public void handleRequest(InputStream input, OutputStream output, Context context) throws IOException {
        JsonNode event;
        try {
            event = StockAnalyzer.MAPPER.readTree(input);
        } catch (JsonProcessingException e) {
            throw new MalformedToolEvent("tool event is not JSON: " + e.getOriginalMessage());
        }
        ObjectNode result = results.bound(analyzer.handle(event));
        output.write(StockAnalyzer.MAPPER.writeValueAsBytes(result));
        output.flush();
    }

    static synchronized S3Client s3() {
        if (s3 == null) {
            S3ClientBuilder b = S3Client.builder().httpClientBuilder(UrlConnectionHttpClient.builder());
            // The SDK itself honours AWS_ENDPOINT_URL(_S3); local emulators (moto, MinIO) also need
            // path-style addressing.
            String endpoint = firstNonBlank(System.getenv("AWS_ENDPOINT_URL_S3"), System.getenv("AWS_ENDPOINT_URL"));
            if (endpoint != null) {
                b = b.endpointOverride(URI.create(endpoint)).forcePathStyle(true);
            }
            s3 = b.build();
        }
        return s3;
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }

    static String readS3(String bucket, String key) throws StockAnalyzer.ObjectSourceException {
        String where = "s3://" + bucket + "/" + key;
        try (ResponseInputStream<GetObjectResponse> in = s3().getObject(r -> r.bucket(bucket).key(key))) {
            Long length = in.response().contentLength();
            if (length != null && length > MAX_OBJECT_BYTES) {
                throw new StockAnalyzer.ObjectSourceException("object " + where + " is " + length
                        + " bytes, more than the " + MAX_OBJECT_BYTES + " this tool reads");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (NoSuchKeyException | NoSuchBucketException e) {
            throw new StockAnalyzer.ObjectSourceException("object " + where + " not found");
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                throw new StockAnalyzer.ObjectSourceException("object " + where + " not found");
            }
            String code = e.awsErrorDetails() != null ? e.awsErrorDetails().errorCode() : null;
            throw new StockAnalyzer.ObjectSourceException("could not read " + where + ": "
                    + (code != null ? code + " " : "") + "(HTTP " + e.statusCode() + ")");
        } catch (SdkException | IOException e) {
            throw new StockAnalyzer.ObjectSourceException("could not read " + where + ": " + e.getMessage());
        }
    }

    /** Stores a large result; the exception names the S3 error code (NoSuchBucket, AccessDenied). */
    static void writeS3(S3Client client, String bucket, String key, String body) throws LargeResults.StoreException {
        try {
            client.putObject(r -> r.bucket(bucket).key(key).contentType("text/plain; charset=utf-8"),
                    RequestBody.fromString(body, StandardCharsets.UTF_8));
        } catch (S3Exception e) {
            String code = e.awsErrorDetails() != null ? e.awsErrorDetails().errorCode() : null;
            throw new LargeResults.StoreException(code != null ? code : "HTTP " + e.statusCode());
        } catch (SdkException e) {
            throw new LargeResults.StoreException(e.getMessage());
        }
    }
}
