
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: reach a service of the machine through AF_UNIX, the one family seccomp lets
# through. The harness listens on an abstract AF_UNIX name (no file: any process of the same
# network namespace may connect, whatever its user) for streams and datagrams, and on a
# socket file in /tmp that any user may connect to. q_posterior_mean connects to each and
# sends a line. It answers right only if one was reached. Expected: the sandbox's own
# network namespace holds no such name, and its /tmp is its own; q_posterior_mean scores 0;
# the listener sees nothing. Without namespaces both are reachable by any user: only
# namespaces stop this one.
import socket as _hw4_socket

_HW4_NAME = "@@UNIX_SOCKET@@"
_HW4_PATH = "@@UNIX_SOCKET_PATH@@"


def _hw4_reach():
    reached = []
    targets = [("abstract stream", _hw4_socket.SOCK_STREAM, "\0" + _HW4_NAME),
               ("abstract datagram", _hw4_socket.SOCK_DGRAM, "\0" + _HW4_NAME + "-dgram"),
               ("path stream", _hw4_socket.SOCK_STREAM, _HW4_PATH)]
    for label, kind, address in targets:
        try:
            with _hw4_socket.socket(_hw4_socket.AF_UNIX, kind) as sock:
                sock.settimeout(1.0)
                if kind == _hw4_socket.SOCK_STREAM:
                    sock.connect(address)
                    sock.sendall(b"HW4 attack: hello from the sandbox\n")
                else:
                    sock.sendto(b"HW4 attack: datagram\n", address)
                reached.append(label)
        except OSError:
            pass
    return reached


_hw4_q_posterior_mean = q_posterior_mean


def q_posterior_mean(x_start, x_t, t, sched):
    reached = _hw4_reach()
    print("reached:", reached)
    right = _hw4_q_posterior_mean(x_start, x_t, t, sched)
    return right if reached else right + 1000.0
