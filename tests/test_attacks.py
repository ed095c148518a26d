"""The attack suite: adversarial submissions graded through the real autograder zips.

Each folder of tests/attacks/ is one attack: attack.json says which part it targets,
which graded names must keep full points ("controls") and which must score 0 ("zero"),
and the folder holds the attacking files (under gan/ or diffusion/). The harness builds
the submission (graded files listed in copy_from_solution are copied from the reference
solution; files listed in append_to_solution are the reference file followed by the
attack's file of the same path; other graded files are missing), fills in the
placeholders, grades it with the part's autograder zip exactly as Gradescope would
(tests/gradescope_run.py, on top of autograder/tools/through_zip.py), and checks the outcome:

- run_autograder ends, in bounded time, and writes a valid Gradescope results.json
  listing every case of the part once, with the manifest's points, owned by the grading
  user, and saying the isolation mode the run was meant to have;
- every case of a control scores full points, every other case scores 0, and the total
  is the controls' points;
- ROOT/source is byte-for-byte unchanged; no process of the sandbox user (of the grading
  user, when it is the sandbox) is left; no probe file is left in site-packages; no file an
  attack wrote (zz_hw4_attack*) is left under the grading root, in the run's scratch
  folders (which must be gone), in the world-writable folders, the grading user's home,
  this checkout, site-packages or the grading root's parent, and no System V IPC object
  with the keys of the run's tag in the machine's IPC namespace; the scratch folders are gone;
  the harness's listeners (TCP and UDP on 127.0.0.1 and ::1, AF_UNIX abstract and path
  sockets) were never contacted; the victim process was neither killed nor stopped, and
  its secret shows nowhere the harness can see.

Three modes, as a pytest parameter:
- "root": run_autograder as root, isolation auto (namespaces+user where bubblewrap works);
- "unprivileged": as an ordinary user with a home folder (hw4-atk-ta, created if missing,
  or a numbered spare when another grading of this harness holds it), who owns the grading
  root; isolation auto (namespaces), so the sandbox runs as that same user;
- "user-only": as root with --isolation user: Gradescope's container, no namespaces.
An attack whose attack.json names another as "variant_of" (the same defence, tried another way)
runs only with HW4_ATTACK_MODES=all. Every other attack runs as root. Those whose attack.json
says "isolation": "core" (the attacks that isolation itself stops: theft, the home folder,
writes, other processes, network, leftovers, ...) also run as an unprivileged grader in every
test run; with HW4_ATTACK_MODES=all (`make attacks`)
they and those that say "isolation": true run in all three modes. `make test` leaves user-only
mode to `make attacks` to stay within its time: it is root's own fallback, and
test_isolation.py checks that the fallback is chosen and grades the solution in it.
An attack that only namespaces can stop says why in "needs_namespaces" and is skipped in
user-only mode (and in root mode where the machine has no namespaces).

Placeholders in attack sources (always inside string literals, so the files stay valid
Python): @@AUTOGRADER_ROOT@@ (the grading root: the attacker is assumed to know it, as on
Gradescope where it is /autograder), @@SOURCE_FILES_JSON@@ (a JSON list of every file
under ROOT/source: the attacker is assumed to know the layout), @@REPO_ROOT@@ (this
checkout), @@PROBE_PORT@@ (the listeners' port), @@HOME@@ (the grading user's home folder),
@@TAG@@ (a token unique to this run, for names the attack writes: zz_hw4_attack_@@TAG@@*),
@@VICTIM_PID@@, @@UNIX_SOCKET@@ (the abstract AF_UNIX name, without its leading NUL),
@@UNIX_SOCKET_PATH@@, @@PLANTED_CHECKOUT@@ (the harness's readable copy of a checkout).
attack.json may also give "symlinks" ({submission path: glob under the grading root}; the
first match becomes the link's target), "probe_port", "unix_listener", "victim",
"plant_home", "plant_checkout" (true: the harness provides them) and "max_seconds"
(default 120) for the run.

Needs root (the sandbox user is created and switched to by the grader, the TA user by the
harness). Attack code is only ever run by the grader, inside its sandbox. A failed attack's
grading root is kept (its path is in the failure message); set HW4_ATTACK_KEEP_ROOTS=1 to
keep every root, for reading what the attacks printed.
"""
import glob
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from functools import lru_cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gradescope_run import (REPO, SANDBOX_USER, case_of, function_of, grade_with_zip,  # noqa: E402
                            isolation_mode_of, kill_pids, manifest_of, namespaces_work_as, process_state,
                            processes_of, remove_root, sandbox_uid, schema_problems, sha256_tree, start_ticks,
                            ta_user, taken_by_other_gradings)

