"""The sandbox's filesystem: a fresh root that holds only what Python needs (standard library and ctypes
only; runs in the supervisor, as root of its own mount namespace).

Why a new root rather than a read-only view of the host: the tests, the reference solutions and the
project's data must not be readable by the code under test, Unix sockets of host services must not be
reachable by path, and the work dir needs a size limit. The new root is an empty tmpfs with, bound back
read-only: /usr, /bin, /lib*, the interpreter's prefixes, the dynamic linker's cache and a few /dev
nodes; a fresh /proc (of the run's pid namespace); the work dir, a size-limited tmpfs (`disk quota`)
owned by the sandbox uid, at /sandbox. `pivot_root` then detaches the host's root entirely.
"""

import contextlib
import ctypes
import os
import platform

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC = 1, 2, 4, 8, 32, 4096, 16384
MS_PRIVATE, MNT_DETACH = 1 << 18, 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
WORK = "/sandbox"
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")
DEVICES = ("null", "zero", "full", "random", "urandom")
_libc = ctypes.CDLL(None, use_errno=True)


def mount(src, target, fstype, flags, data=None):
    enc = [None if x is None else x.encode() for x in (src, target, fstype, data)]
    if _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _mountpoints():
    with open("/proc/self/mountinfo") as f:
        rows = [line.split() for line in f]
    return [(r[4].encode().decode("unicode_escape"), r[5]) for r in rows]


def _bind(src, root):
    """Bind `src` (a file or directory of the host) at the same path under `root`; symlinks are copied."""
    dst = root + src
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(src):
        if not os.path.lexists(dst):
            os.symlink(os.readlink(src), dst)
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    elif not os.path.exists(dst):
        open(dst, "w").close()
    mount(src, dst, None, MS_BIND | MS_REC)


def _read_only(root, keep_rw):
    """Remount every mount under `root` read-only, keeping the flags a user namespace locks."""
    for point, opts in reversed(_mountpoints()):
        if not (point == root or point.startswith(root + "/")) or point in keep_rw:
            continue
        if point.startswith(root + "/proc") or point.startswith(root + "/dev/"):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
        for name, bit in (("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
            flags |= bit if name in opts.split(",") else 0
        with contextlib.suppress(OSError):
            mount(None, point, None, flags | (0 if point == root else MS_NODEV))


def build(root, python_paths, files, disk_bytes, owner):
    """Make the new root at `root` (an empty directory), write `files` into its work dir, and pivot into
    it. Afterwards "/" is the new root and the work dir is WORK."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing done here reaches the host
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    bound = []
    for p in [*SYSTEM, *ETC, *python_paths]:
        if os.path.lexists(p) and not any(p.startswith(b + "/") for b in bound):
            _bind(p, root)
            bound += [] if os.path.islink(p) else [p]
    os.makedirs(root + "/dev", exist_ok=True)
    for d in DEVICES:
        if os.path.exists("/dev/" + d):
            _bind("/dev/" + d, root)
    os.makedirs(root + "/proc", exist_ok=True)
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    work = root + WORK
    os.makedirs(work)
    uid = 0 if owner is None else owner
    opts = f"mode=700,uid={uid},gid={uid},size={disk_bytes},nr_inodes=16384"
    mount("tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV, opts)
    for name, text in files.items():
        path = os.path.join(work, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chown(path, uid, uid)
    _read_only(root, {work})
    _pivot(root)


def _pivot(root):
    os.chdir(root)
    nr = SYS_PIVOT_ROOT.get(platform.machine())
    if nr is not None and _libc.syscall(nr, b".", b".") == 0:
        if _libc.umount2(b".", MNT_DETACH) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"detaching the old root: {os.strerror(err)}")
    else:  # the code runs without the capability to leave a chroot
        os.chroot(".")
    os.chdir("/")
