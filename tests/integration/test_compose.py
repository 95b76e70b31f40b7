"""The production network (docker-compose.yaml, docker/), checked statically.

No container registry or Docker engine is reachable here, so the network is
never started. Instead:

* the compose files are parsed (with compose's `$` interpolation) and their
  invariants asserted: four nodes, each running every processor against its
  own validator; pinned images; named volumes; healthchecks; restart
  policies; static peering with each pair declared once;
* the shell scripts of the services run here against stub `sawadm`, `sawset`,
  `sawtooth-validator` and `sawgrid` commands, in a sandbox where each named
  volume is a folder: genesis waits for every validator's key, writes the
  PBFT settings once, and a restart redoes nothing;
* every `sawgrid ...` command line the services run is parsed by sawgrid's own
  argument parser, so the commands are real;
* the Dockerfile's stages are read: slim, non-root, `sawgrid` entry point,
  installed from pyproject.toml;
* `docker compose config` runs when a compose-capable docker client exists.
"""
from __future__ import annotations

import json
import ast
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from sawgrid.clients.cli import main as sawgrid_cli
from sawgrid.clients.cli import market as market_cli
from sawgrid.clients.cli.main import build_parser
from sawgrid.clients.cli import par as par_cli
from sawgrid.par_engine.cron import Cron
from sawgrid.clients.cli import tp as tp_cli
from sawgrid.processors import registry

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
PROCESSORS = ROOT / "docker" / "compose.processors.yaml"
CLIENTS = ROOT / "docker" / "compose.clients.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

NODES = range(4)
SAWTOOTH_IMAGES = {
    "validator": "hyperledger/sawtooth-validator",
    "pbft": "hyperledger/sawtooth-pbft-engine",
    "settings-tp": "hyperledger/sawtooth-settings-tp",
    "block-info-tp": "hyperledger/sawtooth-block-info-tp",
    "rest-api": "hyperledger/sawtooth-rest-api",
}
SAWGRID_IMAGE = f"sawgrid:{PYPROJECT['project']['version']}"
ONE_SHOT = {"market-init", "enrollment-init", "tls-init"}
MOVING_TAGS = {"latest", "chime", "nightly", "bumper", "stable"}
# what someone running the client/processor files would export
EXAMPLE_ENV = {"REST_URL": "http://node0.example.org:8008", "SAWGRID_KEYS": "/srv/sawgrid/keys",
               "VALIDATOR": "tcp://node1.example.org:4004"}


# --------------------------------------------------------------------------
# Loading, as compose does
# --------------------------------------------------------------------------
_DOLLAR = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
                     r"|\$(?P<bare>[A-Za-z_]\w*)|\$")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation of one string: `$$` is a literal `$`;
    ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}.
    An unset variable without a default is an error here (compose would
    substitute an empty string with a warning)."""
    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        if name is None:
            raise AssertionError(f"a lone '$' in {text!r}: write '$$' for a literal dollar")
        op, arg, value = match.group("op"), match.group("arg"), env.get(name)
        missing = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if missing else value
        if missing:
            raise KeyError(f"${{{name}}} is not set" + (f": {arg}" if arg else ""))
        return value

    return _DOLLAR.sub(sub, text)


def _walk(node, env):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def load(path: Path, env: dict[str, str] | None = None) -> dict:
    return _walk(yaml.safe_load(path.read_text()), env or {})


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(COMPOSE)


FILES = [COMPOSE, PROCESSORS, CLIENTS]
every_file = pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])


def load_file(path: Path) -> dict:
    """A compose file as `docker compose` reads it; the files for an existing
    network with the variables their header asks for."""
    return load(path) if path == COMPOSE else load(path, EXAMPLE_ENV)


def is_sawgrid(service: dict) -> bool:
    return service.get("image", "").split(":")[0] == "sawgrid"


def as_list(value) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def argv(service: dict) -> list[str]:
    """What the container runs: entrypoint + command (the Sawgrid image's
    entry point is `sawgrid`; Sawtooth's images have none)."""
    entrypoint = service.get("entrypoint")
    if entrypoint is None:
        entrypoint = ["sawgrid"] if is_sawgrid(service) else []
    return as_list(entrypoint) + as_list(service.get("command"))


def option(args: list[str], flag: str) -> list[str]:
    """Every value given to `flag` (as `flag VALUE` or `flag=VALUE`)."""
    values = []
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def parse_sawgrid(args: list[str]):
    """`sawgrid ARGS` through sawgrid's own parser; fails the test if argparse refuses."""
    assert args and args[0] == "sawgrid", args
    try:
        parsed = build_parser().parse_args(args[1:])
    except SystemExit as exit_:
        pytest.fail(f"`{shlex.join(args)}` does not parse (argparse exit {exit_.code})")
    assert hasattr(parsed, "func"), f"`{shlex.join(args)}` names no command"
    return parsed


# Sawtooth's own family, served on every node by the official block-info-tp
# image rather than by `sawgrid tp` (one processor per family on a node).
SAWTOOTH_SERVED = {"block_info"}


def expected_families() -> set[tuple[str, str]]:
    """sawtooth_settings plus every registered family (block_info included), at every version."""
    served = {(spec.family.name, version)
              for spec in registry.FAMILIES for version in spec.family.versions}
    return {("sawtooth_settings", "1.0")} | served


# --------------------------------------------------------------------------
# Running the services' shell scripts against stub commands
# --------------------------------------------------------------------------
STUB = r'''#!{python}
"""Stub of a command the compose scripts run: records its argv, fakes its files."""
import json, os, secrets, sys
from pathlib import Path

name, args = Path(sys.argv[0]).name, sys.argv[1:]
with open(os.environ["STUB_CALLS"], "a") as calls:
    calls.write(json.dumps([name, *args]) + "\n")

def value(flag):
    return args[args.index(flag) + 1] if flag in args else None

if name == "sawadm" and args[:1] == ["keygen"]:
    keys = Path(os.environ["STUB_VALIDATOR_KEYS"])
    for suffix in ("priv", "pub"):
        assert not (keys / f"validator.{suffix}").exists(), "sawadm keygen would refuse: key exists"
    (keys / "validator.priv").write_text(secrets.token_hex(32) + "\n")
    (keys / "validator.pub").write_text("02" + secrets.token_hex(32) + "\n")
elif name == "sawadm" and args[:1] == ["genesis"]:
    target = Path(os.environ["STUB_VALIDATOR_DATA"]) / "genesis.batch"
    assert not target.exists(), "sawadm genesis would refuse: genesis.batch exists"
    for batch in args[1:]:
        assert Path(batch).is_file(), f"missing input batch {batch}"
    target.write_bytes(b"genesis")
elif name == "sawset":
    out = Path(value("-o"))
    assert not out.exists(), f"{out} written twice"
    out.write_bytes(b"batch")
elif name == "sawgrid" and args[:1] == ["keygen"]:
    keys = Path(value("--key-dir") or os.environ["SAWGRID_KEY_DIR"])
    keys.mkdir(parents=True, exist_ok=True)
    (keys / f"{args[1]}.priv").write_text(secrets.token_hex(32) + "\n")
    (keys / f"{args[1]}.pub").write_text("03" + secrets.token_hex(32) + "\n")
elif name == "sawgrid" and args[:1] == ["tls-selfsigned"]:
    folder = Path(args[1])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (folder / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
sys.exit(0)
'''
STUBBED = ("sawadm", "sawset", "sawtooth-validator", "sawgrid")
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/-])/(?:etc|var|srv|opt|home|root|data)(?:/[\w.@-]+)*")


