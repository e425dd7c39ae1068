"""Virtualization and cgroup detection on simulated trees."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.sensors.virt_tree import cgroup_v1, cgroup_v2, make_host

from carbonledger.sensors import virt


# -- virtual machines ----------------------------------------------------------------------
def test_hypervisor_flag_alone_is_a_vm_of_unknown_kind(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path)
    v = virt.detect_virtualization(sys_root, proc)
    assert v.is_vm and v.kind == "unknown" and v.cloud is None
    assert v.evidence == ("cpuinfo flag hypervisor",)


@pytest.mark.parametrize(
    ("dmi", "kind", "cloud"),
    [
        ({"sys_vendor": "QEMU", "product_name": "Standard PC (Q35 + ICH9, 2009)"}, "kvm", None),
        ({"sys_vendor": "Amazon EC2", "product_name": "m5.large"}, "kvm", "aws"),
        ({"sys_vendor": "Google", "product_name": "Google Compute Engine"}, "kvm", "gcp"),
        (
            {"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"},
            "hyperv",
            None,
        ),
        ({"sys_vendor": "VMware, Inc.", "product_name": "VMware Virtual Platform"}, "vmware", None),
        ({"sys_vendor": "innotek GmbH", "product_name": "VirtualBox"}, "virtualbox", None),
    ],
)
def test_dmi_names_the_hypervisor_and_cloud(
    tmp_path: Path, dmi: dict[str, str], kind: str, cloud: str | None
) -> None:
    sys_root, proc = make_host(tmp_path, dmi=dmi)
    v = virt.detect_virtualization(sys_root, proc)
    assert v.kind == kind
    assert v.cloud == cloud
    assert any(e.startswith("DMI ") for e in v.evidence)


def test_xen_from_sys_hypervisor(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, hypervisor=False)
    (sys_root / "hypervisor").mkdir()
    (sys_root / "hypervisor" / "type").write_text("xen\n")
    assert virt.detect_virtualization(sys_root, proc).kind == "xen"


def test_bare_metal_and_ec2_metal_are_not_vms(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path / "a", hypervisor=False, dmi={"sys_vendor": "Dell Inc."})
    assert not virt.detect_virtualization(sys_root, proc).is_vm
    sys_root, proc = make_host(
        tmp_path / "b",
        hypervisor=False,
        dmi={"sys_vendor": "Amazon EC2", "product_name": "m5.metal"},
    )
    assert not virt.detect_virtualization(sys_root, proc).is_vm


def test_nothing_readable_is_bare_metal(tmp_path: Path) -> None:
    v = virt.detect_virtualization(tmp_path / "no-sys", tmp_path / "no-proc")
    assert v == virt.Virtualization(None)


# -- CPU lists and cgroups -----------------------------------------------------------------
@pytest.mark.parametrize(("text", "n"), [("0", 1), ("0-3", 4), ("0-3,8,10-11\n", 7), ("0,2,4", 3)])
def test_parse_cpu_list(text: str, n: int) -> None:
    assert virt.parse_cpu_list(text) == n


@pytest.mark.parametrize("text", ["", "3-1", "a-b", "-1", ","])
def test_parse_cpu_list_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        virt.parse_cpu_list(text)


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 20)), min_size=1, max_size=8))
def test_parse_cpu_list_counts_ranges(ranges: list[tuple[int, int]]) -> None:
    text = ",".join(f"{a}-{a + w}" if w else str(a) for a, w in ranges)
    assert virt.parse_cpu_list(text) == sum(w + 1 for _, w in ranges)


def test_online_cpus(tmp_path: Path) -> None:
    sys_root, _ = make_host(tmp_path, cpus=4)
    assert virt.online_cpus(sys_root) == 4


def test_cgroup_v2_quota(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=64, hypervisor=False, cgroup="0::/job\n")
    cgroup_v2(sys_root, "job", cpu_max="200000 100000", usage_usec=5_000_000)
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None
    assert limit.cpus == 2.0 and limit.version == 2
    assert "cpu.max 200000 100000" in limit.source
    assert virt.cgroup_usage_s(limit) == pytest.approx(5.0)


def test_cgroup_v2_smallest_of_ancestors_and_cpuset(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=64, hypervisor=False, cgroup="0::/a/b\n")
    cgroup_v2(sys_root, "a/b", cpu_max="max 100000", parent_cpu_max="400000 100000")
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None and limit.cpus == 4.0
    cgroup_v2(sys_root, "a/b", cpuset="0-2")
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None and limit.cpus == 3.0
    assert "cpuset" in limit.source


def test_cgroup_v2_unlimited_and_full_cpuset_are_no_limit(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=8, hypervisor=False)
    cgroup_v2(sys_root, cpu_max="max 100000", cpuset="0-7")
    assert virt.cgroup_cpu_limit(sys_root, proc) is None


def test_cgroup_v1_quota_and_cpuset(tmp_path: Path) -> None:
    cg = "4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n"
    sys_root, proc = make_host(tmp_path, cpus=64, hypervisor=False, cgroup=cg)
    cgroup_v1(sys_root, "/docker/abc", quota_us=150000, usage_ns=3_000_000_000)
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None and limit.cpus == 1.5 and limit.version == 1
    assert virt.cgroup_usage_s(limit) == pytest.approx(3.0)
    cgroup_v1(sys_root, "/docker/abc", quota_us=-1, cpuset="0-1")
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None and limit.cpus == 2.0


def test_cgroup_namespaced_path_falls_back_to_the_mount_root(tmp_path: Path) -> None:
    # inside a container the cgroup file names a path the container cannot see
    sys_root, proc = make_host(tmp_path, cpus=64, hypervisor=False, cgroup="0::/hidden/x\n")
    cgroup_v2(sys_root, cpu_max="100000 100000")
    limit = virt.cgroup_cpu_limit(sys_root, proc)
    assert limit is not None and limit.cpus == 1.0


# -- tables and the share --------------------------------------------------------------------
def test_vcpu_table_rows_are_sane() -> None:
    for cloud in ("aws", "azure", "gcp", "any"):
        c = virt.vcpu_coefficients(cloud)
        assert 0 < c.min_w < c.max_w < 10
        assert 0 < c.uncertainty_rel <= 1
        assert c.host_threads >= 8
        assert c.source == f"vm-share:ccf-{cloud}"
    assert virt.vcpu_coefficients(None).cloud == "any"
    assert virt.vcpu_coefficients("oracle").cloud == "any"


@given(st.floats(0, 1), st.floats(0.5, 64))
def test_ccf_power_is_linear_and_bounded(u: float, vcpus: float) -> None:
    c = virt.vcpu_coefficients("aws")
    p = c.power_w(vcpus, u)
    assert vcpus * c.min_w - 1e-9 <= p <= vcpus * c.max_w + 1e-9
    assert p == pytest.approx(vcpus * (c.min_w + u * (c.max_w - c.min_w)))


def test_chip_threads() -> None:
    assert virt.chip_threads("amd epyc 7351") == 32  # 16 cores × 2 threads (SPECpower)
    assert virt.chip_threads("intel xeon nothing 1") is None
    assert virt.chip_threads(None) is None


def test_share_of_an_unknown_vm(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=2)
    share = virt.detect_host_share(sys_root, proc)
    assert share.kind == "vm"
    assert share.cpus == 2.0
    assert share.host_threads == virt.vcpu_coefficients(None).host_threads
    assert share.share == pytest.approx(2 / share.host_threads)
    assert "assumed" in share.basis
    facts = share.facts()
    assert facts["virtualization"] == "unknown" and facts["vcpus"] == 2
    assert facts["host_share_kind"] == "vm"


def test_share_of_a_known_vm_is_one_chip(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=4, cpu_name="AMD EPYC 7351 16-Core Processor")
    share = virt.detect_host_share(sys_root, proc, cpu_model_key="amd epyc 7351")
    assert share.host_threads == 32.0
    assert share.share == pytest.approx(4 / 32)


def test_share_of_a_container_on_bare_metal(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=64, hypervisor=False, cgroup="0::/c\n")
    cgroup_v2(sys_root, "c", cpu_max="200000 100000")
    share = virt.detect_host_share(sys_root, proc)
    assert share.kind == "container"
    assert share.share == pytest.approx(2 / 64)
    assert share.basis.startswith("cgroup limit 2 CPUs")


def test_bare_metal_has_no_share_kind(tmp_path: Path) -> None:
    sys_root, proc = make_host(tmp_path, cpus=16, hypervisor=False)
    share = virt.detect_host_share(sys_root, proc)
    assert share.kind is None
    assert share.share == 1.0


def test_tables_are_up_to_date() -> None:
    import importlib.util

    data = Path(__file__).resolve().parents[3] / "shared" / "data"  # next to the repository
    if not (data / "hardware" / "ccf_coefficients_aws_use.csv").exists():
        pytest.skip("shared data not present")
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_vcpu_tables.py"
    spec = importlib.util.spec_from_file_location("build_vcpu_tables", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--data", str(data), "--check"]) == 0


def test_host_share_of_the_real_host_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    real = virt.detect_host_share

    def counting(sysfs_root: Path, proc_root: Path, **kw: object) -> virt.HostShare:
        calls.append(sysfs_root)
        return real(sysfs_root, proc_root, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(virt, "detect_host_share", counting)
    monkeypatch.setattr(virt, "_share_cache", {})
    first = virt.cached_host_share(Path("/sys"), Path("/proc"))
    assert virt.cached_host_share(Path("/sys"), Path("/proc")) is first
    assert len(calls) == 1
    sys_root, proc = make_host(tmp_path)  # other roots (tests, fakes): read every time
    virt.cached_host_share(sys_root, proc)
    virt.cached_host_share(sys_root, proc)
    assert len(calls) == 3
