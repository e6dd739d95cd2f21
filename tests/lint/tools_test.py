#!/usr/bin/python3
"""Every command the tests, benchmarks and scripts run comes from setup.sh.

A fresh Debian bookworm machine (minbase) has only the packages of priority
"required"; everything else a test calls must be installed by
scripts/setup.sh. This test collects the command names the project runs:
- words in C++ string literals of tests, benchmarks and the simulator's tests
  (what std::system, popen and the process spawners get),
- the first argument of execFileSync/spawnSync/spawn in the JS tests,
- the command words of the shell scripts,
resolves each with the PATH, asks dpkg which package owns it, and fails when
that package is neither of priority "required" nor in setup.sh's PACKAGES.
Project-built binaries and tools setup.sh installs itself (.cache/tools) are
not on the PATH and so are not checked here.
"""
import os
import re
import shutil
import subprocess
import sys

ws = os.path.dirname(
    os.path.realpath(
        os.path.join(os.environ["TEST_SRCDIR"], os.environ["TEST_WORKSPACE"],
                     "WORKSPACE")))
os.chdir(ws)

failures = []


def setup_packages():
    text = open("scripts/setup.sh").read()
    m = re.search(r"^PACKAGES=\((.*?)^\)", text, re.S | re.M)
    if not m:
        failures.append("scripts/setup.sh: no PACKAGES=( ... ) list")
        return set()
    words = []
    for line in m.group(1).splitlines():
        words += line.split("#", 1)[0].split()
    # Installed only when their command is missing.
    words += re.findall(r"missing\+=\((\S+)\)", text)
    return with_dependencies(set(words))


def with_dependencies(names):
    """The packages apt installs for names: names and what they depend on."""
    out = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Depends}, ${Pre-Depends}\n"],
        capture_output=True,
        text=True).stdout
    deps = {}
    for line in out.splitlines():
        pkg, _, rest = line.partition("\t")
        deps[pkg] = [
            alt.split()[0].split(":")[0]
            for alt in re.split(r"[,|]", rest) if alt.strip()
        ]
    seen, todo = set(), list(names)
    while todo:
        p = todo.pop()
        if p not in seen:
            seen.add(p)
            todo += deps.get(p, [])
    return seen


def tracked(*patterns):
    out = subprocess.run(["git", "ls-files", "--", *patterns],
                         capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if f]


# Words that are shell syntax, not commands.
SHELL_WORDS = {
    "if", "then", "else", "elif", "fi", "for", "while", "do", "done", "case",
    "esac", "in", "function", "return", "local", "export", "set", "cd", "exec",
    "exit", "echo", "printf", "read", "trap", "wait", "kill", "true", "false",
    "test", "shift", "source", "eval", "declare", "mapfile", "command", "unset",
    "break", "continue", "readonly", "type", "ulimit", "umask", "[", "[[",
}

# Words that resolve to a command here but are data in our sources (CLI
# subcommands, JSON keys, file names), never run.
NOT_RUN = {"file", "sync", "watch", "w", "dir", "clear", "service", "yes"}

# One "command" per candidate: (file, word).
candidates = []

CMD_START = re.compile(r"(?:^|[;&|(`]|\$\(|&&|\|\|)\s*([A-Za-z][\w.+-]*)")


def shell_commands(code, where):
    for m in CMD_START.finditer(code):
        word = m.group(1)
        if "=" in word or word in SHELL_WORDS or word in NOT_RUN:
            continue
        candidates.append((where, word))


# C++: string literals in the sources of tests and benchmarks.
CC_STRING = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
cc_files = [
    f for f in tracked("*.cc", "*.h")
    if f.startswith("tests/") or re.search(r"_test\.cc$|/bench\.cc$", f)
]
for f in cc_files:
    src = open(f).read()
    src = re.sub(r"//[^\n]*", "", src)
    for lit in CC_STRING.findall(src):
        # A literal that is a whole command word, or a command line.
        if re.fullmatch(r"[a-z][\w.+-]*", lit) and lit not in NOT_RUN:
            candidates.append((f, lit))
        else:
            shell_commands(lit, f)

# JavaScript: the command given to child_process.
JS_CALL = re.compile(
    r"\b(?:execFileSync|execFile|spawnSync|spawn)\(\s*['\"]([^'\"]+)['\"]")
JS_SHELL = re.compile(r"\bexecSync\(\s*['\"`]([^'\"`]+)['\"`]")
for f in tracked("*.js"):
    src = open(f).read()
    for word in JS_CALL.findall(src):
        candidates.append((f, word))
    for line in JS_SHELL.findall(src):
        shell_commands(line, f)

# Shell scripts: each line's commands, comments and heredocs left out.
for f in tracked("*.sh") + [".ci/run"]:
    in_heredoc = None
    for raw in open(f).read().splitlines():
        if in_heredoc:
            if raw.strip() == in_heredoc:
                in_heredoc = None
            continue
        h = re.search(r"<<-?\s*'?(\w+)'?", raw)
        line = re.sub(r"(^|\s)#.*", "", raw)
        line = re.sub(r"'[^']*'", "''", line)  # quoted text is data
        shell_commands(line.strip(), f)
        if h:
            in_heredoc = h.group(1)

packages = setup_packages()

# Which file of each candidate resolves on the PATH, and the names dpkg may
# know it by (Debian's merged /usr: dpkg may know /bin/x for /usr/bin/x).
resolved = {}
for where, word in candidates:
    path = shutil.which(word)
    if not path or not os.path.realpath(path).startswith(("/usr/", "/bin/",
                                                          "/sbin/")):
        continue  # not a command here, or one the project builds or installs
    real = os.path.realpath(path)
    names = [path, real]
    for p in (path, real):
        if p.startswith("/usr/"):
            names.append(p[len("/usr"):])
    resolved[word] = (real, names)

# One dpkg-query for every path, one for every package's priority.
all_names = sorted({n for _, names in resolved.values() for n in names})
owner_of_path = {}
if all_names:
    out = subprocess.run(["dpkg-query", "-S", *all_names],
                         capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        pkgs, sep, path = line.partition(": ")
        if sep and path.strip() in all_names:
            owner_of_path[path.strip()] = pkgs.split(",")[0].split(":")[0].strip()
priority_of = {}
out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Priority}\n"],
                     capture_output=True,
                     text=True).stdout
for line in out.splitlines():
    pkg, _, prio = line.partition("\t")
    priority_of[pkg] = prio.strip()

owner_cache = {}
for word, (real, names) in resolved.items():
    owner = next((owner_of_path[n] for n in names if n in owner_of_path), None)
    owner_cache[(word, real)] = (owner, priority_of.get(owner))

checked = set()
for where, word in candidates:
    if word not in resolved:
        continue
    real = resolved[word][0]
    key = (word, real)
    owner, priority = owner_cache[key]
    checked.add(word)
    if owner is None:
        # Not from a package (e.g. installed by hand): a fresh machine has
        # no such command.
        failures.append(f"{where}: runs `{word}` ({real}), which no Debian "
                        "package installed; setup.sh cannot provide it")
    elif priority != "required" and owner not in packages:
        failures.append(
            f"{where}: runs `{word}` from package {owner}, which is not in "
            "scripts/setup.sh's PACKAGES (a fresh machine lacks it)")

# The check must have seen the commands it exists for; otherwise the scan
# itself is broken and would pass on anything.
for must in ("curl", "git", "openssl", "nghttpx"):
    if must not in checked:
        failures.append(f"the scan no longer finds `{must}`: fix the scanner")

for f in sorted(set(failures)):
    print(f)
print(f"{len(checked)} commands checked: {' '.join(sorted(checked))}")
sys.exit(1 if failures else 0)