def mounts(service: dict) -> dict[str, str]:
    """container path -> volume source (a named volume or a host path)."""
    found = {}
    for spec in service.get("volumes", []):
        source, target, *_mode = spec.split(":")
        found[target] = source
    return found


class Sandbox:
    """Runs a service's `sh -c`/`bash -c` script here: each volume is a folder
    under `root`, shared by every service that mounts it, as in Docker."""

    def __init__(self, root: Path, doc: dict) -> None:
        self.root, self.doc = root, doc
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        for name in STUBBED:
            path = self.bin / name
            path.write_text(STUB.replace("{python}", sys.executable))
            path.chmod(0o755)
        self.calls = root / "calls.jsonl"

    def folder(self, source: str, target: str, image_dirs: list[str]) -> Path:
        """The volume's folder; a new named volume starts as a copy of what the
        image has at the mount point (Docker copies it on first mount)."""
        folder = self.root / "volumes" / re.sub(r"[^\w.-]", "_", source.strip("/"))
        if not folder.exists():
            folder.mkdir(parents=True)
            if not source.startswith("/"):
                for directory in image_dirs:
                    if directory.startswith(target + "/"):
                        (folder / directory[len(target) + 1:]).mkdir(parents=True, exist_ok=True)
        return folder

    def paths(self, name: str) -> dict[str, Path]:
        service = self.doc["services"][name]
        image_dirs = sawgrid_image_dirs() if is_sawgrid(service) else []
        return {target: self.folder(source, target, image_dirs) for target, source in mounts(service).items()}

    def script(self, name: str) -> list[str]:
        args = argv(self.doc["services"][name])
        assert args[:2] in (["bash", "-c"], ["/bin/sh", "-c"]) and len(args) == 3, args
        return args

    def run(self, name: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
        service = self.doc["services"][name]
        shell, flag, script = self.script(name)
        paths = self.paths(name)
        for target in sorted(paths, key=len, reverse=True):  # /var/lib/sawtooth-pubkeys before /var/lib/sawtooth
            script = script.replace(target, str(paths[target]))
        env = {"PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}", "STUB_CALLS": str(self.calls),
               "STUB_VALIDATOR_KEYS": str(paths.get("/etc/sawtooth/keys", "")),
               "STUB_VALIDATOR_DATA": str(paths.get("/var/lib/sawtooth", "")),
               **{k: str(v) for k, v in (service.get("environment") or {}).items()}}
        self.calls.write_text("")
        try:
            result = subprocess.run([shutil.which(shell), flag, script], env=env, capture_output=True,
                                    text=True, timeout=timeout)
        finally:
            self.last_calls = [json.loads(line) for line in self.calls.read_text().splitlines()]
        return result, self.last_calls


def sawgrid_image_dirs() -> list[str]:
    """Folders the Sawgrid image's final stage creates (`mkdir -p ...`)."""
    final = dockerfile_stages()[-1]["lines"]
    return [path for line in final for command in re.findall(r"mkdir -p ([^&;]+)", line)
            for path in command.split() if path.startswith("/")]


def scripted(doc: dict) -> list[str]:
    return [name for name, s in doc["services"].items() if argv(s)[:2] in (["bash", "-c"], ["/bin/sh", "-c"])]


def sawgrid_command_lines(doc: dict, tmp_path: Path) -> dict[str, list[list[str]]]:
    """Every `sawgrid` argv each Sawgrid service runs: its exec-form command, or
    what its script calls (recorded by the stub on a first run)."""
    lines: dict[str, list[list[str]]] = {}
    box = Sandbox(tmp_path, doc)
    for name, service in doc["services"].items():
        if not is_sawgrid(service):
            continue
        if name in scripted(doc):
            result, calls = box.run(name)
            assert result.returncode == 0, (name, result.stderr)
            lines[name] = [call for call in calls if call[0] == "sawgrid"]
        else:
            lines[name] = [argv(service)]
        assert lines[name], f"{name} runs no sawgrid command"
    return lines


# --------------------------------------------------------------------------
# The nodes
# --------------------------------------------------------------------------
def test_four_nodes_each_with_the_whole_sawtooth_stack(compose):
    services = compose["services"]
    validators = sorted(name for name in services if name.startswith("validator-"))
    assert validators == [f"validator-{n}" for n in NODES]
    for kind in SAWTOOTH_IMAGES:
        assert sorted(name for name in services if re.fullmatch(rf"{kind}-\d+", name)) == \
            [f"{kind}-{n}" for n in NODES]


def test_sawtooth_images_are_pinned_and_identical_on_every_node(compose):
    tags = {}
    for kind, repository in SAWTOOTH_IMAGES.items():
        images = {compose["services"][f"{kind}-{n}"]["image"] for n in NODES}
        assert len(images) == 1, f"{kind} differs between nodes: {images}"
        name, _, tag = images.pop().rpartition(":")
        assert name == repository
        assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{kind}: pin an exact version, not {tag!r}"
        tags[kind] = tag
    # Sawtooth 1.2 core components share one release; the PBFT engine has its own (1.0.x)
    assert tags["validator"] == tags["settings-tp"] == tags["block-info-tp"] == tags["rest-api"]
    assert tags["validator"].startswith("1.2.") and tags["pbft"].startswith("1.0.")


@every_file
def test_every_image_is_pinned(path):
    doc = load_file(path)
    for name, service in doc["services"].items():
        image = service.get("image")
        assert image, f"{path.name}: {name} has no image"
        repository, sep, tag = image.rpartition(":")
        assert sep and "/" not in tag and tag not in MOVING_TAGS, f"{path.name}: {name} uses {image!r}"
        if is_sawgrid(service):
            assert image == SAWGRID_IMAGE, f"{name}: the Sawgrid image is tagged with the package version"
            assert (Path(path).parent / service["build"]["context"]).resolve() == ROOT
            assert (ROOT / service["build"]["dockerfile"]).resolve() == DOCKERFILE


def test_every_node_runs_every_sawgrid_processor_against_its_own_validator(compose):
    services = compose["services"]
    tp_services = {name: s for name, s in services.items()
                   if argv(s)[:1] == ["sawgrid"] and parse_sawgrid(argv(s)).func is tp_cli.run_command}
    assert sorted(tp_services) == [f"sawgrid-tp-{n}" for n in NODES]
    for n in NODES:
        service = services[f"sawgrid-tp-{n}"]
        parsed = parse_sawgrid(argv(service))
        assert parsed.connect == f"tcp://validator-{n}:4004"
        assert sorted(parsed.families) == sorted(set(registry.names()) - SAWTOOTH_SERVED)
        assert f"validator-{n}" in depends_on(service)
        assert service["restart"] == "unless-stopped"


def test_engine_settings_and_rest_api_point_at_their_own_validator(compose):
    services = compose["services"]
    for n in NODES:
        pbft = argv(services[f"pbft-{n}"])
        assert pbft[0] == "pbft-engine" and option(pbft, "--connect") == [f"tcp://validator-{n}:5050"]
        # its consensus state on disk, in a named volume of its own: a restarted node keeps it
        [storage] = option(pbft, "--storage-location")
        assert storage.startswith("disk+/var/lib/sawtooth-pbft/")
        assert mounts(services[f"pbft-{n}"])["/var/lib/sawtooth-pbft"] == f"pbft-{n}-state"
        assert f"pbft-{n}-state" in compose["volumes"]
        settings = argv(services[f"settings-tp-{n}"])
        assert settings[0] == "settings-tp" and option(settings, "-C") == [f"tcp://validator-{n}:4004"]
        block_info = argv(services[f"block-info-tp-{n}"])
        assert block_info[0] == "block-info-tp" and option(block_info, "-C") == [f"tcp://validator-{n}:4004"]
        rest = argv(services[f"rest-api-{n}"])
        assert rest[0] == "sawtooth-rest-api"
        assert option(rest, "--connect") == [f"tcp://validator-{n}:4004"]
        assert option(rest, "--bind") == [f"rest-api-{n}:8008"]
        for kind in ("pbft", "settings-tp", "block-info-tp", "rest-api"):
            assert f"validator-{n}" in depends_on(services[f"{kind}-{n}"]), f"{kind}-{n}"


@pytest.fixture(scope="module")
def started_validators(tmp_path_factory, compose) -> tuple[Sandbox, dict[int, list[list[str]]]]:
    """All four validator scripts run once (1..3 first, as validator-0 waits
    for their keys): the calls each made."""
    box = Sandbox(tmp_path_factory.mktemp("network"), compose)
    calls = {}
    for n in (1, 2, 3, 0):
        result, calls[n] = box.run(f"validator-{n}")
        assert result.returncode == 0, result.stderr
    return box, calls


def test_static_peering_declares_each_pair_once(started_validators, compose):
    """As Sawtooth's reference network (sawtooth-core 1-2, sawtooth-default-pbft.yaml):
    validator-N lists validators 0..N-1; with the peers connecting back, the full mesh PBFT needs."""
    _box, calls = started_validators
    pairs = set()
    for n in NODES:
        validator = calls[n][-1]
        assert validator[0] == "sawtooth-validator", "the script ends by exec'ing the validator"
        assert option(validator, "--peering") == ["static"]
        peers = {peer for value in option(validator, "--peers") for peer in value.split(",")}
        assert peers == {f"tcp://validator-{m}:8800" for m in NODES if m < n}, f"validator-{n}"
        pairs |= {frozenset((n, int(p.split("-")[1].split(":")[0]))) for p in peers}
        assert option(validator, "--endpoint") == [f"tcp://validator-{n}:8800"]
        assert set(option(validator, "--bind")) == {
            "component:tcp://eth0:4004", "consensus:tcp://eth0:5050", "network:tcp://eth0:8800"}
        assert {"4004", "5050", "8800"} <= {str(p) for p in compose["services"][f"validator-{n}"]["expose"]}
    assert pairs == {frozenset((a, b)) for a in NODES for b in NODES if a < b}   # every pair, once


def test_genesis_collects_every_validator_key_and_sets_pbft(started_validators):
    box, calls = started_validators
    for n in (1, 2, 3):
        assert [call[0] for call in calls[n]] == ["sawadm", "sawtooth-validator"], "no genesis on other nodes"
    assert [call[:2] for call in calls[0]] == [
        ["sawadm", "keygen"], ["sawset", "genesis"], ["sawset", "proposal"], ["sawadm", "genesis"],
        ["sawtooth-validator", "-vv"]]
    published = {}
    for n in NODES:
        own = (box.paths(f"validator-{n}")["/etc/sawtooth/keys"] / "validator.pub").read_text().strip()
        shared = box.paths(f"validator-{n}")["/var/lib/sawtooth-pubkeys"] / f"validator-{n}.pub"
        assert shared.read_text().strip() == own
        published[n] = own
    assert len(set(published.values())) == 4

    proposal = calls[0][2]
    settings = dict(arg.split("=", 1) for arg in proposal if arg.startswith("sawtooth."))
    assert settings["sawtooth.consensus.algorithm.name"] == "pbft"
    assert settings["sawtooth.consensus.algorithm.version"] == "1.0"
    members = json.loads(settings["sawtooth.consensus.pbft.members"])
    assert sorted(members) == sorted(published.values()), "every validator is a PBFT member"
    families = json.loads(settings["sawtooth.validator.transaction_families"])
    assert all(set(f) == {"family", "version"} for f in families)
    assert {(f["family"], f["version"]) for f in families} == expected_families()
    # BlockInfo: injected first in every block, and every node insists on it
    assert settings["sawtooth.validator.batch_injectors"] == "block_info"
    assert settings["sawtooth.validator.block_validation_rules"] == "NofX:1,block_info;XatY:block_info,0;local:0"

    keys0 = box.paths("validator-0")["/etc/sawtooth/keys"]
    for call in calls[0][1:3]:
        assert option(call, "-k") == [str(keys0 / "validator.priv")]
    data0 = box.paths("validator-0")["/var/lib/sawtooth"]
    assert calls[0][3][2:] == [option(calls[0][1], "-o")[0], option(calls[0][2], "-o")[0]]
    assert all(Path(batch).parent.parent == data0 for batch in calls[0][3][2:]), "batches kept with the chain"


def test_genesis_waits_for_all_keys_and_is_never_redone(tmp_path, compose):
    box = Sandbox(tmp_path, compose)
    with pytest.raises(subprocess.TimeoutExpired):
        box.run("validator-0", timeout=5)   # alone: it waits for the other three keys
    assert [call[:2] for call in box.last_calls] == [["sawadm", "keygen"]]
    for n in (1, 2, 3):
        box.run(f"validator-{n}")
    result, calls = box.run("validator-0")
    assert result.returncode == 0, result.stderr
    assert [c[:2] for c in calls][:3] == [["sawset", "genesis"], ["sawset", "proposal"], ["sawadm", "genesis"]]

    # a restart (or `down` then `up`: the volumes stay) redoes nothing
    for name in [f"validator-{n}" for n in NODES]:
        result, calls = box.run(name)
        assert result.returncode == 0, result.stderr
        assert [call[0] for call in calls] == ["sawtooth-validator"], name

    # a crash between `sawadm genesis` and the marker: every step is guarded on its own
    data0 = box.paths("validator-0")["/var/lib/sawtooth"]
    (data0 / "sawgrid-genesis" / "done").unlink()
    result, calls = box.run("validator-0")
    assert result.returncode == 0, result.stderr
    assert [call[0] for call in calls] == ["sawtooth-validator"]
    assert (data0 / "sawgrid-genesis" / "done").exists()


def test_genesis_steps_are_guarded_in_the_script_text(compose):
    script = argv(compose["services"]["validator-0"])[2]
    assert "if [ ! -f /etc/sawtooth/keys/validator.priv ]" in script                 # keygen
    assert "if [ ! -f $G/done ]" in script                                          # the whole genesis
    assert "if [ ! -f $G/config-genesis.batch ]" in script                          # sawset genesis
    assert "if [ ! -f $G/config-consensus.batch ]" in script                        # sawset proposal
    assert "if [ ! -f /var/lib/sawtooth/genesis.batch ]" in script                  # sawadm genesis
    init = argv(compose["services"]["market-init"])[2]
    assert "if [ ! -f /var/lib/sawgrid/keys/operator.priv ]" in init                 # operator key
    assert "if [ ! -f /var/lib/sawgrid/market-init.done ]" in init                   # operator init


@every_file
def test_scripts_keep_state_only_in_volumes(path):
    doc = load_file(path)
    """Whatever a script writes and reads back lives in a mounted volume, so it
    survives `docker compose down` / `up` (and only `down -v` resets it)."""
    for name in scripted(doc):
        script = argv(doc["services"][name])[2]
        targets = mounts(doc["services"][name])
        for found in ABSOLUTE_PATH.findall(script):
            assert any(found == t or found.startswith(t + "/") for t in targets), \
                f"{path.name}: {name} uses {found}, outside its volumes {sorted(targets)}"


# --------------------------------------------------------------------------
# Sawgrid's services
# --------------------------------------------------------------------------
def test_market_init_makes_the_operator_key_the_market_operator_once(tmp_path, compose):
    box = Sandbox(tmp_path, compose)
    keys = box.paths("market-init")["/var/lib/sawgrid"] / "keys"
    result, calls = box.run("market-init")
    assert result.returncode == 0, result.stderr
    keygen, init = calls
    assert parse_sawgrid(keygen).func is sawgrid_cli._keygen and keygen[2] == "operator"
    parsed = parse_sawgrid(init)
    assert parsed.func is market_cli._operator_init
    assert (parsed.url, parsed.key, parsed.key_dir) == ("http://rest-api-0:8008", "operator", keys)
    assert (keys / "operator.priv").exists()
    result, calls = box.run("market-init")   # restarted: nothing again
    assert result.returncode == 0 and calls == []

    # the services that sign as operator use that key, from the same volume
    for name in ("par-engine", "meters"):
        assert mounts(compose["services"][name])["/var/lib/sawgrid"] == \
            mounts(compose["services"]["market-init"])["/var/lib/sawgrid"] == "sawgrid-data"


def test_meters_are_long_running_households_each_enrolled_once(tmp_path, compose):
    """A replica takes the first free slot (a lock it holds while it runs): its own key,
    enrolled once through the enrollment protocol (a join request with its evidence,
    waiting for the verifiers' decision; then funded and volunteering), then `sawgrid
    meter` on its own state file; a restarted replica (down/up) only runs its meter again."""
    import fcntl

    from sawgrid.clients.cli import meter as meter_cli
    box = Sandbox(tmp_path, compose)
    data = box.paths("meters")["/var/lib/sawgrid"]

    def meter_of(calls):
        [meter] = [c for c in calls if parse_sawgrid(c).func is meter_cli._run]
        return parse_sawgrid(meter)

    result, calls = box.run("meters")
    assert result.returncode == 0, result.stderr
    funcs = [parse_sawgrid(c).func.__name__ for c in calls]
    assert funcs == ["_keygen", "_enroll", "_operator_fund", "_volunteer", "_run"], funcs
    first = meter_of(calls)
    assert (first.key, first.source, first.url) == ("household-0", "synthetic:1:0", "http://rest-api-0:8008")
    assert first.state == data / "meters" / "household-0.json"
    join = parse_sawgrid(calls[1])
    assert join.key == "household-0" and join.wait > 0     # no operator approval: the verifiers decide
    assert json.loads(join.evidence.read_text()) == {"meter_serial": "SYNTH-1-0"}
    assert parse_sawgrid(calls[2]).key == "operator"
    assert depends_on(compose["services"]["meters"])["enrollment-init"] == "service_completed_successfully"
    result, calls = box.run("meters")          # restarted: the same slot, nothing enrolled twice
    assert result.returncode == 0 and [parse_sawgrid(c).func for c in calls] == [meter_cli._run]
    assert meter_of(calls).state == first.state
    with open(data / "meters" / "slot-0.lock", "a") as held:   # slot 0's replica is running
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result, calls = box.run("meters")
    assert result.returncode == 0, result.stderr
    assert meter_of(calls).key == "household-1" and meter_of(calls).source == "synthetic:1:1"
    clock = parse_sawgrid(argv(compose["services"]["clock"]))
    assert (clock.url, clock.key, clock.clock, clock.grid_buy, clock.grid_sell) == \
        ("http://rest-api-0:8008", "operator", "real", "0.10", "0.30")
    assert mounts(compose["services"]["clock"])["/var/lib/sawgrid"] == "sawgrid-data"

def test_enrollment_init_certifies_three_first_verifiers_once_and_their_agents_run(tmp_path, compose):
    from sawgrid.clients.cli import enrollment as enrollment_cli
    box = Sandbox(tmp_path, compose)
    keys = box.paths("enrollment-init")["/var/lib/sawgrid"] / "keys"
    result, calls = box.run("enrollment-init")
    assert result.returncode == 0, result.stderr
    funcs = [parse_sawgrid(call).func for call in calls]
    assert funcs[0] is enrollment_cli._ca_init and parse_sawgrid(calls[0]).key == "operator"
    verifiers = [f"verifier-{n}" for n in range(3)]
    assert funcs.count(enrollment_cli._certify) == funcs.count(enrollment_cli._volunteer) == 3
    assert [parse_sawgrid(c).public_key for c in calls if parse_sawgrid(c).func is enrollment_cli._certify] == verifiers
    assert all((keys / f"{v}.priv").exists() for v in verifiers)
    result, calls = box.run("enrollment-init")   # restarted: nothing again
    assert result.returncode == 0 and calls == []
    services = compose["services"]
    for n, v in enumerate(verifiers):
        parsed = parse_sawgrid(argv(services[v]))
        assert parsed.func is enrollment_cli._run and parsed.key == v
        assert parsed.url == f"http://rest-api-{n}:8008"
        assert str(parsed.state).startswith("/var/lib/sawgrid/")       # survives a restart: no double signing
        assert mounts(services[v])["/var/lib/sawgrid"] == "sawgrid-data"
        assert depends_on(services[v])["enrollment-init"] == "service_completed_successfully"
    assert depends_on(services["enrollment-init"])["market-init"] == "service_completed_successfully"


def test_par_engine_serves_on_its_published_port(compose):
    service = compose["services"]["par-engine"]
    parsed = parse_sawgrid(argv(service))
    assert parsed.func is par_cli._serve
    assert Cron.parse(parsed.cron).expression == "0 23 * * *"
    assert parsed.api == ("0.0.0.0", 8090) and "8090:8090" in service["ports"]
    assert (parsed.url, parsed.key) == ("http://rest-api-0:8008", "operator")
    assert parsed.key_dir == Path("/var/lib/sawgrid/keys")


def test_settlement_does_the_operators_duties_every_hour(compose):
    """sawgrid-reputation needs the system operator to expire what is past its
    deadline and to refresh the validator pool; one service does both, hourly."""
    from sawgrid.clients.cli import reputation as reputation_cli

    service = compose["services"]["settlement"]
    parsed = parse_sawgrid(argv(service))
    assert parsed.func is reputation_cli._settle
    assert Cron.parse(parsed.cron).expression == "5 * * * *" and not parsed.no_refresh
    assert (parsed.url, parsed.key, parsed.key_dir) == ("http://rest-api-0:8008", "operator",
                                                       Path("/var/lib/sawgrid/keys"))
    assert mounts(service)["/var/lib/sawgrid"] == mounts(compose["services"]["market-init"])["/var/lib/sawgrid"]
    assert depends_on(service)["market-init"] == "service_completed_successfully"
    assert service["restart"] == "unless-stopped" and not service.get("ports")


@every_file
def test_every_sawgrid_command_line_parses(path, tmp_path):
    for _name, lines in sawgrid_command_lines(load_file(path), tmp_path).items():
        for line in lines:
            parse_sawgrid(line)


def test_client_and_processor_files_take_their_endpoints_from_the_environment():
    processors = load(PROCESSORS, EXAMPLE_ENV)
    [tp] = processors["services"].values()
    assert parse_sawgrid(argv(tp)).connect == EXAMPLE_ENV["VALIDATOR"]
    with pytest.raises(KeyError, match="VALIDATOR"):
        load(PROCESSORS, {})
    clients = load(CLIENTS, EXAMPLE_ENV)
    assert parse_sawgrid(argv(clients["services"]["par-engine"])).url == EXAMPLE_ENV["REST_URL"]
    settlement = parse_sawgrid(argv(clients["services"]["settlement"]))
    assert (settlement.url, settlement.key) == (EXAMPLE_ENV["REST_URL"], "operator")
    assert settlement.cron, "the system operator's settlement duties run on a schedule"
    assert clients["services"]["meters"]["environment"]["REST_URL"] == EXAMPLE_ENV["REST_URL"]
    assert clients["services"]["market-init"]["profiles"] == ["init"]
    with pytest.raises(KeyError, match="REST_URL"):
        load(CLIENTS, {"SAWGRID_KEYS": "/k"})


def test_ledger_sync_mirrors_validator_0_into_its_own_postgres(compose):
    from sawgrid.clients.cli import sync as sync_cli
    from sawgrid.clients.sync.database import database_url

    services = compose["services"]
    db = services["mirror-db"]
    repository, _, tag = db["image"].rpartition(":")
    assert repository == "postgres" and re.fullmatch(r"\d+\.\d+", tag), "the official image, an exact release"
    assert mounts(db) == {"/var/lib/postgresql/data": "mirror-db-data"}
    assert "pg_isready" in db["healthcheck"]["test"] and not db.get("ports"), "not published on the host"
    sync = services["ledger-sync"]
    parsed = parse_sawgrid(argv(sync))
    assert parsed.func is sync_cli._sync
    assert (parsed.component, parsed.url) == ("tcp://validator-0:4004", "http://rest-api-0:8008")
    url = database_url(parsed.db)
    env = db["environment"]
    assert (url.host, url.port, url.database) == ("mirror-db", 5432, env["POSTGRES_DB"])
    assert (url.username, url.password) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
    assert sync["environment"]["SAWGRID_MIRROR_DB"] == parsed.db
    assert depends_on(sync) == {"mirror-db": "service_healthy", "rest-api-0": "service_healthy"}


# --------------------------------------------------------------------------
# Volumes, health, restarts, ports
# --------------------------------------------------------------------------
def test_named_volumes_keep_chain_data_and_keys(compose):
    declared = set(compose["volumes"])
    data, keys = set(), set()
    for n in NODES:
        volumes = mounts(compose["services"][f"validator-{n}"])
        data.add(volumes["/var/lib/sawtooth"])
        keys.add(volumes["/etc/sawtooth/keys"])
        assert volumes["/var/lib/sawtooth-pubkeys"] == "validator-pubkeys"
    assert len(data) == len(keys) == 4 and not data & keys, "each validator has its own data and keys"
    for name, service in compose["services"].items():
        for target, source in mounts(service).items():
            assert source in declared, f"{name}: {source}:{target} is not a named volume"


def test_healthchecks_on_validators_rest_apis_and_the_par_engine(compose):
    services = compose["services"]
    for name, needle in [*[(f"validator-{n}", f"('validator-{n}', 4004)") for n in NODES],
                         *[(f"rest-api-{n}", f"http://rest-api-{n}:8008/") for n in NODES],
                         ("par-engine", "http://127.0.0.1:8090/health")]:
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[2] == "-c", name
        assert needle in test[3], name
        compile(test[3], f"<{name} healthcheck>", "exec")
    # what waits on `service_healthy` has a healthcheck to wait for
    for name, service in services.items():
        for dependency, condition in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}'s health"


