"""The kernel boundary around a strategy worker: namespaces, rlimits, Landlock and seccomp.

The Python-level checks (the static check, the audit hook in `guard`) give teams clear early
errors; they live in the same interpreter as the team's code and cannot hold against it. What
holds is what the kernel enforces once the worker has restricted itself, before the team's
code is imported:

- **namespaces** (user, PID, network, mount, IPC): the worker is PID 1 of its own PID
  namespace, has only a loopback-less network, and sees the data directory as an empty
  read-only tmpfs with its scratch folder as a size-limited tmpfs inside;
- **rlimits**: address space, CPU time, open files, file size, processes, no core dumps;
- **no_new_privs** and every capability dropped;
- **Landlock**: read-only access to the Python installation, shared libraries and the team's
  folder, read-write to its scratch folder only, no TCP bind or connect, no signals or
  abstract Unix sockets outside its own domain;
- **seccomp**: no new sockets, processes, exec, ptrace, cross-process memory access, mounts,
  namespaces or kernel-extension calls; `kill` only of itself.

Each layer is applied where the kernel offers it; `Layers` says which are in force, and a layer
that is missing is reported, never silently skipped.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import resource
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True)

# <linux/sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
NAMESPACES = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC

# <linux/mount.h>
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18

# <linux/prctl.h>
_PR_SET_NO_NEW_PRIVS = 38

# <linux/landlock.h>; the syscall numbers are the same on every architecture
_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_ALL_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1, 2
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV

# System calls a strategy never needs: they could only reach outside the worker.
_DENIED_SYSCALLS = (
    "socketpair", "fork", "vfork", "execve", "execveat", "ptrace", "process_vm_readv",
    "process_vm_writev", "process_madvise", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "tkill", "kcmp", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot",
    "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "keyctl", "add_key", "request_key", "init_module", "finit_module",
    "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "setpriority", "ioprio_set", "migrate_pages", "move_pages", "ioperm", "iopl",
    "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "syslog", "vhangup",
    "process_mrelease",
)  # fmt: skip
# Calls that name a process: allowed on itself only (0 for "self", or its own pid for signals).
_SELF_ONLY_ZERO = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam",
                   "sched_setattr")  # fmt: skip
_SELF_ONLY_PID = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


class IsolationError(OSError):
    """A kernel layer that was asked for could not be put in place."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What one worker restricts itself to (paths already resolved)."""

    read_roots: tuple[str, ...]  # folders and files it may read (Python, libraries, strategy)
    scratch: str  # the only place it may write
    hidden: tuple[str, ...] = ()  # folders replaced by an empty tmpfs (the data directory)
    shown: tuple[str, ...] = ()  # folders inside a hidden one bound back, read-only (versions)
    scratch_mb: int = 64
    memory_mb: int = 512
    cpu_seconds: int = 3600
    open_files: int = 64
    file_mb: int = 64
    threads: int = 32


@dataclass(slots=True)
class Layers:
    """Which layers are in force (`on`) and why the others are not (`missing`)."""

    on: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"in_force": dict(self.on), "missing": dict(self.missing)}

    def summary(self) -> str:
        shown = ", ".join(f"{k} ({v})" if v else k for k, v in self.on.items())
        return shown or "none"


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise IsolationError(code, f"{what}: {os.strerror(code)}")
    return result


# --- namespaces (called in the keeper process, which then forks the worker) -----------------


def enter_namespaces() -> None:
    """unshare user, PID, network, mount and IPC namespaces; map our own uid and gid.

    The calling process stays in the parent PID namespace; its next child is PID 1 of the new
    one. Must be called single-threaded.
    """
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(NAMESPACES), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


