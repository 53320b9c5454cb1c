"""Commands the tests bring from Debian's packages, installed with apt-get when missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

_apt_lists_fresh = False


def apt_install(package: str) -> None:
    """Installs one of Debian's packages (package lists refreshed once per session)."""
    global _apt_lists_fresh
    apt = shutil.which("apt-get")
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if apt is None or (sudo and shutil.which("sudo") is None):
        pytest.fail(f"{package} is needed: install it with `apt-get install -y {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["install", "-y", "-qq", "--no-install-recommends", package]]
    if not _apt_lists_fresh:
        steps.insert(0, ["update", "-qq"])
    for step in steps:
        done = subprocess.run(
            [*sudo, apt, *step], env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if done.returncode != 0:
            pytest.fail(
                f"could not install {package} (apt-get {' '.join(step)}):\n"
                f"{done.stderr[-2000:]}\ninstall it with `apt-get install -y {package}`"
            )
    _apt_lists_fresh = True


def system_tool(command: str, apt_package: str) -> str:
    """A command from Debian's packages, installed with apt-get when missing."""
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if found:
        return found
    apt_install(apt_package)
    found = shutil.which(command) or shutil.which(command, path="/usr/sbin:/sbin")
    if not found:
        pytest.fail(f"{apt_package} installed but {command} is not on PATH")
    return found


def nginx() -> str:
    """The nginx binary (Debian's nginx-light: the proxy modules the edge config uses)."""
    return system_tool("nginx", "nginx-light")