def test_start_order(compose):
    services = compose["services"]
    init = depends_on(services["market-init"])
    assert init["rest-api-0"] == "service_healthy"
    assert all(init[f"sawgrid-tp-{n}"] == "service_started" for n in NODES)
    for name in ("par-engine", "meters"):
        assert depends_on(services[name])["market-init"] == "service_completed_successfully"


@every_file
def test_restart_policies(path):
    doc = load_file(path)
    for name, service in doc["services"].items():
        expected = "no" if name in ONE_SHOT else "unless-stopped"
        assert service.get("restart") == expected, f"{path.name}: {name}"


def test_rest_api_of_node_0_on_host_port_8008(compose):
    published = {name: s.get("ports", []) for name, s in compose["services"].items() if s.get("ports")}
    assert published == {"rest-api-0": ["127.0.0.1:8008:8008"], "par-engine": ["8090:8090"],
                         "tls-proxy": ["443:443", "80:80"]}, "plain HTTP to node 0 for the host only"


# --------------------------------------------------------------------------
# TLS, the gateway and the dashboard
# --------------------------------------------------------------------------
NGINX_CONF = ROOT / "docker" / "nginx" / "sawgrid.conf"


def nginx_blocks(text: str) -> dict[str, list[str]]:
    """The directives of nginx.conf's blocks: 'server:443', 'server:80',
    'location /api/', 'upstream NAME', ... (one level of nesting, enough here)."""
    text = re.sub(r"#[^\n]*", "", text)
    blocks: dict[str, list[str]] = {}
    stack: list[str] = []
    for token in re.findall(r"[^{};]+[{;]|}", text):
        token = " ".join(token.split())
        if token == "}":
            closed = stack.pop()
            if closed.startswith("server#"):
                port = "443" if any(d.startswith("listen 443") for d in blocks[closed]) else "80"
                blocks[f"server:{port}"] = blocks.pop(closed)
        elif token.endswith("{"):
            name = token[:-1].strip()
            name = f"server#{len(blocks)}" if name == "server" else name
            stack.append(name)
            blocks.setdefault(name, [])
        elif stack:
            blocks[stack[-1]].append(token[:-1].strip())
    return blocks


