"""Git sources cannot run commands, reach private hosts or leave https (issue 13)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from twinmcp.ingest.errors import HostileInput, InvalidSource
from twinmcp.ingest.fetching import gitrepo
from twinmcp.ingest.fetching.github import GitHubClient
from twinmcp.ingest.jobs import SourceOptions
from twinmcp.ingest.netguard import is_blocked_address, resolve_checked
from twinmcp.ingest.sources import SourceKind, check_git_ref, parse_source
from twinmcp.ingest.v1 import ingest_pb2

CORPUS = Path(__file__).resolve().parents[3].parent / "shared/eval/corpus"
DOCS = CORPUS / "encode__httpx" / "docs"
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


def _option_source(marker: Path) -> str:
    """The probe's source string: git reads it as --upload-pack and runs it through a shell."""
    return f"--upload-pack=touch {marker};.git"


# --- unit: what a git source may be ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("--upload-pack=id>/tmp/x;.git", "starts with '-'"),
        ("-c.git", "starts with '-'"),
        ("git://127.0.0.1:9418/g/p.git", "only https is fetched"),
        ("git://169.254.169.254:80/g/p.git", "only https is fetched"),
        ("ssh://git@127.0.0.1:22/g/p.git", "only https is fetched"),
        ("git+ssh://127.0.0.1/g/p.git", "only https is fetched"),
        ("git@127.0.0.1:g/p.git", "ssh (scp-style)"),
        ("file:///srv/repos/p.git", "only https is fetched"),
        ("http://gitlab.example/g/p.git", "only https is fetched"),
        ("ext::sh -c touch% /tmp/pwned.git", "spaces or control characters"),
        ("https://user:token@gitlab.example/g/p.git", "carries credentials"),
        ("https://gitlab.example:99999/g/p.git", "invalid port"),
        ("https://gitlab.example/g/p.git?upload-pack=x", "not a repository URL"),
        ("https://-oProxyCommand=x/g/p.git", "no valid host name"),
    ],
)
def test_git_sources_other_than_plain_https_urls_are_refused_with_what_to_use(
    source: str, says: str
) -> None:
    with pytest.raises(InvalidSource, match="https") as caught:
        parse_source(source, library_id="/p/x")
    assert says in str(caught.value)


def test_https_git_urls_are_accepted_with_a_derived_library_id_and_checked_ref() -> None:
    spec = parse_source("https://gitlab.example/group/proj.git", ref="release/1.x")
    assert (spec.kind, spec.library_id, spec.ref) == (SourceKind.GIT, "/group/proj", "release/1.x")
    assert spec.location == "https://gitlab.example/group/proj.git"


@pytest.mark.parametrize(
    "ref",
    [
        "--upload-pack=touch /tmp/x",
        "-b",
        "a..b",
        "refs/heads/x:refs/heads/y",
        "v1 2",
        "main.lock",
        "@{-1}",
        ".hidden",
        "a//b",
        "tag\x01",
        "x^{tree}",
        "ref*",
        "/abs",
        "end/",
        "x" * 300,
    ],
)
def test_refs_that_git_would_not_accept_as_names_are_refused(ref: str) -> None:
    with pytest.raises(InvalidSource, match="not a valid git branch, tag or commit name"):
        parse_source("https://gitlab.example/g/p.git", ref=ref)
    with pytest.raises(InvalidSource, match="not a valid git branch"):
        parse_source("https://github.com/o/r", ref=ref)


@pytest.mark.parametrize("ref", ["", "main", "v1.2.0", "release/1.x", "deadbeef", "a" * 40])
def test_ordinary_branch_tag_and_commit_names_are_valid_refs(ref: str) -> None:
    assert check_git_ref(ref) == ref


@pytest.mark.parametrize(
    "source",
    ["https://github.com/../x", "https://github.com/o/.."],
)
def test_github_urls_must_name_an_owner_and_a_repository(source: str) -> None:
    with pytest.raises(InvalidSource, match="does not name a GitHub repository"):
        parse_source(source)


# --- unit: addresses hidden inside IPv6 (L6) --------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::a00:1",  # local-use NAT64 prefix
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:0:a9fe:a9fe",  # SIIT IPv4-translated
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_blocked(address: str) -> None:
    assert is_blocked_address(address)


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::", "2606:4700:4700::1111", "8.8.8.8"]
)
def test_public_addresses_stay_allowed_in_every_form(address: str) -> None:
    assert not is_blocked_address(address)


@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[2002:7f00:1::]", "[::7f00:1]"])
async def test_url_hosts_written_as_ipv6_forms_of_loopback_are_refused(host: str) -> None:
    with pytest.raises(HostileInput, match="private"):
        await resolve_checked(host, 443, allow_private=False)


# --- unit: the git command lines --------------------------------------------------------------

URL = "https://gitlab.example/g/p.git"


