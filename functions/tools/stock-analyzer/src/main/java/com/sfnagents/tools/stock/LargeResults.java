package com.sfnagents.tools.stock;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Tool results of any size (docs/contract.md, "Large results"): content above {@link #INLINE_LIMIT}
 * characters goes to the artifact bucket and the model gets a preview plus the object's reference.
 * Thresholds, key, preview text and {@code content_ref} are those of the Python helper
 * (layers/agent_core/agent_core/large_results.py); tests/contract/large_results.json holds the
 * cases every language is tested against. Characters are Unicode code points, as Python counts
 * them (not Java's UTF-16 chars).
 */
public final class LargeResults {
    public static final int INLINE_LIMIT = 16_384;
    public static final int PREVIEW_CHARS = 4_096;
    private static final String PREFIX = "tool-results";
    private static final int MAX_ID_CHARS = 80;

    /** Stores one object; the exception's message says why not (e.g. the S3 error code). */
    @FunctionalInterface
    public interface ObjectStore {
        void put(String bucket, String key, String body) throws StoreException;
    }

    public static final class StoreException extends Exception {
        public StoreException(String reason) {
            super(reason);
        }
    }

    private final String bucket;
    private final ObjectStore store;

    /** {@code bucket} null or blank: content over the limit is only cut to its preview. */
    public LargeResults(String bucket, ObjectStore store) {
        this.bucket = bucket == null || bucket.isBlank() ? null : bucket;
        this.store = store;
    }

    /** Content-addressed, so a retried call rewrites the same object. */
    public static String objectKey(String toolUseId, String content) {
        StringBuilder safe = new StringBuilder();
        toolUseId.codePoints().limit(MAX_ID_CHARS).forEach(c -> safe.append(
                c < 128 && (Character.isLetterOrDigit(c) || c == '_' || c == '-') ? (char) c : '_'));
        return PREFIX + "/" + safe + "/" + sha256Hex(content).substring(0, 32) + ".txt";
    }

    /** The first {@link #PREVIEW_CHARS} characters of {@code content} ({@code chars} in all) and where the rest is. */
    public static String preview(String content, int chars, String where) {
        String shown = content.substring(0, content.offsetByCodePoints(0, Math.min(PREVIEW_CHARS, chars)));
        return shown + "\n[result truncated: " + chars + " characters in all; the first " + PREVIEW_CHARS
                + " are shown. Full result: " + where + "]";
    }

    /**
     * {@code result} (a tool_result) with content over the limit stored and replaced by a preview and
     * {@code content_ref}; an error result when the object cannot be stored.
     */
    public ObjectNode bound(ObjectNode result) {
        String content = result.path("content").asText("");
        if (content.length() <= INLINE_LIMIT) { // UTF-16 chars >= code points
            return result;
        }
        int chars = content.codePointCount(0, content.length());
        if (chars <= INLINE_LIMIT) {
            return result;
        }
        if (bucket == null) {
            return result.put("content", preview(content, chars, "not stored (no ARTIFACT_BUCKET)"));
        }
        String key = objectKey(result.path("tool_use_id").asText(""), content);
        try {
            store.put(bucket, key, content);
        } catch (StoreException e) {
            return result.put("is_error", true).put("content", "the result (" + chars
                    + " characters) could not be stored in the artifact bucket (" + e.getMessage() + ")");
        }
        result.put("content", preview(content, chars, "s3://" + bucket + "/" + key));
        result.putObject("content_ref").put("bucket", bucket).put("key", key).put("chars", chars);
        return result;
    }

    private static String sha256Hex(String content) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(content.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
