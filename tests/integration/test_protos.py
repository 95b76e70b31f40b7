"""The committed generated code matches the .proto sources."""
import subprocess
import sys


def test_generated_protobuf_code_is_up_to_date():
    result = subprocess.run([sys.executable, "-m", "sawgrid.protos.generate", "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_check_detects_a_stale_file(tmp_path, monkeypatch):
    from sawgrid.protos import generate

    for proto in generate.PROTO_DIR.glob("*.proto"):
        (tmp_path / proto.name).write_text(proto.read_text())
    for pb2 in generate.PROTO_DIR.glob("*_pb2.py"):
        (tmp_path / pb2.name).write_text(pb2.read_text() + "# edited by hand\n")
    monkeypatch.setattr(generate, "PROTO_DIR", tmp_path)
    assert generate.main(["--check"]) == 1