@pytest.mark.parametrize(
    "args",
    [
        gitrepo.ls_remote_args(URL),
        gitrepo.fetch_args(URL, "deadbeef"),
        gitrepo.clone_args(URL, Path("/tmp/dest"), "v1.0"),
    ],
)
def test_every_git_command_ends_its_options_before_the_url(args: list[str]) -> None:
    assert args.index("--") < args.index(URL)
    assert all(not a.startswith("-") for a in args[args.index("--") + 1 :])


def test_git_runs_with_https_only_no_redirects_no_hooks_and_a_pinned_address() -> None:
    remote = gitrepo.Remote(URL, "gitlab.example", 443, ("203.0.113.7", "2001:db8::7"))
    argv = gitrepo.git_command(gitrepo.ls_remote_args(URL), gitrepo.GitAccess(), remote)
    config = {argv[i + 1] for i, arg in enumerate(argv) if arg == "-c"}
    assert {
        "protocol.allow=never",
        "protocol.https.allow=always",
        "protocol.file.allow=never",
        "http.followRedirects=false",
        "credential.helper=",
        "core.hooksPath=/dev/null",
        "submodule.recurse=false",
        "http.curloptResolve=gitlab.example:443:203.0.113.7,[2001:db8::7]",
    } <= config
    assert any(c.startswith("http.lowSpeedTime=") for c in config)
    assert argv.index("ls-remote") > max(i for i, a in enumerate(argv) if a == "-c")


# --- end to end: option-shaped sources (H2) ---------------------------------------------------


async def _submit_or_run(h: Any, source: str, **fields: Any) -> grpc.aio.AioRpcError | None:
    """The refusal of a submission, or None after the accepted job ran to its end."""
    try:
        job = await h.submit(source, **fields)
    except grpc.aio.AioRpcError as exc:
        return exc
    await h.finish(job.job_id, limit=60)
    return None


@pytest.mark.parametrize("ref", ["", "deadbeef"])
async def test_an_option_shaped_git_source_is_refused_at_submission_and_runs_nothing(
    harness: Callable[..., Any], tmp_path: Path, ref: str
) -> None:
    h = await harness()
    marker = tmp_path / "ran"
    refusal = await _submit_or_run(
        h, _option_source(marker), library_id="/p/x", version="1.0", ref=ref
    )
    assert not marker.exists()
    assert refusal is not None and refusal.code() == INVALID_ARGUMENT
    assert "starts with '-'" in (refusal.details() or "")


async def test_the_cli_refuses_an_option_shaped_git_source_and_runs_nothing(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    marker = tmp_path / "ran"
    cli = Path(sys.executable).with_name("twinmcp")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "INGEST_ADDR": f"127.0.0.1:{h.server.port}",
        "TWINMCP_CLI_DEADLINE_SECONDS": "10",
    }
    args = ["ingest", "--library-id", "/p/x", "--version", "9.9", "--", _option_source(marker)]
    process = await asyncio.create_subprocess_exec(
        str(cli), *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert not marker.exists()
    assert process.returncode == 1, stdout.decode()
    message = " ".join(stderr.decode().split())  # the console wraps long lines
    assert "INVALID_ARGUMENT" in message and "starts with '-'" in message


async def test_refreshing_a_library_stored_with_an_option_shaped_source_runs_nothing(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness(INGEST_WORKERS="0")
    marker = tmp_path / "ran"
    # A row as the unfixed service stored it: refresh re-reads the source with no new job.
    await h.server.wiring.store.submit(
        "/p/x", _option_source(marker), SourceOptions(ref="1.0", version="1.0")
    )
    request = ingest_pb2.RefreshLibraryRequest(library_id="/p/x")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await h.stub.RefreshLibrary(request, timeout=30)
    assert not marker.exists()
    assert caught.value.code() == INVALID_ARGUMENT
    assert "starts with '-'" in (caught.value.details() or "")


async def test_a_queued_job_stored_with_an_option_shaped_source_fails_and_runs_nothing(
    harness: Callable[..., Any], tmp_path: Path
) -> None:
    h = await harness()
    marker = tmp_path / "ran"
    # Queued before the fix (or written to the table by hand): the worker parses it again.
    job = await h.server.wiring.store.submit(
        "/p/x", _option_source(marker), SourceOptions(ref="deadbeef", version="1.0")
    )
    finished = await h.finish(job.job_id, limit=60)
    assert not marker.exists()
    assert finished.state == ingest_pb2.JOB_STATE_FAILED
    assert "starts with '-'" in finished.error and finished.attempts == 1


# --- end to end: transports that cannot be checked (M1) ---------------------------------------


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[str]]]:
    """A loopback TCP server that records every connection and hangs up at once."""
    seen: list[str] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(str(writer.get_extra_info("peername")))
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], seen
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("git://127.0.0.1:{port}/g/p.git", "only https is fetched"),
        ("ssh://git@127.0.0.1:{port}/g/p.git", "only https is fetched"),
        ("git@127.0.0.1:g/p.git", "ssh (scp-style)"),
        ("file:///{port}/g/p.git", "only https is fetched"),
    ],
)
async def test_git_ssh_and_scp_sources_are_refused_without_a_connection(
    harness: Callable[..., Any],
    listener: tuple[int, list[str]],
    template: str,
    says: str,
) -> None:
    port, seen = listener
    h = await harness(INGEST_ALLOW_PRIVATE_NETWORKS="false")
    refusal = await _submit_or_run(h, template.format(port=port), library_id="/p/x")
    assert seen == []
    assert refusal is not None and refusal.code() == INVALID_ARGUMENT
    assert says in (refusal.details() or "") and "https://" in (refusal.details() or "")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]", "[::7f00:1]"]
)
async def test_https_git_sources_on_private_addresses_fail_without_a_connection(
    harness: Callable[..., Any], listener: tuple[int, list[str]], host: str
) -> None:
    port, seen = listener
    h = await harness(INGEST_ALLOW_PRIVATE_NETWORKS="false")
    job = await h.ingest(f"https://{host}:{port}/g/p.git", library_id="/p/x", version="1.0")
    assert job.state == ingest_pb2.JOB_STATE_FAILED
    assert "private" in job.error
    assert seen == []


