
# ---- attack, appended to the reference train.py by the harness -------------------------
# Attack: reach the network. get_optimizer tries a TCP connection to 127.0.0.1 on the
# harness's listening port, from an AF_INET socket and from an AF_INET6 one (through the
# IPv4-mapped address ::ffff:127.0.0.1), a UDP datagram to the same, a raw AF_PACKET
# socket (sends nothing), and bash's /dev/tcp in a child process; only 127.0.0.1 is ever
# contacted. It returns the right optimizer only if some connection or send worked, else
# an SGD optimizer. Expected: every INET/INET6/PACKET socket is refused; the harness's listener
# sees nothing; get_optimizer scores 0; gan_train_step keeps its points.
import socket as _hw4_socket
import subprocess as _hw4_subprocess

_HW4_PORT = int("@@PROBE_PORT@@" if "@@PROBE_PORT@@".isdigit() else "9")


def _hw4_reached():
    reached = []
    for family, host in ((_hw4_socket.AF_INET, "127.0.0.1"), (_hw4_socket.AF_INET6, "::ffff:127.0.0.1")):
        try:
            with _hw4_socket.socket(family, _hw4_socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect((host, _HW4_PORT))
                sock.sendall(b"HW4 attack: hello from the sandbox\n")
                reached.append(f"tcp {host}")
        except OSError:
            pass
        try:
            with _hw4_socket.socket(family, _hw4_socket.SOCK_DGRAM) as sock:
                sock.sendto(b"HW4 attack: datagram\n", (host, _HW4_PORT))
                reached.append(f"udp {host}")
        except OSError:
            pass
    try:
        with _hw4_socket.socket(getattr(_hw4_socket, "AF_PACKET", 17), _hw4_socket.SOCK_RAW):
            reached.append("packet socket")
    except OSError:
        pass
    try:
        done = _hw4_subprocess.run(["/bin/bash", "-c", f"echo hw4 > /dev/tcp/127.0.0.1/{_HW4_PORT}"],
                                   timeout=2, stdin=_hw4_subprocess.DEVNULL, stdout=_hw4_subprocess.DEVNULL,
                                   stderr=_hw4_subprocess.DEVNULL, check=False)
        if done.returncode == 0:
            reached.append("bash /dev/tcp")
    except (OSError, _hw4_subprocess.SubprocessError):
        pass
    return reached


_hw4_get_optimizer = get_optimizer


def get_optimizer(model):
    reached = _hw4_reached()
    print("reached:", reached)
    if reached:
        return _hw4_get_optimizer(model)
    return torch.optim.SGD(model.parameters(), lr=0.5)
