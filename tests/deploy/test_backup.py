"""Backups: scripts lint clean, S3 settings apply, and a point-in-time restore really restores."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
from twinmcp.runtime.ports import free_port

WAIT_SECONDS = 60.0
SCRIPTS = ("lib.sh", "wal-archive.sh", "pg-base-backup.sh", "pg-restore.sh", "s3/setup.sh")
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def wait_until(what: str, check: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds:.0f}s waiting for {what}")
        time.sleep(0.1)


def test_backup_scripts_pass_shellcheck(repo: Path, system_tool: Callable[[str, str], str]) -> None:
    shellcheck = system_tool("shellcheck", "shellcheck")
    done = subprocess.run(
        [shellcheck, "-x", "-s", "bash", *SCRIPTS],
        cwd=repo / "deploy/backup",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_redis_conf_loads_and_snapshots_every_six_hours_with_an_append_only_file(
    repo: Path, system_tool: Callable[[str, str], str], tmp_path: Path
) -> None:
    server = system_tool("redis-server", "redis-server")
    port = free_port()
    # The snippet as shipped, run in the test's folder; only where it listens is changed.
    process = subprocess.Popen(
        [
            server,
            str(repo / "deploy/backup/redis.conf"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    try:
        wait_until("redis with the shipped config", lambda: _pings(client, process), 15)
        assert client.config_get("save")["save"] == "21600 1"
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("appendfsync")["appendfsync"] == "everysec"
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=15)


def _pings(client: redis.Redis, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        output = process.stdout.read().decode() if process.stdout else ""
        pytest.fail(f"redis-server refused the config: {output}")
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


# --- S3 (moto in server mode) -------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"

    def is_up() -> bool:
        if process.poll() is not None:
            pytest.fail("moto_server exited")
        try:
            with urllib.request.urlopen(endpoint, timeout=1):
                return True
        except OSError:
            return False

    try:
        wait_until("moto_server", is_up, 30)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=15)


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_setup_turns_on_versioning_replication_and_retention(
    repo: Path, s3_endpoint: str, system_tool: Callable[[str, str], str]
) -> None:
    system_tool("aws", "awscli")
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket="twinmcp-backups")
    role = "arn:aws:iam::123456789012:role/twinmcp-s3-replication"
    done = subprocess.run(
        [
            repo / "deploy/backup/s3/setup.sh",
            "twinmcp-backups",
            "twinmcp-backups-replica",
            "eu-west-1",
            role,
            "lifecycle-backups.json",
        ],
        env={**os.environ, **FAKE_AWS, "S3_ENDPOINT_URL": s3_endpoint},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for bucket in ("twinmcp-backups", "twinmcp-backups-replica"):
        assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    replication = client.get_bucket_replication(Bucket="twinmcp-backups")
    [rule] = replication["ReplicationConfiguration"]["Rules"]
    assert replication["ReplicationConfiguration"]["Role"] == role
    assert rule["Destination"]["Bucket"] == "arn:aws:s3:::twinmcp-backups-replica"
    rules = {
        r["Filter"]["Prefix"]: r
        for r in client.get_bucket_lifecycle_configuration(Bucket="twinmcp-backups")["Rules"]
    }
    assert rules["postgres/base/"]["Expiration"]["Days"] == 30
    assert rules["postgres/wal/"]["Expiration"]["Days"] > 30, "WAL outlives the base backups"
    raw = json.loads((repo / "deploy/backup/s3/lifecycle-raw.json").read_text())
    assert raw["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 30


# --- PostgreSQL: base backup + WAL archive -> point-in-time restore ----------------------


class Cluster:
    """A throwaway PostgreSQL cluster, run as the `postgres` user when the tests run as root."""

    def __init__(self, bindir: Path, root: Path, env: dict[str, str]) -> None:
        self.bindir = bindir
        self.root = root
        self.env = env
        self.port = free_port()

    def server_user(self, args: list[str | Path], **env: str) -> subprocess.CompletedProcess[str]:
        # PostgreSQL refuses to run as root; switch user in the child, without a login session.
        switch: dict[str, Any] = (
            {"user": "postgres", "group": "postgres", "extra_groups": []}
            if os.geteuid() == 0
            else {}
        )
        return subprocess.run(
            [str(a) for a in args],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
            **switch,
        )

    def run(self, args: list[str | Path], **env: str) -> None:
        done = self.server_user(args, **env)
        assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"

    def sql(self, statement: str) -> str:
        where = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres"]
        done = subprocess.run(
            [self.bindir / "psql", *where, "-Atqc", statement],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self, data: Path) -> None:
        log = self.root / f"{data.name}.log"
        wait = ["-w", "-t", "120"]
        done = self.server_user(
            [self.bindir / "pg_ctl", "-D", data, "-l", log, "-o", f"-p {self.port}", *wait, "start"]
        )
        if done.returncode != 0:
            server_log = log.read_text() if log.exists() else "(no log)"
            pytest.fail(f"PostgreSQL did not start on {data}:\n{done.stderr}\n{server_log[-4000:]}")

    def stop(self, data: Path) -> None:
        self.server_user([self.bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])


def postgres_bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: `apt-get install -y postgresql`")
    return found[-1].parent


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A folder the server user can write (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="twinmcp-pitr-"))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def aws_for_server_user(
    system_tool: Callable[[str, str], str], apt_install: Callable[[str], None]
) -> str:
    """The PATH under which the server user finds an `aws` it may run."""
    if os.geteuid() != 0:
        system_tool("aws", "awscli")
        return os.environ["PATH"]
    path = "/usr/bin:/bin"
    if shutil.which("aws", path=path) is None:
        # Root's aws may live under /root, out of the server user's reach: Debian's is not.
        apt_install("awscli")
    probe = subprocess.run(
        ["aws", "--version"],
        env={"PATH": path},
        user="postgres",
        capture_output=True,
        timeout=60,
        check=False,
    )
    if probe.returncode != 0:
        pytest.fail(f"the postgres user cannot run {path}/aws: {probe.stderr!r}")
    return path


@pytest.fixture
def archiving_primary(
    repo: Path,
    s3_endpoint: str,
    workdir: Path,
    system_tool: Callable[[str, str], str],
    apt_install: Callable[[str], None],
) -> tuple[Cluster, Path, Path, Path]:
    """A new cluster archiving WAL with the shipped snippet and script into a stand-in S3,
    not yet started; returns it with its data folder, the folder a restore goes to and the
    folder holding the backup scripts."""
    bindir = postgres_bindir()
    bucket = f"twinmcp-pitr-{uuid.uuid4().hex[:8]}"  # archived WAL names repeat across clusters
    s3_client(s3_endpoint).create_bucket(Bucket=bucket)
    # The server user runs the scripts: a copy where it can reach them (the checkout may sit
    # under a folder only root may enter).
    backup = workdir / "scripts"
    shutil.copytree(repo / "deploy/backup", backup)
    env = {
        **FAKE_AWS,
        "PATH": f"{bindir}:{aws_for_server_user(system_tool, apt_install)}",
        "HOME": str(workdir),
        "BACKUP_S3_URI": f"s3://{bucket}/postgres",
        "S3_ENDPOINT_URL": s3_endpoint,
    }
    cluster = Cluster(bindir, workdir, env)
    primary, restored = workdir / "primary", workdir / "restored"
    cluster.run([bindir / "initdb", "-D", primary, "-U", "postgres", "--auth=trust", "--no-sync"])
    # The shipped archiving snippet, with the script where this checkout has it.
    snippet = (backup / "postgresql.conf").read_text()
    snippet = snippet.replace("/usr/local/bin/wal-archive.sh", str(backup / "wal-archive.sh"))
    settings = (
        f"\n{snippet}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{workdir}'\n"
    )
    cluster.run(["sh", "-c", f"cat >> {primary / 'postgresql.conf'} <<'EOF'\n{settings}\nEOF"])
    return cluster, primary, restored, backup


@pytest.mark.slow
def test_a_base_backup_plus_archived_wal_restores_to_a_point_in_time(
    archiving_primary: tuple[Cluster, Path, Path, Path],
) -> None:
    cluster, primary, restored, backup = archiving_primary
    cluster.start(primary)
    try:
        cluster.sql(
            "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('before the backup')"
        )
        cluster.run(
            [backup / "pg-base-backup.sh"],
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres",
        )
        cluster.sql("INSERT INTO notes VALUES ('after the backup')")
        target = cluster.sql("SELECT clock_timestamp()")
        cluster.sql("INSERT INTO notes VALUES ('after the target')")
        segment = cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_until(
            f"WAL segment {segment} in the archive",
            lambda: (
                cluster.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
                >= segment
            ),
        )
        assert cluster.sql("SELECT failed_count FROM pg_stat_archiver") == "0"
    finally:
        cluster.stop(primary)

    # A fresh cluster on another port, as a restore onto a new machine would be.
    cluster.port = free_port()
    cluster.run([backup / "pg-restore.sh", "--pgdata", restored, "--target-time", target])
    assert (restored / "recovery.signal").exists()
    cluster.start(restored)
    try:
        wait_until(
            "promotion at the target", lambda: cluster.sql("SELECT pg_is_in_recovery()") == "f"
        )
        rows = cluster.sql("SELECT body FROM notes ORDER BY body").splitlines()
        assert rows == ["after the backup", "before the backup"]
    finally:
        cluster.stop(restored)


@pytest.mark.slow
def test_after_a_crash_every_row_before_the_last_archived_segment_comes_back(
    archiving_primary: tuple[Cluster, Path, Path, Path],
) -> None:
    """The drill of the runbook: base backup, more writes, a crash, a restore of the latest
    archived state into a fresh cluster on another port. Prints the measured RPO and RTO."""
    cluster, primary, restored, backup = archiving_primary
    cluster.start(primary)
    try:
        cluster.sql("CREATE TABLE notes (n int, at timestamptz DEFAULT clock_timestamp())")
        cluster.sql("INSERT INTO notes (n) SELECT generate_series(1, 100)")
        cluster.run(
            [backup / "pg-base-backup.sh"],
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres",
        )
        cluster.sql("INSERT INTO notes (n) SELECT generate_series(101, 200)")
        segment = cluster.sql("SELECT pg_walfile_name(pg_switch_wal())")
        wait_until(
            f"WAL segment {segment} in the archive",
            lambda: (
                cluster.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
                >= segment
            ),
        )
        # Written after the last archived segment: what a crash now loses.
        cluster.sql("INSERT INTO notes (n) VALUES (201)")
        crashed_at = float(cluster.sql("SELECT extract(epoch FROM clock_timestamp())"))
    finally:
        cluster.server_user(
            [cluster.bindir / "pg_ctl", "-D", primary, "-m", "immediate", "-w", "stop"]
        )

    started = time.monotonic()
    cluster.port = free_port()
    cluster.run([backup / "pg-restore.sh", "--pgdata", restored])
    cluster.start(restored)
    try:
        wait_until("promotion", lambda: cluster.sql("SELECT pg_is_in_recovery()") == "f")
        recovery_seconds = time.monotonic() - started
        numbers = cluster.sql("SELECT n FROM notes ORDER BY n").splitlines()
        assert numbers[:200] == [str(n) for n in range(1, 201)]
        newest = float(cluster.sql("SELECT extract(epoch FROM max(at)) FROM notes"))
    finally:
        cluster.stop(restored)
    lost = 0 if "201" in numbers else 1
    print(
        f"\nrestore drill: RTO {recovery_seconds:.1f}s (restore + replay + promotion); "
        f"RPO {max(0.0, crashed_at - newest):.2f}s of writes lost "
        f"({lost} row written after the last archived segment); "
        "in production archive_timeout bounds the RPO at 5 minutes"
    )


def test_restore_refuses_a_folder_that_is_not_empty(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("16\n")
    done = subprocess.run(
        [repo / "deploy/backup/pg-restore.sh", "--pgdata", tmp_path],
        env={**os.environ, "BACKUP_S3_URI": "s3://unused/postgres"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "not empty" in done.stderr
