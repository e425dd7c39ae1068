"""Cloud-region detection from fake DMI trees and environments (never the network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonledger.intensity.cloud_detect import (
    AZURE_ASSET_TAG,
    detect_cloud_provider,
    detect_cloud_zone,
)


def _dmi(root: Path, **files: str) -> Path:
    base = root / "class" / "dmi" / "id"
    base.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (base / name).write_text(text + "\n", encoding="utf-8")
    return root


AWS_NITRO = {
    "sys_vendor": "Amazon EC2",
    "product_name": "m5.large",
    "bios_vendor": "Amazon EC2",
    "board_vendor": "Amazon EC2",
}
AWS_XEN = {"sys_vendor": "Xen", "product_name": "HVM domU", "product_version": "4.11.amazon"}
GCP = {"sys_vendor": "Google", "product_name": "Google Compute Engine", "bios_vendor": "Google"}
AZURE = {
    "sys_vendor": "Microsoft Corporation",
    "product_name": "Virtual Machine",
    "chassis_asset_tag": AZURE_ASSET_TAG,
}
HYPER_V = {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"}
LAPTOP = {"sys_vendor": "LENOVO", "product_name": "20XW", "bios_vendor": "LENOVO"}


@pytest.mark.parametrize(
    ("dmi", "env", "expected"),
    [
        (AWS_NITRO, {"AWS_REGION": "eu-west-1"}, "aws:eu-west-1"),
        (AWS_NITRO, {"AWS_DEFAULT_REGION": "us-east-1"}, "aws:us-east-1"),
        (
            AWS_NITRO,
            {"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1"},
            "aws:eu-west-3",
        ),
        (AWS_XEN, {"AWS_REGION": "us-west-2"}, "aws:us-west-2"),
        (GCP, {"GOOGLE_CLOUD_REGION": "europe-west1"}, "gcp:europe-west1"),
        (GCP, {"CLOUDSDK_COMPUTE_REGION": "us-central1"}, "gcp:us-central1"),
        (GCP, {"CLOUDSDK_COMPUTE_ZONE": "europe-west4-a"}, "gcp:europe-west4"),
        (AZURE, {"AZURE_REGION": "francecentral"}, "azure:francecentral"),
        (AZURE, {"REGION_NAME": "France Central"}, "azure:francecentral"),
        (AZURE, {"AZURE_LOCATION": "westeurope"}, "azure:westeurope"),
        # a provider without a region, or a region without a provider: no answer
        (AWS_NITRO, {}, None),
        (AWS_NITRO, {"AWS_REGION": "  "}, None),
        (GCP, {"AWS_REGION": "eu-west-1"}, None),
        (LAPTOP, {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1"}, None),
        (HYPER_V, {"AZURE_REGION": "francecentral"}, None),  # Hyper-V is not Azure
        # a region the table does not know is returned as spelled, for the caller to report
        (AWS_NITRO, {"AWS_REGION": "xx-mars-1"}, "aws:xx-mars-1"),
    ],
)
def test_detect(
    tmp_path: Path, dmi: dict[str, str], env: dict[str, str], expected: str | None
) -> None:
    root = _dmi(tmp_path, **dmi)
    assert detect_cloud_zone(env, root) == expected


def test_providers(tmp_path: Path) -> None:
    assert detect_cloud_provider(_dmi(tmp_path / "a", **AWS_NITRO)) == "aws"
    assert detect_cloud_provider(_dmi(tmp_path / "b", **GCP)) == "gcp"
    assert detect_cloud_provider(_dmi(tmp_path / "c", **AZURE)) == "azure"
    assert detect_cloud_provider(_dmi(tmp_path / "d", **LAPTOP)) is None


def test_missing_or_unreadable_dmi_is_no_answer(tmp_path: Path) -> None:
    assert detect_cloud_zone({"AWS_REGION": "eu-west-1"}, tmp_path / "nothing") is None
    root = _dmi(tmp_path / "dir", **LAPTOP)
    (root / "class" / "dmi" / "id" / "sys_vendor").unlink()
    (root / "class" / "dmi" / "id" / "sys_vendor").mkdir()  # a directory where a file should be
    assert detect_cloud_provider(root) is None


def test_no_network_is_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("cloud detection must not use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    root = _dmi(tmp_path, **GCP)
    assert detect_cloud_zone({"GOOGLE_CLOUD_REGION": "europe-west9"}, root) == "gcp:europe-west9"
