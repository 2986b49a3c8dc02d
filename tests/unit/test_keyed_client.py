"""Provider SDK clients follow the API key secret: one client per key, a new one after rotation."""

from agent_core.secrets import KeyedClient


def test_a_rotated_key_gets_a_new_client_and_an_unchanged_key_keeps_it():
    keys = iter(["key-1", "key-1", "key-2"])
    made: list[str] = []

    def make(key: str) -> object:
        made.append(key)
        return object()

    sdk = KeyedClient(lambda: next(keys), make)
    first = sdk()
    assert sdk() is first and made == ["key-1"]
    rotated = sdk()
    assert rotated is not first and made == ["key-1", "key-2"]
    assert sdk.key == "key-2"  # what error messages redact
