from hypothesis import given
from hypothesis import strategies as st

from carbonledger.redact import REDACTED, redact_argv


def test_secret_options_and_values_are_hidden() -> None:
    argv = [
        "train.py",
        "--api-key",
        "abc123",
        "--token=xyz",
        "HF_TOKEN=hf_999",
        "--lr",
        "0.1",
        "--password",
        "pw",
        "--epochs=3",
    ]
    assert redact_argv(argv, {}) == [
        "train.py",
        "--api-key",
        REDACTED,
        f"--token={REDACTED}",
        f"HF_TOKEN={REDACTED}",
        "--lr",
        "0.1",
        "--password",
        REDACTED,
        "--epochs=3",
    ]


def test_values_of_secret_environment_variables_are_hidden() -> None:
    env = {"CARBONLEDGER_ELECTRICITYMAPS_TOKEN": "s3cr3t-token", "HOME": "/root"}
    assert redact_argv(["curl", "-H", "auth: s3cr3t-token", "/root"], env) == [
        "curl",
        "-H",
        REDACTED,
        "/root",
    ]


@given(st.lists(st.text(alphabet="abcdefghij-=0123456789", max_size=12), max_size=8))
def test_plain_arguments_are_kept(argv: list[str]) -> None:
    assert redact_argv(argv, {}) == argv
