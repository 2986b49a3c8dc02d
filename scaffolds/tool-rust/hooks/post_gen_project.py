"""Cargo.lock starts as the clustering tool's (same pinned lambda_runtime and tokio); cargo drops
the packages this tool does not use and keeps every other version as pinned there. Then rustfmt
lays the code out for the tool's own name, as `cargo fmt --check` wants it."""

import subprocess

if subprocess.run(["cargo", "update", "--workspace", "--offline", "-q"]).returncode != 0:
    subprocess.run(["cargo", "update", "--workspace", "-q"], check=True)
subprocess.run(["cargo", "fmt"], check=True)
