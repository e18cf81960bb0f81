"""The two Dapr wrapper modules (the pinned runtime, and Azure Container Apps' 1.16 for the
runtime-skew test) build the same programs with the same components."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED, AZURE = ROOT / "infra/local/dapr", ROOT / "infra/local/dapr-azure"


def go_files(module: Path) -> set[str]:
    return {str(p.relative_to(module)) for p in module.glob("*/*.go")}


def test_the_azure_wrapper_shares_every_go_file_of_the_pinned_one():
    """Symlinks, not copies: a component registered for one runtime is registered for both."""
    assert "daprd/components.go" in go_files(PINNED)
    assert go_files(AZURE) == go_files(PINNED)
    for name in go_files(AZURE):
        link = AZURE / name
        assert link.is_symlink(), f"{link} must be a symlink to {PINNED / name}, not a copy"
        assert link.resolve() == (PINNED / name).resolve()


def test_the_azure_wrapper_builds_the_pinned_azure_version_from_its_own_copy():
    version = re.search(r"^DAPR_AZURE_RUNTIME_VERSION=(\S+)", (ROOT / "versions.env").read_text(), re.M).group(1)
    gomod = (AZURE / "go.mod").read_text()
    assert re.search(rf"^\s*github\.com/dapr/dapr v{re.escape(version)}$", gomod, re.M)
    copies = [re.search(r"^replace github\.com/dapr/dapr v(\S+) => \S*/\.dapr/src/(\S+)$", (m / "go.mod").read_text(),
                        re.M) for m in (PINNED, AZURE)]
    assert all(copies), "each wrapper replaces github.com/dapr/dapr with a patched copy in .dapr/src"
    assert copies[1].group(1) == version
    assert copies[0].group(2) != copies[1].group(2), "the two runtimes need separate copies"
