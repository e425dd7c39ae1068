"""Redaction of secrets from what a run keeps (its command line) and from messages.

Rules, applied to each argument of a command line (documented in docs/methodology/security.md):

1. URL user-info: the password of ``scheme://user:PASS@host`` (any scheme: https, git,
   postgres, mysql, redis, amqp, ...), and a user-only ``https://TOKEN@host`` when the user
   looks like a token (a known token prefix, or 20+ characters).
2. Secret-named fields inside an argument: ``?token=X&...``, ``password=X`` in a connection
   string, ``"api_key": "X"`` in JSON, ``-Dkeystore.password=X``.
3. Headers: the value of ``Authorization``, ``Proxy-Authorization``, ``Cookie`` and any
   header whose name is secret-like (``X-Api-Key``, ``Private-Token``), wherever it appears
   (``-H 'Authorization: Bearer X'``, ``--header=...``, ``git -c http.extraheader=...``);
   the scheme word (``Bearer``, ``Basic``) is kept.
4. Options whose name contains key, secret, token, password, passwd, pwd, pass, credential
   or auth: ``--opt VALUE`` and ``--opt=VALUE`` (a next argument that is itself an option
   is not taken as the value).
5. Environment-style ``NAME=VALUE`` arguments whose name is secret-like (``PGPASSWORD=X``,
   ``AWS_SECRET_ACCESS_KEY=X``, ``HF_TOKEN=X``).
6. Password flags of common tools: ``mysql -pX``, ``sshpass -p X``, ``curl -u user:X``,
   ``redis-cli -a X``, ``ldapsearch -w X``, ``sqlcmd -P X``, ``zip -P X``, ``7z -pX``,
   ``smbclient -U user%X``, ``htpasswd -b FILE USER X``, ``openssl ... pass:X``,
   ``docker login -p X``, ``mongosh -p X``.
7. Values of secret-named environment variables (``*TOKEN``, ``*PASSWORD``, ``*SECRET``,
   ``*KEY``) wherever they appear.

Masking replaces whole values, never a short string everywhere: :func:`mask_secrets`
replaces a value shorter than 8 characters only where it stands as a whole token, so a
one-letter secret cannot turn every ``t`` of a message into ``***``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["REDACTED", "is_secret_name", "mask_secrets", "redact_arg", "redact_argv"]

REDACTED = "***"
_SHORT = 8  # secrets shorter than this are masked only as whole tokens

# one word of a name (split on - _ . : and camelCase) that makes the name secret-like
_SECRET_WORD = re.compile(
    r"^(?:.*key|.*secret|.*token|.*passw(?:or)?d|pwd|.*pass|passphrase|.*credentials?|creds"
    r"|o?auth|authn|authz|.*authorization|cookie)$"
)
# words ending like a secret word that are not secrets (ML and CLI vocabulary)
_NOT_SECRET_WORD = frozenset(
    {"monkey", "hotkey", "turkey", "bypass", "compass", "keyboard", "passes"}
)
_TOKEN_PREFIXES = (
    "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "hf_", "xox", "sk-",
    "sk_", "AKIA", "ASIA", "ya29.", "npm_", "pypi-",
)  # fmt: skip
_SECRET_ENV = re.compile(r"(TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY)$")

_URL_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::(?P<pw>[^/@\s]*))?@"
)
_HEADER = re.compile(
    r"(?i)(?P<name>(?:proxy-)?authorization|cookie|set-cookie|[A-Za-z0-9-]+)(?P<sep>\s*:\s*)"
    r"(?P<value>.+)$"
)
_SCHEMES = ("bearer", "basic", "token", "digest", "negotiate", "aws4-hmac-sha256", "bot")
_FIELD = re.compile(
    r"""(?P<q>["']?)(?P<name>[A-Za-z][A-Za-z0-9_.-]*)(?P=q)(?P<sep>\s*[=:]\s*)"""
    r"""(?P<vq>["']?)(?P<value>(?!//)[^\s&;,'"}]+)"""
)
_OPTION = re.compile(
    r"^(?P<dashes>--?)(?P<name>[A-Za-z][A-Za-z0-9_.:-]*)(?:(?P<eq>=)(?P<value>.*))?$", re.DOTALL
)
_ENV_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.DOTALL)

