"""Read a SAM template as SAM does: cfn-lint's decoder for the YAML (short-form tags included) and
samtranslator's plugins for Globals, then resolve the intrinsic functions the local engine needs
(Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If with Conditions). Anything else
(Fn::FindInMap, Fn::ImportValue, ...) stops with an error naming it, never passes through.

Both libraries take seconds to import, so the expanded template is cached, keyed by the template's
bytes and the libraries' versions; only a changed template pays for them (``cached_json``)."""

import functools
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUPPORTED_INTRINSICS = {
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
}


class TemplateError(ValueError):
    """The template uses something the local engine cannot resolve; the message says what."""


def load_yaml(path: Path) -> dict[str, Any]:
    """The template as CloudFormation reads it (short-form tags become their long forms)."""
    import yaml
    from cfnlint.decode import cfn_yaml

    try:
        body = cfn_yaml.load(str(path))
    except (yaml.YAMLError, ValueError) as error:  # CfnParseError is a YAMLError
        raise TemplateError(f"{path}: {error}") from None
    return json.loads(json.dumps(body))  # cfn-lint's node types -> plain dicts and strings


def _expand_globals(body: dict[str, Any]) -> dict[str, Any]:
    """samtranslator's plugins, as SAM runs them before translating: Globals merged into every
    resource they apply to, then dropped."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import prepare_plugins

    parameters = {k: v.get("Default") for k, v in body.get("Parameters", {}).items()}
    try:
        Parser().parse(body, parameters, prepare_plugins([], parameters))
    except InvalidDocumentException as error:
        causes = "; ".join(getattr(cause, "message", str(cause)) for cause in error.causes)
        raise TemplateError(f"invalid SAM template: {causes}") from None
    return body


def _cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else ""
    )
    return Path(base) / "sfn-agents" if base else None


def cache_file(kind: str, name: str) -> Path | None:
    """``sfn-agents/<kind>/<name>`` in the user's cache directory (None without one)."""
    cache = _cache_dir()
    return cache / kind / name if cache else None