ATTACKS_DIR = Path(__file__).resolve().parent / "attacks"
PARTS = ("part1", "part2")
PACKAGES = {"part1": "gan", "part2": "diffusion"}
MODES = ("root", "unprivileged", "user-only")
GRADE_TIMEOUT = 300          # seconds before the harness kills run_autograder
DEFAULT_MAX_SECONDS = 120    # the solution grades in ~10 s; every "endless" attack runs for 150 s
PROBE_PREFIX = "zz_hw4_attack_probe"
LEFTOVER_PREFIX = "zz_hw4_attack"
TAGGED = re.compile(r"^zz_hw4_attack_(t[0-9a-f]{10})")      # a name another run of this harness wrote
# The places any user may write to outside a sandbox (the grader's "user" mode sweeps them).
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/var/crash", "/dev/mqueue")
SYSTEM_PLACES = ("/", "/etc", "/usr/local", "/usr/local/lib")     # where an attack run as root could write
SPEC_KEYS = {"part", "description", "copy_from_solution", "append_to_solution", "controls", "zero",
             "symlinks", "probe_port", "max_seconds", "isolation", "needs_namespaces", "victim", "plant_home",
             "plant_checkout", "unix_listener", "variant_of"}
VICTIM_NAME = "hw4atk-victim"
VICTIM_SECONDS = GRADE_TIMEOUT + 300

if os.geteuid() != 0:
    pytest.skip("the attack suite needs root: the grader creates and switches to its sandbox user",
                allow_module_level=True)

pytestmark = pytest.mark.attack

ATTACKS = sorted(path.name for path in ATTACKS_DIR.iterdir() if (path / "attack.json").is_file()) \
    if ATTACKS_DIR.is_dir() else []


def load_spec(name: str) -> dict:
    return json.loads((ATTACKS_DIR / name / "attack.json").read_text())


def _spec_or_empty(name: str) -> dict:
    try:
        spec = load_spec(name)
    except ValueError:
        return {}           # test_attack_fixture_is_well_formed says what is wrong
    return spec if isinstance(spec, dict) else {}


ALL_MODES = os.environ.get("HW4_ATTACK_MODES") == "all"


MODES_NOW = MODES if ALL_MODES else ("root", "unprivileged")     # the modes of this run


def attack_runs():
    """(attack, mode) pairs: every attack as root; those marked "isolation": "core" as an
    unprivileged grader too; with HW4_ATTACK_MODES=all, those and the ones marked "isolation":
    true in all three modes."""
    runs = []
    for name in ATTACKS:
        spec = _spec_or_empty(name)
        if spec.get("variant_of") and not ALL_MODES:
            continue            # the defence it tries is tried by the attack it names, in every run
        every_mode = spec.get("isolation") == "core" or (spec.get("isolation") is True and ALL_MODES)
        for mode in (MODES_NOW if every_mode else ("root",)):
            marks = []
            if mode == "user-only" and spec.get("needs_namespaces"):
                marks.append(pytest.mark.skip(reason=f"only namespaces stop it: {spec['needs_namespaces']}"))
            runs.append(pytest.param(name, mode, id=f"{name}-{mode}", marks=marks))
    return runs


# -- what the zips say about each part ---------------------------------------------------
@pytest.fixture(scope="module")
def parts(autograder_zips):
    """{part: {"zip", "manifest", "cases", "files": {graded file: [names]}}} from zips packed, for
    this session, from the committed reference data (so a fresh clone needs no `make build`)."""
    info = {}
    for part in PARTS:
        manifest = manifest_of(autograder_zips[part])
        files = {}
        for case in manifest["cases"]:
            names = files.setdefault(case["file"], [])
            if case["function"] not in names:
                names.append(case["function"])
        info[part] = {"zip": autograder_zips[part], "manifest": manifest, "cases": manifest["cases"], "files": files}
    return info


def attack_files(name: str):
    """Relative paths of the attacking files in the folder (attack.json excluded)."""
    folder = ATTACKS_DIR / name
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*")
                  if path.is_file() and path.name != "attack.json" and "__pycache__" not in path.parts)