# tool -> short flags whose value is a password: attached ("-pX") and/or separate ("-p X")
_TOOL_FLAGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # (attached-only flags, flags taking the next argument or an attached value)
    "mysql": (frozenset({"-p"}), frozenset()),
    "mysqldump": (frozenset({"-p"}), frozenset()),
    "mysqladmin": (frozenset({"-p"}), frozenset()),
    "mariadb": (frozenset({"-p"}), frozenset()),
    "mariadb-dump": (frozenset({"-p"}), frozenset()),
    "7z": (frozenset({"-p"}), frozenset()),
    "7za": (frozenset({"-p"}), frozenset()),
    "sshpass": (frozenset(), frozenset({"-p"})),
    "redis-cli": (frozenset(), frozenset({"-a"})),
    "ldapsearch": (frozenset(), frozenset({"-w"})),
    "ldapmodify": (frozenset(), frozenset({"-w"})),
    "ldapadd": (frozenset(), frozenset({"-w"})),
    "sqlcmd": (frozenset(), frozenset({"-P"})),
    "bcp": (frozenset(), frozenset({"-P"})),
    "zip": (frozenset(), frozenset({"-P"})),
    "unzip": (frozenset(), frozenset({"-P"})),
    "docker": (frozenset(), frozenset({"-p"})),
    "podman": (frozenset(), frozenset({"-p"})),
    "mongo": (frozenset(), frozenset({"-p"})),
    "mongosh": (frozenset(), frozenset({"-p"})),
    "mongodump": (frozenset(), frozenset({"-p"})),
    "mongorestore": (frozenset(), frozenset({"-p"})),
    "openssl": (frozenset(), frozenset({"-k"})),
}
_USER_PASS_FLAGS = {"curl": frozenset({"-u", "--user", "--proxy-user", "-U"})}
_SMB_TOOLS = frozenset({"smbclient", "rpcclient", "smbmap", "net"})


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in re.split(r"[-_.:\s]+", spaced.lower()) if w]


def is_secret_name(name: str) -> bool:
    """Whether a name (option, variable, header, field) is secret-like."""
    if name == "PWD":  # the shell's working directory
        return False
    return any(w not in _NOT_SECRET_WORD and _SECRET_WORD.match(w) for w in _words(name))


def _looks_like_token(user: str) -> bool:
    return user.startswith(_TOKEN_PREFIXES) or len(user) >= 20


def _redact_urls(arg: str) -> str:
    def sub(m: re.Match[str]) -> str:
        user, pw = m.group("user"), m.group("pw")
        if pw is not None:
            return f"{m.group('scheme')}{user}:{REDACTED}@"
        if user and _looks_like_token(user):
            return f"{m.group('scheme')}{REDACTED}@"
        return m.group(0)

    return _URL_USERINFO.sub(sub, arg)


def _redact_header(arg: str, *, any_name: bool) -> str | None:
    """The header argument redacted, or ``None`` when ``arg`` is not a secret header."""
    m = _HEADER.search(arg)
    if m is None:
        return None
    name = m.group("name")
    standard = name.lower().endswith(("authorization", "cookie"))
    if not (standard or (any_name and is_secret_name(name))):
        return None
    value = m.group("value")
    scheme, _, rest = value.partition(" ")
    masked = f"{scheme} {REDACTED}" if rest and scheme.lower() in _SCHEMES else REDACTED
    return arg[: m.start("value")] + masked


