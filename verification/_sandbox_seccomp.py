"""A seccomp filter for the sandboxed processes (standard library and ctypes only; runs in the supervisor).

Why a filter on top of namespaces: a Unix-domain socket whose path is visible, or an abstract one, would
reach a host service whatever the network namespace says; a nested user namespace would hand the code
capabilities again; io_uring steps around every other syscall filter. The filter denies, with an errno
(so programs see an ordinary error, never a kill): `socket`/`socketpair` of AF_UNIX, any namespace flag
to `clone`, `clone3` (ENOSYS, so the C library falls back to `clone`, which is checked), `unshare`,
`setns`, mounting, `ptrace` and cross-process memory access, keyrings, bpf, perf, userfaultfd, io_uring,
module loading. `deny_ipc` also denies SysV IPC (the fallback mode, which has no IPC namespace).
"""

import ctypes
import errno
import platform

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
AF_UNIX = 1
NS_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
RET_ALLOW, RET_ERRNO, RET_KILL = 0x7FFF0000, 0x00050000, 0x80000000
LD_ABS, JEQ, JSET, JGE, RET = 0x20, 0x15, 0x45, 0x35, 0x06

# name -> (x86_64, aarch64)
SYSCALLS = {
    "socket": (41, 198),
    "socketpair": (53, 199),
    "clone": (56, 220),
    "clone3": (435, 435),
    "unshare": (272, 97),
    "setns": (308, 268),
    "mount": (165, 40),
    "umount2": (166, 39),
    "pivot_root": (155, 41),
    "chroot": (161, 51),
    "ptrace": (101, 117),
    "process_vm_readv": (310, 270),
    "process_vm_writev": (311, 271),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "open_by_handle_at": (304, 265),
    "init_module": (175, 105),
    "finit_module": (313, 273),
    "kexec_load": (246, 104),
    "io_uring_setup": (425, 425),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "open_tree": (428, 428),
    "move_mount": (429, 429),
    "fsopen": (430, 430),
    "fsmount": (432, 432),
    "mount_setattr": (442, 442),
}
IPC = {
    "shmget": (29, 194),
    "shmat": (30, 196),
    "shmctl": (31, 195),
    "semget": (64, 190),
    "semop": (65, 193),
    "semctl": (66, 191),
    "msgget": (68, 186),
    "msgsnd": (69, 189),
    "msgrcv": (70, 188),
    "msgctl": (71, 187),
}
ARCHES = {"x86_64": (0, 0xC000003E), "aarch64": (1, 0xC00000B7)}


class _Insn(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint),
    ]


class _Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Insn))]


def program(deny_ipc=False):
    """The BPF program as (code, jt, jf, k) tuples, or None on an architecture we have no table for."""
    arch = ARCHES.get(platform.machine())
    if arch is None:
        return None
    col, audit_arch = arch
    nr = {name: nums[col] for name, nums in {**SYSCALLS, **IPC}.items()}
    eperm, arg0 = RET_ERRNO | errno.EPERM, 16  # seccomp_data.args[0], low 32 bits (little endian)
    p = [(LD_ABS, 0, 0, 4), (JEQ, 1, 0, audit_arch), (RET, 0, 0, RET_KILL), (LD_ABS, 0, 0, 0)]
    if col == 0:
        p += [(JGE, 0, 1, 0x40000000), (RET, 0, 0, eperm)]  # the x32 ABI's numbers
    for name in ("socket", "socketpair"):
        p += [(JEQ, 0, 4, nr[name]), (LD_ABS, 0, 0, arg0), (JEQ, 0, 1, AF_UNIX)]
        p += [(RET, 0, 0, RET_ERRNO | errno.EACCES), (RET, 0, 0, RET_ALLOW)]
    p += [(JEQ, 0, 4, nr["clone"]), (LD_ABS, 0, 0, arg0), (JSET, 0, 1, NS_FLAGS)]
    p += [(RET, 0, 0, eperm), (RET, 0, 0, RET_ALLOW)]
    p += [(JEQ, 0, 1, nr["clone3"]), (RET, 0, 0, RET_ERRNO | errno.ENOSYS)]
    denied = [n for n in SYSCALLS if n not in ("socket", "socketpair", "clone", "clone3")]
    denied += list(IPC) if deny_ipc else []
    for name in denied:
        p += [(JEQ, 0, 1, nr[name]), (RET, 0, 0, eperm)]
    return [*p, (RET, 0, 0, RET_ALLOW)]


def install(deny_ipc=False):
    """Set no_new_privs and load the filter into this process (inherited by all it starts). False when
    this architecture has no table; raises OSError when the kernel refuses."""
    prog = program(deny_ipc)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS) failed")
    if prog is None:
        return False
    arr = (_Insn * len(prog))(*[_Insn(*i) for i in prog])
    fprog = _Prog(len(prog), arr)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter refused: {errno.errorcode.get(err, err)}")
    return True
