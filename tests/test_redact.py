# ruff: noqa: E501  (a table of command lines reads best one form per line)
"""Secrets on a command line are redacted by rule (issue 9, defect 2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.redact import REDACTED, is_secret_name, mask_secrets, redact_argv

R = REDACTED

# (argv, expected): each form of secret the rules cover
SECRET_FORMS: list[tuple[list[str], list[str]]] = [
    # URL user-info
    (["git", "clone", "https://user:PASS@host/r.git"], ["git", "clone", f"https://user:{R}@host/r.git"]),
    (["psql", "postgres://u:pw@h/db"], ["psql", f"postgres://u:{R}@h/db"]),
    (["psql", "postgresql://u:pw@h:5432/db?sslmode=require"], ["psql", f"postgresql://u:{R}@h:5432/db?sslmode=require"]),
    (["git", "clone", "https://ghp_abcdefghijklmnop0123@github.com/o/r"], ["git", "clone", f"https://{R}@github.com/o/r"]),
    (["git", "clone", "https://x-access-token:ghs_T0KEN@github.com/o/r"], ["git", "clone", f"https://x-access-token:{R}@github.com/o/r"]),
    (["git", "clone", "https://oauth2:glpat-XYZ@gitlab.com/o/r"], ["git", "clone", f"https://oauth2:{R}@gitlab.com/o/r"]),
    (["python", "t.py", "--db=mysql://root:hunter2@db/x"], ["python", "t.py", f"--db=mysql://root:{R}@db/x"]),
    (["redis-cli", "-u", "redis://:s3cret@cache:6379"], ["redis-cli", "-u", f"redis://:{R}@cache:6379"]),
    (["python", "t.py", "amqp://guest:guest@mq//"], ["python", "t.py", f"amqp://guest:{R}@mq//"]),
    # query strings and fields inside an argument
    (["curl", "https://api.x/v1?api_key=ABC&q=1"], ["curl", f"https://api.x/v1?api_key={R}&q=1"]),
    (["curl", "https://api.x/v1?access_token=ABC"], ["curl", f"https://api.x/v1?access_token={R}"]),
    (["psql", "host=h user=u password=pw dbname=d"], ["psql", f"host=h user=u password={R} dbname=d"]),
    (["app", '{"api_key": "abc", "n": 1}'], ["app", f'{{"api_key": "{R}", "n": 1}}']),
    (["java", "-Djavax.net.ssl.keyStorePassword=changeit", "-jar", "a.jar"], ["java", f"-Djavax.net.ssl.keyStorePassword={R}", "-jar", "a.jar"]),
    # authorization and secret headers
    (["curl", "-H", "Authorization: Bearer abc.def"], ["curl", "-H", f"Authorization: Bearer {R}"]),
    (["curl", "-H", "authorization: Basic dXNlcjpwYXNz"], ["curl", "-H", f"authorization: Basic {R}"]),
    (["curl", "--header=Authorization: token ghp_x"], ["curl", f"--header=Authorization: token {R}"]),
    (["curl", "--header", "X-Api-Key: k123"], ["curl", "--header", f"X-Api-Key: {R}"]),
    (["curl", "-H", "Cookie: session=abc"], ["curl", "-H", f"Cookie: {R}"]),
    (["curl", "-HPrivate-Token: glpat-1"], ["curl", f"-HPrivate-Token: {R}"]),
    (["git", "-c", "http.extraheader=Authorization: Bearer tok", "pull"], ["git", "-c", f"http.extraheader=Authorization: Bearer {R}", "pull"]),
    (["wget", "--header=Proxy-Authorization: Basic Zm9v"], ["wget", f"--header=Proxy-Authorization: Basic {R}"]),
    # secret-named options
    (["aws", "configure", "--access-key", "AKIA1"], ["aws", "configure", "--access-key", R]),
    (["t.py", "--private-key", "k.pem"], ["t.py", "--private-key", R]),
    (["t.py", "--key=abc"], ["t.py", f"--key={R}"]),
    (["t.py", "--api-key", "abc123"], ["t.py", "--api-key", R]),
    (["t.py", "--token=xyz"], ["t.py", f"--token={R}"]),
    (["t.py", "--password", "pw"], ["t.py", "--password", R]),
    (["t.py", "--passwd=pw"], ["t.py", f"--passwd={R}"]),
    (["t.py", "--db-pwd", "pw"], ["t.py", "--db-pwd", R]),
    (["t.py", "--client-secret", "s"], ["t.py", "--client-secret", R]),
    (["t.py", "--credentials", "c.json"], ["t.py", "--credentials", R]),
    (["t.py", "--auth", "u:p"], ["t.py", "--auth", R]),
    (["t.py", "--hf_token", "hf_x"], ["t.py", "--hf_token", R]),
    (["t.py", "--wandbApiKey", "w"], ["t.py", "--wandbApiKey", R]),
    (["wget", "--http-password=pw", "u"], ["wget", f"--http-password={R}", "u"]),
    (["keytool", "-storepass", "changeit"], ["keytool", "-storepass", R]),
    # environment-style assignments
    (["env", "PGPASSWORD=pw", "psql"], ["env", f"PGPASSWORD={R}", "psql"]),
    (["docker", "run", "-e", "AWS_SECRET_ACCESS_KEY=abc", "img"], ["docker", "run", "-e", f"AWS_SECRET_ACCESS_KEY={R}", "img"]),
    (["HF_TOKEN=hf_999", "t.py"], [f"HF_TOKEN={R}", "t.py"]),
    (["MYSQL_PWD=x", "mysql"], [f"MYSQL_PWD={R}", "mysql"]),
    # password flags of common tools
    (["mysql", "-uroot", "-pPASS", "db"], ["mysql", "-uroot", f"-p{R}", "db"]),
    (["mysqldump", "-pS3cr3t", "db"], ["mysqldump", f"-p{R}", "db"]),
    (["sshpass", "-p", "PASS", "ssh", "host"], ["sshpass", "-p", R, "ssh", "host"]),
    (["sshpass", "-pPASS", "ssh", "host"], ["sshpass", f"-p{R}", "ssh", "host"]),
    (["curl", "-u", "user:pass", "https://x"], ["curl", "-u", f"user:{R}", "https://x"]),
    (["curl", "-uuser:pass", "https://x"], ["curl", f"-uuser:{R}", "https://x"]),
    (["curl", "--user", "user:pass", "https://x"], ["curl", "--user", f"user:{R}", "https://x"]),
    (["redis-cli", "-a", "pw", "ping"], ["redis-cli", "-a", R, "ping"]),
    (["ldapsearch", "-D", "cn=admin", "-w", "pw"], ["ldapsearch", "-D", "cn=admin", "-w", R]),
    (["sqlcmd", "-S", "srv", "-U", "sa", "-P", "pw"], ["sqlcmd", "-S", "srv", "-U", "sa", "-P", R]),
    (["zip", "-P", "pw", "a.zip", "f"], ["zip", "-P", R, "a.zip", "f"]),
    (["7z", "a", "-pSECRET", "a.7z"], ["7z", "a", f"-p{R}", "a.7z"]),
    (["smbclient", "//srv/share", "-U", "user%pass"], ["smbclient", "//srv/share", "-U", f"user%{R}"]),
    (["htpasswd", "-b", ".htpasswd", "alice", "pw"], ["htpasswd", "-b", ".htpasswd", "alice", R]),
    (["htpasswd", "-nb", "alice", "pw"], ["htpasswd", "-nb", "alice", R]),
    (["openssl", "enc", "-aes256", "-pass", "pass:pw"], ["openssl", "enc", "-aes256", "-pass", f"pass:{R}"]),
    (["openssl", "pkcs12", "-passin", "pass:pw", "-in", "a"], ["openssl", "pkcs12", "-passin", f"pass:{R}", "-in", "a"]),
    (["docker", "login", "-u", "me", "-p", "pw"], ["docker", "login", "-u", "me", "-p", R]),
    (["mongosh", "-u", "me", "-p", "pw"], ["mongosh", "-u", "me", "-p", R]),
    (["/usr/bin/sshpass", "-p", "PASS", "ssh", "h"], ["/usr/bin/sshpass", "-p", R, "ssh", "h"]),
]  # fmt: skip

# forms that carry no secret and must stay exactly as they are
PLAIN_FORMS: list[list[str]] = [
    ["python", "train.py", "--lr", "0.1", "--epochs=3"],
    ["python", "gen.py", "--max-tokens", "512", "--max-new-tokens=64"],
    ["python", "t.py", "--tokenizer", "bert-base", "--author", "me", "--keyboard", "us"],
    ["git", "clone", "https://github.com/org/repo.git"],
    ["git", "clone", "git@github.com:org/repo.git"],
    ["git", "clone", "ssh://git@github.com/org/repo.git"],
    ["curl", "http://localhost:8080/path?q=1&page=2"],
    ["curl", "-H", "Content-Type: application/json", "https://x"],
    ["mysql", "-p", "db"],  # -p alone prompts; db is the database
    ["python", "-p", "8080", "serve.py"],  # -p is a port outside password tools
    ["python", "t.py", "--no-auth", "--verbose"],
    ["python", "t.py", "--passes", "3", "x=1", "PWD=/home/me"],
    ["ssh", "user@host", "ls"],
    ["rsync", "-a", "src/", "user@host:dst/"],
    ["make", "-j4", "CFLAGS=-O2"],
    ["python", "-c", "print('t t t')"],
    [],
]


@pytest.mark.parametrize(("argv", "expected"), SECRET_FORMS, ids=lambda v: " ".join(v)[:50])
def test_secret_forms_are_redacted(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv, {}) == expected


def test_table_is_large_enough() -> None:
    assert len(SECRET_FORMS) >= 30


@pytest.mark.parametrize("argv", PLAIN_FORMS, ids=lambda v: " ".join(v)[:50])
def test_plain_forms_are_unchanged(argv: list[str]) -> None:
    assert redact_argv(argv, {}) == argv


def test_values_of_secret_environment_variables_are_hidden() -> None:
    env = {"CARBONLEDGER_ELECTRICITYMAPS_TOKEN": "s3cr3t-token", "HOME": "/root"}
    assert redact_argv(["curl", "-d", "key s3cr3t-token here", "/root"], env) == [
        "curl",
        "-d",
        f"key {R} here",
        "/root",
    ]


def test_a_one_letter_secret_does_not_garble_messages() -> None:
    env = {"MY_TOKEN": "t"}
    assert redact_argv(["python", "-c", "print('t t t')", "t"], env) == [
        "python",
        "-c",
        f"print('{R} {R} {R}')",  # whole tokens only; not every letter t
        R,
    ]
    assert mask_secrets("the token t is set", ["t"]) == f"the token {R} is set"
    assert mask_secrets(
        "a long-secret-value in a url?x=long-secret-value", ["long-secret-value"]
    ) == (f"a {R} in a url?x={R}")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api-key", True), ("PGPASSWORD", True), ("clientSecret", True), ("x-auth-token", True),
        ("max-tokens", False), ("tokenizer", False), ("author", False), ("keyboard", False),
        ("lr", False), ("passes", False),
    ],
)  # fmt: skip
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@given(st.lists(st.text(alphabet="abcdefghij-=0123456789", max_size=12), max_size=8))
def test_plain_arguments_are_kept(argv: list[str]) -> None:
    assert redact_argv(argv, {}) == argv


@given(
    st.sampled_from(["--password", "--api-key", "--token", "--secret", "--aws-secret-access-key"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30).filter(
        lambda v: not v.startswith("-")
    ),
)
def test_secret_option_values_never_survive(option: str, value: str) -> None:
    out = redact_argv(["prog", option, value, f"{option}={value}"], {})
    assert out == ["prog", option, R, f"{option}={R}"]


@given(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789!$%^*", min_size=1, max_size=24),
    st.sampled_from(["https", "postgres", "mysql", "redis", "git+https", "amqp"]),
)
def test_url_passwords_never_survive(user: str, password: str, scheme: str) -> None:
    out = redact_argv(["prog", f"{scheme}://{user}:{password}@host.example/x"], {})
    assert out == ["prog", f"{scheme}://{user}:{R}@host.example/x"]
