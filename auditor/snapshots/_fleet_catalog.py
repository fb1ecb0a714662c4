"""Static vocabulary of the synthetic fleet: OS images, sizes, locations, tag spellings and naming templates.

Values are chosen to look like a real tenant: ARG property shapes follow refdata/schemas/ARG_TABLES.md, and the
messiness (tag spellings, mixed-case resource-group names) is deliberate, because the auditor must cope with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.snapshots._fleet_util import Weighted

VM_TYPE = "Microsoft.Compute/virtualMachines"
ARC_TYPE = "Microsoft.HybridCompute/machines"
VSPHERE_TYPE = "Microsoft.ConnectedVMwarevSphere/virtualMachines"
CONFIG_TYPE = "Microsoft.Maintenance/maintenanceConfigurations"


@dataclass(frozen=True, slots=True)
class Product:
    """An operating system image, as an Azure VM image reference and as an Arc agent reports it."""

    key: str
    os: str
    """`Windows` or `Linux`."""
    display: str
    """Product name used in Windows update titles (`Windows Server 2022`) or the Linux distribution label."""
    publisher: str
    offer: str
    sku: str
    image_version: str
    arc_sku: str
    """`properties.osSku` of an Arc machine."""
    os_version: str
    """`properties.osVersion` of an Arc machine."""
    catalog: str
    """Key of the patch catalog this image draws pending patches from."""
    package_manager: str
    """`patchServiceUsed` on Linux; Windows machines use WU or WU-WSUS."""
    azure_edition: bool = False


def _win(key: str, display: str, sku: str, version: str, build: str, catalog: str, ae: bool = False) -> Product:
    return Product(
        key=key,
        os="Windows",
        display=display,
        publisher="MicrosoftWindowsServer",
        offer="WindowsServer",
        sku=sku,
        image_version=version,
        arc_sku=f"{display} Datacenter",
        os_version=build,
        catalog=catalog,
        package_manager="WU",
        azure_edition=ae,
    )


def _lnx(
    key: str, display: str, publisher: str, offer: str, sku: str, version: str, arc_sku: str, kernel: str, pm: str
) -> Product:
    return Product(
        key=key,
        os="Linux",
        display=display,
        publisher=publisher,
        offer=offer,
        sku=sku,
        image_version=version,
        arc_sku=arc_sku,
        os_version=kernel,
        catalog=key,
        package_manager=pm,
    )


PRODUCTS: dict[str, Product] = {
    p.key: p
    for p in (
        _win("ws2012r2", "Windows Server 2012 R2", "2012-R2-Datacenter", "9600.21620.231004", "6.3.9600", "ws2012r2"),
        _win("ws2016", "Windows Server 2016", "2016-Datacenter", "14393.7428.241004", "10.0.14393", "ws2016"),
        _win("ws2019", "Windows Server 2019", "2019-datacenter-gensecond", "17763.6414.241004", "10.0.17763", "ws2019"),
        _win("ws2022", "Windows Server 2022", "2022-datacenter-g2", "20348.2762.241006", "10.0.20348", "ws2022"),
        _win(
            "ws2022-ae",
            "Windows Server 2022",
            "2022-datacenter-azure-edition",
            "20348.2762.241009",
            "10.0.20348",
            "ws2022",
            ae=True,
        ),
        _win("ws2025", "Windows Server 2025", "2025-datacenter-g2", "26100.2033.241004", "10.0.26100", "ws2025"),
        _win(
            "ws2025-ae",
            "Windows Server 2025",
            "2025-datacenter-azure-edition",
            "26100.2033.241004",
            "10.0.26100",
            "ws2025",
            ae=True,
        ),
        _lnx(
            "ubuntu2004",
            "Ubuntu_20.04",
            "Canonical",
            "0001-com-ubuntu-server-focal",
            "20_04-lts-gen2",
            "20.04.202410020",
            "Ubuntu 20.04.6 LTS",
            "5.15.0-1073-azure",
            "APT",
        ),
        _lnx(
            "ubuntu2204",
            "Ubuntu_22.04",
            "Canonical",
            "0001-com-ubuntu-server-jammy",
            "22_04-lts-gen2",
            "22.04.202410020",
            "Ubuntu 22.04.4 LTS",
            "5.15.0-1057-azure",
            "APT",
        ),
        _lnx(
            "rhel8",
            "RHEL_8",
            "RedHat",
            "RHEL",
            "8-lvm-gen2",
            "8.10.2024090917",
            "Red Hat Enterprise Linux 8.10",
            "4.18.0-553.16.1.el8_10.x86_64",
            "YUM",
        ),
        _lnx(
            "rhel9",
            "RHEL_9",
            "RedHat",
            "RHEL",
            "9-lvm-gen2",
            "9.4.2024081415",
            "Red Hat Enterprise Linux 9.4",
            "5.14.0-427.31.1.el9_4.x86_64",
            "YUM",
        ),
        _lnx(
            "sles15",
            "SLES_15",
            "SUSE",
            "sles-15-sp5",
            "gen2",
            "2024.09.18",
            "SUSE Linux Enterprise Server 15 SP5",
            "5.14.21-150500.55.65-default",
            "Zypper",
        ),
    )
}

VM_WINDOWS_IMAGES = Weighted(
    [("ws2016", 8), ("ws2019", 25), ("ws2022", 35), ("ws2022-ae", 12), ("ws2025", 12), ("ws2025-ae", 8)]
)
ARC_WINDOWS_IMAGES = Weighted([("ws2012r2", 8), ("ws2016", 20), ("ws2019", 35), ("ws2022", 30), ("ws2025", 7)])
VM_LINUX_IMAGES = Weighted([("ubuntu2004", 20), ("ubuntu2204", 40), ("rhel8", 15), ("rhel9", 15), ("sles15", 10)])
ARC_LINUX_IMAGES = Weighted([("ubuntu2004", 25), ("ubuntu2204", 30), ("rhel8", 25), ("rhel9", 15), ("sles15", 5)])

LOCATIONS: dict[str, str] = {
    "weu": "westeurope",
    "neu": "northeurope",
    "eus": "eastus",
    "eus2": "eastus2",
    "uks": "uksouth",
    "sdc": "swedencentral",
}
"""Resource-group name code -> Azure location."""

VM_SIZES = Weighted(
    [
        ("Standard_B2ms", 10),
        ("Standard_D2s_v5", 22),
        ("Standard_D4s_v5", 25),
        ("Standard_D8s_v5", 12),
        ("Standard_E4s_v5", 10),
        ("Standard_E16s_v5", 4),
        ("Standard_D4ads_v6", 8),
        ("Standard_F4s_v2", 6),
        ("Standard_DS2_v2", 3),
    ]
)

ARC_AGENT_VERSIONS = Weighted(
    [("1.47.02932.2074", 40), ("1.46.02883.2047", 30), ("1.44.02807.1884", 20), ("1.39.02628.1400", 10)]
)

ENV_SPELLINGS: dict[str, Weighted[str]] = {
    "Production": Weighted([("Production", 5), ("prod", 3), ("Prod", 2), ("PRD", 1), ("prd", 1)]),
    "Development": Weighted([("Development", 4), ("dev", 3), ("DEV", 1)]),
    "Test": Weighted([("Test", 3), ("test", 2), ("UAT", 1), ("QA", 1)]),
    "Staging": Weighted([("Staging", 1)]),
}
"""Canonical environment -> how people actually spell it in the tag value."""

ENV_KEYS = Weighted([("Environment", 83), ("environment", 6), ("ENVIRONMENT", 4), ("", 7)])
"""The environment tag key; "" means the machine has no environment tag at all."""

ENV_CODES = {"Production": "prd", "Development": "dev", "Test": "tst", "Staging": "stg"}

OWNERS = Weighted(
    [
        ("platform-team@contoso.com", 6),
        ("web-team@contoso.com", 4),
        ("data-team@contoso.com", 3),
        ("sap-basis@contoso.com", 2),
        ("José.Álvarez@contoso.com", 1),
        ("Ops, Infrastructure", 1),
        ("j.smith", 2),
        ("", 1),
    ]
)
APPS = Weighted(
    [
        ("webshop", 5),
        ("erp", 3),
        ("crm", 3),
        ("intranet", 3),
        ("sap-s4", 2),
        ("citrix", 2),
        ("payroll", 1),
        ("data-platform", 3),
        ("ad-ds", 1),
    ]
)
COST_CENTERS = Weighted([("CC-1042", 4), ("CC-1187", 3), ("CC-2203", 3), ("cc-3001", 1), ("1042", 1)])
PATCH_GROUPS = Weighted([("ring0", 1), ("ring1", 4), ("ring2", 4), ("weekend", 3), ("Weekend", 1)])

HOSTILE_APP_TAG = "+cmd|' /C calc'!A0"
"""A CSV/spreadsheet formula-injection payload; reports must render it inert."""
HOSTILE_OWNER_TAG = "=1+1"

ROLES_WINDOWS = ("web", "app", "sql", "iis", "rds", "fs", "dc", "jump", "bi", "print")
ROLES_LINUX = ("web", "api", "db", "k8s", "mq", "etl", "proxy", "build", "cache", "sftp")

ENV_SUBSCRIPTIONS: tuple[tuple[str, str, float], ...] = (
    ("contoso-prod-01", "Production", 30),
    ("contoso-dev-01", "Development", 18),
    ("contoso-shared", "Production", 6),
    ("contoso-test-01", "Test", 12),
    ("contoso-prod-02", "Production", 22),
    ("contoso-staging-01", "Staging", 8),
    ("contoso-prod-03", "Production", 18),
    ("contoso-dev-02", "Development", 12),
    ("contoso-test-02", "Test", 8),
    ("contoso-prod-04", "Production", 15),
    ("contoso-sandbox-01", "Development", 5),
    ("contoso-legacy-01", "Production", 6),
    ("contoso-prod-05", "Production", 12),
    ("contoso-dev-03", "Development", 8),
)
"""Subscription display name, its dominant environment, relative size. The first four are always present."""

RG_WORKLOADS = ("app", "web", "data", "api", "sap", "citrix", "batch", "ops", "sql", "k8s")
RG_ODD_NAMES = ("RG-Legacy", "Rg-Citrix-Prod", "RG-SAP-PRD", "rg-App-WEU-Migrated", "RG_Infra_Old")
ARC_SITES = (("frankfurt", "westeurope"), ("amsterdam", "westeurope"), ("dublin", "northeurope"), ("nyc", "eastus"))