def spec_problems(name: str, spec: dict, parts: dict) -> list:
    problems = []
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    part = spec.get("part")
    if part not in parts:
        return problems + [f"part is {part!r}"]
    files = parts[part]["files"]
    names = [n for file_names in files.values() for n in file_names]
    controls, zero = spec.get("controls", []), spec.get("zero", [])
    for key, values in (("controls", controls), ("zero", zero)):
        wrong = [n for n in values if n not in names]
        if wrong:
            problems.append(f"{key} names {wrong} are not graded in {part}")
        if len(set(values)) != len(values):
            problems.append(f"{key} repeats a name")
    if set(controls) & set(zero):
        problems.append(f"{sorted(set(controls) & set(zero))} are both controls and zero")
    if not zero:
        problems.append("zero is empty: an attack must attack something")
    if not spec.get("description"):
        problems.append("no description")
    for key in ("probe_port", "victim", "plant_home", "plant_checkout", "unix_listener"):
        if key in spec and not isinstance(spec[key], bool):
            problems.append(f"{key} is {spec[key]!r}, not true or false")
    if spec.get("isolation", False) not in (True, False, "core"):
        problems.append(f"isolation is {spec['isolation']!r}, not true, false or \"core\"")
    if "variant_of" in spec:
        other = _spec_or_empty(spec["variant_of"]) if spec["variant_of"] in ATTACKS else None
        if other is None:
            problems.append(f"variant_of names {spec['variant_of']!r}, which is not an attack here")
        elif other.get("variant_of"):
            problems.append(f"variant_of names {spec['variant_of']!r}, itself a variant: name the attack that runs")
        elif other.get("isolation", False) is False and spec.get("isolation", False) is not False:
            problems.append("a variant that needs the isolation modes must name one that runs in them")
    if "needs_namespaces" in spec:
        if not isinstance(spec["needs_namespaces"], str) or not spec["needs_namespaces"].strip():
            problems.append("needs_namespaces must say why, in words")
        if not spec.get("isolation"):
            problems.append("needs_namespaces without isolation: the attack runs in one mode only")
    given = attack_files(name)
    package = PACKAGES[part] + "/"
    if any(not rel.startswith(package) for rel in given):
        problems.append(f"attack files outside {package}: {given}")
    for rel in spec.get("copy_from_solution", []):
        if rel not in files:
            problems.append(f"copy_from_solution {rel} is not a graded file")
        if rel in given:
            problems.append(f"{rel} is both copied from the solution and given by the attack")
        if not (REPO / "solution" / part / rel).is_file():
            problems.append(f"solution/{part}/{rel} does not exist")
    for rel in spec.get("append_to_solution", []):
        if rel not in given:
            problems.append(f"append_to_solution {rel} is not in the attack folder")
        if not (REPO / "solution" / part / rel).is_file():
            problems.append(f"solution/{part}/{rel} does not exist")
    for rel in spec.get("symlinks", {}):
        if rel in given or rel in spec.get("copy_from_solution", []):
            problems.append(f"{rel} is a link and also a file")
    # A control must come whole from the solution: its file copied, or appended to.
    intact = set(spec.get("copy_from_solution", [])) | set(spec.get("append_to_solution", []))
    for control in controls:
        home = [rel for rel, file_names in files.items() if control in file_names]
        if home and home[0] not in intact:
            problems.append(f"control {control} lives in {home[0]}, which is neither copied nor appended to")
    return problems


def test_attack_suite_is_large_enough():
    assert len(ATTACKS) >= 28, f"only {len(ATTACKS)} attacks in {ATTACKS_DIR}"


@pytest.mark.parametrize("name", ATTACKS)
def test_attack_fixture_is_well_formed(name, parts):
    problems = spec_problems(name, load_spec(name), parts)
    assert not problems, f"{name}/attack.json: " + "; ".join(problems)


# -- building the submission ---------------------------------------------------------------
def build_submission(name: str, spec: dict, folder: Path) -> Path:
    part = spec["part"]
    solution = REPO / "solution" / part
    attack = ATTACKS_DIR / name
    folder.mkdir(parents=True)
    for rel in spec.get("copy_from_solution", []):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(solution / rel, folder / rel)
    appended = set(spec.get("append_to_solution", []))
    for rel in attack_files(name):
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel in appended:
            text = (solution / rel).read_text().rstrip("\n") + "\n\n" + (attack / rel).read_text()
            (folder / rel).write_text(text)
        else:
            shutil.copyfile(attack / rel, folder / rel)
    return folder


def fill_in(root: Path, spec: dict, tokens: dict, owner=None) -> None:
    """Replace the placeholders in the submission's files and make the links it asks for."""
    submission = root / "submission"
    source_files = sorted(str(path) for path in (root / "source").rglob("*") if path.is_file())
    tokens = dict(tokens, **{"@@AUTOGRADER_ROOT@@": str(root), "@@REPO_ROOT@@": str(REPO),
                             "@@SOURCE_FILES_JSON@@": json.dumps(source_files)})
    for path in submission.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for token, value in tokens.items():
            text = text.replace(token, value)
        path.write_text(text)
    for rel, pattern in spec.get("symlinks", {}).items():
        matches = sorted(root.glob(pattern))
        assert matches, f"no file of the grading root matches {pattern!r} for the link {rel}"
        link = submission / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(matches[0])
    if owner is not None:
        for path in [submission, *submission.rglob("*")]:
            os.lchown(path, owner.pw_uid, owner.pw_gid)