# --- the worker's own restrictions ------------------------------------------------------------


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _private_mounts(plan: Plan) -> None:
    """Hide the data directory behind an empty read-only tmpfs; scratch is a sized tmpfs."""
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, "")
    safe = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    scratch = Path(plan.scratch)
    # held open before the tmpfs covers them: the only way back to a folder under it
    kept = [(shown, os.open(shown, os.O_PATH | os.O_CLOEXEC)) for shown in plan.shown]
    try:
        for hidden in plan.hidden:
            _mount("qtc-hidden", hidden, "tmpfs", safe, "size=64k,nr_inodes=256,mode=0755")
            for path in [scratch, *(Path(shown) for shown, _ in kept)]:
                if path.is_relative_to(hidden):
                    path.mkdir(parents=True, exist_ok=True)
        for shown, fd in kept:
            _mount(f"/proc/self/fd/{fd}", shown, None, _MS_BIND, "")
            _mount(None, shown, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | safe, "")
    finally:
        for _, fd in kept:
            os.close(fd)
    _mount("qtc-scratch", plan.scratch, "tmpfs", safe, f"size={plan.scratch_mb}m,nr_inodes=4096")
    for hidden in plan.hidden:
        _mount(None, hidden, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | safe, "")


def _set_rlimits(plan: Plan, threads: bool) -> None:
    def cap(which: int, value: int) -> None:
        resource.setrlimit(which, (value, value))

    cap(resource.RLIMIT_AS, _vm_size_bytes() + plan.memory_mb * 1024 * 1024)
    cap(resource.RLIMIT_FSIZE, plan.file_mb << 20)
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NOFILE, plan.open_files)
    resource.setrlimit(resource.RLIMIT_CPU, (plan.cpu_seconds, plan.cpu_seconds + 5))
    if threads:  # counted per user namespace: only this worker's own tasks
        cap(resource.RLIMIT_NPROC, plan.threads)


def _vm_size_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _drop_capabilities() -> None:
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _no_new_privs() -> None:
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