def test_nginx_terminates_tls_for_the_gateway_and_the_dashboard_and_redirects_http(compose):
    services = compose["services"]
    proxy = services["tls-proxy"]
    repository, _, tag = proxy["image"].rpartition(":")
    assert repository == "nginx" and re.fullmatch(r"\d+\.\d+\.\d+", tag), "the official image, an exact release"
    [config] = proxy["configs"]
    assert config["target"] == "/etc/nginx/conf.d/default.conf"
    assert (ROOT / compose["configs"][config["source"]]["file"]).resolve() == NGINX_CONF
    assert mounts(proxy) == {"/etc/nginx/tls": "tls-certs"} and proxy["volumes"][0].endswith(":ro")
    conf = nginx_blocks(NGINX_CONF.read_text())
    assert "return 301 https://$host$request_uri" in conf["server:80"]
    tls = conf["server:443"]
    assert "ssl_certificate /etc/nginx/tls/cert.pem" in tls and "ssl_certificate_key /etc/nginx/tls/key.pem" in tls
    assert "ssl_protocols TLSv1.2 TLSv1.3" in tls
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for" in tls
    assert "proxy_pass http://gateway/" in conf["location /api/"]
    # a location with a proxy_set_header of its own inherits none of the server's
    for header in ("Host $host", "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto https"):
        assert f"proxy_set_header {header}" in conf["location /api/"], header
    assert "proxy_pass http://dashboard" in conf["location /"]
    gateway_port = parse_sawgrid(argv(services["gateway"])).bind[1]
    dashboard_port = parse_sawgrid(argv(services["dashboard"])).bind[1]
    assert conf["upstream gateway"][0] == f"server gateway:{gateway_port}"
    assert conf["upstream dashboard"][0] == f"server dashboard:{dashboard_port}"
    assert depends_on(proxy) == {"tls-init": "service_completed_successfully", "gateway": "service_healthy",
                                 "dashboard": "service_started"}