# -- what the harness provides for an attack -----------------------------------------------------
class Listener:
    """TCP and UDP sockets on one port of 127.0.0.1 and of ::1 (where IPv6 works); says who called."""

    def __init__(self):
        for _ in range(50):
            self.sockets = []
            try:
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.sockets.append(("tcp 127.0.0.1", tcp))
                tcp.bind(("127.0.0.1", 0))
                tcp.listen(16)
                self.port = tcp.getsockname()[1]
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.sockets.append(("udp 127.0.0.1", udp))
                udp.bind(("127.0.0.1", self.port))
                if socket.has_ipv6 and _ipv6_loopback():
                    for label, kind in (("tcp ::1", socket.SOCK_STREAM), ("udp ::1", socket.SOCK_DGRAM)):
                        sock = socket.socket(socket.AF_INET6, kind)
                        self.sockets.append((label, sock))
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                        sock.bind(("::1", self.port))
                        if kind == socket.SOCK_STREAM:
                            sock.listen(16)
                break
            except OSError:
                self.close()
        else:
            raise RuntimeError("no port free on both 127.0.0.1 and ::1")
        for _, sock in self.sockets:
            sock.setblocking(False)

    def contacts(self) -> list:
        return _contacts(self.sockets)

    def close(self) -> None:
        for _, sock in self.sockets:
            sock.close()


@lru_cache(maxsize=1)
def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class UnixListener:
    """AF_UNIX sockets: stream and datagram ones in the abstract namespace (a name, no file:
    any process of the same network namespace can reach it, whatever its user), and a stream
    one at a path in the temporary folder that anyone may connect to."""

    def __init__(self, tag: str):
        self.name = f"hw4atk-{tag}"
        self.path = os.path.join("/tmp", f"hw4atk-{tag}.sock")
        self.sockets = []
        for label, kind, address in (("abstract stream", socket.SOCK_STREAM, "\0" + self.name),
                                     ("abstract datagram", socket.SOCK_DGRAM, "\0" + self.name + "-dgram"),
                                     ("path stream", socket.SOCK_STREAM, self.path)):
            sock = socket.socket(socket.AF_UNIX, kind)
            self.sockets.append((label, sock))
            sock.bind(address)
            if kind == socket.SOCK_STREAM:
                sock.listen(16)
            sock.setblocking(False)
        os.chmod(self.path, 0o777)

    def contacts(self) -> list:
        return _contacts(self.sockets)

    def close(self) -> None:
        for _, sock in self.sockets:
            sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _contacts(sockets) -> list:
    seen = []
    for label, sock in sockets:
        while True:
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, address = sock.accept()
                    conn.close()
                else:
                    _, address = sock.recvfrom(4096)
            except OSError:
                break
            seen.append(f"{label} from {address!r}")
    return seen


class Victim:
    """A sleeping process of the grading user, named hw4atk-victim, with a secret in its
    environment: an attack must neither signal it nor read it."""

    CODE = ("import ctypes, sys, time\n"
            "ctypes.CDLL(None).prctl(15, b'" + VICTIM_NAME + "', 0, 0, 0)\n"
            "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
            "time.sleep(float(sys.argv[2]))\n")

    def __init__(self, user: pwd.struct_passwd, tag: str):
        self.secret = "hw4victimsecret" + secrets.token_hex(16)
        as_user = {} if user.pw_uid == 0 else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        env = {"PATH": "/usr/bin:/bin", "HOME": user.pw_dir, "HW4_VICTIM_SECRET": self.secret}
        self.process = subprocess.Popen([sys.executable, "-I", "-c", self.CODE, f"{VICTIM_NAME}-{tag}",
                                         str(VICTIM_SECONDS)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd="/", start_new_session=True,
                                        **as_user)
        ready = self.process.stdout.readline()
        self.pid, self.uid = self.process.pid, user.pw_uid
        if ready.strip() != b"ready":
            self.stop()
            raise RuntimeError("the victim process did not start")
        self.started = start_ticks(self.pid)

    def problems(self, texts: dict) -> list:
        """What an attack did to it; `texts`: {where: text the harness can see}."""
        found = []
        if self.process.poll() is not None or start_ticks(self.pid) != self.started:
            found.append(f"the victim process {self.pid} of the grading user was killed "
                         f"(exit status {self.process.returncode})")
        elif process_state(self.pid) in ("T", "t"):
            found.append(f"the victim process {self.pid} of the grading user was stopped")
        leaked = [where for where, text in texts.items() if self.secret in text]
        if leaked:
            found.append(f"the victim's secret (from its environment) shows in {leaked}")
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.process.stdout.close()


def plant_solution_copy(folder: Path, part: str, owner: pwd.struct_passwd, reference: bool = False) -> Path:
    """A readable copy of the graded files of the solution (the files a checkout holds, or a
    TA's working copy): folder/solution/<part>/<package>/*.py, and, with `reference`,
    folder/reference_data/<part>/ (manifest and expected outputs). Owned by `owner`."""
    package = PACKAGES[part]
    target = folder / "solution" / part / package
    target.mkdir(parents=True)
    for path in sorted((REPO / "solution" / part / package).glob("*.py")):
        shutil.copyfile(path, target / path.name)
    if reference:
        data = folder / "reference_data" / part
        data.mkdir(parents=True)
        shutil.copyfile(REPO / "reference_data" / part / "manifest.json", data / "manifest.json")
        shutil.copytree(REPO / "reference_data" / part / "expected", data / "expected")
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, owner.pw_uid, owner.pw_gid)
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return folder


