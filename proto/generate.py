"""Regenerate the committed protobuf modules under proto/v1.

The .proto files are compiled as if they lived at picket/proto/v1/, so the generated
modules import each other as `picket.proto.v1.*`, the installed import name.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "v1"


def generate(out_dir: Path) -> list[Path]:
    """Compile every .proto of proto/v1 into out_dir; return the generated files."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        staged = root / "picket" / "proto" / "v1"
        staged.mkdir(parents=True)
        protos = sorted(SOURCES.glob("*.proto"))
        for proto in protos:
            shutil.copy(proto, staged / proto.name)
        include = str(Path(protoc.__file__).parent / "_proto")
        args = [
            "protoc",
            f"-I{root}",
            f"-I{include}",
            f"--python_out={root}",
            f"--pyi_out={root}",
            f"--grpc_python_out={root}",
        ]
        args += [str(staged / p.name) for p in protos]
        if protoc.main(args) != 0:
            raise SystemExit("protoc failed")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for produced in sorted(staged.glob("*_pb2*")):
            target = out_dir / produced.name
            shutil.copy(produced, target)
            written.append(target)
        return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCES):
        print(path.relative_to(HERE.parent) if path.is_relative_to(HERE.parent) else path)