def test_tls_init_writes_a_development_pair_once_into_the_proxys_volume(tmp_path, compose):
    from sawgrid.clients.cli import tls as tls_cli

    service = compose["services"]["tls-init"]
    assert mounts(service) == {"/var/lib/sawgrid-tls": "tls-certs"}
    box = Sandbox(tmp_path, compose)
    result, calls = box.run("tls-init")
    assert result.returncode == 0, result.stderr
    [made] = calls
    assert parse_sawgrid(made).func is tls_cli.run_selfsigned
    assert parse_sawgrid(made).directory == box.paths("tls-init")["/var/lib/sawgrid-tls"]
    result, calls = box.run("tls-init")
    assert result.returncode == 0 and calls == [], "a restart keeps the pair (and a deployment's own)"


def test_the_gateway_guards_rest_api_0_and_the_dashboard_reads_the_mirror(compose):
    from sawgrid.clients.cli import dashboard as dashboard_cli
    from sawgrid.clients.cli import gateway as gateway_cli
    from sawgrid.clients.sync.database import database_url

    services = compose["services"]
    gateway = parse_sawgrid(argv(services["gateway"]))
    assert gateway.func is gateway_cli.run_gateway
    assert gateway.upstream == "http://rest-api-0:8008" and gateway.trust_proxy == ["tls-proxy"]
    assert depends_on(services["gateway"]) == {"rest-api-0": "service_healthy"}
    assert "/_gateway/health" in services["gateway"]["healthcheck"]["test"][3]
    dashboard = parse_sawgrid(argv(services["dashboard"]))
    assert dashboard.func is dashboard_cli._dashboard
    sync = parse_sawgrid(argv(services["ledger-sync"]))
    assert database_url(dashboard.db) == database_url(sync.db), "the dashboard reads the mirror ledger-sync writes"
    assert dashboard.gateway == f"http://gateway:{gateway.bind[1]}" and dashboard.behind_proxy
    assert dashboard.url == "http://rest-api-0:8008"
    assert not services["gateway"].get("ports") and not services["dashboard"].get("ports"), "only via tls-proxy"