def _redact_fields(arg: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if not is_secret_name(m.group("name")) or m.group("value").startswith(REDACTED):
            return m.group(0)
        if m.group("value").startswith(("http://", "https://")):
            return m.group(0)  # a URL value is handled by the URL rule
        return m.group(0)[: m.start("value") - m.start(0)] + REDACTED

    return _FIELD.sub(sub, arg)


def redact_arg(arg: str) -> str:
    """One argument with the secrets found inside it masked (URLs, headers, fields)."""
    out = _redact_urls(arg)
    header = _redact_header(out, any_name=False)
    if header is not None:
        return header
    if ":" in out or "=" in out:
        out = _redact_fields(out)
    if out.startswith("pass:"):  # openssl -passin/-passout pass:SECRET
        out = "pass:" + REDACTED
    return out


def _tool(arg: str) -> str:
    return os.path.basename(arg).removesuffix(".exe")


def redact_argv(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> list[str]:
    """``argv`` with likely secrets replaced by ``***``, by the rules in this module's doc."""
    env = os.environ if environ is None else environ
    secrets = [v for k, v in env.items() if _SECRET_ENV.search(k.upper()) and v]
    out: list[str] = []
    tool = ""
    hide_next = False  # the next argument is a secret value
    header_next = False  # the next argument is a header
    userpass_next = False  # the next argument is user:password
    positional = 0  # positionals since the tool (htpasswd -b FILE USER PASSWORD)
    htpasswd_batch = False
    for arg in argv:
        if hide_next:
            hide_next = False
            if not (arg.startswith("-") and len(arg) > 1):
                out.append(REDACTED)
                continue
        if header_next:
            header_next = False
            out.append(_redact_header(arg, any_name=True) or redact_arg(arg))
            continue
        if userpass_next:
            userpass_next = False
            user, sep, _ = arg.partition(":")
            out.append(f"{user}:{REDACTED}" if sep else arg)
            continue
        name = _tool(arg)
        if not arg.startswith("-") and (
            name in _TOOL_FLAGS or name in _USER_PASS_FLAGS or name in _SMB_TOOLS
            or name in {"htpasswd", "curl", "wget", "git", "psql", "env"}
        ):  # fmt: skip
            tool, positional, htpasswd_batch = name, 0, False
            out.append(arg)
            continue
        out.append(_redact_one(arg, tool, secrets))
        if out[-1] != arg:
            continue
        # options that take the next argument
        if arg in ("-H", "--header", "--proxy-header"):
            header_next = True
        elif tool in _USER_PASS_FLAGS and arg in _USER_PASS_FLAGS[tool]:
            userpass_next = True
        elif tool in _SMB_TOOLS and arg in ("-U", "--user"):
            userpass_next = False
            hide_next = False
            out[-1] = arg
            tool = tool + "%"  # the next argument is user%password
        elif tool.endswith("%"):
            user, sep, _ = arg.partition("%")
            out[-1] = f"{user}%{REDACTED}" if sep else arg
            tool = tool[:-1]
        elif tool in _TOOL_FLAGS and arg in _TOOL_FLAGS[tool][1]:
            hide_next = True
        elif tool == "htpasswd" and arg.startswith("-") and "b" in arg:
            htpasswd_batch = True
        elif tool == "htpasswd" and not arg.startswith("-"):
            positional += 1
            # -b FILE USER PASSWORD, or -nb USER PASSWORD
            wanted = 2 if _n_flag(out) else 3
            if htpasswd_batch and positional == wanted:
                out[-1] = REDACTED
        elif arg.startswith("-"):
            m = _OPTION.match(arg)
            if m is not None and m.group("eq") is None and is_secret_name(m.group("name")):
                if m.group("name").startswith("pass") and tool == "openssl":
                    hide_next = False  # openssl -passin pass:X: the value rule masks it
                else:
                    hide_next = True
    return out


def _n_flag(out: list[str]) -> bool:
    return any(a.startswith("-") and "n" in a and "b" in a for a in out)


def _redact_one(arg: str, tool: str, secrets: Sequence[str]) -> str:
    """The argument redacted by the rules that need only the argument and its tool."""
    opt = _OPTION.match(arg)
    if opt is not None and opt.group("eq") is not None and is_secret_name(opt.group("name")):
        return f"{opt.group('dashes')}{opt.group('name')}={REDACTED}"
    if (
        opt is not None
        and opt.group("name").lower() in ("header", "proxy-header")
        and opt.group("eq")
    ):
        header = _redact_header(opt.group("value") or "", any_name=True)
        if header is not None:
            return f"{opt.group('dashes')}{opt.group('name')}={header}"
    if arg.startswith("-H") and len(arg) > 2 and not arg.startswith("--"):
        header = _redact_header(arg[2:], any_name=True)
        if header is not None:
            return "-H" + header
    env = _ENV_ASSIGN.match(arg)
    if env is not None and is_secret_name(env.group("name")):
        return f"{env.group('name')}={REDACTED}"
    flags = _TOOL_FLAGS.get(tool)
    if flags is not None:
        for flag in flags[0] | flags[1]:
            if arg.startswith(flag) and len(arg) > len(flag) and not arg.startswith("--"):
                return flag + REDACTED
    if tool in _USER_PASS_FLAGS and arg.startswith("-u") and ":" in arg and len(arg) > 2:
        user = arg[2:].partition(":")[0]
        return f"-u{user}:{REDACTED}"
    out = redact_arg(arg)
    return mask_secrets(out, secrets) if secrets else out


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced by ``***``.

    A secret of 8 characters or more is replaced wherever it occurs; a shorter one only
    where it stands as a whole token (not inside a longer word), so a short secret does
    not garble the message around it.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= _SHORT:
            text = text.replace(secret, REDACTED)
        else:
            pattern = r"(?<![A-Za-z0-9_\-.])" + re.escape(secret) + r"(?![A-Za-z0-9_\-.])"
            text = re.sub(pattern, REDACTED, text)
    return text
