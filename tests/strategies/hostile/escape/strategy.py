"""Every known way out of a strategy worker, one per `attack` parameter.

Each attack either is refused (the exception it meets propagates: the team's `signal` error
for the minute) or raises `RuntimeError("ESCAPED: ...")`, which a test must never see. Written
as a hostile team would: no respect for the static check (run it with the Python checks off to
prove the kernel alone holds; with them on, the static check refuses the file at load).
"""

import ctypes
import errno
import gc
import os
import resource
import signal
import socket

import numpy
import pandas


def escaped(what):
    raise RuntimeError(f"ESCAPED: {what}")


def libc_call(name, *args):
    fn = getattr(ctypes.CDLL(None, use_errno=True), name)
    result = fn(*args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{name}: {os.strerror(code)}")
    escaped(f"{name} returned {result}")


class Strategy:
    def __init__(self, attack, data="", other="", me="", host_pid=0, marker=""):
        self.attack = attack
        self.data, self.other, self.me = data, other, me
        self.host_pid, self.marker = int(host_pid), marker

    def generate_signal(self, team, bars, current_prices):
        getattr(self, "attack_" + self.attack)()
        escaped(self.attack)

    # --- files of the host and of other teams ---
    def attack_read_keys(self):
        escaped(open(f"{self.data}/api_keys.json").read()[:50])  # noqa: SIM115

    def attack_read_other_ledger(self):
        escaped(open(f"{self.data}/team/{self.other}/trades.jsonl").read()[:50])  # noqa: SIM115

    def attack_stat_other(self):
        escaped(os.stat(f"{self.data}/team/{self.other}/trades.jsonl"))

    def attack_list_data(self):
        escaped(os.listdir(f"{self.data}/team"))

    def attack_write_other(self):
        with open(f"{self.data}/team/{self.other}/trades.jsonl", "a") as f:
            f.write('{"forged": true}\n')
        escaped("wrote into another team's ledger")

    def attack_forge_own_ledger(self):
        line = '{"side":"sell","symbol":"AAA","quantity":"1","price":"5000000","forged":true}\n'
        with open(f"{self.data}/team/{self.me}/trades.jsonl", "a") as f:
            f.write(line)
        escaped("forged a fill")

    def attack_write_tmp(self):
        with open(self.marker, "w") as f:
            f.write("escaped")
        escaped("wrote outside scratch")

    def attack_pandas_passwd(self):
        escaped(pandas.read_csv("/etc/passwd").shape)

    # --- /proc ---
    def attack_host_environ(self):
        escaped(open(f"/proc/{self.host_pid}/environ", "rb").read()[:50])  # noqa: SIM115

    def attack_proc_self_mem(self):
        with open("/proc/self/mem", "rb") as mem:
            escaped(mem.read(1))

    def attack_proc_fd(self):
        for name in os.listdir(f"/proc/{self.host_pid}/fd"):
            with open(f"/proc/{self.host_pid}/fd/{name}", "rb") as f:
                escaped(f.read(50))
        escaped("listed the host's descriptors")

    # --- the disk ---
    def attack_fill_disk(self):
        chunk = b"x" * (1 << 20)
        for i in range(40):  # 40 files of 32 MB: far more than the scratch quota
            with open(f"fill-{i}.bin", "wb") as f:
                for _ in range(32):
                    f.write(chunk)
        escaped("wrote 1.25 GB into scratch")

    # --- network, processes, signals ---
    def attack_tcp(self):
        socket.create_connection(("127.0.0.1", 22), timeout=1).close()
        escaped("opened a TCP connection")

    def attack_unix_socket(self):
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        escaped("made a socket")

    def attack_fork(self):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        escaped("forked")

    def attack_exec(self):
        os.execv("/bin/true", ["true"])

    def attack_kill_host(self):
        os.kill(self.host_pid, signal.SIGWINCH)
        escaped("signalled the host")

    def attack_kill_everyone(self):
        os.kill(-1, signal.SIGWINCH)
        escaped("signalled every process")

    def attack_kill_group(self):
        os.kill(0, signal.SIGWINCH)
        escaped("signalled the process group")

    def attack_raise_limits(self):
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        escaped("raised its memory limit")

    # --- native code ---
    def attack_ctypes_socket(self):
        libc_call("socket", 2, 1, 0)

    def attack_ctypes_ptrace(self):
        libc_call("ptrace", 16, self.host_pid, 0, 0)  # PTRACE_ATTACH

    def attack_numpy_ctypeslib(self):
        lib = numpy.ctypeslib.ctypes.CDLL(None, use_errno=True)
        result = lib.process_vm_readv(self.host_pid, None, 0, None, 0, 0)
        if result < 0:
            raise OSError(ctypes.get_errno(), "process_vm_readv refused")
        escaped("read the host's memory")

    def attack_unshare(self):
        libc_call("unshare", 0x10000000)  # CLONE_NEWUSER: a way to regain capabilities

    def attack_mount(self):
        libc_call("mount", b"none", b"/tmp", b"tmpfs", 0, None)

    # --- the classic interpreter walks ---
    def attack_subclasses(self):
        for cls in ().__class__.__base__.__subclasses__():
            if cls.__name__ == "_wrap_close":
                system = cls.__init__.__globals__["system"]
                if system(f"echo escaped > {self.marker}") == 0:
                    escaped("ran a shell")
                raise PermissionError("system() could not start a shell")
        escaped("no _wrap_close")

    def attack_gc_objects(self):
        for obj in gc.get_objects():
            if callable(obj) and getattr(obj, "__name__", "") == "fork":
                obj()
                escaped("forked through gc")
        escaped("no fork found")

    def attack_frame_walk(self):
        try:
            raise ValueError
        except ValueError as e:
            frame = e.__traceback__.tb_frame
        while frame is not None:
            opener = frame.f_globals.get("__builtins__")
            opener = opener["open"] if isinstance(opener, dict) else opener.open
            escaped(opener(f"{self.data}/api_keys.json").read()[:50])
        escaped("no frame")

    def attack_generator_frame(self):
        def gen():
            yield 1

        g = gen()
        frame = g.gi_frame
        sock_module = frame.f_globals["socket"]
        sock_module.socket(sock_module.AF_INET, sock_module.SOCK_STREAM)
        escaped("made a socket through a generator frame")

    def attack_importlib_attr(self):
        importlib = __import__("collections")._sys.modules["importlib"]
        importlib.import_module("subprocess").run(["/bin/true"], check=True)
        escaped("ran a process through importlib")

    def attack_random_os(self):
        real_os = __import__("random")._os
        escaped(real_os.listdir(self.data))

    def attack_errno_probe(self):
        # what a team could learn: does another team's file exist? (must not even be visible)
        try:
            os.stat(f"{self.data}/team/{self.other}")
        except FileNotFoundError as e:
            raise PermissionError(errno.ENOENT, "not visible") from e
        escaped("saw another team's folder")