# --------------------------------------------------------------------------
# The Dockerfile
# --------------------------------------------------------------------------
def dockerfile_stages() -> list[dict]:
    """[{"from": image, "name": alias, "lines": [instruction, ...]}], with
    continuation lines joined and ARG defaults substituted in FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    args, stages = {}, []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword.upper() == "FROM":
            image, *alias = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest).split()
            stages.append({"from": image, "name": alias[-1] if alias else None, "lines": []})
        else:
            stages[-1]["lines"].append(line)
    return stages


def test_dockerfile_final_stage_is_slim_non_root_and_runs_sawgrid():
    *builders, final = dockerfile_stages()
    assert builders, "multi-stage: dependencies are built in a stage of their own"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", final["from"]), final["from"]
    assert all(stage["from"] == final["from"] for stage in builders), "same Python in every stage"
    instructions = final["lines"]
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    [entrypoint] = [line for line in instructions if line.upper().startswith("ENTRYPOINT ")]
    assert json.loads(entrypoint.split(" ", 1)[1]) == ["sawgrid"]
    assert any(line.startswith(f"COPY --from={builders[-1]['name']} ") for line in instructions)
    final_text = "\n".join(instructions)
    for tool in ("apt-get install", "build-essential", "gcc", "pip install"):
        assert tool not in final_text, f"no build tools in the final stage: {tool}"


def test_dockerfile_installs_from_the_projects_own_files():
    build = dockerfile_stages()[0]["lines"]
    copied = {source.rstrip("/") for line in build if line.startswith("COPY ")
              for source in line.split()[1:-1] if not source.startswith("--")}
    assert {"pyproject.toml", "setup.py", PYPROJECT["project"]["readme"]} <= copied
    setup_py = ast.parse((ROOT / "setup.py").read_text())
    [top_level] = [node.value for node in setup_py.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", "") == "TOP_LEVEL"]
    folders = set(ast.literal_eval(top_level))
    assert folders <= copied, f"every package folder goes into the image: missing {folders - copied}"
    [install] = [line for line in build if "pip install" in line]
    assert "'.[data]'" in install, "the package from pyproject, with the data extra the meters need"


# --------------------------------------------------------------------------
# docker compose itself, where it exists
# --------------------------------------------------------------------------
def test_docker_compose_config_accepts_the_files():
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the docker client has no compose plugin: {(probe.stderr or probe.stdout).strip()}")
    env = {**os.environ, **EXAMPLE_ENV}
    for path in (COMPOSE, PROCESSORS, CLIENTS):
        result = subprocess.run([docker, "compose", "-f", str(path), "config", "-q"], capture_output=True,
                                text=True, env=env, cwd=ROOT)
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
