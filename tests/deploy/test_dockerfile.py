"""The Dockerfile, without a Docker engine: lint it, check its structure, and run its
build and install steps (pip wheel, then an offline install into a fresh
environment) to prove the image's install works and ships the Avro schemas."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.deploy.support import CHART, ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OCI_LABELS = ("title", "description", "version", "revision", "created", "licenses")


# ------------------------------------------------------------------ parsing


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        if full:
            word, _, args = full.partition(" ")
            result.append((word.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return result


def stages(text: str) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults, and the instructions of each stage (FROM first)."""
    global_args: dict[str, str] = {}
    found: list[list[tuple[str, str]]] = []
    for word, args in instructions(text):
        if word == "FROM":
            found.append([])
        if not found:
            if word == "ARG":
                name, _, default = args.partition("=")
                global_args[name] = default
            continue
        found[-1].append((word, args))
    return global_args, found


def key_values(args: str) -> dict[str, str]:
    """KEY=VALUE pairs of ENV and LABEL, values optionally double-quoted."""
    pairs = re.findall(r'([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S+)', args)
    return {k: v[1:-1] if v.startswith('"') else v for k, v in pairs}


def collect(stage: list[tuple[str, str]], word: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for w, args in stage:
        if w == word:
            merged.update(key_values(args))
    return merged


def substitute(value: str, args: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], value
    )


@pytest.fixture(scope="module")
def parsed() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    return stages(DOCKERFILE.read_text())


# ------------------------------------------------------------------- hadolint