# --- end to end: https that tries to go elsewhere (M2) ----------------------------------------


async def test_a_git_server_redirecting_elsewhere_is_not_followed(
    harness: Callable[..., Any], git_https: Callable[[], Any]
) -> None:
    first, elsewhere = await git_https(), await git_https()
    elsewhere.publish(DOCS, "g/p.git", "1.0")
    first.redirect_to = elsewhere.base_url
    h = await harness(INGEST_GIT_CA_FILE=str(first.ca_file))
    job = await h.ingest(first.url("g/p.git"), library_id="/p/x", version="1.0")
    assert job.state == ingest_pb2.JOB_STATE_FAILED
    assert "redirect" in job.error and "final https URL" in job.error
    assert first.requests and elsewhere.requests == []


async def test_git_connects_to_the_pinned_address_not_to_a_fresh_lookup(
    git_https: Callable[[], Any], tmp_path: Path
) -> None:
    server = await git_https()
    url = server.publish(DOCS, "g/p.git", "1.0")
    port = int(server.base_url.rsplit(":", 1)[1])
    access = gitrepo.GitAccess(allow_private=True, ca_file=server.ca_file)

    async def ls_remote(address: str) -> tuple[int | None, str, str]:
        remote = gitrepo.Remote(url, "localhost", port, (address,))
        argv = gitrepo.git_command(gitrepo.ls_remote_args(url), access, remote)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        return process.returncode, stdout.decode(), stderr.decode()

    # The server listens on 127.0.0.1 only: pinned to 127.0.0.2, "localhost" is unreachable.
    assert "refs/tags/1.0" in (await ls_remote("127.0.0.1"))[1]
    code, _, errors = await ls_remote("127.0.0.2")
    assert code != 0 and "Failed to connect to localhost" in errors


async def test_an_https_git_repository_is_listed_and_cloned_by_tag_and_by_commit(
    git_https: Callable[[], Any], tmp_path: Path
) -> None:
    server = await git_https()
    url = server.publish(DOCS, "g/p.git", "1.0")
    access = gitrepo.GitAccess(allow_private=True, ca_file=server.ca_file)
    assert await gitrepo.list_tags(url, access) == ["1.0"]
    await gitrepo.clone(url, tmp_path / "by-tag", "1.0", access)
    commit = (tmp_path / "by-tag" / ".git" / "shallow").read_text().strip()
    await gitrepo.clone(url, tmp_path / "by-commit", commit, access)
    assert (tmp_path / "by-commit" / "index.md").read_bytes() == (DOCS / "index.md").read_bytes()


async def test_a_private_git_host_is_refused_unless_private_networks_are_allowed(
    git_https: Callable[[], Any],
) -> None:
    server = await git_https()
    url = server.publish(DOCS, "g/p.git")
    with pytest.raises(HostileInput, match="private"):
        await gitrepo.list_tags(url, gitrepo.GitAccess(ca_file=server.ca_file))
    assert server.requests == []


# --- GitHub API paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "repo", "ref"),
    [("o", "r", "../../../user"), ("..", "r", ""), ("o", "..", "v1"), ("o", "r", "-x")],
)
async def test_github_names_and_refs_cannot_climb_to_other_api_paths(
    listener: tuple[int, list[str]], tmp_path: Path, owner: str, repo: str, ref: str
) -> None:
    port, seen = listener
    client = GitHubClient(f"http://127.0.0.1:{port}", None)
    try:
        with pytest.raises(InvalidSource):
            await client.download_tarball(owner, repo, ref, tmp_path / "t.tar.gz")
    finally:
        await client.close()
    assert seen == []
