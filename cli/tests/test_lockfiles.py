"""Reading a project's direct dependencies and locked versions from each manifest and lockfile."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from twinmcp.lockfiles import Dependency, ManifestError, read_files, read_project


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def _pairs(found: list[Dependency]) -> dict[str, tuple[str, bool]]:
    return {f"{d.registry}:{d.name}": (d.version, d.is_locked) for d in found}


def test_requirements_files_pin_their_packages_and_skip_options_urls_and_markers(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "requirements.txt": """
                # web
                Flask==3.1.3 ; python_version >= "3.9"
                requests[socks]==2.32.3 \\
                    --hash=sha256:abc
                -r requirements/dev.txt
                -e ./local
                git+https://example.invalid/repo.git
                attrs>=23  # not pinned
            """,
            "requirements/dev.txt": "pytest==8.3.4\n",
        },
    )
    found = _pairs(read_project(tmp_path))
    assert found == {
        "pypi:Flask": ("3.1.3", True),
        "pypi:requests": ("2.32.3", True),
        "pypi:attrs": (">=23", False),
        "pypi:pytest": ("8.3.4", True),
    }
    flask = next(d for d in read_project(tmp_path) if d.name == "Flask")
    assert flask.source == "pypi:Flask==3.1.3"


def test_pep621_dependencies_take_their_versions_from_uv_lock(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": """
                [project]
                name = "app"
                dependencies = ["sqlalchemy>=1.4,<2", "click"]
                [dependency-groups]
                dev = ["pytest>=8"]
            """,
            "uv.lock": """
                version = 1
                [[package]]
                name = "app"
                version = "0.1.0"
                source = { editable = "." }
                dependencies = [{ name = "click" }, { name = "sqlalchemy" }]
                [package.dev-dependencies]
                dev = [{ name = "pytest" }]
                [[package]]
                name = "click"
                version = "8.1.8"
                source = { registry = "https://example.invalid/simple" }
                [[package]]
                name = "sqlalchemy"
                version = "1.4.52"
                source = { registry = "https://example.invalid/simple" }
                [[package]]
                name = "greenlet"
                version = "3.1.1"
                source = { registry = "https://example.invalid/simple" }
                [[package]]
                name = "pytest"
                version = "8.3.4"
                source = { registry = "https://example.invalid/simple" }
            """,
        },
    )
    assert _pairs(read_project(tmp_path)) == {
        "pypi:sqlalchemy": ("1.4.52", True),
        "pypi:click": ("8.1.8", True),
        "pypi:pytest": ("8.3.4", True),
    }
    assert "pypi:greenlet" in _pairs(read_project(tmp_path, transitive=True))


def test_poetry_dependencies_take_their_versions_from_poetry_lock(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pyproject.toml": """
                [tool.poetry.dependencies]
                python = "^3.11"
                httpx = "^0.27"
                pydantic = { version = "~2.9", extras = ["email"] }
                [tool.poetry.group.dev.dependencies]
                ruff = "0.8.4"
            """,
            "poetry.lock": """
                [[package]]
                name = "httpx"
                version = "0.27.2"
                [[package]]
                name = "pydantic"
                version = "2.9.2"
                [[package]]
                name = "anyio"
                version = "4.6.2"
            """,
        },
    )
    assert _pairs(read_project(tmp_path)) == {
        "pypi:httpx": ("0.27.2", True),
        "pypi:pydantic": ("2.9.2", True),
        "pypi:ruff": ("0.8.4", True),
    }


def test_unlocked_poetry_ranges_become_pep440_specifiers(tmp_path: Path) -> None:
    _write(tmp_path, {"pyproject.toml": '[tool.poetry.dependencies]\nhttpx = "^0.27"\n'})
    assert _pairs(read_project(tmp_path)) == {"pypi:httpx": (">=0.27,<0.28", False)}


def test_pipfile_names_the_direct_packages_and_pipfile_lock_their_versions(
    tmp_path: Path,
) -> None:
    _write(
        tmp_path,
        {
            "Pipfile": '[packages]\nrequests = "*"\n[dev-packages]\nblack = "*"\n',
            "Pipfile.lock": json.dumps(
                {
                    "default": {
                        "requests": {"version": "==2.32.3"},
                        "idna": {"version": "==3.10"},
                    },
                    "develop": {"black": {"version": "==24.10.0"}},
                }
            ),
        },
    )
    assert _pairs(read_project(tmp_path)) == {
        "pypi:requests": ("2.32.3", True),
        "pypi:black": ("24.10.0", True),
    }


def test_a_pipfile_lock_alone_counts_everything_it_locks_as_direct(tmp_path: Path) -> None:
    _write(tmp_path, {"Pipfile.lock": json.dumps({"default": {"idna": {"version": "==3.10"}}})})
    assert _pairs(read_project(tmp_path)) == {"pypi:idna": ("3.10", True)}


PACKAGE_JSON = json.dumps(
    {
        "name": "web",
        "dependencies": {"fastify": "^4.28.0", "@types/node": "~22.10.0", "local": "file:../x"},
        "devDependencies": {"typescript": "5.7.2"},
    }
)


def test_package_lock_v3_locks_the_direct_dependencies_of_package_json(tmp_path: Path) -> None:
    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"name": "web"},
            "node_modules/fastify": {"version": "4.28.1"},
            "node_modules/@types/node": {"version": "22.10.2"},
            "node_modules/typescript": {"version": "5.7.2"},
            "node_modules/fastify/node_modules/pino": {"version": "9.0.0"},
            "node_modules/avvio": {"version": "8.4.0"},
        },
    }
    _write(tmp_path, {"package.json": PACKAGE_JSON, "package-lock.json": json.dumps(lock)})
    found = read_project(tmp_path)
    assert _pairs(found) == {
        "npm:@types/node": ("22.10.2", True),
        "npm:fastify": ("4.28.1", True),
        "npm:typescript": ("5.7.2", True),
    }
    assert next(d for d in found if d.name == "@types/node").source == "npm:@types/node@22.10.2"


def test_package_lock_v1_is_read_too(tmp_path: Path) -> None:
    lock = {"lockfileVersion": 1, "dependencies": {"fastify": {"version": "4.28.1"}}}
    _write(tmp_path, {"package.json": PACKAGE_JSON, "package-lock.json": json.dumps(lock)})
    assert _pairs(read_project(tmp_path))["npm:fastify"] == ("4.28.1", True)


def test_pnpm_lock_v9_importers_give_the_locked_versions(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "package.json": PACKAGE_JSON,
            "pnpm-lock.yaml": """
                lockfileVersion: '9.0'
                importers:
                  .:
                    dependencies:
                      fastify:
                        specifier: ^4.28.0
                        version: 4.28.1
                      '@types/node':
                        specifier: ~22.10.0
                        version: 22.10.2
                    devDependencies:
                      typescript:
                        specifier: 5.7.2
                        version: 5.7.2(@types/node@22.10.2)
                packages:
                  avvio@8.4.0:
                    resolution: {integrity: sha512-x}
            """,
        },
    )
    assert _pairs(read_project(tmp_path)) == {
        "npm:@types/node": ("22.10.2", True),
        "npm:fastify": ("4.28.1", True),
        "npm:typescript": ("5.7.2", True),
    }


def test_pnpm_lock_v5_top_level_dependencies_are_read(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "package.json": json.dumps({"dependencies": {"fastify": "^4.0.0"}}),
            "pnpm-lock.yaml": """
                lockfileVersion: 5.4
                specifiers:
                  fastify: ^4.0.0
                dependencies:
                  fastify: 4.28.1
                packages:
                  /fastify/4.28.1:
                    dev: false
            """,
        },
    )
    assert _pairs(read_project(tmp_path)) == {"npm:fastify": ("4.28.1", True)}


def test_yarn_v1_and_berry_locks_give_the_version_of_the_declared_range(tmp_path: Path) -> None:
    v1 = """
        # yarn lockfile v1

        "@types/node@~22.10.0":
          version "22.10.2"
          resolved "https://example.invalid/node.tgz"

        fastify@^3.0.0:
          version "3.29.5"

        fastify@^4.28.0, fastify@^4.0.0:
          version "4.28.1"

        typescript@5.7.2:
          version "5.7.2"
    """
    _write(tmp_path / "v1", {"package.json": PACKAGE_JSON, "yarn.lock": v1})
    expected = {
        "npm:@types/node": ("22.10.2", True),
        "npm:fastify": ("4.28.1", True),
        "npm:typescript": ("5.7.2", True),
    }
    assert _pairs(read_project(tmp_path / "v1")) == expected
    berry = """
        __metadata:
          version: 8

        "@types/node@npm:~22.10.0":
          version: 22.10.2

        "fastify@npm:^4.28.0":
          version: 4.28.1

        "typescript@npm:5.7.2":
          version: 5.7.2
    """
    _write(tmp_path / "berry", {"package.json": PACKAGE_JSON, "yarn.lock": berry})
    assert _pairs(read_project(tmp_path / "berry")) == expected


def test_package_json_without_a_lock_keeps_its_ranges_unlocked(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": PACKAGE_JSON})
    found = _pairs(read_project(tmp_path))
    assert found["npm:fastify"] == ("^4.28.0", False)
    assert found["npm:typescript"] == ("5.7.2", True)
    assert "npm:local" not in found


def test_a_broken_manifest_is_an_error_naming_the_file(tmp_path: Path) -> None:
    _write(tmp_path, {"package.json": "{not json"})
    with pytest.raises(ManifestError, match=r"package\.json is not valid JSON"):
        read_project(tmp_path)
    with pytest.raises(ManifestError, match="is not a folder"):
        read_project(tmp_path / "missing")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("package.json", "[" * 100_000),
        ("package-lock.json", '{"packages": ' * 50_000),
        ("pyproject.toml", "a = " + "[" * 50_000),
        ("uv.lock", "a = " + "{ b = " * 50_000),
        ("pnpm-lock.yaml", "a: " + "[" * 100_000),
    ],
)
def test_a_manifest_nested_past_the_parsers_reach_is_an_error_naming_the_file(
    name: str, text: str
) -> None:
    with pytest.raises(ManifestError, match=rf"{name.replace('.', '[.]')} nests its values too"):
        read_files({name: text})
