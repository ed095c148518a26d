
# ---- attack, appended to the reference schedules.py by the harness ---------------------
# Attack: leave things behind in the places every user may write to, for later cases (and
# after grading). linear_beta_schedule (graded first) answers right, and leaves in /tmp,
# /var/tmp, /dev/shm, /run/lock, /var/lock, $TMPDIR, $HOME and its working folder, named
# zz_hw4_attack_<tag>_left_*: a file, a folder holding a file, a FIFO, a symbolic link, an
# AF_UNIX socket file and a folder it then makes unreadable (mode 000); last, it makes the
# folders it owns unreadable. vae.py (graded last) looks for them: a later function that
# sees them answers right where it should not. Expected: each case's leftovers are swept
# before the next case; linear_beta_schedule keeps its points, reparameterize scores 0,
# kl_divergence keeps its points; nothing is left after grading.
import os as _hw4_os
import socket as _hw4_socket

_HW4_PREFIX = "zz_hw4_attack_@@TAG@@_left"


def _hw4_leftover_places():
    places = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", _hw4_os.environ.get("TMPDIR", ""),
              _hw4_os.environ.get("HOME", ""), _hw4_os.getcwd()]
    return [place for place in dict.fromkeys(places) if place and _hw4_os.path.isdir(place)]


def _hw4_leave(place):
    left = []

    def attempt(label, action):
        try:
            action()
            left.append(label)
        except OSError:
            pass

    path = lambda kind: _hw4_os.path.join(place, f"{_HW4_PREFIX}_{kind}")   # noqa: E731

    def write_file():
        with open(path("file"), "w") as handle:
            handle.write("HW4 attack: left for a later case\n")

    def folder():
        _hw4_os.mkdir(path("dir"))
        with open(_hw4_os.path.join(path("dir"), "inside"), "w") as handle:
            handle.write("HW4 attack\n")

    def locked():
        _hw4_os.mkdir(path("locked"))
        with open(_hw4_os.path.join(path("locked"), "inside"), "w") as handle:
            handle.write("HW4 attack\n")
        _hw4_os.chmod(path("locked"), 0)

    def unix_socket():
        sock = _hw4_socket.socket(_hw4_socket.AF_UNIX, _hw4_socket.SOCK_STREAM)
        try:
            sock.bind(path("sock"))
        finally:
            sock.close()

    attempt("file", write_file)
    attempt("dir", folder)
    attempt("fifo", lambda: _hw4_os.mkfifo(path("fifo")))
    attempt("symlink", lambda: _hw4_os.symlink("/etc/hostname", path("link")))
    attempt("socket", unix_socket)
    attempt("locked dir", locked)
    return left


def _hw4_leave_everywhere():
    places = _hw4_leftover_places()
    left = {place: _hw4_leave(place) for place in places}
    for place in places:                    # last: folders this case owns, made unreadable
        try:
            if _hw4_os.stat(place).st_uid == _hw4_os.getuid():
                _hw4_os.chmod(place, 0)
                left[place].append("folder locked")
        except OSError:
            pass
    return left


_hw4_linear_beta_schedule = linear_beta_schedule


def linear_beta_schedule(timesteps, beta_start=1e-4, beta_end=0.02):
    print("left:", _hw4_leave_everywhere())
    return _hw4_linear_beta_schedule(timesteps, beta_start, beta_end)
