"""The held-out corpora: published releases fetched by pip or npm, checked and unpacked safely.

    .venv/bin/python -m bench.heldout_corpus [prepare|check] [--set heldout|heldout2|heldout3|all]

Three frozen sets: bench/heldout/ (set 1, written 2026-12-04), bench/heldout2/ (set 2, written
2026-12-05) and bench/heldout3/ (set 3, written 2026-12-06), each a MANIFEST.json of pinned
releases, a questions file and a resolution file. `prepare` brings every release of the chosen
sets' manifests into .data/heldout/ (ignored; the sets share it, their libraries differ), checks
its sha256 and copies the documentation files into .data/heldout/corpus/<owner>__<repo>/.
`check` also verifies the frozen questions: every `must_contain_any` string occurs in one of its
`expect_files`. Downloads go through the machine's own pip and npm, so their configured index or
registry is used and no host is named here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent / "heldout"
MANIFEST = HERE / "MANIFEST.json"
QUESTIONS = HERE / "questions-2026-12-04.jsonl"
RESOLUTION = HERE / "resolution-2026-12-04.jsonl"
CACHE = Path(__file__).resolve().parents[1] / ".data" / "heldout"
KINDS = frozenset({"howto", "api", "concept", "errors", "config"})
RESOLUTION_KINDS = frozenset({"name", "typo", "version", "description"})
MAX_FILE_BYTES = 4 * 1024 * 1024  # no documentation page is this large; a bigger member is refused


class CorpusError(Exception):
    """A release could not be fetched, did not match its pin, or holds something unsafe."""


@dataclass(frozen=True)
class Release:
    library: str  # owner/repo, as in the questions
    registry: str  # pypi | npm
    package: str
    version: str
    archive: str
    sha256: str
    doc_globs: tuple[str, ...]
    exclude_globs: tuple[str, ...]
    identity_globs: tuple[str, ...]

    @property
    def library_id(self) -> str:
        return "/" + self.library

    @property
    def folder_name(self) -> str:
        return self.library.replace("/", "__")


def load_manifest(path: Path = MANIFEST) -> list[Release]:
    rows = json.loads(path.read_text())["libraries"]
    return [
        Release(
            library=row["library"],
            registry=row["registry"],
            package=row["package"],
            version=row["version"],
            archive=row["archive"],
            sha256=row["sha256"],
            doc_globs=tuple(row["doc_globs"]),
            exclude_globs=tuple(row.get("exclude_globs", ())),
            identity_globs=tuple(row.get("identity_globs", ())),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class HeldoutSet:
    """One frozen held-out set: a folder with MANIFEST.json and the dated question files."""

    name: str  # as `--set` spells it
    title: str  # as the eval's tables print it
    folder: Path
    written: str  # the date in the frozen files' names

    @property
    def manifest(self) -> Path:
        return self.folder / "MANIFEST.json"

    @property
    def questions(self) -> Path:
        return self.folder / f"questions-{self.written}.jsonl"

    @property
    def resolution(self) -> Path:
        return self.folder / f"resolution-{self.written}.jsonl"

    def releases(self) -> list[Release]:
        return load_manifest(self.manifest)


HELDOUT_SETS: dict[str, HeldoutSet] = {
    s.name: s
    for s in (
        HeldoutSet("heldout", "held-out", HERE, "2026-12-04"),
        HeldoutSet("heldout2", "held-out 2", HERE.parent / "heldout2", "2026-12-05"),
        HeldoutSet("heldout3", "held-out 3", HERE.parent / "heldout3", "2026-12-06"),
    )
}


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A path glob as a regex: `**/` is any number of folders, `*` and `?` stay in one segment."""
    parts: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            parts.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("**", i):
            parts.append(".*")
            i += 2
        elif glob[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(glob[i]))
            i += 1
    return re.compile("".join(parts) + r"\Z")


def selected(path: str, release: Release) -> bool:
    """Whether a path inside the release (its top folder removed) is copied to the corpus."""
    wanted = release.doc_globs + release.identity_globs
    if not any(glob_pattern(g).match(path) for g in wanted):
        return False
    return not any(glob_pattern(g).match(path) for g in release.exclude_globs)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(release: Release, into: Path) -> None:
    if release.registry == "pypi":
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(into),
            f"{release.package}=={release.version}",
        ]
    elif release.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise CorpusError(
                f"{release.library} comes from npm but `npm` is not on PATH: install Node.js "
                "and npm, or run the dev set only (`--set dev`)"
            )
        command = [npm, "pack", f"{release.package}@{release.version}", "--silent"]
        command += ["--pack-destination", str(into)]
    else:
        raise CorpusError(f"{release.library}: unknown registry {release.registry!r} (pypi, npm)")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        raise CorpusError(
            f"fetching {release.package} {release.version} from {release.registry} failed "
            f"(exit {result.returncode}): {result.stderr.strip()[-800:]}"
        )


def fetch_archive(release: Release, cache: Path = CACHE) -> Path:
    """The pinned release archive in the cache, downloaded once; its sha256 is always checked."""
    archives = cache / "archives"
    archives.mkdir(parents=True, exist_ok=True)
    target = archives / release.archive
    if not target.exists():
        with tempfile.TemporaryDirectory(prefix="heldout-", dir=archives) as tmp:
            _download(release, Path(tmp))
            found = Path(tmp) / release.archive
            if not found.exists():
                names = sorted(p.name for p in Path(tmp).iterdir())
                raise CorpusError(
                    f"{release.registry} gave {names} for {release.package} {release.version}, "
                    f"not {release.archive}: fix the manifest's archive name"
                )
            found.replace(target)
    actual = sha256_of(target)
    if actual != release.sha256:
        target.unlink()
        raise CorpusError(
            f"{release.archive} has sha256 {actual}, but the manifest pins {release.sha256}: "
            "the registry served different bytes; the archive was deleted, so check the pin"
        )
    return target