# --- Landlock ---------------------------------------------------------------------------------


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: not available)."""
    version = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(version), 0)


def _landlock(plan: Plan, abi: int) -> str:
    fs = _FS_ALL_ABI1
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    if abi >= 5:
        fs |= _FS_IOCTL_DEV
    attr = _RulesetAttr(fs, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = _check(
        _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), size, 0), "landlock"
    )
    try:
        read = _FS_READ_FILE | _FS_READ_DIR
        write = fs & ~(_FS_EXECUTE | 1 << 6 | 1 << 11)  # no exec, no char or block devices
        for root in plan.read_roots:
            _allow(ruleset, root, read, fs)
        for device in ("/dev/null", "/dev/zero", "/dev/urandom"):
            _allow(ruleset, device, _FS_READ_FILE | _FS_WRITE_FILE, fs)
        _allow(ruleset, plan.scratch, write, fs)
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    parts = ["fs"] + (["tcp"] if abi >= 4 else []) + (["signals", "abstract sockets"] * (abi >= 6))
    return f"ABI {abi}: " + ", ".join(parts)


def _allow(ruleset: int, path: str, access: int, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a root that does not exist on this machine grants nothing
    try:
        if not Path(path).is_dir():
            access &= _FILE_RIGHTS
        rule = _PathBeneath(access & handled, fd)
        _check(
            _libc.syscall(
                _SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0
            ),
            f"landlock rule for {path}",
        )
    finally:
        os.close(fd)


# --- seccomp ----------------------------------------------------------------------------------


def _seccomp() -> str:
    import pyseccomp as sc  # type: ignore[import-untyped]

    deny = sc.ERRNO(errno.EPERM)
    pid = os.getpid()
    rules = sc.SyscallFilter(sc.ALLOW)
    with contextlib.suppress(OSError, ValueError):  # libseccomp >= 2.5: a binary tree, not a list
        rules.set_attr(sc.Attr.CTL_OPTIMIZE, 2)
    for name in _DENIED_SYSCALLS:
        with contextlib.suppress(OSError):  # a call this architecture does not have
            rules.add_rule(deny, name)
    # New sockets of any kind; the worker keeps the one channel it was given.
    rules.add_rule(deny, "socket")
    # Threads yes, processes no (clone3's flags are behind a pointer: ENOSYS makes libc use clone).
    rules.add_rule(deny, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    rules.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for name in _SELF_ONLY_ZERO:
        rules.add_rule(deny, name, sc.Arg(0, sc.NE, 0))
    for name in _SELF_ONLY_PID:  # kill(0) and kill(-1) reach other processes: refused
        rules.add_rule(deny, name, sc.Arg(0, sc.NE, pid))
    rules.load()
    count = len(_DENIED_SYSCALLS) + len(_SELF_ONLY_ZERO) + len(_SELF_ONLY_PID) + 3
    return f"{count} rules"


def seccomp_available() -> str | None:
    """None when a seccomp filter can be built here, else the reason it cannot."""
    try:
        import pyseccomp  # type: ignore[import-untyped]  # noqa: F401
    except (ImportError, OSError, RuntimeError) as e:
        return f"libseccomp not usable: {e}"
    return None


# --- putting it together ----------------------------------------------------------------------


def confine(plan: Plan, *, namespaces: str | None) -> Layers:
    """Restrict the calling worker as far as this kernel allows; say what is in force.

    `namespaces` is None when the keeper entered private namespaces for us, else why it could
    not. Nothing here may be skipped silently: a layer that fails is listed in `missing`.
    """
    layers = Layers()
    private = namespaces is None
    if private:
        try:
            _private_mounts(plan)
            os.chdir(plan.scratch)  # the old cwd would still lead under the hidden folders
            layers.on["namespaces"] = "user, pid, net, mount, ipc"
            layers.on["scratch_quota"] = f"tmpfs {plan.scratch_mb} MB"
        except OSError as e:
            private = False
            layers.missing["scratch_quota"] = str(e)
    else:
        layers.missing["namespaces"] = namespaces or "not available"
        layers.missing["scratch_quota"] = "needs a private mount namespace (per-file limit only)"
    _set_rlimits(plan, threads=private)
    layers.on["rlimits"] = (
        f"as +{plan.memory_mb} MB, cpu {plan.cpu_seconds} s, nofile {plan.open_files}, "
        f"fsize {plan.file_mb} MB" + (f", nproc {plan.threads}" if private else "")
    )
    try:
        _drop_capabilities()
        _no_new_privs()
        layers.on["no_new_privs"] = "capabilities dropped"
    except OSError as e:
        layers.missing["no_new_privs"] = str(e)
    abi = landlock_abi()
    if abi:
        try:
            layers.on["landlock"] = _landlock(plan, abi)
        except OSError as e:
            layers.missing["landlock"] = str(e)
    else:
        layers.missing["landlock"] = "this kernel has no Landlock"
    reason = seccomp_available()
    if reason is None:
        try:
            layers.on["seccomp"] = _seccomp()
        except OSError as e:
            layers.missing["seccomp"] = str(e)
    else:
        layers.missing["seccomp"] = reason
    return layers


def read_roots(strategy: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """What a worker may read: the Python installation, shared libraries, its strategy."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, strategy, *extra}
    roots |= {p for p in sys.path if p and os.path.isabs(p) and "site-packages" in p}
    roots |= {"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/share/zoneinfo"}
    roots |= {"/etc/ld.so.cache", "/etc/localtime"}
    roots.add(str(Path(__file__).resolve().parents[1]))  # the qtc package
    return tuple(sorted(os.path.realpath(r) for r in roots if r))


def plan_for(
    strategy: str,
    scratch: str,
    hidden: Sequence[str],
    *,
    scratch_mb: int,
    memory_mb: int,
) -> Plan:
    """The plan of one worker; a strategy inside a hidden folder (its stored versions under
    the data directory) is bound back into the empty tmpfs, read-only, alone."""
    strategy = os.path.realpath(strategy)
    covered = tuple(os.path.realpath(h) for h in hidden if os.path.isdir(h))
    inside = any(Path(strategy).is_relative_to(h) for h in covered)
    return Plan(
        read_roots=read_roots(strategy),
        scratch=os.path.realpath(scratch),
        hidden=covered,
        shown=(strategy,) if inside else (),
        scratch_mb=scratch_mb,
        memory_mb=memory_mb,
    )
