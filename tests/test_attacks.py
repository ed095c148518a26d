"""The attack suite: adversarial submissions graded through the real autograder zips.

Each folder of tests/attacks/ is one attack: attack.json says which part it targets,
which graded names must keep full points ("controls") and which must score 0 ("zero"),
and the folder holds the attacking files (under gan/ or diffusion/). The harness builds
the submission (graded files listed in copy_from_solution are copied from the reference
solution; files listed in append_to_solution are the reference file followed by the
attack's file of the same path; other graded files are missing), fills in the
placeholders, grades it with the part's autograder zip exactly as Gradescope would,
and checks the outcome:

- run_autograder ends, in bounded time, and writes a valid Gradescope results.json
  listing every case of the part once, with the manifest's points;
- every case of a control scores full points, every other case scores 0, and the total
  is the controls' points;
- ROOT/source is byte-for-byte unchanged; no process of the sandbox user is left; no
  probe file is left in site-packages; no file an attack wrote is left behind; the
  harness's 127.0.0.1 listener (for attacks that ask for one) was never contacted.

Placeholders in attack sources (always inside string literals, so the files stay valid
Python): @@AUTOGRADER_ROOT@@ (the grading root: the attacker is assumed to know it, as on
Gradescope where it is /autograder), @@SOURCE_FILES_JSON@@ (a JSON list of every file
under ROOT/source: the attacker is assumed to know the layout), @@REPO_ROOT@@ (this
checkout, which exists only on a developer's machine, for attacks that must not count it),
@@PROBE_PORT@@ (the listener's port). attack.json may also give "symlinks" ({submission
path: glob under the grading root}; the first match becomes the link's target),
"probe_port": true, and "max_seconds" (default 120) for the run.

Needs root (the sandbox user is created and switched to by the grader) and the zips of
`make build`. Attack code is only ever run by the grader, inside its sandbox. A failed
attack's grading root is kept (its path is in the failure message); set
HW4_ATTACK_KEEP_ROOTS=1 to keep every root, for reading what the attacks printed.
"""
import glob
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gradescope_run import (REPO, SANDBOX_USER, case_of, function_of, grade_with_zip,  # noqa: E402
                            kill_pids, manifest_of, processes_of, remove_root, sandbox_uid, schema_problems,
                            sha256_tree, start_ticks)

ATTACKS_DIR = Path(__file__).resolve().parent / "attacks"
PARTS = ("part1", "part2")
PACKAGES = {"part1": "gan", "part2": "diffusion"}
GRADE_TIMEOUT = 300          # seconds before the harness kills run_autograder
DEFAULT_MAX_SECONDS = 120    # the solution grades in ~10 s; every "endless" attack runs for 150 s
PROBE_PREFIX = "zz_hw4_attack_probe"
LEFTOVER_PREFIX = "zz_hw4_attack"
SPEC_KEYS = {"part", "description", "copy_from_solution", "append_to_solution", "controls", "zero",
             "symlinks", "probe_port", "max_seconds"}

if os.geteuid() != 0:
    pytest.skip("the attack suite needs root: the grader creates and switches to its sandbox user",
                allow_module_level=True)

pytestmark = pytest.mark.attack

ATTACKS = sorted(path.name for path in ATTACKS_DIR.iterdir() if (path / "attack.json").is_file()) \
    if ATTACKS_DIR.is_dir() else []


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


def load_spec(name: str) -> dict:
    return json.loads((ATTACKS_DIR / name / "attack.json").read_text())


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


def fill_in(root: Path, spec: dict, port) -> None:
    """Replace the placeholders in the submission's files and make the links it asks for."""
    submission = root / "submission"
    source_files = sorted(str(path) for path in (root / "source").rglob("*") if path.is_file())
    tokens = {"@@AUTOGRADER_ROOT@@": str(root), "@@REPO_ROOT@@": str(REPO),
              "@@PROBE_PORT@@": str(port) if port else "", "@@SOURCE_FILES_JSON@@": json.dumps(source_files)}
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


# -- the side checks ---------------------------------------------------------------------------
class Listener:
    """TCP and UDP sockets on one 127.0.0.1 port; says who called (IPv4-mapped IPv6 included)."""

    def __init__(self):
        self.sockets = []
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(16)
        self.port = tcp.getsockname()[1]
        self.sockets.append(("tcp", tcp))
        try:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", self.port))
            self.sockets.append(("udp", udp))
        except OSError:
            pass
        for _, sock in self.sockets:
            sock.setblocking(False)

    def contacts(self) -> list:
        seen = []
        for label, sock in self.sockets:
            while True:
                try:
                    if label.startswith("tcp"):
                        conn, address = sock.accept()
                        conn.close()
                    else:
                        _, address = sock.recvfrom(4096)
                except (BlockingIOError, OSError):
                    break
                seen.append(f"{label} from {address}")
        return seen

    def close(self) -> None:
        for _, sock in self.sockets:
            sock.close()


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
    return sorted(path for folder in site_package_dirs() for path in glob.glob(os.path.join(folder, PROBE_PREFIX + "*")))


