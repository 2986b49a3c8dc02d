import sys
from importlib import metadata
from pathlib import Path

import pytest

from sfn_agents.template import Resolver, Template, TemplateError, installed_version, references

TEMPLATE = """
Parameters:
  Env: {Type: String, Default: dev, AllowedPattern: "^[a-z]+$"}
  Level: {Type: String, Default: INFO, AllowedValues: [INFO, DEBUG]}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Table: {Type: AWS::DynamoDB::Table, Properties: {TableName: !Sub "t-${Env}"}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          TABLE: !Ref Table
          ARN: !GetAtt Table.Arn
          MODE: !If [IsProd, strict, relaxed]
          JOINED: !Join ["-", [a, !Ref Env]]
          LITERAL: !Sub "${!NotAVariable}"
"""


@pytest.fixture
def template(tmp_path: Path) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return Template.load(path)


def test_intrinsics_resolve_against_parameters_and_created_resources(template):
    resolver = Resolver(template, "us-east-1", "123456789012")
    resolver.record("Table", "t-dev", Arn="arn:table")
    env = resolver.resolve(template.resources["Fn"]["Properties"]["Environment"]["Variables"])
    assert env == {
        "TABLE": "t-dev",
        "ARN": "arn:table",
        "MODE": "relaxed",
        "JOINED": "a-dev",
        "LITERAL": "${NotAVariable}",
    }


def test_references_drive_creation_order(template):
    assert references(template.resources["Fn"]) == {"Table", "Env"}


def test_parameter_overrides_are_checked(tmp_path: Path):
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    assert Template.load(path, {"Env": "prod"}).parameters["Env"] == "prod"
    with pytest.raises(TemplateError, match="does not match"):
        Template.load(path, {"Env": "Prod!"})
    with pytest.raises(TemplateError, match="not one of"):
        Template.load(path, {"Level": "TRACE"})
    with pytest.raises(TemplateError, match="unknown parameter"):
        Template.load(path, {"Nope": "x"})


def test_unresolvable_reference_names_itself(template):
    resolver = Resolver(template, "us-east-1", "123456789012")
    with pytest.raises(TemplateError, match="Table"):
        resolver.resolve({"Ref": "Table"})


GLOBALS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Mappings:
  Sizes: {dev: {Memory: 256}}
Globals:
  Function:
    Timeout: 42
    Environment: {Variables: {SHARED: one, OVERRIDDEN: global}}
  StateMachine:
    PropagateTags: true
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Environment: {Variables: {OVERRIDDEN: own}}
  Mapped:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      MemorySize: !FindInMap [Sizes, dev, Memory]
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties: {Definition: {StartAt: A, States: {A: {Type: Succeed}}}}
"""


@pytest.fixture
def sam_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Template:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "template.yaml"
    path.write_text(GLOBALS_TEMPLATE)
    return Template.load(path)


def test_globals_apply_to_every_resource_type_as_sam_does(sam_template):
    props = sam_template.function_properties("Fn")
    assert props["Timeout"] == 42
    assert props["Environment"]["Variables"] == {"SHARED": "one", "OVERRIDDEN": "own"}
    assert sam_template.resources["Machine"]["Properties"]["PropagateTags"] is True
    assert "Globals" not in sam_template.body


def test_an_unsupported_intrinsic_stops_with_its_name(sam_template):
    resolver = Resolver(sam_template, "us-east-1", "123456789012")
    memory = sam_template.function_properties("Mapped")["MemorySize"]
    with pytest.raises(TemplateError, match=r"Fn::FindInMap is not supported"):
        resolver.resolve(memory)


def test_the_expanded_template_is_cached_until_the_template_changes(tmp_path, sam_template):
    cached = list((tmp_path / "cache" / "sfn-agents" / "templates").glob("*.json"))
    assert len(cached) == 1
    sam_template.path.write_text(GLOBALS_TEMPLATE.replace("Timeout: 42", "Timeout: 7"))
    assert Template.load(sam_template.path).function_properties("Fn")["Timeout"] == 7
    assert len(list(cached[0].parent.glob("*.json"))) == 2


def test_an_invalid_globals_section_is_reported_as_sam_reports_it(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = tmp_path / "template.yaml"
    path.write_text(GLOBALS_TEMPLATE.replace("PropagateTags: true", "Tracing: {Enabled: true}"))
    with pytest.raises(TemplateError, match="'Tracing' is not a supported property"):
        Template.load(path)


@pytest.mark.parametrize(
    "distribution",
    ["cfn-lint", "aws-sam-translator", "moto", "antlr4-python3-runtime", "PyYAML", "boto3"],
)
def test_cache_keys_use_the_installed_versions(distribution):
    """The caches are keyed by what importlib.metadata reports, read from dist-info names."""
    assert installed_version(distribution) == metadata.version(distribution)


def test_a_distribution_without_a_dist_info_directory_is_looked_up(tmp_path, monkeypatch):
    egg = tmp_path / "legacy_thing.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-thing\nVersion: 4.5.6\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    assert installed_version("legacy-thing") == "4.5.6"
