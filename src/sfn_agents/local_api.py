"""The template's REST API served locally, as ``sam local start-api`` serves it: each request
becomes the API Gateway REST proxy event its route declares, and the real function (through the
engine's Lambda dispatch) answers it. What API Gateway itself does is done here too, from the
template: the API-key check on methods that require one (with the API's gateway response), the usage
plan's throttle (a token bucket of its rate and burst per key, answered with the THROTTLED gateway
response), CORS preflight answers, and 404 for routes the API does not declare."""

import base64
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY_VARIABLE = "SFN_AGENTS_API_KEY"
LOCAL_KEY_ID = "local-api-key"


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # API Gateway's resource path, e.g. /runs/{run_id}
    function: str  # the function's name in the engine
    key_required: bool
    pattern: re.Pattern[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None


def _pattern(resource: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", resource)
    regex = "".join(
        f"(?P<{part[1:-1].rstrip('+')}>{'.+' if part.endswith('+}') else '[^/]+'})"
        if part.startswith("{")
        else re.escape(part)
        for part in parts
    )
    return re.compile(regex)


def _gateway_response(
    api: dict[str, Any], kind: str, default_status: int, default_message: str = ""
) -> tuple[int, str]:
    response = api.get("GatewayResponses", {}).get(kind, {})
    body = response.get("ResponseTemplates", {}).get("application/json")
    return int(response.get("StatusCode", default_status)), body or json.dumps(
        {"message": default_message or kind.replace("_", " ").lower()}
    )


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


def started(engine: Any, port: int, stack: Any, out: Any) -> "LocalApi":
    """Serve the engine's API on ``port`` for the life of ``stack`` (an ExitStack) and say where,
    with the key: from SFN_AGENTS_API_KEY, or generated (and then printed, once)."""
    import os

    given = os.environ.get(API_KEY_VARIABLE, "")
    api = stack.enter_context(LocalApi(engine, port, given))
    print(f"sfn-agents API and web UI on {api.url}", file=out, flush=True)
    source = (
        f"from {API_KEY_VARIABLE}"
        if given
        else f"{api.api_key} (set {API_KEY_VARIABLE} to choose one)"
    )
    print(f"  API key: {source}", file=out, flush=True)
    return api


class LocalApi:
    """One ``AWS::Serverless::Api`` of the deployed template, on a loopback port."""

    def __init__(self, engine: Any, port: int = 3000, api_key: str = "", api_id: str = "") -> None:
        assert engine.template is not None and engine.resolver is not None
        self.engine = engine
        self.api_key = api_key or secrets.token_urlsafe(24)
        apis = engine.template.of_type("AWS::Serverless::Api")
        if not apis:
            raise ValueError("the template declares no AWS::Serverless::Api")
        self.api_id = api_id or sorted(apis)[0]
        self.api = engine.resolver.resolve(apis[self.api_id].get("Properties", {}))
        self.routes = self._routes()
        throttle = self.api.get("Auth", {}).get("UsagePlan", {}).get("Throttle")
        self.throttle = (
            TokenBucket(float(throttle["RateLimit"]), int(throttle["BurstLimit"]))
            if throttle
            else None
        )
        self.port = port
        self.server: ThreadingHTTPServer | None = None

    def _routes(self) -> list[Route]:
        default_key = bool(self.api.get("Auth", {}).get("ApiKeyRequired"))
        routes = []
        for logical_id in self.engine.template.of_type("AWS::Serverless::Function"):
            props = self.engine.template.function_properties(logical_id)
            for event in (props.get("Events") or {}).values():
                spec = event.get("Properties", {})
                if event.get("Type") != "Api" or spec.get("RestApiId") != {"Ref": self.api_id}:
                    continue
                key = spec.get("Auth", {}).get("ApiKeyRequired", default_key)
                routes.append(
                    Route(
                        method=spec["Method"].upper(),
                        resource=spec["Path"],
                        function=self.engine.function_for(logical_id).name,
                        key_required=bool(key),
                        pattern=_pattern(spec["Path"]),
                    )
                )
        # Literal paths before templated ones, as API Gateway prefers the most specific.
        return sorted(routes, key=lambda r: r.resource.count("{"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> "LocalApi":
        api = self

        class Handler(_ProxyHandler):
            local_api = api

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> "LocalApi":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one request
    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, parameters
        return None

    def proxy_event(
        self,
        route: Route,
        parameters: dict[str, str],
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> dict[str, Any]:
        """The REST proxy event API Gateway (and ``sam local start-api``) hands the function."""
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        stage = str(self.api.get("StageName", "local"))
        text_body = body.decode() if body else None
        return {
            "resource": route.resource,
            "path": split.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{stage}{split.path}",
                "stage": stage,
                "protocol": "HTTP/1.1",
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {
                    "apiKey": headers.get("x-api-key") if route.key_required else None,
                    "apiKeyId": LOCAL_KEY_ID if route.key_required else None,
                    "sourceIp": "127.0.0.1",
                    "userAgent": headers.get("user-agent", ""),
                },
            },
            "body": text_body,
            "isBase64Encoded": False,
        }


class _ProxyHandler(BaseHTTPRequestHandler):
    local_api: LocalApi
    protocol_version = "HTTP/1.1"

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: str) -> None:
        self._send(status, {"Content-Type": "application/json"}, body.encode())

    def _handle(self) -> None:
        api = self.local_api
        method = self.command
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        if method == "OPTIONS":
            return self._preflight(path)
        found = api.route(method, path)
        if found is None:
            return self._json(*_gateway_response(api.api, "MISSING_AUTHENTICATION_TOKEN", 403))
        route, parameters = found
        if route.key_required and not secrets.compare_digest(
            headers.get("x-api-key", ""), api.api_key
        ):
            return self._json(*_gateway_response(api.api, "API_KEY", 403))
        if route.key_required and api.throttle is not None and not api.throttle.take():
            throttled = _gateway_response(api.api, "THROTTLED", 429, "Too Many Requests")
            return self._json(*throttled)
        event = api.proxy_event(route, parameters, method, self.path, headers, body)
        payload, errored, _ = api.engine.functions.invoke(route.function, event)
        try:
            response = json.loads(payload)
            status = int(response["statusCode"])
        except (ValueError, KeyError, TypeError):
            errored = True
        if errored:  # what API Gateway answers when the integration fails
            return self._json(502, json.dumps({"message": "Internal server error"}))
        out = response.get("body") or ""
        data = base64.b64decode(out) if response.get("isBase64Encoded") else out.encode()
        headers_out = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers_out[name] = ", ".join(values)
        self._send(status, headers_out, data)

    def _preflight(self, path: str) -> None:
        cors = self.local_api.api.get("Cors") or {}
        methods = {r.method for r in self.local_api.routes if r.pattern.fullmatch(path)}
        if not cors or not methods:
            return self._json(
                *_gateway_response(self.local_api.api, "MISSING_AUTHENTICATION_TOKEN", 403)
            )

        def unquote(value: Any) -> str:  # SAM writes header values quoted
            return str(value).strip("'")

        self._send(
            200,
            {
                "Access-Control-Allow-Origin": unquote(cors.get("AllowOrigin", "")),
                "Access-Control-Allow-Headers": unquote(cors.get("AllowHeaders", "")),
                "Access-Control-Allow-Methods": unquote(cors.get("AllowMethods", "")),
                "Access-Control-Max-Age": unquote(cors.get("MaxAge", "0")),
            },
            b"",
        )

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass
