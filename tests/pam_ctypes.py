# SPDX-License-Identifier: MIT
"""The real libpam driven from Python's ctypes, for what pamtester cannot do.

    pam_ctypes.py swap SERVICE USER PASSWORD NEW_USER
        authenticate USER, set PAM_USER to NEW_USER, run account: prints "account RC" (or "auth RC")
    pam_ctypes.py many SERVICE USER PASSWORD N
        N handles authenticated one after the other, none ended, then account on each: prints
        how many of each phase succeeded, "auth OK/N account OK/N"
    pam_ctypes.py code-then-passwd SERVICE USER CODE NEW
        as a setuid passwd would (real uid 65534): authenticate with CODE, then chauthtok to NEW
        in the same handle; a "Current password" prompt gets a wrong answer. Prints "auth RC
        chauthtok RC".
    pam_ctypes.py fork SERVICE USER PASSWORD COMMAND SAME_PID
        authenticate USER, run COMMAND (sh -c), then account in a forked child and, once that
        ended, in this process: prints "child RC parent RC" (or "auth RC"). With SAME_PID "yes"
        the child is forked into a new pid namespace and must have this process's pid: run this
        as pid 1 of a namespace of its own (unshare --pid --fork); the child is then pid 1 too.
    pam_ctypes.py closed-stdio SERVICE USER PASSWORD
        authenticate USER with descriptors 0, 1 and 2 closed, as a daemon may run: prints
        "auth RC" (on the standard output it had).

Every answer to a prompt is PASSWORD (or as said above).
"""
import os
import ctypes
import subprocess
import sys

pam = ctypes.CDLL("libpam.so.0")
# The process's own calloc and strdup (libpam frees the answers with the process's free, which a
# preloaded sanitizer runtime replaces: libc.so.6's own would not match it).
libc = ctypes.CDLL(None)
libc.calloc.restype = ctypes.c_void_p
libc.calloc.argtypes = [ctypes.c_size_t, ctypes.c_size_t]
libc.strdup.restype = ctypes.c_void_p
libc.strdup.argtypes = [ctypes.c_char_p]
libc.unshare.argtypes = [ctypes.c_int]
CLONE_NEWPID = 0x20000000


class Message(ctypes.Structure):
    _fields_ = [("msg_style", ctypes.c_int), ("msg", ctypes.c_char_p)]


class Response(ctypes.Structure):
    _fields_ = [("resp", ctypes.c_void_p), ("resp_retcode", ctypes.c_int)]


CONV = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Message)),
                        ctypes.POINTER(ctypes.POINTER(Response)), ctypes.c_void_p)


class Conv(ctypes.Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", ctypes.c_void_p)]


pam.pam_start.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(Conv), ctypes.POINTER(ctypes.c_void_p)]
pam.pam_set_item.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
pam.pam_authenticate.argtypes = pam.pam_acct_mgmt.argtypes = pam.pam_chauthtok.argtypes = [ctypes.c_void_p, ctypes.c_int]
pam.pam_end.argtypes = [ctypes.c_void_p, ctypes.c_int]
PAM_USER = 2
PROMPTS = (1, 2)        # PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON


def conversation(password, answer_for=None):
    def answer(n, msgs, resp, _):
        r = ctypes.cast(libc.calloc(n, ctypes.sizeof(Response)), ctypes.POINTER(Response))
        for i in range(n):
            if msgs[i].contents.msg_style in PROMPTS:
                text = answer_for(msgs[i].contents.msg) if answer_for else password
                r[i].resp = libc.strdup(text.encode())
        resp[0] = r
        return 0
    callback = CONV(answer)
    return Conv(callback, None), callback       # keep the callback alive


def start(service, user, conv):
    h = ctypes.c_void_p()
    if pam.pam_start(service.encode(), user.encode(), ctypes.byref(conv), ctypes.byref(h)) != 0:
        sys.exit("pam_start failed")
    return h


def swap(service, user, password, new_user):
    conv, _keep = conversation(password)
    h = start(service, user, conv)
    rc = pam.pam_authenticate(h, 0)
    if rc != 0:
        print("auth", rc)
    else:
        pam.pam_set_item(h, PAM_USER, new_user.encode())
        rc = pam.pam_acct_mgmt(h, 0)
        print("account", rc)
    pam.pam_end(h, rc)


def many(service, user, password, n):
    conv, _keep = conversation(password)
    handles = [start(service, user, conv) for _ in range(n)]
    auth_ok = sum(pam.pam_authenticate(h, 0) == 0 for h in handles)
    account_ok = sum(pam.pam_acct_mgmt(h, 0) == 0 for h in handles)
    for h in handles:
        pam.pam_end(h, 0)
    print(f"auth {auth_ok}/{n} account {account_ok}/{n}")


def code_then_passwd(service, user, code, new):
    state = {"asked": 0}

    def answer_for(prompt):
        state["asked"] += 1
        if state["asked"] == 1:
            return code
        return "not-the-current-password" if b"urrent" in prompt else new
    conv, _keep = conversation(None, answer_for)
    os.setresuid(65534, 0, 0)
    h = start(service, user, conv)
    auth = pam.pam_authenticate(h, 0)
    chauthtok = pam.pam_chauthtok(h, 0) if auth == 0 else -1
    print("auth", auth, "chauthtok", chauthtok)
    pam.pam_end(h, chauthtok)


def fork(service, user, password, command, same_pid):
    conv, _keep = conversation(password)
    h = start(service, user, conv)
    rc = pam.pam_authenticate(h, 0)
    if rc != 0:
        print("auth", rc)
        pam.pam_end(h, rc)
        return
    subprocess.run(["sh", "-c", command], check=True)
    parent_pid = os.getpid()
    if same_pid == "yes" and libc.unshare(CLONE_NEWPID) != 0:
        sys.exit("unshare(CLONE_NEWPID) failed")
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        if same_pid == "yes" and os.getpid() != parent_pid:
            os._exit(255)
        os._exit(pam.pam_acct_mgmt(h, 0))
    _, status = os.waitpid(pid, 0)
    child = os.waitstatus_to_exitcode(status)
    if child == 255:
        sys.exit(f"the child's pid is not {parent_pid}")
    rc = pam.pam_acct_mgmt(h, 0)
    print("child", child, "parent", rc)
    pam.pam_end(h, rc)


def closed_stdio(service, user, password):
    conv, _keep = conversation(password)
    out = os.dup(1)
    for fd in (0, 1, 2):
        os.close(fd)
    h = start(service, user, conv)
    rc = pam.pam_authenticate(h, 0)
    pam.pam_end(h, rc)
    os.write(out, f"auth {rc}\n".encode())


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "swap":
        swap(*args)
    elif mode == "many":
        many(args[0], args[1], args[2], int(args[3]))
    elif mode == "code-then-passwd":
        code_then_passwd(*args)
    elif mode == "fork":
        fork(*args)
    elif mode == "closed-stdio":
        closed_stdio(*args)
    else:
        sys.exit(f"unknown mode {mode}")