def _inner_path(name: str) -> str | None:
    """A member's path below the archive's top folder, or None when it would escape it."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name:
        return None
    parts = [p for p in path.parts if p not in ("", ".")]
    if len(parts) < 2:
        return None
    return "/".join(parts[1:])


def extract_docs(release: Release, archive: Path, dest: Path) -> tuple[int, int]:
    """Copies the selected regular files of `archive` under `dest`; returns (files, bytes).

    Only regular files are written, each at a path checked to stay inside `dest`: links,
    devices, absolute paths and `..` never reach the disk."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    files = size = 0
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if not member.isreg():
                continue
            inner = _inner_path(member.name)
            if inner is None or not selected(inner, release):
                continue
            if member.size > MAX_FILE_BYTES:
                raise CorpusError(
                    f"{release.archive}: {inner} is {member.size} bytes, over the "
                    f"{MAX_FILE_BYTES}-byte limit for one documentation file"
                )
            target = (dest / inner).resolve()
            if not target.is_relative_to(dest.resolve()):
                continue
            handle = tar.extractfile(member)
            if handle is None:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            data = handle.read()
            target.write_bytes(data)
            files += 1
            size += len(data)
    if files == 0:
        raise CorpusError(
            f"{release.archive}: no file matches {list(release.doc_globs)}; fix the doc globs"
        )
    return files, size


def prepare(
    cache: Path = CACHE, releases: list[Release] | None = None, heldout_set: str = "heldout"
) -> list[tuple[str, Path]]:
    """(library id, corpus folder) for every release of a held-out set (or of `releases`),
    fetching what is missing."""
    prepared = []
    if releases is None:
        releases = HELDOUT_SETS[heldout_set].releases()
    for release in releases:
        archive = fetch_archive(release, cache)
        folder = cache / "corpus" / release.folder_name
        stamp = folder / ".extracted"
        if not stamp.exists() or stamp.read_text() != release.sha256 + "\n" + str(
            release.doc_globs + release.exclude_globs + release.identity_globs
        ):
            files, size = extract_docs(release, archive, folder)
            print(f"{release.library} {release.version}: {files} files, {size} bytes")
            stamp.write_text(
                release.sha256
                + "\n"
                + str(release.doc_globs + release.exclude_globs + release.identity_globs)
            )
        prepared.append((release.library_id, folder))
    return prepared


def load_rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_questions(rows: list[dict[str, object]], corpus: Path) -> list[str]:
    """What is wrong with the questions (empty when they are sound), checked on the corpus."""
    problems: list[str] = []
    ids = Counter(str(row.get("id")) for row in rows)
    problems += [f"{qid}: id used {n} times" for qid, n in ids.items() if n > 1]
    for row in rows:
        qid = row.get("id")
        missing = {"id", "library", "query", "expect_files", "must_contain_any", "kind"} - set(row)
        if missing:
            problems.append(f"{qid}: missing fields {sorted(missing)}")
            continue
        if row["kind"] not in KINDS:
            problems.append(f"{qid}: kind {row['kind']!r} is not one of {sorted(KINDS)}")
        folder = corpus / str(row["library"]).replace("/", "__")
        texts = []
        for name in row["expect_files"]:  # type: ignore[attr-defined]
            path = folder / str(name)
            if not path.is_file():
                problems.append(f"{qid}: expect_files {name} is not in the corpus")
            else:
                texts.append(path.read_text(errors="replace"))
        for needle in row["must_contain_any"]:  # type: ignore[attr-defined]
            if not any(str(needle) in text for text in texts):
                problems.append(f"{qid}: {needle!r} occurs in none of its expect_files")
    return problems


def check_resolution(rows: list[dict[str, object]]) -> list[str]:
    problems: list[str] = []
    for row in rows:
        if row.get("kind") not in RESOLUTION_KINDS:
            problems.append(f"{row.get('id')}: kind {row.get('kind')!r} is not a resolution kind")
        if not row.get("query") or not row.get("expect"):
            problems.append(f"{row.get('id')}: needs a query and an expect list")
    return problems


def check_set(heldout_set: HeldoutSet, corpus: Path = CACHE / "corpus") -> list[str]:
    """What is wrong with a set's frozen questions and resolution cases, checked on the corpus."""
    rows = load_rows(heldout_set.questions)
    problems = check_questions(rows, corpus) + check_resolution(load_rows(heldout_set.resolution))
    by = Counter(str(r["library"]) for r in rows)
    kinds = Counter(str(r["kind"]) for r in rows)
    print(f"{heldout_set.title}: {len(rows)} questions {dict(by)}; kinds {dict(kinds)}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=("prepare", "check"), nargs="?", default="check")
    parser.add_argument(
        "--set", choices=(*HELDOUT_SETS, "all"), default="all", help="which held-out set"
    )
    args = parser.parse_args()
    chosen = list(HELDOUT_SETS.values()) if args.set == "all" else [HELDOUT_SETS[args.set]]
    problems: list[str] = []
    for heldout_set in chosen:
        try:
            prepared = prepare(heldout_set=heldout_set.name)
        except CorpusError as error:
            raise SystemExit(f"{heldout_set.title} corpus: {error}") from None
        for library_id, folder in prepared:
            print(f"{library_id}: {folder}")
        if args.action == "check":
            found = check_set(heldout_set)
            for problem in found:
                print(f"  {problem}")
            problems += found
    if problems:
        raise SystemExit(f"{len(problems)} problems in the held-out questions")
    if args.action == "check":
        print("every must_contain_any string occurs in one of its expect_files")


if __name__ == "__main__":
    main()