def leftovers(root: Path) -> list:
    """Files an attack wrote (named zz_hw4_attack*) still on disk: under the grading root, or in
    a sandbox folder of the grader's (autograder-* in the temporary folder) that was not removed."""
    found = []
    places = [root] + [Path(path) for path in glob.glob(os.path.join(tempfile.gettempdir(), "autograder-*"))
                       if os.path.isdir(path) and not path.endswith("autograder-locks")]
    for place in places:
        for folder, dirnames, filenames in os.walk(place):
            found.extend(os.path.join(folder, name) for name in dirnames + filenames if name.startswith(LEFTOVER_PREFIX))
    return sorted(found)


def sandbox_family() -> dict:
    """{user: uid} of the sandbox user and its numbered spares that exist on this machine."""
    users = {}
    for index in range(32):
        user = SANDBOX_USER if index == 0 else f"{SANDBOX_USER}{index}"
        uid = sandbox_uid(user)
        if uid is not None:
            users[user] = uid
    return users


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


@pytest.mark.parametrize("name", ATTACKS)
def test_attack(name, parts, tmp_path):
    spec = load_spec(name)
    problems = spec_problems(name, spec, parts)
    assert not problems, f"{name}/attack.json: " + "; ".join(problems)
    part_info = parts[spec["part"]]
    submission = build_submission(name, spec, tmp_path / "submission")

    stale = probes_in_site_packages()
    for path in stale:
        os.unlink(path)
    listener = Listener() if spec.get("probe_port") else None
    before = {uid: set(processes_of(uid)) for uid in sandbox_family().values()}
    source_hashes = {}

    def prepare(root):
        fill_in(root, spec, listener.port if listener else None)
        source_hashes.update(sha256_tree(root / "source"))

    root = None
    passed = False
    try:
        results, completed, root = grade_with_zip(part_info["zip"], submission, tmp_path, timeout=GRADE_TIMEOUT,
                                                  prepare=prepare)
        problems = []
        if stale:
            problems.append(f"probe files were left by an earlier run (deleted now): {stale}")
        if completed.timed_out:
            problems.append(f"run_autograder was still running after {GRADE_TIMEOUT} s and was killed")
        max_seconds = spec.get("max_seconds", DEFAULT_MAX_SECONDS)
        if completed.elapsed > max_seconds:
            problems.append(f"grading took {completed.elapsed:.0f} s, more than {max_seconds} s")
        if results is None:
            problems.append("ROOT/results/results.json is missing, not a regular file, or not a JSON object")
        else:
            problems.extend(check_results(results, spec, part_info))
            results_file = root / "results" / "results.json"
            if results_file.lstat().st_uid != 0:
                problems.append(f"results.json is owned by uid {results_file.lstat().st_uid}, not root")

        after = sha256_tree(root / "source")
        changed = sorted(rel for rel in set(after) | set(source_hashes) if after.get(rel) != source_hashes.get(rel))
        if changed:
            problems.append(f"ROOT/source changed: {changed[:10]}")

        # Processes of the sandbox user(s) this run drew (gs-student, or a spare when another grader holds it).
        family = sandbox_family()
        users = completed.sandbox_users or [SANDBOX_USER]
        for user in users:
            uid = family.get(user)
            if uid is None:
                continue
            left = {}
            for _ in range(50):          # a grader that just returned may still be reaping: wait up to 5 s
                # Only processes born while this run's grader lived: once it has released the user,
                # another grader on this machine may take it and start its own worker.
                left = {pid: text for pid, text in processes_of(uid).items()
                        if pid not in before.get(uid, set())
                        and (start_ticks(pid) or 0) <= completed.ended_ticks + 1}
                if not left:
                    break
                time.sleep(0.1)
            if left:
                problems.append(f"{len(left)} processes of {user} are still alive after grading: "
                                + "; ".join(list(left.values())[:5]))
                kill_pids(left, uid)

        probes = probes_in_site_packages()
        for path in probes:
            os.unlink(path)
        if probes:
            problems.append(f"probe files were written into site-packages (deleted now): {probes}")

        left_files = leftovers(root)
        for path in left_files:
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) and not os.path.islink(path) \
                else os.unlink(path)
        if left_files:
            problems.append(f"files written by the attack were left behind (deleted now): {left_files[:5]}")

        if listener is not None:
            contacts = listener.contacts()
            if contacts:
                problems.append(f"the sandbox reached the harness's listener on 127.0.0.1: {contacts}")

        if problems:
            summary = {}
            for test in (results or {}).get("tests", []) if isinstance((results or {}).get("tests"), list) else []:
                if not isinstance(test, dict) or not isinstance(test.get("name"), str):
                    continue
                earned, possible = summary.get(function_of(test), (0.0, 0.0))
                summary[function_of(test)] = (earned + test["score"], possible + test["max_score"])
            pytest.fail(f"attack {name} ({spec['description']}):\n- " + "\n- ".join(problems)
                        + f"\nscores: {summary}\nsandbox users: {completed.sandbox_users}; "
                        f"grading took {completed.elapsed:.1f} s; grading root kept at {root}\n"
                        f"--- end of run_autograder's output ---\n{completed.stdout[-3000:]}",
                        pytrace=False)
        passed = True
    finally:
        if listener is not None:
            listener.close()
        if root is not None and passed and not os.environ.get("HW4_ATTACK_KEEP_ROOTS"):
            remove_root(root)
