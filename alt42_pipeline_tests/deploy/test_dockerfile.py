"""The Dockerfile, linted for the essentials (no Docker engine runs here to build it)."""

from __future__ import annotations

import json
import re
import tomllib

import pytest

from . import chart

DOCKERFILE = chart.REPO / "Dockerfile"
DOCKERIGNORE = chart.REPO / ".dockerignore"
SECRET_WORDS = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_?KEY|PRIVATE_KEY|WAREHOUSE_URL|_URL", re.I)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1].rstrip() + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def final_stage(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (op, _) in enumerate(parsed) if op == "FROM")
    return parsed[last_from:]


def exec_form(args: str) -> list[str]:
    """The JSON array of CMD/ENTRYPOINT/HEALTHCHECK CMD (shell form is refused: no signals)."""
    return json.loads(args[args.index("[") :])


@pytest.fixture(scope="module")
def parsed() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def test_parser_joins_continuations_and_drops_comments():
    text = "# c\nFROM a:1.2.3\nENV A=1 \\\n    B=2\n\nUSER 1\n"
    assert instructions(text) == [("FROM", "a:1.2.3"), ("ENV", "A=1 B=2"), ("USER", "1")]


def test_every_base_image_is_pinned(parsed):
    images = [args.split()[0] for op, args in parsed if op == "FROM"]
    assert images
    for image in images:
        assert "@sha256:" in image or re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", image), image
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", images[-1])


def test_runs_as_a_non_root_user(parsed):
    users = [args for op, args in final_stage(parsed) if op == "USER"]
    assert users, "the final stage sets no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # Numeric, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
    assert user.isdigit()


def baked_secrets(parsed: list[tuple[str, str]]) -> list[str]:
    """ENV/ARG/LABEL instructions that name a secret or carry credentials in a URL."""
    found = []
    for op, args in parsed:
        if op in {"ENV", "ARG", "LABEL"}:
            names = re.findall(r"(\w+)(?:=|\s|$)", args)
            if any(SECRET_WORDS.search(name) for name in names) or re.search(r"://[^/\s:@]+:[^/\s@]+@", args):
                found.append(f"{op} {args}")
    return found


def test_no_secret_is_baked_in(parsed):
    assert baked_secrets(parsed) == []


def test_the_secret_check_catches_baked_secrets():
    bad = instructions("ENV ALT42_IRT_SERVICE_TOKEN=abc\nARG DB=postgresql://u:p@db/x\nENV A=1 \\\n  PGPASSWORD=x\n")
    assert len(baked_secrets(bad)) == 3


def test_no_env_file_or_key_is_copied(parsed):
    for op, args in parsed:
        if op in {"COPY", "ADD"}:
            assert not re.search(r"\.env\b|\.pem\b|id_rsa|\.key\b|kubeconfig", args), args


def test_installs_runtime_dependencies_only(parsed):
    installs = [args for op, args in parsed if op == "RUN" and "pip install" in args]
    assert any(re.search(r"pip install (\S+ )*\.(\s|$)", args) for args in installs)
    for args in installs:
        assert "[" not in args, f"extras installed: {args}"
        assert not re.search(r"\s-e\s|--editable|pytest|requirements-dev", args), args


def test_serves_the_code_location(parsed, helm_values):
    stage = final_stage(parsed)
    (cmd,) = [exec_form(args) for op, args in stage if op in {"CMD", "ENTRYPOINT"}][-1:]
    port = str(chart.user_deployment(helm_values)["port"])
    module = tomllib.loads((chart.REPO / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    assert cmd[:3] in (["dagster", "code-server", "start"], ["dagster", "api", "grpc"])
    assert cmd[cmd.index("-p") + 1] == port
    assert cmd[cmd.index("-h") + 1] == "0.0.0.0"
    assert cmd[cmd.index("-m") + 1] == module
    exposed = [args.split() for op, args in stage if op == "EXPOSE"]
    assert [port] in exposed
    (healthcheck,) = [args for op, args in stage if op == "HEALTHCHECK"]
    assert exec_form(healthcheck)[:4] == ["dagster", "api", "grpc-health-check", "-p"]


def test_build_context_leaves_out_everything_but_the_package():
    patterns = DOCKERIGNORE.read_text().split()
    assert patterns[patterns.index("*") :][:1] == ["*"]
    assert {"!pyproject.toml", "!alt42_pipeline"} <= set(patterns)
    assert not any(p.startswith("!") and ("test" in p or ".git" in p or "data" in p) for p in patterns)


def _locked() -> dict[str, tuple[str, int]]:
    """requirements.lock: name -> (version, number of hashes)."""
    text = (chart.REPO / "requirements.lock").read_text()
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        if m:
            out[m.group(1).lower().replace("_", "-")] = (m.group(2), block.count("--hash=sha256:"))
    return out


def test_the_image_installs_the_lock_with_hashes_and_nothing_else(parsed):
    installs = " ".join(args for op, args in parsed if op == "RUN" and "pip install" in args)
    assert "--require-hashes" in installs and "-r requirements.lock" in installs
    assert re.search(r"pip install --no-deps \.(\s|$)", installs)  # the package, without resolving again
    assert any(op == "COPY" and "requirements.lock" in args for op, args in parsed)
    assert "!requirements.lock" in DOCKERIGNORE.read_text().split()


def test_the_lock_pins_every_runtime_dependency_with_hashes():
    locked = _locked()
    assert locked and all(n >= 1 for _, n in locked.values())
    project = tomllib.loads((chart.REPO / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")
        assert name in locked, f"{name} is not in requirements.lock"
        pinned = re.search(r"==([\w.]+)", requirement)
        if pinned:
            assert locked[name][0] == pinned.group(1), f"{name}: lock {locked[name][0]} != pyproject {pinned.group(1)}"
    assert not {"pytest", "ruff", "playwright"} & set(locked)  # runtime only


def test_the_user_code_image_is_pinned_by_digest(helm_values):
    tag = chart.user_deployment(helm_values)["image"]["tag"]
    assert re.fullmatch(r"[\w.-]+@sha256:[0-9a-f]{64}", tag), tag