def write_cache(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` at once (readers never see part of it); an unwritable cache
    is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        partial.write_bytes(data)
        partial.replace(path)
    except OSError:
        pass


def cached_json(kind: str, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``'s JSON-able result, kept in the user's cache directory as
    ``sfn-agents/<kind>/<key>.json``. ``key`` must hash everything the result depends on; an
    unwritable (or absent) cache only costs the computation."""
    cached = cache_file(kind, f"{key}.json")
    if cached is not None and cached.is_file():
        return json.loads(cached.read_text())
    result = compute()
    if cached is not None:
        write_cache(cached, json.dumps(result).encode())
    return result


@functools.cache
def version_key(*distributions: str) -> str:
    """The installed versions of ``distributions``, for cache keys."""
    return json.dumps([installed_version(d) for d in distributions])


@functools.cache
def installed_distributions() -> tuple[str, ...]:
    """The ``name-version.dist-info`` directories on sys.path, in its order: what is installed."""
    found: list[str] = []
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        found += [name for name in names if name.endswith(".dist-info")]
    return tuple(found)


def installed_version(distribution: str) -> str:
    """What importlib.metadata.version gives, read from the name of the distribution's
    ``name-version.dist-info`` directory on sys.path: importing importlib.metadata (email,
    zipfile) and parsing METADATA took ~0.05 s of every command before its functions could start
    preloading. importlib.metadata's answer where there is no such directory (an egg, a zip)."""
    prefix = re.sub(r"[-_.]+", "_", distribution).lower() + "-"
    for name in installed_distributions():
        if name.lower().startswith(prefix):
            return name[len(prefix) : -len(".dist-info")]
    from importlib import metadata

    return metadata.version(distribution)


def expand(path: Path) -> dict[str, Any]:
    """The template with its YAML decoded and Globals applied, from the cache when unchanged."""
    source = path.read_bytes()
    versions = version_key("cfn-lint", "aws-sam-translator")
    key = hashlib.sha256(source + versions.encode()).hexdigest()
    body: dict[str, Any] = cached_json("templates", key, lambda: _expand_globals(load_yaml(path)))
    return body


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, overrides: Mapping[str, str] | None = None) -> "Template":
        body = expand(path)
        declared = body.get("Parameters", {})
        unknown = set(overrides or {}) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        values = {name: str(spec.get("Default", "")) for name, spec in declared.items()}
        values.update(overrides or {})
        for name, spec in declared.items():
            allowed = spec.get("AllowedValues")
            if allowed and values[name] not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={values[name]!r} is not one of {allowed}")
            pattern = spec.get("AllowedPattern")
            if pattern and not re.fullmatch(pattern, values[name]):
                raise TemplateError(f"parameter {name}={values[name]!r} does not match {pattern}")
        return cls(path=path, body=body, parameters=values)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})

    @property
    def stack_name(self) -> str:
        """The stack's name locally: as samconfig.toml names it, sfn-agents-<EnvironmentName>."""
        environment = self.parameters.get("EnvironmentName")
        return f"sfn-agents-{environment}" if environment else "sfn-agents-local"

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] in types}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties (Globals are already merged in, by samtranslator)."""
        props = dict(self.resources[logical_id].get("Properties", {}))
        props.setdefault("Environment", {}).setdefault("Variables", {})
        return props


def references(value: Any) -> set[str]:
    """Logical ids and parameter names a value refers to."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref":
                found.add(str(inner).split(".")[0])
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else str(inner).split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found |= {v.split(".")[0] for v in _SUB_VARIABLE.findall(text)}
                if isinstance(inner, list):
                    found |= references(inner[1])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


class Resolver:
    """Resolves intrinsic functions against parameters and the physical resources created so far."""

    def __init__(self, template: Template, region: str, account: str, stack: str = "") -> None:
        self.template = template
        self.refs: dict[str, str] = {
            **template.parameters,
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": stack or template.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        self.attributes: dict[str, dict[str, str]] = {}

    def record(self, logical_id: str, ref: str, **attributes: str) -> None:
        self.refs[logical_id] = ref
        self.attributes[logical_id] = attributes

    def _ref(self, name: str) -> str:
        if "." in name:  # SAM's !Ref Function.Version / Function.Alias
            logical_id, attribute = name.split(".", 1)
            return self._get_att(logical_id, attribute)
        if name not in self.refs:
            raise TemplateError(f"!Ref {name}: no such parameter or resource (yet)")
        return self.refs[name]

    def _get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attributes[logical_id][attribute]
        except KeyError:
            raise TemplateError(
                f"!GetAtt {logical_id}.{attribute} is not available locally"
            ) from None

    def _sub(self, text: str, extra: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self._ref(name)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _condition(self, name: str) -> bool:
        condition = self.template.body.get("Conditions", {}).get(name)
        if condition is None:
            raise TemplateError(f"condition {name} is not defined")
        return bool(self.resolve(condition))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((key, arg),) = value.items()
        match key:
            case "Ref":
                return self._ref(str(arg))
            case "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._get_att(logical_id, attribute)
            case "Fn::Sub":
                text, extra = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
                return self._sub(text, extra)
            case "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            case "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            case "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            case "Fn::If":
                return self.resolve(arg[1] if self._condition(arg[0]) else arg[2])
            case "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            case "Fn::Not":
                return not self.resolve(arg[0])
            case "Fn::And":
                return all(self.resolve(a) for a in arg)
            case "Fn::Or":
                return any(self.resolve(a) for a in arg)
            case "Condition":
                return self._condition(str(arg))
        if key.startswith("Fn::"):
            raise TemplateError(f"{key} is not supported by the local engine")
        return {key: self.resolve(arg)}


def stream_events(props: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A function's DynamoDB stream events (their Properties), from its SAM properties."""
    return [
        event.get("Properties", {})
        for event in (props.get("Events") or {}).values()
        if event.get("Type") == "DynamoDB"
    ]
