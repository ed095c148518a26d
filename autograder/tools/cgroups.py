"""Gradescope's limits on this machine: a cgroup with 768 MB of memory and half a CPU.

cgroup v2 (the unified hierarchy) or v1 (its memory and cpu controllers), created by root
and removed afterwards. Whatever cannot be enforced here is said, with the reason, never
silently skipped.
"""
import os
import signal
import time
from pathlib import Path
from typing import Dict, List, Optional

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str) -> str:
    """This process's cgroup path for a v1 controller."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path
    except OSError:
        pass
    return "/"


class Cgroup:
    """Memory (bytes, no swap) and CPU (a share of one CPU) limits for a process tree."""

    def __init__(self, name: str, memory: Optional[int], cpus: Optional[float]):
        self.folders: List[Path] = []
        self.enforced: Dict[str, str] = {}
        self.not_enforced: Dict[str, str] = {}
        self.memory_folder: Optional[Path] = None
        self.version = None
        wanted = {key: value for key, value in (("memory", memory), ("cpu", cpus)) if value is not None}
        if not wanted:
            return
        if os.geteuid() != 0:
            self.not_enforced = {key: "making cgroups needs root here" for key in wanted}
            return
        if (CGROUP_ROOT / "cgroup.controllers").is_file():
            self._v2(name, memory, cpus)
        else:
            self._v1(name, memory, cpus)

    # -- set-up ----------------------------------------------------------------------------------
    def _make(self, parent: Path, name: str) -> Optional[Path]:
        folder = parent / name
        try:
            folder.mkdir()
        except OSError:
            return None
        self.folders.append(folder)
        return folder

    def _write(self, path: Path, value: str) -> Optional[str]:
        try:
            path.write_text(value)
            return None
        except OSError as error:
            return f"{path.name} could not be set ({error.strerror})"

    def _v2(self, name: str, memory, cpus) -> None:
        self.version = 2
        available = (CGROUP_ROOT / "cgroup.controllers").read_text().split()
        folder = self._make(CGROUP_ROOT, name)
        if folder is None:
            self.not_enforced = {"memory": "no cgroup could be made", "cpu": "no cgroup could be made"}
            return
        for key in ("memory", "cpu"):
            if key in available:
                self._write(CGROUP_ROOT / "cgroup.subtree_control", f"+{key}")
        if memory is not None:
            problem = None if "memory" in available else "the memory controller is not available"
            problem = problem or self._write(folder / "memory.max", str(memory))
            self._write(folder / "memory.swap.max", "0")
            self._record("memory", problem, f"cgroup v2 memory.max = {memory // 1024 ** 2} MiB, no swap")
            self.memory_folder = folder
        if cpus is not None:
            problem = None if "cpu" in available else "the cpu controller is not available"
            problem = problem or self._write(folder / "cpu.max", f"{int(cpus * 100000)} 100000")
            self._record("cpu", problem, f"cgroup v2 cpu.max = {cpus:g} CPU")

    def _v1(self, name: str, memory, cpus) -> None:
        self.version = 1
        if memory is not None:
            folder = self._v1_folder("memory", name)
            problem = "no memory cgroup could be made (v1)" if folder is None else \
                self._write(folder / "memory.limit_in_bytes", str(memory))
            if folder is not None and (folder / "memory.memsw.limit_in_bytes").exists():
                self._write(folder / "memory.memsw.limit_in_bytes", str(memory))     # no swap either
            self._record("memory", problem, f"cgroup v1 memory.limit_in_bytes = {memory // 1024 ** 2} MiB")
            self.memory_folder = folder
        if cpus is not None:
            folder = self._v1_folder("cpu", name)
            problem = "no cpu cgroup could be made (v1)" if folder is None else (
                self._write(folder / "cpu.cfs_period_us", "100000")
                or self._write(folder / "cpu.cfs_quota_us", str(int(cpus * 100000))))
            self._record("cpu", problem, f"cgroup v1 cpu.cfs_quota_us = {cpus:g} of a CPU")

    def _v1_folder(self, controller: str, name: str) -> Optional[Path]:
        for mount in (CGROUP_ROOT / controller, CGROUP_ROOT / "cpu,cpuacct"):
            if not (mount / "cgroup.procs").is_file():
                continue
            own = mount / _own_path(controller).lstrip("/")
            for parent in (own, mount):          # beside this process, else at the top
                folder = self._make(parent, name)
                if folder is not None:
                    return folder
        return None

    def _record(self, key: str, problem: Optional[str], how: str) -> None:
        if problem:
            self.not_enforced[key] = problem
        else:
            self.enforced[key] = how

    # -- use --------------------------------------------------------------------------------------
    def join(self) -> None:
        """Move the calling process into the cgroup (a preexec_fn: its children follow it)."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak_memory(self) -> Optional[int]:
        if self.memory_folder is None:
            return None
        for name in ("memory.peak", "memory.max_usage_in_bytes"):
            try:
                return int((self.memory_folder / name).read_text())
            except (OSError, ValueError):
                continue
        return None

    def memory_held(self) -> Optional[int]:
        """What the cgroup holds now that the kernel could not drop at the limit: its processes'
        memory and its files in memory file systems, not the page cache of files it read (a first
        grading on a machine whose caches are cold reads torch's libraries: hundreds of MB of it)."""
        if self.memory_folder is None:
            return None
        keys = ("anon", "shmem", "kernel") if self.version == 2 else ("total_rss", "total_shmem")
        try:
            fields = dict(line.split() for line in (self.memory_folder / "memory.stat").read_text().splitlines())
            return sum(int(fields.get(key, 0)) for key in keys)
        except (OSError, ValueError):
            return None

    def close(self) -> None:
        """Kill what is still inside, and remove the cgroup."""
        for folder in reversed(self.folders):
            for _ in range(50):
                try:
                    pids = [int(pid) for pid in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.02)
            try:
                folder.rmdir()
            except OSError:
                pass
        self.folders = []

    def describe(self) -> List[str]:
        lines = [f"enforced: {key}: {how}" for key, how in self.enforced.items()]
        lines += [f"NOT enforced: {key}: {why}" for key, why in self.not_enforced.items()]
        return lines
