"""Not in Lambda's Python runtime, so hidden from the local engine's Python functions whose
requirements do not bring it (see sfn_agents.launchers)."""

raise ModuleNotFoundError(
    "No module named 'OpenSSL' (Lambda's Python runtime has none: add pyOpenSSL to the function's "
    "requirements.txt)",
    name="OpenSSL",
)