def test_hadolint_passes(hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(hadolint: str, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n"
        "RUN pip install requests\n"
    )
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "latest" tag


# ------------------------------------------------------------------ structure


def test_multi_stage_on_slim_python(parsed) -> None:
    global_args, found = parsed
    assert len(found) >= 2, "build and runtime stages"
    for stage in found:
        image = substitute(stage[0][1].split()[0], global_args)
        assert image.startswith("python:3.11-slim"), image
    build, runtime = found[0], found[-1]
    assert re.search(r"\bAS\s+build\b", build[0][1], re.IGNORECASE)
    build_runs = " ".join(a for w, a in build if w == "RUN")
    assert "pip wheel" in build_runs
    runtime_runs = " ".join(a for w, a in runtime if w == "RUN")
    assert "pip install" in runtime_runs
    # Offline, from the build stage's wheels: no index, no compilers in the image.
    assert "--no-index" in runtime_runs
    assert "from=build" in runtime_runs or any(
        w == "COPY" and "--from=build" in a for w, a in runtime
    )
    for tool in ("apt-get", "gcc", "build-essential", "apk "):
        assert tool not in runtime_runs, f"{tool} in the runtime stage"
    # Only the wheels: the source tree does not go into the runtime image.
    assert not [a for w, a in runtime if w in ("COPY", "ADD") and "--from=" not in a]


def test_runs_as_the_non_root_user_the_chart_expects(parsed) -> None:
    _, found = parsed
    users = [a for w, a in found[-1] if w == "USER"]
    assert users, "the runtime stage sets no USER"
    # Numeric, so that Kubernetes' runAsNonRoot can check it.
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"USER {users[-1]} is not numeric"
    uid = int(match.group(1))
    assert uid != 0
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert values["securityContext"]["runAsUser"] == uid
    if match.group(2):
        assert values["podSecurityContext"]["runAsGroup"] == int(match.group(2))


def test_fit_for_a_read_only_root_file_system(parsed) -> None:
    _, found = parsed
    env = collect(found[-1], "ENV")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PIP_NO_CACHE_DIR"] in ("1", "off", "true")
    for name in ("HOME", "TMPDIR"):
        assert env[name] == "/tmp" or env[name].startswith("/tmp/"), name
    workdirs = [a for w, a in found[-1] if w == "WORKDIR"]
    assert not workdirs or workdirs[-1].startswith("/tmp")


def test_entry_point_command_port_and_labels(parsed) -> None:
    _, found = parsed
    runtime = found[-1]
    last = {w: a for w, a in runtime}
    assert json.loads(last["ENTRYPOINT"]) == ["lab-results-producer"]
    assert json.loads(last["CMD"]) == ["run"]
    assert PYPROJECT["project"]["scripts"]["lab-results-producer"]
    exposed = " ".join(a for w, a in runtime if w == "EXPOSE").split()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert str(values["metrics"]["port"]) in [p.split("/")[0] for p in exposed]
    assert collect(runtime, "ENV")["METRICS_PORT"] == str(values["metrics"]["port"])
    labels = collect(runtime, "LABEL")
    for name in OCI_LABELS:
        assert labels.get(f"org.opencontainers.image.{name}"), name
    assert (
        labels["org.opencontainers.image.licenses"]
        == PYPROJECT["project"]["license"]
    )
    args = {
        k: v
        for w, a in runtime
        if w == "ARG" and "=" in a
        for k, v in key_values(a).items()
    }
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert args["VERSION"] == PYPROJECT["project"]["version"] == chart["appVersion"]


# -------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out + r"\Z")


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = pattern.strip().strip("/")
        regex = _pattern_regex(pattern)
        if any(regex.match(c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def build_copies(build_stage: list[tuple[str, str]]) -> list[str]:
    """The sources the build stage COPYs from the build context."""
    sources = []
    for word, args in build_stage:
        if word in ("COPY", "ADD") and "--from=" not in args:
            parts = [a for a in args.split() if not a.startswith("--")]
            sources += [source.rstrip("/") for source in parts[:-1]]
    return sources


def build_context(destination: Path) -> Path:
    """What the build stage holds in its WORKDIR: the COPYed sources, less what
    .dockerignore leaves out of the context; symlinks stay symlinks."""
    patterns = dockerignore_patterns()
    _, found = stages(DOCKERFILE.read_text())
    destination.mkdir(parents=True)
    for source in build_copies(found[0]):
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(
                path,
                destination / source,
                symlinks=True,
                ignore=lambda directory, names: [
                    n
                    for n in names
                    if ignored(
                        (Path(directory) / n).relative_to(ROOT).as_posix(), patterns
                    )
                ],
            )
        else:
            shutil.copy2(path, destination / source)
    return destination


def test_build_context_holds_what_the_build_copies(parsed) -> None:
    patterns = dockerignore_patterns()
    _, found = parsed
    sources = build_copies(found[0])
    assert "pyproject.toml" in sources
    readme = PYPROJECT["project"].get("readme")
    if readme:
        assert readme in sources, "setuptools needs the readme to build the wheel"
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: not in the repository"
        assert not ignored(source, patterns), f"{source} is excluded by .dockerignore"
    # The schemas are a symlink into avro/: both must reach the build.
    assert (ROOT / "producer" / "schemas").is_symlink()
    assert "avro" in sources
    assert "producer" in sources


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "tests/deploy/conftest.py",
        "helm/lab-results-producer/values.yaml",
        ".kafka/data",
        "producer/__pycache__/cli.cpython-311.pyc",
        ".env",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert ignored(path, dockerignore_patterns())


def test_dockerignore_matcher_follows_docker_rules() -> None:
    assert ignored("a/b/c", ["a"])
    assert not ignored("a/b/c", ["a", "!a/b/**"])
    assert ignored("x.pyc", ["**/*.pyc"])
    assert ignored("p/q/x.pyc", ["**/*.pyc"])
    assert not ignored("b", ["a*"])


# ------------------------------------------------- the image's install steps


def test_wheel_installs_offline_and_ships_the_schemas(tmp_path: Path) -> None:
    """What the two stages do: `pip wheel` the project and its dependencies from
    the build context, then install only those wheels (--no-index) into a fresh
    environment, and run it."""
    context = build_context(tmp_path / "src")
    assert (context / "producer" / "schemas").is_symlink()
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--disable-pip-version-check",
            "--prefer-binary",
            "--wheel-dir",
            str(wheels),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    project = PYPROJECT["project"]
    normalized = project["name"].replace("-", "_")
    [wheel] = wheels.glob(f"{normalized}-{project['version']}-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    assert all(p.suffix == ".whl" for p in wheels.iterdir())
    # Dependencies built here from source must not have needed a compiler, which
    # the slim image does not have: any such wheel is pure Python.
    built = set(
        re.findall(r"Created wheel for ([\w.\-]+): filename=(\S+)", build.stdout)
    )
    for name, filename in built:
        assert filename.endswith("-none-any.whl"), (
            f"{name} needed a compiler: {filename}"
        )

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        avro_files = sorted((ROOT / "avro").glob("*.avsc"))
        assert avro_files
        for avsc in avro_files:
            member = f"producer/schemas/{avsc.name}"
            assert member in names, f"{member} missing from {wheel.name}"
            assert archive.read(member) == avsc.read_bytes()
        entry_points = archive.read(
            f"{normalized}-{project['version']}.dist-info/entry_points.txt"
        ).decode()
    assert "lab-results-producer = producer.cli:main" in entry_points

    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-index",
            "--find-links",
            str(wheels),
            *map(str, sorted(wheels.glob("*.whl"))),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    # Run it the way the image does: from an empty directory (so nothing comes from
    # the source tree), HOME on /tmp, no bytecode; and check that it wrote nothing
    # into its installation, as a read-only root file system demands.
    before = snapshot(venv)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
    }
    shown = subprocess.run(
        [str(venv / "bin" / "lab-results-producer"), "schemas"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=workdir,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert snapshot(venv) == before, (
        "the installed producer wrote into its installation"
    )

    documents = json_documents(shown.stdout)
    assert len(documents) == len(avro_files)
    source = subprocess.run(
        [sys.executable, "-m", "producer", "schemas"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert source.returncode == 0, source.stderr
    assert shown.stdout == source.stdout, "the wheel's schemas differ from avro/"

    version = subprocess.run(
        [str(venv / "bin" / "lab-results-producer"), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=workdir,
        env=env,
    )
    assert version.stdout.strip() == project["version"]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if not p.is_symlink() or p.exists()
    }


def json_documents(text: str) -> list[object]:
    decoder, position, documents = json.JSONDecoder(), 0, []
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        document, position = decoder.raw_decode(text, position)
        documents.append(document)
    return documents


def test_chart_and_image_agree_on_the_environment() -> None:
    """The image sets no producer setting the chart would silently override."""
    from producer.config import Settings

    _, found = stages(DOCKERFILE.read_text())
    env = collect(found[-1], "ENV")
    settings = {name.upper() for name in Settings.model_fields}
    assert set(env) & settings == {"METRICS_PORT"}
