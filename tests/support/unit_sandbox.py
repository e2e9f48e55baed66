"""Run `python -m moodpi ...` under the sandbox systemd/moodpi.service asks for, without systemd.

    python tests/support/unit_sandbox.py ALLOWED_SYSCALLS_FILE -- run --source replay:...

Applies, in this process and before moodpi is imported, what the unit's directives become in the
kernel: the seccomp allow-list of SystemCallFilter= (everything else fails with EPERM, as
SystemCallErrorNumber=EPERM says), RestrictAddressFamilies= (socket() of another family fails;
systemd says EAFNOSUPPORT, this EPERM), MemoryDenyWriteExecute= (the kernel's own PR_SET_MDWE)
and NoNewPrivileges=.
Exit status 77 means this kernel or libc cannot do it (the test skips).
"""

from __future__ import annotations

import ctypes
import errno
import runpy
import socket
import sys
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK)


class ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def apply(allowed: list[str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        sys.exit(77)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        print("kernel without PR_SET_MDWE", file=sys.stderr)
        sys.exit(77)
    try:
        seccomp = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        print("libseccomp.so.2 missing", file=sys.stderr)
        sys.exit(77)
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp)
    ]  # fmt: skip
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = seccomp.seccomp_init(act_errno(errno.EPERM))
    socket_nr = seccomp.seccomp_syscall_resolve_name(b"socket")
    for name in allowed:
        nr = seccomp.seccomp_syscall_resolve_name(name.encode())
        if nr < 0 or nr == socket_nr:
            continue  # not a syscall on this architecture; socket() is filtered by family below
        if seccomp.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 0, None) != 0:
            sys.exit(f"cannot allow {name}")
    for family in FAMILIES:
        cmp = ArgCmp(0, SCMP_CMP_EQ, family, 0)
        seccomp.seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, socket_nr, 1, ctypes.byref(cmp))
    if seccomp.seccomp_load(ctx) != 0:
        sys.exit("seccomp_load failed")


def main() -> None:
    allowed_file, separator, *args = sys.argv[1:]
    assert separator == "--"
    apply(Path(allowed_file).read_text().split())
    sys.argv = ["moodpi", *args]
    runpy.run_module("moodpi", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
