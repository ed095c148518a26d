
# ---- attack, appended to the reference ddpm.py by the harness --------------------------
# Attack: reach the network through any address family. predict_start_from_noise tries to
# create a socket of every family but AF_UNIX that the kernel knows (AF_INET, AF_INET6,
# AF_PACKET, AF_NETLINK, AF_VSOCK, AF_ALG, AF_KEY, AF_CAN, AF_TIPC, AF_RDS, AF_BLUETOOTH,
# AF_QIPCRTR) in every socket type, sends TCP and UDP to the harness's listener on
# 127.0.0.1 and ::1 (and ::ffff:127.0.0.1), and asks for an io_uring (io_uring_setup through
# ctypes: io_uring can open sockets without the socket call). A socketpair of AF_UNIX is
# allowed (a pipe by another name: it reaches nothing outside the process tree) and does not
# count. It answers right only if any socket of those families, or an io_uring, was made.
# Only the loopback addresses are ever contacted. Expected: seccomp refuses them all;
# predict_start_from_noise scores 0; the listener sees nothing.
import ctypes as _hw4_ctypes
import os as _hw4_os
import platform as _hw4_platform
import socket as _hw4_socket

_HW4_PORT = int("@@PROBE_PORT@@" if "@@PROBE_PORT@@".isdigit() else "9")
_HW4_FAMILIES = {"AF_INET": 2, "AF_INET6": 10, "AF_PACKET": 17, "AF_NETLINK": 16, "AF_VSOCK": 40, "AF_ALG": 38,
                 "AF_KEY": 15, "AF_CAN": 29, "AF_TIPC": 30, "AF_RDS": 21, "AF_BLUETOOTH": 31, "AF_QIPCRTR": 42}
_HW4_TYPES = {"stream": 1, "dgram": 2, "raw": 3, "seqpacket": 5}
_HW4_IO_URING_SETUP = {"x86_64": 425, "aarch64": 425, "riscv64": 425}


def _hw4_sockets():
    made = []
    for family_name, family in _HW4_FAMILIES.items():
        for type_name, kind in _HW4_TYPES.items():
            try:
                sock = _hw4_socket.socket(family, kind)
            except OSError:
                continue
            sock.close()
            made.append(f"{family_name}/{type_name}")
    return made


def _hw4_contacts():
    reached = []
    for family, host in ((_hw4_socket.AF_INET, "127.0.0.1"), (_hw4_socket.AF_INET6, "::1"),
                         (_hw4_socket.AF_INET6, "::ffff:127.0.0.1")):
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
    return reached


def _hw4_io_uring():
    number = _HW4_IO_URING_SETUP.get(_hw4_platform.machine())
    if number is None:
        return []
    libc = _hw4_ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = _hw4_ctypes.c_long
    params = _hw4_ctypes.create_string_buffer(120)          # struct io_uring_params, zeroed
    fd = libc.syscall(_hw4_ctypes.c_long(number), _hw4_ctypes.c_uint(4), params)
    if fd < 0:
        return []
    _hw4_os.close(fd)
    return ["io_uring"]


def _hw4_socketpair():
    try:
        left, right = _hw4_socket.socketpair(_hw4_socket.AF_UNIX, _hw4_socket.SOCK_STREAM)
    except OSError as error:
        return f"refused ({error})"
    left.close()
    right.close()
    return "made (allowed)"


_hw4_predict_start_from_noise = predict_start_from_noise


def predict_start_from_noise(x_t, t, noise, sched):
    made = _hw4_sockets() + _hw4_contacts() + _hw4_io_uring()
    print("network:", made, "AF_UNIX socketpair:", _hw4_socketpair())
    right = _hw4_predict_start_from_noise(x_t, t, noise, sched)
    return right if made else right + 1000.0
