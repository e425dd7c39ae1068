"""Federated learning: per-round and per-client sums, communication maths, pricing."""

import pytest

import carbonledger as cl
from carbonledger.errors import ConfigError
from carbonledger.lifecycle import fl
from carbonledger.units import J_PER_KWH


def clients() -> list[fl.Client]:
    return [
        fl.Client(
            "a",
            upload_mbps=10,
            download_mbps=50,
            compute_s_per_round=60,
            compute_power_w=5.0,
            intensity_g_per_kwh=100,
        ),
        fl.Client(
            "b",
            upload_mbps=5,
            download_mbps=20,
            compute_energy_j_per_round=100,
            intensity_g_per_kwh=500,
            participation=0.5,
        ),
        fl.Client(
            "c", upload_mbps=1, download_mbps=1, compute_s_per_round=10, intensity_g_per_kwh=300
        ),  # compute at device_power_w
    ]


def test_communication_energy() -> None:
    r = fl.estimate(clients(), rounds=10, model_size_mb=20)
    a = r.clients[0]
    assert a.upload_s == pytest.approx(20 * 8 / 10)
    assert a.download_s == pytest.approx(20 * 8 / 50)
    assert a.communication_j == pytest.approx((16 + 3.2) * (3.0 + 7.5))
    assert a.compute_j == pytest.approx(300.0)
    assert r.clients[2].compute_j == pytest.approx(10 * fl.DEFAULT_DEVICE_POWER_W)
    assert a.g == pytest.approx(a.energy_j / J_PER_KWH * 100)


def test_per_round_and_total_sums() -> None:
    server = fl.Server(power_w=200, seconds_per_round=5, pue=1.1, intensity_g_per_kwh=50)
    r = fl.estimate(clients(), rounds=10, model_size_mb=20, upload_size_mb=2, server=server)
    assert r.server_j_per_round == pytest.approx(200 * 5 * 1.1)
    per_round = sum(c.energy_j * c.participation for c in r.clients) + r.server_j_per_round
    assert r.per_round_energy_j == pytest.approx(per_round)
    assert r.energy_j == pytest.approx(10 * per_round)
    per_round_g = sum(c.g * c.participation for c in r.clients) + r.server_g_per_round
    assert r.per_round_g == pytest.approx(per_round_g)
    assert r.g == pytest.approx(sum(c.total_g for c in r.clients) + 10 * r.server_g_per_round)
    assert r.cumulative_g(3) == pytest.approx(3 * per_round_g)
    assert r.clients[1].total_energy_j == pytest.approx(r.clients[1].energy_j * 0.5 * 10)
    assert r.warnings == ()
    low, high = r.interval_g or (0.0, 0.0)
    assert low < r.g < high
    d = r.to_dict()
    assert d["kgco2e"] == pytest.approx(r.g / 1000)
    assert len(d["clients"]) == 3 and d["method"] == "modeled"


def test_uploads_default_to_the_model_size() -> None:
    r = fl.estimate(clients()[:1], rounds=1, model_size_mb=8)
    assert r.clients[0].upload_s == pytest.approx(8 * 8 / 10)
    assert any("server" in w for w in r.warnings)


def test_clients_are_priced_at_their_zone() -> None:
    pytest.importorskip("carbonledger.intensity.bundled")
    from carbonledger.intensity.bundled import bundled_intensity

    r = cl.fl.estimate(
        [
            fl.Client("fr", 10, 10, compute_s_per_round=1, zone="FR"),
            fl.Client("nowhere", 10, 10, compute_s_per_round=1),
        ],
        rounds=2,
        model_size_mb=1,
    )
    assert r.clients[0].intensity_g_per_kwh == bundled_intensity("FR").g_per_kwh
    assert any("world average" in w and "nowhere" in w for w in r.warnings)


@pytest.mark.parametrize(
    ("client", "message"),
    [
        (fl.Client("x", 0, 1, compute_s_per_round=1, intensity_g_per_kwh=1), "upload_mbps"),
        (fl.Client("x", 1, 1, intensity_g_per_kwh=1), "compute_s_per_round or"),
        (
            fl.Client(
                "x",
                1,
                1,
                compute_s_per_round=1,
                compute_energy_j_per_round=1,
                intensity_g_per_kwh=1,
            ),
            "not both",
        ),
        (
            fl.Client("x", 1, 1, compute_s_per_round=1, intensity_g_per_kwh=1, participation=2),
            "participation",
        ),
        (fl.Client("x", 1, 1, compute_s_per_round=1, intensity_g_per_kwh=1, zone="FR"), "not both"),
    ],
)
def test_client_validation(client: fl.Client, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        fl.estimate([client], rounds=1, model_size_mb=1)


def test_estimate_validation() -> None:
    with pytest.raises(ConfigError, match="rounds"):
        fl.estimate(clients(), rounds=-1, model_size_mb=1)
    with pytest.raises(ConfigError, match="at least one client"):
        fl.estimate([], rounds=1, model_size_mb=1)
    with pytest.raises(ConfigError, match="model_size_mb"):
        fl.estimate(clients(), rounds=1, model_size_mb=-1)
    with pytest.raises(ConfigError, match="unique"):
        fl.estimate(clients()[:1] * 2, rounds=1, model_size_mb=1)