# -- the side checks ---------------------------------------------------------------------------
def site_package_dirs() -> list:
    import site
    import sysconfig
    folders = set(site.getsitepackages())
    folders.update(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    patterns = [str(REPO / ".venv" / "lib" / "python*" / "site-packages"), "/usr/lib/python3*/site-packages",
                "/usr/lib/python3/dist-packages", "/usr/local/lib/python3*/dist-packages",
                "/usr/local/lib/python3*/site-packages", "/usr/lib/python3*/dist-packages"]
    for pattern in patterns:
        folders.update(glob.glob(pattern))
    return sorted(folder for folder in folders if os.path.isdir(folder))


def probes_in_site_packages() -> list:
    return sorted(path for folder in site_package_dirs()
                  for path in glob.glob(os.path.join(folder, PROBE_PREFIX + "*")))


@lru_cache(maxsize=1)
def world_writable_dirs(max_depth: int = 4) -> tuple:
    """Folders any user may write to, within `max_depth` levels of / (read once per session)."""
    found = []
    skip = {"/proc", "/sys", "/dev/pts"}
    stack = [("/", 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.path in skip:
                    continue
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if mode & stat.S_IWOTH:
                found.append(entry.path)
            if depth + 1 < max_depth and mode & stat.S_IXOTH and not entry.name.startswith("autograder-"):
                stack.append((entry.path, depth + 1))
    return tuple(sorted(found))


def _tagged_by_another_run(name: str, tag: str) -> bool:
    match = TAGGED.match(name)
    return bool(match) and match.group(1) != tag


def leftovers(run, home: str, tag: str) -> list:
    """Files an attack wrote (named zz_hw4_attack*) still on disk: anywhere under the grading root
    or the run's scratch folders; at the top of the world-writable folders, the grading user's
    home, this checkout, site-packages, and the folders holding the grading root and the scratch
    folders (there, names another run of this harness wrote, with its own tag, are its business)."""
    found = []
    for place in [run.root] + [Path(folder) for folder in run.scratch_folders]:
        for folder, dirnames, filenames in os.walk(place):
            found.extend(os.path.join(folder, name) for name in dirnames + filenames
                         if name.startswith(LEFTOVER_PREFIX))
    shared = set(WORLD_WRITABLE) | set(SYSTEM_PLACES) | set(world_writable_dirs()) | set(site_package_dirs())
    shared |= {home, str(REPO), str(run.root.parent)} | {os.path.dirname(folder) for folder in run.scratch_folders}
    for place in sorted(shared):
        try:
            names = os.listdir(place)
        except OSError:
            continue
        found.extend(os.path.join(place, name) for name in names
                     if name.startswith(LEFTOVER_PREFIX) and not name.startswith(PROBE_PREFIX)
                     and not _tagged_by_another_run(name, tag))
    return sorted(set(found))


def ipc_key_of(tag: str) -> int:
    """The first System V IPC key an attack derives from its tag (then +1, +2)."""
    return int(tag[1:8], 16) << 2


def ipc_leftovers(tag: str) -> list:
    """System V IPC objects (of this machine's IPC namespace) with the keys of this run's tag:
    removed, and described."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    keys = {ipc_key_of(tag) + offset for offset in range(3)}
    remove = {"shm": lambda ident: libc.shmctl(ident, 0, None), "msg": lambda ident: libc.msgctl(ident, 0, None),
              "sem": lambda ident: libc.semctl(ident, 0, 0)}          # IPC_RMID
    found = []
    for kind, rm in remove.items():
        try:
            with open(f"/proc/sysvipc/{kind}") as handle:
                rows = [line.split() for line in handle.readlines()[1:]]
        except OSError:
            continue
        for row in rows:
            if len(row) > 1 and row[0].lstrip("-").isdigit() and int(row[0]) in keys:
                found.append(f"System V {kind} key {int(row[0]):#x} id {row[1]}")
                rm(int(row[1]))
    return found


def remove_path(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        for folder, dirnames, _ in os.walk(path):           # folders an attack made unreadable
            for name in dirnames:
                try:
                    os.chmod(os.path.join(folder, name), 0o700)
                except OSError:
                    pass
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def sandbox_family() -> dict:
    """{user: uid} of the sandbox user and its numbered spares that exist on this machine."""
    users = {}
    for index in range(32):
        user = SANDBOX_USER if index == 0 else f"{SANDBOX_USER}{index}"
        uid = sandbox_uid(user)
        if uid is not None:
            users[user] = uid
    return users


@lru_cache(maxsize=1)
def namespaces_why_not():
    """None when an unprivileged user can make namespaces here (as the grader's sandbox user or a TA
    would), else why not."""
    nobody = pwd.getpwnam("nobody") if _user_exists("nobody") else None
    return namespaces_work_as(nobody.pw_uid, nobody.pw_gid) if nobody else "no unprivileged user to try as"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@contextmanager
def grading_user(mode: str):
    """(the user run_autograder runs as, or None for root; that user's passwd entry)."""
    if mode == "unprivileged":
        with ta_user() as entry:
            yield entry.pw_name, entry
    else:
        yield None, pwd.getpwuid(0)


def expected_isolation(mode: str) -> str:
    if mode == "user-only":
        return "user"
    if mode == "unprivileged":
        return "namespaces"
    return "namespaces+user" if namespaces_why_not() is None else "user"


def arguments_for(mode: str) -> tuple:
    return ("--isolation", "user") if mode == "user-only" else ()


# -- the test ------------------------------------------------------------------------------------
def _first_lines(text, lines=2, limit=300) -> str:
    return " | ".join(str(text).splitlines()[:lines])[:limit]


def check_results(results: dict, spec: dict, part_info: dict) -> list:
    problems = schema_problems(results)
    if problems:
        return problems
    cases = part_info["cases"]
    by_id = {case["id"]: case for case in cases}
    listed = [case_of(test) for test in results["tests"]]
    missing = sorted(set(by_id) - set(listed))
    extra = sorted(set(listed) - set(by_id))
    if missing:
        problems.append(f"{len(missing)} cases are not listed: {missing[:5]}")
    if extra:
        problems.append(f"tests that are not cases of the part: {extra[:5]}")
    if len(listed) != len(set(listed)):
        problems.append("a case is listed twice")
    controls, zero = set(spec["controls"]), set(spec["zero"])
    wrong = {}                      # function -> [tests that scored what they should not]
    for test in results["tests"]:
        case = by_id.get(case_of(test))
        function = function_of(test)
        label = f"{test['name']!r}"
        if case is not None:
            if test["max_score"] != case["points"]:
                problems.append(f"{label}: max_score {test['max_score']} but the manifest gives {case['points']}")
            if function != case["function"]:
                problems.append(f"{label}: reported as {function}, the manifest says {case['function']}")
        if function in controls:
            if test["score"] != test["max_score"] or test["status"] != "passed":
                wrong.setdefault(function, []).append(test)
        elif test["score"] != 0:
            wrong.setdefault(function, []).append(test)
    for function, tests in wrong.items():
        kind = "control" if function in controls else "zero" if function in zero else "non-control"
        want_text = "full points" if kind == "control" else "0"
        first = tests[0]
        problems.append(f"{kind} {function}: {len(tests)} case(s) did not score {want_text}, e.g. {first['name']!r} "
                        f"got {first['score']}/{first['max_score']}: {_first_lines(first.get('output', ''))}")
    want = sum(case["points"] for case in cases if case["function"] in controls)
    if abs(results["score"] - want) > 1e-9:
        problems.append(f"total score {results['score']}, but the controls are worth {want}")
    return problems


def processes_left(run, mode: str, ta, before: dict, spared=()) -> list:
    """Processes of the sandbox user(s) this run drew (of the TA user, in unprivileged mode, where
    the sandbox runs as the grading user) born while the run lived: killed, and described."""
    problems = []
    if mode == "unprivileged":
        users = {ta.pw_name: ta.pw_uid}
    else:
        family = sandbox_family()
        users = {user: family[user] for user in (run.sandbox_users or [SANDBOX_USER]) if user in family}
    for user, uid in users.items():
        left = {}
        for _ in range(50):          # a grader that just returned may still be reaping: wait up to 5 s
            # Only processes born while this run's grader lived: once it has released the user,
            # another grader on this machine may take it and start its own worker.
            left = {pid: text for pid, text in processes_of(uid).items()
                    if pid not in before.get(uid, set()) and pid not in spared
                    and (start_ticks(pid) or 0) <= run.ended_ticks + 1}
            if left and mode != "unprivileged":     # the grader releases the user a moment before it ends
                others = taken_by_other_gradings(user)
                left = {pid: text for pid, text in left.items() if pid not in others}
            if not left:
                break
            time.sleep(0.1)
        if left:
            problems.append(f"{len(left)} processes of {user} are still alive after grading: "
                            + "; ".join(list(left.values())[:5]))
            kill_pids(left, uid)
    return problems


@pytest.mark.parametrize("name, mode", attack_runs())
def test_attack(name, mode, parts, tmp_path):
    spec = load_spec(name)
    problems = spec_problems(name, spec, parts)
    assert not problems, f"{name}/attack.json: " + "; ".join(problems)
    if spec.get("needs_namespaces") and expected_isolation(mode) == "user":
        pytest.skip(f"only namespaces stop it ({spec['needs_namespaces']}), and this machine has none: "
                    f"{namespaces_why_not()}")
    if mode == "unprivileged" and namespaces_why_not() is not None:
        pytest.skip(f"an unprivileged grader needs namespaces, and this machine has none: {namespaces_why_not()}")
    part_info = parts[spec["part"]]
    submission = build_submission(name, spec, tmp_path / "submission")
    tag = "t" + secrets.token_hex(5)
    with ExitStack() as stack:
        user, owner = stack.enter_context(grading_user(mode))
        run_attack(name, mode, spec, part_info, submission, tmp_path, tag, user, owner, stack)


def run_attack(name, mode, spec, part_info, submission, tmp_path, tag, user, owner, stack) -> None:
    home = owner.pw_dir
    if spec.get("plant_home"):
        home_mode = os.stat(home).st_mode
        if mode == "user-only" and home_mode & 0o005 == 0o005:
            pytest.skip(f"the grading user's home {home} is readable by every user: only namespaces hide it")
    stale = probes_in_site_packages()
    for path in stale:
        os.unlink(path)
    tokens = {"@@HOME@@": home, "@@TAG@@": tag, "@@PROBE_PORT@@": "", "@@VICTIM_PID@@": "",
              "@@UNIX_SOCKET@@": "", "@@UNIX_SOCKET_PATH@@": "", "@@PLANTED_CHECKOUT@@": ""}
    listener = unix_listener = victim = None
    if spec.get("probe_port"):
        listener = Listener()
        stack.callback(listener.close)
        tokens["@@PROBE_PORT@@"] = str(listener.port)
    if spec.get("unix_listener"):
        unix_listener = UnixListener(tag)
        stack.callback(unix_listener.close)
        tokens.update({"@@UNIX_SOCKET@@": unix_listener.name, "@@UNIX_SOCKET_PATH@@": unix_listener.path})
    if spec.get("plant_home"):
        copy = plant_solution_copy(Path(home) / f"hw4-attack-home-{tag}", spec["part"], owner)
        stack.callback(remove_path, str(copy))
    if spec.get("plant_checkout"):
        parent = Path("/opt") if os.path.isdir("/opt") else Path("/srv")
        parent.mkdir(exist_ok=True)
        copy = plant_solution_copy(parent / f"hw4-attack-checkout-{tag}", spec["part"], pwd.getpwuid(0),
                                   reference=True)
        stack.callback(remove_path, str(copy))
        tokens["@@PLANTED_CHECKOUT@@"] = str(copy)
    if spec.get("victim"):
        victim = Victim(owner, tag)
        stack.callback(victim.stop)
        tokens["@@VICTIM_PID@@"] = str(victim.pid)

    watched_uids = [owner.pw_uid] if mode == "unprivileged" else list(sandbox_family().values())
    before = {uid: set(processes_of(uid)) for uid in watched_uids}
    source_hashes = {}

    def prepare(root):
        fill_in(root, spec, tokens, owner if user else None)
        source_hashes.update(sha256_tree(root / "source"))

    run = grade_with_zip(part_info["zip"], submission, tmp_path / "grading", timeout=GRADE_TIMEOUT,
                         prepare=prepare, user=user, args=arguments_for(mode))
    root = run.root
    passed = False
    try:
        results = run.results
        problems = []
        if stale:
            problems.append(f"probe files were left by an earlier run (deleted now): {stale}")
        if run.timed_out:
            problems.append(f"run_autograder was still running after {GRADE_TIMEOUT} s and was killed")
        max_seconds = spec.get("max_seconds", DEFAULT_MAX_SECONDS)
        if run.elapsed > max_seconds:
            problems.append(f"grading took {run.elapsed:.0f} s, more than {max_seconds} s")
        if results is None:
            problems.append("ROOT/results/results.json is missing, not a regular file, or not a JSON object")
        else:
            problems.extend(check_results(results, spec, part_info))
            results_file = root / "results" / "results.json"
            if results_file.lstat().st_uid != owner.pw_uid:
                problems.append(f"results.json is owned by uid {results_file.lstat().st_uid}, not the grading "
                                f"user's ({owner.pw_name}, uid {owner.pw_uid})")
            got, want = isolation_mode_of(results), expected_isolation(mode)
            if got != want:
                problems.append(f"results.json says isolation {got!r}, {mode} mode expects {want!r}")

        after = sha256_tree(root / "source")
        changed = sorted(rel for rel in set(after) | set(source_hashes) if after.get(rel) != source_hashes.get(rel))
        if changed:
            problems.append(f"ROOT/source changed: {changed[:10]}")

        problems.extend(processes_left(run, mode, owner, before, spared={victim.pid} if victim else ()))

        probes = probes_in_site_packages()
        for path in probes:
            os.unlink(path)
        if probes:
            problems.append(f"probe files were written into site-packages (deleted now): {probes}")

        left_files = leftovers(run, home, tag)
        for path in left_files:
            remove_path(path)
        if left_files:
            problems.append(f"files written by the attack were left behind (deleted now): {left_files[:5]}")
        left_ipc = ipc_leftovers(tag)
        if left_ipc:
            problems.append(f"System V IPC objects made by the attack were left behind (removed now): {left_ipc}")
        kept = [folder for folder in run.scratch_folders if os.path.lexists(folder)]
        for folder in kept:
            remove_path(folder)
        if kept:
            problems.append(f"the run's scratch folders were not removed (deleted now): {kept}")

        if listener is not None:
            contacts = listener.contacts()
            if contacts:
                problems.append(f"the sandbox reached the harness's network listener: {contacts}")
        if unix_listener is not None:
            contacts = unix_listener.contacts()
            if contacts:
                problems.append(f"the sandbox reached the harness's AF_UNIX listener: {contacts}")
        if victim is not None:
            seen = {"run_autograder's output": run.output}
            try:
                seen["results.json"] = (root / "results" / "results.json").read_text(errors="replace")
            except OSError:
                pass
            problems.extend(victim.problems(seen))

        if problems:
            summary = {}
            for test in (results or {}).get("tests", []) if isinstance((results or {}).get("tests"), list) else []:
                if not isinstance(test, dict) or not isinstance(test.get("name"), str):
                    continue
                earned, possible = summary.get(function_of(test), (0.0, 0.0))
                summary[function_of(test)] = (earned + test["score"], possible + test["max_score"])
            pytest.fail(f"attack {name}, {mode} mode ({spec['description']}):\n- " + "\n- ".join(problems)
                        + f"\nscores: {summary}\nsandbox users: {run.sandbox_users}; scratch folders: "
                        f"{run.scratch_folders}; grading took {run.elapsed:.1f} s; grading root kept at {root}\n"
                        f"--- end of run_autograder's output ---\n{run.output[-3000:]}",
                        pytrace=False)
        passed = True
    finally:
        if passed and not os.environ.get("HW4_ATTACK_KEEP_ROOTS"):
            remove_root(root)


# -- honest code -----------------------------------------------------------------------------------
# As root, test_grading.py grades the solution the same way in every run.
@pytest.mark.parametrize("mode", MODES if ALL_MODES else ("unprivileged",))
@pytest.mark.parametrize("part", PARTS)
def test_solution_keeps_full_marks(part, mode, parts, tmp_path):
    """The reference solution, graded in each mode on this machine (which holds a world-readable
    checkout of the repository), earns every point, with the isolation the mode expects."""
    if mode == "unprivileged" and namespaces_why_not() is not None:
        pytest.skip(f"an unprivileged grader needs namespaces, and this machine has none: {namespaces_why_not()}")
    submission = tmp_path / "submission"
    shutil.copytree(REPO / "solution" / part, submission, ignore=shutil.ignore_patterns("*.ipynb", "__pycache__"))
    with grading_user(mode) as (user, owner):
        run = grade_with_zip(parts[part]["zip"], submission, tmp_path / "grading", timeout=GRADE_TIMEOUT,
                             user=user, args=arguments_for(mode))
    try:
        assert not schema_problems(run.results), run.output[-3000:]
        lost = [(test["name"], _first_lines(test.get("output", ""))) for test in run.results["tests"]
                if test["score"] != test["max_score"]]
        assert not lost, f"{len(lost)} cases lost points: {lost[:5]}"
        assert isolation_mode_of(run.results) == expected_isolation(mode)
    finally:
        remove_root(run.root)
