"""Regenerate protos/*_pb2.py from protos/*.proto: `python -m sawgrid.protos.generate`.

Uses the protoc bundled with the pinned `grpcio-tools` (see pyproject's dev
extra), so every machine produces byte-identical output. `--check` regenerates
into a temporary folder and exits 1 if any committed file differs (CI runs it).

Generated modules import each other as `sawgrid.protos.X_pb2`: protoc sees the
sources through a temporary `sawgrid/protos` path.
"""
from __future__ import annotations

import argparse
import filecmp
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent


def generate(out_dir: Path) -> list[Path]:
    """Compile every .proto in PROTO_DIR into `out_dir`; returns the written files.

    protoc runs in a child process (`python -m grpc_tools.protoc`): its C++
    extension and OR-Tools' (the PAR engine's min-cost flow) each carry their
    own protobuf and abseil, and loading both into one process crashes it."""
    spec = importlib.util.find_spec("grpc_tools")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("grpcio-tools is not installed: pip install -e '.[dev]'")

    with tempfile.TemporaryDirectory() as tmp:
        src_root = Path(tmp) / "src"
        pkg = src_root / "sawgrid" / "protos"
        pkg.mkdir(parents=True)
        protos = sorted(PROTO_DIR.glob("*.proto"))
        for proto in protos:
            shutil.copy(proto, pkg / proto.name)
        gen_root = Path(tmp) / "gen"
        gen_root.mkdir()
        include = Path(spec.submodule_search_locations[0]) / "_proto"
        args = [sys.executable, "-m", "grpc_tools.protoc", f"-I{src_root}", f"-I{include}",
                f"--python_out={gen_root}"]
        args += [f"sawgrid/protos/{p.name}" for p in protos]
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            raise SystemExit(f"protoc failed: {result.stderr.strip()}")
        written = []
        for produced in sorted((gen_root / "sawgrid" / "protos").glob("*_pb2.py")):
            target = out_dir / produced.name
            shutil.copy(produced, target)
            written.append(target)
        return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sawgrid.protos.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if committed generated code is stale")
    args = parser.parse_args(argv)
    if not args.check:
        for path in generate(PROTO_DIR):
            print(f"wrote {path.relative_to(PROTO_DIR.parent)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        stale = [p.name for p in fresh if not (PROTO_DIR / p.name).exists() or not filecmp.cmp(p, PROTO_DIR / p.name, shallow=False)]
        extra = {p.name for p in PROTO_DIR.glob("*_pb2.py")} - {p.name for p in fresh}
        if stale or extra:
            print("generated protobuf code is stale: " + ", ".join(sorted(stale + list(extra))), file=sys.stderr)
            print("run: python -m sawgrid.protos.generate", file=sys.stderr)
            return 1
        print(f"generated protobuf code is up to date ({len(fresh)} files)")
        return 0


if __name__ == "__main__":
    sys.exit(main())
